"""How long a question waits behind a prompt being read ahead: read whole (as before 2026-12-05) or in batches that
stop for it (`LlamaGenerator.read_ahead(yield_to=...)`, what the model server does now).

    .venv/bin/python bench/read_ahead_yield.py [--variant zen4|haswell|...] [--trials 12] [--model PATH]

In process, with the model `newsqa models pull` provides and the CPU kernels named (without extra buffers; the
machine's own choice is in run/kernels.json). Each trial reads ahead a group of three passages never read before
(cut from the sample page, ~400 tokens after the rules), and after a random delay (0.2-2 s) asks a judgement of a
question; the time from asking to its logits is the question's wait plus its own reading. Whole and batched reads
alternate, with the same delay drawn for both, and the question is then asked once a third read has ended (its own
reading, nothing to wait for). Prints each trial and the median, mean and max of the three.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant.backends.llama import LlamaGenerator  # noqa: E402
from assistant.kernels import KernelPlan  # noqa: E402
from assistant.models import DEFAULT_MODEL  # noqa: E402
from assistant.prompts import JUDGE_OPTIONS, JUDGE_TASK, Source, answer_messages, lead_messages  # noqa: E402
from core.config import Settings  # noqa: E402

PAGE = ROOT / "corpus" / "sample" / "wujin_daily_page.txt"


def _read_ahead(gen: LlamaGenerator, lead: list, yield_to: Callable[[], bool] | None, out: dict) -> None:
    start = time.perf_counter()
    out["usage"] = gen.read_ahead(lead, yield_to=yield_to)
    out["s"] = time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="zen4", help="llama.cpp CPU backend variant (libggml-cpu-VARIANT.so)")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--model", type=Path, help="GGUF file (default: the one `newsqa models pull` provides)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    model = args.model or Settings().home / "models" / DEFAULT_MODEL.filename
    if not model.is_file():
        print(f"read_ahead_yield: no model at {model}; run `newsqa models pull` or pass --model", file=sys.stderr)
        return 0
    import llama_cpp

    library = Path(llama_cpp.__file__).parent.parent / "bin" / f"libggml-cpu-{args.variant}.so"
    if not library.is_file():
        raise SystemExit(f"read_ahead_yield: no CPU backend {library}")
    gen = LlamaGenerator(model, n_ctx=4096, ahead_entries=64, plan=KernelPlan(args.variant, str(library), False))
    gen.warm_up("你好，这是一段用来预热的文字。" * 8)
    paragraphs = [p for p in PAGE.read_text(encoding="utf-8").split("\n") if len(p) > 80]
    question = answer_messages(
        "垃圾分类条例什么时候施行？", [Source(1, "垃圾分类", "2024-02-02", paragraphs[0][:200])], task=JUDGE_TASK
    )
    rng = random.Random(args.seed)
    waits: dict[str, list[float]] = {"whole": [], "batches": [], "alone": []}
    for trial in range(args.trials):
        delay = rng.uniform(0.2, 2.0)
        for mode in waits:
            cut = rng.randrange(0, 40)
            sources = [
                Source(n, f"第{trial}篇{mode}", "2024-02-02", paragraphs[(trial * 3 + n) % len(paragraphs)][cut:][:250])
                for n in range(1, 4)
            ]
            if mode == "alone":  # asked once the read has ended: the question's own reading, nothing to wait for
                gen.read_ahead(lead_messages(sources))
                start = time.perf_counter()
                gen.choose(question, JUDGE_OPTIONS)
                waits[mode].append(time.perf_counter() - start)
                print(f"{trial:2d} {mode:7s} asked after the read, answered {waits[mode][-1]:.2f} s later", flush=True)
                continue
            asked, read = threading.Event(), {}
            yield_to = asked.is_set if mode == "batches" else None
            reader = threading.Thread(target=_read_ahead, args=(gen, lead_messages(sources), yield_to, read))
            reader.start()
            time.sleep(delay)
            asked.set()
            start = time.perf_counter()
            gen.choose(question, JUDGE_OPTIONS)
            waits[mode].append(time.perf_counter() - start)
            reader.join()
            usage = read["usage"]
            cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
            print(
                f"{trial:2d} {mode:7s} asked after {delay:.2f} s, answered {waits[mode][-1]:.2f} s later; the read: "
                f"{usage.get('prompt_tokens', 0) - cached} tokens in {read['s']:.2f} s, "
                f"stopped {bool(usage.get('stopped'))}",
                flush=True,
            )
    for mode, values in waits.items():
        print(
            f"{mode}: median {statistics.median(values):.2f} s, mean {statistics.fmean(values):.2f} s, "
            f"max {max(values):.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
