"""Answering benchmark on RGB (zh): accuracy with gold passages, refusals without them, citation checks, latency.

    .venv/bin/python bench/answering.py --generators llama extractive --answerable 40 --rejection 20 \
        --out /tmp/newsqa-answering.json [--calibrate]

Closed-context protocol (RGB): each answerable question gets its first k (`--k`, default answer.max_passages)
answer-bearing gold passages as the only context; each rejection question the first k of its `context_passage_ids`,
which do not hold the answer.
Questions are taken evenly spaced through the files (deterministic). Scoring is RGB's: lower-cased substring match
of any answer ("any") or of every part ("all"). `--calibrate` embeds questions and passages with the configured
embedder and reports the dense cosine of the best passage for matched vs mismatched question/passage sets, the
aggregate that `answer.min_dense_score` is set from.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant.chat import Assistant  # noqa: E402
from assistant.events import Final, Token  # noqa: E402
from core.config import Settings, load_settings  # noqa: E402
from core.files import write_atomic  # noqa: E402
from core.types import Chunk, Hit  # noqa: E402

EVALDATA = ROOT.parent / "shared" / "evaldata" / "rgb_zh"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def spaced(items: list[Any], n: int, offset: int = 0) -> list[Any]:
    """`n` items evenly spaced through `items`, starting at `offset` (all of them when n >= len)."""
    if n <= 0:
        return []
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[(int(i * step) + offset) % len(items)] for i in range(n)]


def passage_hit(pid: str, passages: dict[str, dict[str, Any]]) -> Hit:
    p = passages[pid]
    text = p["text"]
    chunk = Chunk(id=zlib.crc32(pid.encode()), article_id=pid, index=0, paragraph=0, start=0, end=len(text), text=text)
    return Hit(chunk=chunk, score=1.0, title="", date=p.get("date", ""), source=p.get("source", ""))


def context_ids(kind: str, q: dict[str, Any], k: int) -> list[str]:
    """RGB's closed context: the first k answer-bearing gold passages, or for a rejection question its negatives."""
    if kind == "answerable":
        return (q.get("answer_bearing_gold_ids") or q["gold_passage_ids"])[:k]
    return q["context_passage_ids"][:k]


def correct(text: str, q: dict[str, Any]) -> bool:
    response = text.lower()
    if q.get("answer_match") == "all":
        parts = q.get("answer_parts") or [[a] for a in q["answers"]]
        return all(any(alt.lower() in response for alt in part) for part in parts)
    return any(a.lower() in response for a in q["answers"])


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]


def make_generator(name: str, settings: Settings, models_dir: Path) -> Any:
    if name == "extractive":
        return None
    from assistant.factory import make_generator as factory

    if name == "llama" and not settings.generator.model_path:
        from assistant.models import pull_default_model

        pull_default_model(models_dir, progress=True)
    return factory(settings.override({"generator": {"backend": name}}).generator, models_dir)


def interleave(answerable: list[Any], rejection: list[Any]) -> list[Any]:
    """Both kinds spread evenly through the run, so a run cut short by its time budget still measures both."""
    total = len(answerable) + len(rejection)
    ordered, a, r = [], 0, 0
    for i in range(total):
        take_rejection = r < len(rejection) and (a >= len(answerable) or (r + 1) * total <= (i + 1) * len(rejection))
        if take_rejection:
            ordered.append(rejection[r])
            r += 1
        else:
            ordered.append(answerable[a])
            a += 1
    return ordered


