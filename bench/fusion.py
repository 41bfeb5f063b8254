"""Fusion tuning on cached candidates: grid over fusion kind and weights, chosen by the mean over both sets.

    .venv/bin/python bench/fusion.py --data-home /tmp/newsqa-bench [--corpus-limit-rgb N] [--corpus-limit-crud N]

For every question the dense and BM25 top-`candidates` lists (every candidate with its exact dense score) are
computed once and cached in DATA_HOME/<set>/candidates.json; each setting is then scored by re-fusing those lists,
ranking articles by their best chunk. The objective is the mean MRR@10 over the two sets, never per question.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.retrieval import EVALDATA, build, rank_metrics, select_questions, settings_for  # noqa: E402
from core.config import RetrievalSettings  # noqa: E402
from index.hybrid import FUSIONS  # noqa: E402


def candidates(data_home: Path, name: str, limit: int, n: int) -> dict:
    settings = settings_for(data_home, name)
    path = settings.home / f"candidates-{limit}-{n}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    from index.hybrid import Searcher

    store, _ = build(settings, name, limit)
    searcher = Searcher(settings, store)
    searcher.sync(progress=True)
    article_of = {c.id: c.article_id for c in store.iter_chunks()}
    rows = []
    for question, gold in select_questions(name, store):
        dense, bm25 = searcher.candidates(question, n)
        rows.append(
            {
                "q": question,
                "gold": sorted(gold),
                "dense": {str(k): v for k, v in dense.items()},
                "bm25": {str(k): v for k, v in bm25.items()},
            }
        )
    data = {"article_of": {str(k): v for k, v in article_of.items()}, "rows": rows}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    searcher.close()
    return data


def ranked_articles(fused: dict[str, float], article_of: dict[str, str]) -> list[str]:
    out: list[str] = []
    for cid in sorted(fused, key=lambda c: (-fused[c], c)):
        a = article_of[cid]
        if a not in out:
            out.append(a)
            if len(out) == 10:
                break
    return out


def score(data: dict, method: str, cfg: RetrievalSettings) -> dict[str, float]:
    ranked, golds = [], []
    for row in data["rows"]:
        dense, bm25 = row["dense"], row["bm25"]
        if method == "dense":
            fused = {k: v for k, v in dense.items() if k in _top(dense, 50)}
        elif method == "bm25":
            fused = bm25
        else:
            fused = FUSIONS[method](row["q"], dense, bm25, cfg)
        ranked.append(ranked_articles(fused, data["article_of"]))
        golds.append(set(row["gold"]))
    return rank_metrics(ranked, golds)


def _top(scores: dict[str, float], n: int) -> set[str]:
    return set(sorted(scores, key=scores.__getitem__, reverse=True)[:n])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-home", type=Path, default=Path("/tmp/newsqa-bench"))
    parser.add_argument("--corpus-limit-rgb", type=int, default=0)
    parser.add_argument("--corpus-limit-crud", type=int, default=0)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--sets", nargs="+", default=["rgb_zh", "crud"], choices=["rgb_zh", "crud"])
    args = parser.parse_args(argv)
    limits = {"rgb_zh": args.corpus_limit_rgb, "crud": args.corpus_limit_crud}
    sets = {
        name: candidates(args.data_home, name, limit, args.candidates)
        for name, limit in limits.items()
        if name in args.sets and (EVALDATA / name / "corpus.jsonl").is_file()
    }
    base = RetrievalSettings()
    trials: list[tuple[str, RetrievalSettings]] = [
        ("dense", base),
        ("bm25", base),
        ("rrf", replace(base, dense_weight=1.0, bm25_weight=1.0, rrf_k=60)),
    ]
    for w, boost in itertools.product(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0], [0.0, 0.5, 1.0, 2.0]
    ):
        trials.append(("convex", replace(base, dense_weight=1.0, bm25_weight=w, exact_boost=boost)))
    for w, boost in itertools.product([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0], [0.0, 0.5, 1.0]):
        trials.append(("zscore", replace(base, dense_weight=1.0, bm25_weight=w, exact_boost=boost)))
    for w, k, boost in itertools.product([0.25, 0.5, 0.75, 1.0, 1.5, 2.0], [5, 10, 20, 60], [0.0, 1.0]):
        trials.append(("rrf", replace(base, dense_weight=1.0, bm25_weight=w, rrf_k=k, exact_boost=boost)))
    results = []
    for method, cfg in trials:
        per_set = {name: score(data, method, cfg) for name, data in sets.items()}
        mean_mrr = sum(m["mrr@10"] for m in per_set.values()) / len(per_set)
        results.append((mean_mrr, method, cfg, per_set))
    header = " | ".join(f"{n} R@5 | {n} R@10 | {n} MRR@10" for n in sets)
    print(f"| method | bm25_weight | rrf_k | exact_boost | {header} | mean MRR@10 |")
    print("|---|---|---|---|" + "---|" * (3 * len(sets)) + "---|")
    shown = results[:3] + sorted(results[3:], key=lambda r: -r[0])[:12]
    for mean_mrr, method, cfg, per_set in shown:
        cells = " | ".join(f"{m['recall@5']:.3f} | {m['recall@10']:.3f} | {m['mrr@10']:.3f}" for m in per_set.values())
        knobs = (
            f"{cfg.bm25_weight:g} | {cfg.rrf_k if method == 'rrf' else ''} | {cfg.exact_boost:g}"
            if method in FUSIONS
            else " | | "
        )
        print(f"| {method} | {knobs} | {cells} | {mean_mrr:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
