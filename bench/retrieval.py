"""Retrieval benchmark on the external Chinese sets (rgb_zh, crud): Recall@5/10, MRR@10, throughput, latency.

    .venv/bin/python bench/retrieval.py --data-home /tmp/newsqa-bench [--sets rgb_zh crud] [--methods bm25 dense hybrid]
        [--rerank-sample N --models-dir DIR]

Each set gets its own store under DATA_HOME/<set>/ (newsqa.db holds the articles, the embedding cache and the
keyword index; index/ the FAISS index), so a second run embeds nothing. Sets whose folder is absent are skipped.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.config import Settings  # noqa: E402
from core.types import Article, Chunk, chunk_id  # noqa: E402
from corpus.store import Store  # noqa: E402

EVALDATA = ROOT.parent / "shared" / "evaldata"
SETS = {"rgb_zh": 0, "crud": 300}  # chunk size: rgb passages are search snippets and stay whole
_SENTENCE = re.compile(r"[^。！？!?；;\n]*[。！？!?；;\n]?")


def chunk_text(text: str, size: int) -> list[tuple[int, int]]:
    """Spans of at most `size` characters, cut at sentence ends (a longer sentence is cut hard).

    The benchmark's own chunker, frozen so that the cached embeddings stay valid whatever the product
    chunker becomes.
    """
    spans: list[tuple[int, int]] = []
    start = end = 0
    for m in _SENTENCE.finditer(text):
        if m.start() == m.end():
            continue
        s, e = m.span()
        if e - start > size and end > start:
            spans.append((start, end))
            start = end
        while e - start > size:
            spans.append((start, start + size))
            start += size
        end = e
    if end > start:
        spans.append((start, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def load_items(name: str, limit: int = 0) -> Iterator[tuple[Article, list[Chunk]]]:
    """Articles of the set's corpus with their chunks; only the first `limit` documents when limit > 0."""
    size = SETS[name]
    with open(EVALDATA / name / "corpus.jsonl", encoding="utf-8") as f:
        for n, line in enumerate(f):
            if limit and n >= limit:
                return
            p = json.loads(line)
            text = p["text"]
            article = Article(
                id=p["id"], title=p.get("title", ""), text=text, date=p.get("date", ""), source=p.get("source", "")
            )
            spans = chunk_text(text, size) if size else [(0, len(text))]
            chunks = [
                Chunk(
                    id=chunk_id(article.id, s, e, text[s:e]),
                    article_id=article.id,
                    index=n,
                    paragraph=text.count("\n", 0, s),
                    start=s,
                    end=e,
                    text=text[s:e],
                )
                for n, (s, e) in enumerate(spans)
            ]
            yield article, chunks


def load_questions(name: str) -> list[dict]:
    with open(EVALDATA / name / "questions.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def settings_for(data_home: Path, name: str) -> Settings:
    # a --corpus-limit run must not drop the vectors of a full run
    return Settings(home=data_home / name).override({"retrieval": {"k": 10}, "index": {"keep_stale_embeddings": True}})


def build(settings: Settings, name: str, limit: int = 0) -> tuple[Store, dict[str, float]]:
    """Make the set's store hold exactly the (first `limit`) corpus documents; cached embeddings survive."""
    store = Store(settings.db_path)
    t = time.perf_counter()
    items = list(load_items(name, limit))
    result = store.put(items)
    keep = {a.id for a, _ in items}
    removed = store.remove([a.id for a in store.articles() if a.id not in keep])
    return store, {"ingest_s": time.perf_counter() - t, "added": len(result.added), "removed": len(removed)}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-home", type=Path, default=Path("/tmp/newsqa-bench"))
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--methods", nargs="+", default=["bm25", "dense", "hybrid"])
    parser.add_argument(
        "--corpus-limit",
        type=int,
        default=0,
        help="use only the first N corpus documents (and the questions whose gold is among them)",
    )
    parser.add_argument("--embed-only", action="store_true", help="only build the store and the dense index")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--rerank-sample",
        type=int,
        default=0,
        help="also rerank hybrid's top hits with the LLM reranker on N evenly spaced questions (~25 s each)",
    )
    parser.add_argument("--models-dir", type=Path, help="where the default GGUF is (for --rerank-sample)")
    args = parser.parse_args(argv)

    from index.dense import DenseIndex, EmbeddingCache
    from index.embedders import make_embedder

    results = []
    for name in args.sets:
        if not (EVALDATA / name / "corpus.jsonl").is_file():
            print(f"skip {name}: {EVALDATA / name} not found", file=sys.stderr)
            continue
        settings = settings_for(args.data_home, name)
        store, info = build(settings, name, args.corpus_limit)
        n_chunks = len(store.chunk_ids())
        print(f"{name}: {store.count()} articles, {n_chunks} chunks ({info['added']} added)", file=sys.stderr)
        if args.embed_only:
            embedder = make_embedder(settings.embedder)
            dense = DenseIndex(settings.index_dir, embedder, EmbeddingCache(settings.db_path), settings.index)
            t = time.perf_counter()
            report = dense.sync(store, progress=True)
            took = time.perf_counter() - t
            print(
                f"{name}: dense {report} in {took:.1f}s "
                f"({report['embedded'] / took if took and report['embedded'] else 0:.1f} chunks/s)",
                file=sys.stderr,
            )
            continue
        results.extend(evaluate(settings, store, name, args.methods))
        if args.rerank_sample:
            models_dir = args.models_dir or settings.data_dir / "models"
            results.extend(evaluate_rerank(settings, store, name, args.rerank_sample, models_dir))
    if results:
        print(markdown(results))
        if args.json:
            args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