def run(
    assistant: Assistant,
    items: list[tuple[str, dict[str, Any], list[Hit]]],
    label: str,
    *,
    deadline: float = float("inf"),
    checkpoint: Any = None,
) -> list[dict]:
    """Ask every item (until `deadline`, a perf_counter time), calling `checkpoint(records)` after each."""
    records: list[dict] = []
    for i, (kind, q, hits) in enumerate(items, 1):
        if time.perf_counter() > deadline:
            print(f"[{label}] time budget used up after {len(records)} of {len(items)} questions", flush=True)
            break
        started = time.perf_counter()
        raw, answer = [], None
        for event in assistant.stream(q["question"], context=hits):
            if isinstance(event, Token):
                raw.append(event.text)
            elif isinstance(event, Final):
                answer = event.answer
        assert answer is not None
        elapsed = time.perf_counter() - started
        rec = {
            "id": q["id"],
            "kind": kind,
            "question": q["question"],
            "answer": answer.text,
            "reply": "".join(raw),  # what the generator wrote, before citation checks and refusal
            "refused": answer.refused,
            "generator": answer.generator,
            "correct": correct(answer.text, q) if kind == "answerable" else None,
            "citations": len(answer.citations),
            "verified": sum(c.verified for c in answer.citations),
            "unverified_sentences": len(answer.unverified),
            "ttft": answer.timings.get("ttft"),
            "answerable_p": answer.answerable_p,  # the generator's own answerability judgement
            "confirmed_p": answer.confirmed_p,  # combined with its confirmation after the answer
            "seconds": elapsed,
            "refusal_reason": answer.refusal_reason,
        }
        records.append(rec)
        print(
            f"[{label} {i}/{len(items)}] {kind:10s} {q['id']} refused={rec['refused']} "
            f"correct={rec['correct']} cites={rec['verified']}/{rec['citations']} {elapsed:.1f}s",
            flush=True,
        )
        if checkpoint is not None:
            checkpoint(records)
    return records


def summarise(records: list[dict], name: str) -> dict[str, Any]:
    answerable = [r for r in records if r["kind"] == "answerable"]
    rejection = [r for r in records if r["kind"] == "rejection"]
    answered = [r for r in records if not r["refused"]]
    cited = [r for r in answered if r["citations"]]

    def share(rows: list[dict], key: Any) -> float | None:
        return round(sum(1 for r in rows if key(r)) / len(rows), 4) if rows else None

    ttft = [r["ttft"] for r in records if r["ttft"] is not None]
    seconds = [r["seconds"] for r in records]
    return {
        "answerable": len(answerable),
        "rejection": len(rejection),
        "accuracy": share(answerable, lambda r: r["correct"]),
        "false_refusal": share(answerable, lambda r: r["refused"]),
        "refusal_rate": share(rejection, lambda r: r["refused"]),
        "answers_all_citations_verified": share(cited, lambda r: r["verified"] == r["citations"]),
        "answers_without_unverified_sentences": share(answered, lambda r: r["unverified_sentences"] == 0),
        "citations_verified": round(
            sum(r["verified"] for r in answered) / max(1, sum(r["citations"] for r in answered)), 4
        ),
        "ttft_p50": percentile(ttft, 0.5),
        "ttft_p90": percentile(ttft, 0.9),
        "seconds_p50": percentile(seconds, 0.5),
        "seconds_p90": percentile(seconds, 0.9),
        "seconds_mean": round(statistics.mean(seconds), 3) if seconds else None,
        # answers the extractive fallback gave because the named generator failed
        "fallbacks": sum(1 for r in records if name != "extractive" and r["generator"] == "extractive"),
        "judge_curve": judge_curve(records),
        "refusal_reasons": {
            k: sum(1 for r in records if r["refusal_reason"] == k)
            for k in sorted({r["refusal_reason"] for r in records} - {""})
        },
    }


def judge_curve(records: list[dict], thresholds: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)):
    """Refusal and false-refusal rates had answer.min_answerable been each threshold (from a run that judged
    every question but refused on none of the judgements, i.e. a tiny min_answerable): a question refuses when
    its judgement falls below the threshold or when it refused anyway (no generation would have happened)."""
    judged = [r for r in records if r["answerable_p"] is not None or r["refused"]]
    answerable = [r for r in judged if r["kind"] == "answerable"]
    rejection = [r for r in judged if r["kind"] == "rejection"]
    if not answerable or not rejection:
        return []

    def refuses(r: dict, t: float) -> bool:
        return r["refused"] or (r["answerable_p"] is not None and r["answerable_p"] < t)

    return [
        {
            "min_answerable": t,
            "refusal_rate": round(sum(refuses(r, t) for r in rejection) / len(rejection), 4),
            "false_refusal": round(sum(refuses(r, t) for r in answerable) / len(answerable), 4),
            "accuracy": round(sum(r["correct"] and not refuses(r, t) for r in answerable) / len(answerable), 4),
        }
        for t in thresholds
    ]


