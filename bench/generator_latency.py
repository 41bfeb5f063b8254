"""Latency of the llama backend: load time, time to first token, tokens/s, and what the prompt cache saves.

    .venv/bin/python bench/generator_latency.py --models-dir /tmp/newsqa-models [--no-prefix-cache] \
        [--max-tokens 32] [--threads 2] [--out /tmp/newsqa-generator-latency.json]

Runs five calls in one process, the way the chat loop makes them: an answer (cold), a second answer with the same
system prompt, a follow-up rewrite (another system prompt), a third answer, and the first answer again. Besides
wall-clock times (noisy on a shared machine) it counts the tokens actually run through the model, which is what
prefix reuse saves and does not depend on load. Passages come from the sample page; prompts from assistant/prompts.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant.backends.llama import LlamaGenerator  # noqa: E402
from assistant.models import pull_default_model  # noqa: E402
from assistant.prompts import (  # noqa: E402
    ANSWER_SYSTEM,
    ANSWER_USER,
    REWRITE_SYSTEM,
    REWRITE_USER,
    Source,
    format_sources,
)

SAMPLE = ROOT / "corpus" / "sample"


def _paragraphs() -> list[str]:
    pages = sorted(SAMPLE.glob("*.txt")) or [Path("/work/shared/seed/000_989b286bc898d7e2.txt")]
    return [p.strip() for p in pages[0].read_text(encoding="utf-8").split("\n") if p.strip()]


def _answer(passages: list[str], question: str) -> list[dict[str, str]]:
    sources = format_sources([Source(i + 1, "", "2024-01-23", p[:330]) for i, p in enumerate(passages)])
    return [
        {"role": "system", "content": ANSWER_SYSTEM},
        {"role": "user", "content": ANSWER_USER.format(sources=sources, today="", question=question)},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--no-prefix-cache", action="store_true")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    paras = _paragraphs()
    garbage = [p for p in paras if "垃圾" in p]
    hightech = [p for p in paras if "高新" in p]
    calls = [
        ("answer 1, cold", _answer(garbage[:3], "垃圾分类条例什么时候施行？")),
        ("answer 2, same system prompt", _answer(hightech[:3], "2023年武高新规上工业总产值是多少？")),
        (
            "rewrite, other system prompt",
            [
                {"role": "system", "content": REWRITE_SYSTEM},
                {
                    "role": "user",
                    "content": REWRITE_USER.format(
                        history="用户：垃圾分类条例什么时候施行？\n助手：2024年9月1日起施行[1]。", question="它分几类？"
                    ),
                },
            ],
        ),
        ("answer 3, after the rewrite", _answer(garbage[1:4], "常州市生活垃圾分为哪几类？")),
        ("answer 1 again", _answer(garbage[:3], "垃圾分类条例什么时候施行？")),
    ]

    gen = LlamaGenerator(
        pull_default_model(args.models_dir, progress=False),
        n_threads=args.threads,
        prefix_cache=not args.no_prefix_cache,
    )
    started = time.perf_counter()
    llm = gen.loaded().model
    report: dict[str, Any] = {
        "prefix_cache": gen.prefix_cache,
        "threads": gen.n_threads,
        "load_s": round(time.perf_counter() - started, 2),
        "calls": [],
    }
    evaluated = [0]
    run_model = llm.eval

    def counting_eval(tokens: Any) -> Any:
        evaluated[0] += len(tokens)
        return run_model(tokens)

    llm.eval = counting_eval
    for label, messages in calls:
        before, t0, first, text = evaluated[0], time.perf_counter(), None, ""
        for piece in gen.stream(messages, max_tokens=args.max_tokens):
            first = first if first is not None else time.perf_counter() - t0
            text += piece
        total = time.perf_counter() - t0
        n_out = len(llm.tokenize(text.encode(), add_bos=False))
        decode_s = total - (first or total)
        row = {
            "call": label,
            "prompt_evaluated": evaluated[0] - before - n_out,
            "ttft_s": round(first or total, 2),
            "out_tokens": n_out,
            "tok_per_s": round((n_out - 1) / decode_s, 2) if n_out > 1 and decode_s else None,
            "total_s": round(total, 2),
            "text": text,
        }
        report["calls"].append(row)
        print(json.dumps(row, ensure_ascii=False), file=sys.stderr, flush=True)
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    if llm.cache is not None:
        states = list(llm.cache.cache_state.values())
        report["cache"] = {
            "entries": len(states),
            "state_mb": round(sum(s.llama_state_size for s in states) / 2**20, 1),
            "logits_mb": round(sum(s.scores.nbytes for s in states) / 2**20, 1),
        }
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