def select_questions(name: str, store: Store) -> list[tuple[str, set[str]]]:
    """(question, gold article ids present in the store) for every question with at least one such gold."""
    present = {a.id for a in store.articles()}
    selected = []
    for q in load_questions(name):
        gold = set(q["gold_passage_ids"]) & present
        if gold:
            selected.append((q["question"], gold))
    return selected


def p50_p95_ms(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return 1000 * ordered[len(ordered) // 2], 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def rank_metrics(ranked: list[list[str]], golds: list[set[str]]) -> dict[str, float]:
    """Recall@5/10 (a gold article among the first k hits) and MRR@10 over hit lists of article ids."""
    n = len(golds) or 1
    r5 = sum(any(a in g for a in r[:5]) for r, g in zip(ranked, golds, strict=True)) / n
    r10 = sum(any(a in g for a in r[:10]) for r, g in zip(ranked, golds, strict=True)) / n
    mrr = (
        sum(
            next((1 / (i + 1) for i, a in enumerate(r[:10]) if a in g), 0.0) for r, g in zip(ranked, golds, strict=True)
        )
        / n
    )
    return {"recall@5": r5, "recall@10": r10, "mrr@10": mrr}


def evaluate(settings: Settings, store: Store, name: str, methods: list[str]) -> list[dict]:
    """Each method over the set's questions through `Searcher.search` (k=10), as the product runs it."""
    from index.hybrid import Searcher

    searcher = Searcher(settings, store)
    searcher.sync(progress=True)
    n_chunks = len(store.chunk_ids())
    # keyword indexing throughput: segment and index the whole corpus again
    searcher.keyword.reset()
    t = time.perf_counter()
    searcher.keyword.sync(store, progress=False)
    keyword_rate = n_chunks / (time.perf_counter() - t)
    questions = select_questions(name, store)
    searcher.search(questions[0][0], mode="hybrid")  # load the models before timing
    results = []
    for method in methods:
        ranked, latencies, cpu = [], [], []
        for question, _ in questions:
            t, c = time.perf_counter(), time.process_time()
            hits = searcher.search(question, k=10, mode=method)
            latencies.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            ranked.append([h.chunk.article_id for h in hits])
        p50, p95 = p50_p95_ms(latencies)
        cpu_p50, cpu_p95 = p50_p95_ms(cpu)
        row = {
            "set": name,
            "method": method,
            "questions": len(questions),
            "articles": store.count(),
            "chunks": n_chunks,
            **rank_metrics(ranked, [g for _, g in questions]),
            "p50_ms": p50,
            "p95_ms": p95,
            "cpu_p50_ms": cpu_p50,
            "cpu_p95_ms": cpu_p95,
            "peak_mb": peak_mb(),
        }
        if method == "bm25":
            row["index_rate"] = keyword_rate
        if method == "hybrid":
            row["fusion"] = settings.retrieval.fusion
        results.append(row)
        print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
    searcher.close()
    return results


def evaluate_rerank(settings: Settings, store: Store, name: str, n: int, models_dir: Path) -> list[dict]:
    """Hybrid top 10 with and without the LLM reranker (retrieval.rerank_top hits regraded), on n spaced questions.

    The wall time of the reranked search is per question and includes the LLM's prompt reading and grading.
    """
    from assistant.factory import make_generator
    from assistant.models import pull_default_model
    from index.hybrid import Searcher
    from index.rerank import LLMReranker

    if not settings.generator.model_path:
        pull_default_model(models_dir, progress=True)
    reranker = LLMReranker(make_generator(settings.generator, models_dir), top=settings.retrieval.rerank_top)
    questions = select_questions(name, store)
    step = max(1, len(questions) // n)
    sample = questions[::step][:n]
    searcher = Searcher(settings, store)
    searcher.sync(progress=False)
    plain, reranked, latencies = [], [], []
    for i, (question, _) in enumerate(sample, 1):
        hits = searcher.search(question, k=10, mode="hybrid")
        t = time.perf_counter()
        graded = reranker.rerank(question, hits)
        latencies.append(time.perf_counter() - t)
        plain.append([h.chunk.article_id for h in hits])
        reranked.append([h.chunk.article_id for h in graded])
        print(f"[rerank {name} {i}/{len(sample)}] {latencies[-1]:.1f}s", file=sys.stderr, flush=True)
    searcher.close()
    golds = [g for _, g in sample]
    rows = []
    # the plain rows' latency is the search's, measured above; here only the reranking is timed
    for method, ranked, (p50, p95) in (
        ("hybrid (rerank sample)", plain, (0.0, 0.0)),
        ("hybrid + LLM rerank", reranked, p50_p95_ms(latencies)),
    ):
        rows.append(
            {
                "set": name,
                "method": method,
                "questions": len(sample),
                "articles": store.count(),
                "chunks": len(store.chunk_ids()),
                **rank_metrics(ranked, golds),
                "p50_ms": p50,
                "p95_ms": p95,
                "cpu_p50_ms": 0.0,
                "cpu_p95_ms": 0.0,
                "peak_mb": peak_mb(),
            }
        )
        print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr)
    return rows


def markdown(results: list[dict]) -> str:
    lines = [
        "| set | method | questions | chunks | Recall@5 | Recall@10 | MRR@10 | index rate | p50 / p95 wall "
        "| p50 / p95 CPU | peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rate = f"{r['index_rate']:,.0f} c/s" if "index_rate" in r else ""
        lines.append(
            f"| {r['set']} | {r['method']} | {r['questions']} | {r['chunks']:,} | {r['recall@5']:.3f} | "
            f"{r['recall@10']:.3f} | {r['mrr@10']:.3f} | {rate} | {r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms | "
            f"{r['cpu_p50_ms']:.1f} / {r['cpu_p95_ms']:.1f} ms | {r['peak_mb']:,.0f} MB |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
