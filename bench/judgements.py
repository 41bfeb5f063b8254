"""How well the generator's yes/no judgements tell answerable from unanswerable contexts (RGB zh, dev sample).

    .venv/bin/python bench/judgements.py --answerable 30 --rejection 30 --offset 3 --out /tmp/judgements.json

Same closed-context protocol and passage trimming as bench/answering.py: answerable questions get their first k
answer-bearing gold passages, rejection questions the first k of their `context_passage_ids`. For each question the
script records the probability of 是 (against 否) for
- the answerability judgement the assistant uses (`assistant.prompts.JUDGE_TASK`, before any answer), and
- the wordings in `POST_ANSWER` below, asked after the model's own answer, in the same conversation (a second
  judgement that would cost only ~40 tokens because the answer prompt is already evaluated).
It reports each judgement's AUC (answerable vs rejection) and the ranges of both bands. The offset-3 dev sample is
the one thresholds are set on; reports of the assistant's behaviour use offset 0 (bench/answering.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant.context import trim_passage  # noqa: E402
from assistant.generation import choice_probs, complete  # noqa: E402
from assistant.judgements import combined_judgement  # noqa: E402
from assistant.prompts import CONFIRM_TASK, JUDGE_OPTIONS, JUDGE_TASK, Messages, Source, answer_messages  # noqa: E402
from bench.answering import EVALDATA, context_ids, correct, make_generator, read_jsonl, spaced, write_json  # noqa: E402
from core.config import load_settings  # noqa: E402

POST_ANSWER = {
    "post_direct": "请核对：你上面的回答是否直接回答了问题，而且答案在资料中明确写着？只回答“是”或“否”。",
    "post_found": "你上面回答中的答案能在资料原文中找到吗？只回答“是”或“否”。",
    "post_strict": CONFIRM_TASK,  # the one the assistant asks (answer.min_confirmed)
}


def auc(positives: list[float], negatives: list[float]) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def yes(gen: object, messages: Messages) -> float:
    probs = choice_probs(gen, messages, JUDGE_OPTIONS)
    if probs is None:
        raise SystemExit("this generator cannot judge (no `choose`)")
    return probs[JUDGE_OPTIONS[0]]


def judge(gen: object, question: dict, sources: list[Source], max_tokens: int) -> dict:
    rec: dict = {"pre": yes(gen, answer_messages(question["question"], sources, task=JUDGE_TASK))}
    messages = answer_messages(question["question"], sources)
    reply = complete(gen, messages, max_tokens=max_tokens).strip()  # type: ignore[arg-type]
    rec["reply"] = reply
    for name, task in POST_ANSWER.items():
        rec[name] = yes(gen, [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": task}])
    return rec


def summary(records: list[dict]) -> dict:
    """AUC and bands of each judgement, and of the combination the assistant uses (`combined`)."""
    out = {}
    for r in records:
        r["combined"] = combined_judgement(r["pre"], r["post_strict"])
    for name in ("pre", *POST_ANSWER, "combined"):
        pos = [r[name] for r in records if r["kind"] == "answerable"]
        neg = [r[name] for r in records if r["kind"] == "rejection"]
        out[name] = {
            "auc": auc(pos, neg),
            "answerable_min": min(pos, default=None),
            "rejection_max": max(neg, default=None),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answerable", type=int, default=30)
    parser.add_argument("--rejection", type=int, default=30)
    parser.add_argument("--offset", type=int, default=3)
    parser.add_argument("--k", type=int, default=0, help="passages per question (default answer.max_passages)")
    parser.add_argument("--generator", default="llama")
    parser.add_argument("--models-dir", type=Path, help="where the default GGUF is (assembled if missing)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not (EVALDATA / "questions.jsonl").exists():
        print(f"skipped: {EVALDATA} is absent", file=sys.stderr)
        return 0
    settings = load_settings()
    k = args.k or settings.answer.max_passages
    chars = settings.answer.max_passage_chars
    gen = make_generator(args.generator, settings, args.models_dir or settings.data_dir / "models")
    passages = {p["id"]: p for p in read_jsonl(EVALDATA / "corpus.jsonl")}
    answerable = spaced(read_jsonl(EVALDATA / "questions.jsonl"), args.answerable, args.offset)
    rejection = spaced(read_jsonl(EVALDATA / "rejection_questions.jsonl"), args.rejection, args.offset)
    items = [("answerable", q, context_ids("answerable", q, k)) for q in answerable]
    items += [("rejection", q, context_ids("rejection", q, k)) for q in rejection]
    command = " ".join(["bench/judgements.py", *(argv or sys.argv[1:])])
    records = []
    for i, (kind, q, ids) in enumerate(items, 1):
        sources = [
            Source(n, "", passages[p].get("date", ""), trim_passage(passages[p]["text"], q["question"], chars))
            for n, p in enumerate(ids, 1)
        ]
        started = time.perf_counter()
        rec = {"id": q["id"], "kind": kind, **judge(gen, q, sources, settings.answer.max_answer_tokens)}
        rec["correct"] = correct(rec["reply"], q) if kind == "answerable" else None
        rec["seconds"] = time.perf_counter() - started
        records.append(rec)
        print(f"[{i}/{len(items)}] {kind:10s} {q['id']} pre={rec['pre']:.3f} {rec['seconds']:.1f}s", flush=True)
        write_json(args.out, {"command": command, "records": records})  # partial results survive an interruption
    result = {"command": command, "summary": summary(records)}
    write_json(args.out, {**result, "records": records})
    for name, s in result["summary"].items():
        print(name, {key: None if v is None else round(v, 3) for key, v in s.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
