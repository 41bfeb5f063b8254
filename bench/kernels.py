"""Prompt-reading and generation speed of the default model for each llama.cpp CPU kernel plan this machine runs,
and the cost of running the model out of process.

    .venv/bin/python bench/kernels.py --model ~/.newsqa/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \
        [--plans all|chosen] [--repeat 3] [--out /tmp/newsqa-kernels.json]

For every plan (each runnable ggml CPU variant with extra buffer types on, and the best without AMX with them off)
a model server is started, and through it, as the app does:
- a ~600-token prompt made of sample-page passages (the size of a question's prompt) is read with a one-token
  judgement: prompt tokens per second;
- 64 tokens are generated from that prompt: generation tokens per second.
A plan whose server dies is reported with how it died. Then, for the plan `doctor` chose, the same small request
(prompt already in the context, one token out) is timed in this process and through the server: the difference is
what the process hop costs a request; a question makes two or three such requests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant import kernels  # noqa: E402
from assistant.backends.llama import LlamaGenerator  # noqa: E402
from assistant.backends.openai import OpenAIGenerator  # noqa: E402
from assistant.generation import GeneratorError, usage_of  # noqa: E402
from assistant.kernels import KernelPlan  # noqa: E402
from assistant.prompts import Source, answer_messages  # noqa: E402
from assistant.worker import ModelWorker, WorkerGenerator, WorkerSpec  # noqa: E402

SAMPLE = ROOT / "corpus" / "sample" / "wujin_daily_page.txt"


def _prompt(n_passages: int = 4, chars: int = 250) -> list[dict[str, str]]:
    paragraphs = [p.strip() for p in SAMPLE.read_text(encoding="utf-8").split("\n") if len(p.strip()) > 80]
    sources = [Source(i + 1, "", "2024-02-02", p[:chars]) for i, p in enumerate(paragraphs[:n_passages])]
    return answer_messages("武高新2023年规上工业总产值是多少？", sources)


def _unique(messages: list[dict[str, str]], i: int) -> list[dict[str, str]]:
    """The prompt with a different first line, so that no prefix is reused and the whole prompt is read."""
    return [{"role": "system", "content": f"（第{i}次）" + messages[0]["content"]}, *messages[1:]]


def measure_plan(plan: KernelPlan, model: Path, run_dir: Path, repeat: int, gen_tokens: int) -> dict[str, Any]:
    worker = ModelWorker(
        WorkerSpec("llama", str(model), plan=plan), log_path=run_dir / "model-server.log", start_timeout_s=900
    )
    gen = WorkerGenerator(worker, "bench")
    row: dict[str, Any] = {"plan": plan.label, "variant": plan.variant, "extra_buffers": plan.extra_buffers}
    try:
        start = time.perf_counter()
        worker.url()
        row["start_s"] = round(time.perf_counter() - start, 2)
        row["warmup"] = worker.status().warmup
        base = _prompt()
        read, written = [], []
        for i in range(repeat):
            messages = _unique(base, i)
            client = gen._client()
            t0 = time.perf_counter()
            client.choose(messages, ("是", "否"))  # reads the whole prompt, writes nothing
            read.append(time.perf_counter() - t0)
            reply = gen.stream(messages, max_tokens=gen_tokens)
            pieces = [next(reply)]  # the prompt is in the context already: the first token is one step
            t0 = time.perf_counter()
            pieces += list(reply)
            written.append((time.perf_counter() - t0) / max(len(pieces) - 1, 1))
            usage = usage_of(reply)
            row["prompt_tokens"] = usage.get("prompt_tokens")
            row["completion_tokens"] = usage.get("completion_tokens", len(pieces))
        row["prompt_tps"] = round(row["prompt_tokens"] / statistics.median(read), 1)
        row["gen_tps"] = round(1 / statistics.median(written), 1)  # per streamed piece, about a token each
        row["ok"] = True
    except GeneratorError as exc:
        row.update(ok=False, outcome=worker.status().last_exit or str(exc))
    finally:
        worker.stop()
    return row


def measure_hop(plan: KernelPlan, model: Path, run_dir: Path, repeat: int = 20) -> dict[str, Any]:
    """Median time of a one-token request whose prompt is already in the context: in process and through HTTP."""
    messages = _prompt()
    local = LlamaGenerator(model, plan=plan)
    local.first_token_logprobs(messages, 20)  # loads, reads the prompt once
    in_process = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        local.first_token_logprobs(messages, 20)
        in_process.append(time.perf_counter() - t0)
    worker = ModelWorker(WorkerSpec("llama", str(model), plan=plan), log_path=run_dir / "hop.log")
    try:
        client = OpenAIGenerator(worker.url(), api_key=worker.token)
        client.choose(messages, ("是", "否"))
        through = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            client.choose(messages, ("是", "否"))
            through.append(time.perf_counter() - t0)
    finally:
        worker.stop()
    a, b = statistics.median(in_process) * 1000, statistics.median(through) * 1000
    return {"in_process_ms": round(a, 1), "through_server_ms": round(b, 1), "hop_ms": round(b - a, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--plans", choices=["all", "chosen"], default="all")
    parser.add_argument("--variants", nargs="*", help="only these ggml variants (default: every runnable one)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--no-hop", action="store_true", help="skip the in-process comparison")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    cpu = kernels.cpu_report()
    lib_dir = kernels.llama_lib_dir()
    variants = kernels.cpu_variants(lib_dir)
    scores = kernels.variant_scores(variants)
    plans = kernels.candidate_plans(variants, scores)
    extra = [KernelPlan(p.variant, p.library, False) for p in plans if p.extra_buffers]
    plans += [p for p in extra if p not in plans]
    if args.variants:
        plans = [p for p in plans if p.variant in args.variants]
    print(f"CPU: {cpu.model}; flags: {' '.join(cpu.shown_flags())}; OS AMX: {cpu.os_amx}", file=sys.stderr)
    run_dir = Path(tempfile.mkdtemp(prefix="newsqa-kernels-"))
    rows = []
    chosen = None
    for plan in plans if args.plans == "all" else plans[:1]:
        row = measure_plan(plan, args.model, run_dir, args.repeat, args.gen_tokens)
        print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
        rows.append(row)
        if row["ok"] and chosen is None and not plan.uses_amx:
            chosen = plan
    result: dict[str, Any] = {
        "cpu": cpu.model,
        "flags": cpu.shown_flags(),
        "os_amx": cpu.os_amx,
        "scores": {k: v for k, v in scores.items() if v > 0},
        "plans": rows,
    }
    if chosen is not None and not args.no_hop:
        result["hop"] = {"plan": chosen.label, **measure_hop(chosen, args.model, run_dir)}
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