def calibrate(settings: Settings, answerable: list[dict], passages: dict[str, dict], k: int) -> dict[str, Any]:
    """Best dense cosine of a question over its own gold passages vs over another question's (topic absent)."""
    import numpy as np

    from index.embedders import make_embedder

    embedder = make_embedder(settings.embedder)
    golds = [(q.get("answer_bearing_gold_ids") or q["gold_passage_ids"])[:k] for q in answerable]
    ids = sorted({pid for g in golds for pid in g})
    vectors = embedder.encode_documents([passages[i]["text"] for i in ids])
    row = {pid: vectors[i] for i, pid in enumerate(ids)}
    queries = embedder.encode_queries([q["question"] for q in answerable])
    n = len(answerable)
    matched, mismatched = [], []
    for i in range(n):
        own = np.stack([row[p] for p in golds[i]])
        other = np.stack([row[p] for p in golds[(i + n // 2) % n]])
        matched.append(float((own @ queries[i]).max()))
        mismatched.append(float((other @ queries[i]).max()))
    threshold = percentile(matched, 0.02)
    return {
        "embedder": settings.embedder.backend,
        "questions": n,
        "matched_p02": threshold,
        "matched_p10": percentile(matched, 0.1),
        "matched_p50": percentile(matched, 0.5),
        "mismatched_p50": percentile(mismatched, 0.5),
        "mismatched_p90": percentile(mismatched, 0.9),
        "mismatched_p98": percentile(mismatched, 0.98),
        "mismatched_below_matched_p02": sum(1 for m in mismatched if m < threshold) / n,
    }


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generators", nargs="+", default=["llama", "extractive"])
    parser.add_argument("--answerable", type=int, default=40, help="answerable questions (gold passages as context)")
    parser.add_argument("--rejection", type=int, default=20, help="rejection questions (negatives only)")
    parser.add_argument(
        "--offset",
        type=int,
        default=0,
        help="shift the evenly spaced picks (a dev sample for tuning: --offset 3; reports use 0)",
    )
    parser.add_argument("--max-minutes", type=float, default=float("inf"), help="time budget per generator")
    parser.add_argument("--k", type=int, default=0, help="passages per question (default: answer.max_passages)")
    parser.add_argument("--models-dir", type=Path, help="where the default GGUF is (assembled if missing)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/newsqa-answering.json"))
    parser.add_argument("--calibrate", action="store_true", help="also measure dense cosines for min_dense_score")
    args = parser.parse_args(argv)
    if not EVALDATA.is_dir():
        print(f"skipped: {EVALDATA} not found", file=sys.stderr)
        return 0

    settings = load_settings()
    args.k = args.k or settings.answer.max_passages
    passages = {p["id"]: p for p in read_jsonl(EVALDATA / "corpus.jsonl")}
    answerable = [
        ("answerable", q) for q in spaced(read_jsonl(EVALDATA / "questions.jsonl"), args.answerable, args.offset)
    ]
    rejection = [
        ("rejection", q)
        for q in spaced(read_jsonl(EVALDATA / "rejection_questions.jsonl"), args.rejection, args.offset)
    ]
    items = interleave(
        [(kind, q, [passage_hit(p, passages) for p in context_ids(kind, q, args.k)]) for kind, q in answerable],
        [(kind, q, [passage_hit(p, passages) for p in context_ids(kind, q, args.k)]) for kind, q in rejection],
    )

    results: dict[str, Any] = {
        "command": " ".join(["bench/answering.py", *(argv or sys.argv[1:])]),
        "settings": {"answer": vars(settings.answer), "max_tokens": settings.generator.max_tokens},
        "runs": {},
    }
    if args.calibrate:
        results["calibration"] = calibrate(settings, answerable, passages, args.k)
        print(json.dumps(results["calibration"], indent=2))
    models_dir = args.models_dir or settings.models_dir
    for name in args.generators:
        generator = make_generator(name, settings, models_dir)
        assistant = Assistant(settings, None, None, generator)
        load = 0.0
        if generator is not None:  # load the model outside the timed questions
            started = time.perf_counter()
            "".join(generator.stream([{"role": "user", "content": "你好"}], max_tokens=1))
            load = time.perf_counter() - started

        def checkpoint(records: list[dict], name: str = name, load: float = load) -> None:
            summary = summarise(records, name)
            summary["load_seconds"] = round(load, 2)
            results["runs"][name] = {"summary": summary, "records": records}
            write_json(args.out, results)

        deadline = time.perf_counter() + 60 * args.max_minutes
        records = run(assistant, items, name, deadline=deadline, checkpoint=checkpoint)
        checkpoint(records)
        summary = results["runs"][name]["summary"]
        print(name, json.dumps(summary, ensure_ascii=False, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
