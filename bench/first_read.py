"""The trade-off of `answer.first_read` over its threshold, from two runs of bench/latency.py on the same sets:

    NEWSQA_ANSWER__FIRST_READ=1 NEWSQA_ANSWER__FIRST_READ_ANSWERABLE=0.82 \\
        .venv/bin/python bench/latency.py --out /tmp/first.json         # the lowest threshold to consider
    .venv/bin/python bench/latency.py --out /tmp/full.json              # every passage read at once
    .venv/bin/python bench/first_read.py /tmp/first.json /tmp/full.json [--thresholds 0.82 0.9 0.95 0.98]

Greedy decoding makes each question's outcome depend only on the prompt, so one run at the lowest threshold holds
every higher one: at threshold t, a question answered from the first read with a judgement p >= t keeps the first
run's record, and every other question would have read all passages and gets the full run's record. Printed per
set and threshold: the questions answered from the first read, the answer prompt's tokens (mean), accuracy, refusal
of the unanswerable, false refusal and verified sentences. How often the two runs disagree on questions both read
in full is printed too: that is the noise of the comparison. Times come only from real runs (bench/latency.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.latency import read_first  # noqa: E402
from eval.runner import summarize  # noqa: E402


def merged(first: list[dict[str, Any]], full: list[dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    by_id = {r["id"]: r for r in full}
    out = []
    for r in first:
        keep = read_first(r) and r.get("answerable_p") is not None and r["answerable_p"] >= threshold
        out.append(r if keep or r["id"] not in by_id else by_id[r["id"]])
    return out


def curve_row(records: list[dict[str, Any]], threshold: float | None) -> dict[str, Any]:
    summary = summarize(records)
    tokens = [r["prompt_tokens"] for r in records if r.get("prompt_tokens")]
    return {
        "threshold": threshold,
        "first_read": sum(1 for r in records if read_first(r) and not r.get("refused") and not r.get("error")),
        "prompt_tokens_mean": round(sum(tokens) / len(tokens)) if tokens else None,
        "accuracy": summary["answer"]["accuracy"],
        "refusal_rate": summary["refusal"]["refusal_rate"],
        "false_refusal_rate": summary["refusal"]["false_refusal_rate"],
        "verified_sentences": summary["citation"]["verified_sentences"],
    }


def disagreements(first: list[dict[str, Any]], full: list[dict[str, Any]]) -> tuple[int, int]:
    """Of the questions the first run read in full, how many the two runs scored differently."""
    by_id = {r["id"]: r for r in full}
    both = [(r, by_id[r["id"]]) for r in first if not read_first(r) and r["id"] in by_id]
    differ = sum(1 for a, b in both if (a.get("correct"), a.get("refused")) != (b.get("correct"), b.get("refused")))
    return differ, len(both)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=Path, help="bench/latency.py output with answer.first_read on")
    parser.add_argument("full", type=Path, help="bench/latency.py output with every passage read at once")
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.82, 0.9, 0.95, 0.98])
    args = parser.parse_args()
    first, full = json.loads(args.first.read_text()), json.loads(args.full.read_text())
    low = first.get("settings", {}).get("first_read_answerable")
    for name in ("sample", "rgb"):
        if "records" not in first.get(name, {}) or "records" not in full.get(name, {}):
            continue
        a, b = first[name]["records"], full[name]["records"]
        differ, both = disagreements(a, b)
        print(f"{name}: {differ} of {both} questions read in full in both runs scored differently")
        print(json.dumps(curve_row(b, None), ensure_ascii=False))
        for t in sorted(args.thresholds):
            if low is not None and t < low:
                continue  # below the first run's threshold those questions were never answered from one passage
            print(json.dumps(curve_row(merged(a, b, t), t), ensure_ascii=False))


if __name__ == "__main__":
    main()
