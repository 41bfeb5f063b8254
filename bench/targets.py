"""The latency targets of "Answers in seconds" on this machine, in one command, with the CPU named.

    .venv/bin/python bench/targets.py --home /tmp/lat-home --out /tmp/targets [--rgb-limit 60] [--ask 5]

Runs `bench/latency.py` three times, each with a model server of its own, as docs/BENCHMARKS.md does by hand:
- `sample`: the sample set with the newest passages read ahead as the app does once started, and `newsqa ask`
  timed from process start (`--ask`);
- `rgb_off`: rgb_zh's first 60 with nothing read ahead, the cold case of an archive question;
- `rgb_typed`: the same with each question read while typed, paused at 4/5 of its characters (`--typed`).
Each run's JSON (and what latency.py printed, NAME.log) is kept in --out. Then it prints one Markdown table: every
target, the figure measured, and whether it is met, under the CPU's name and flags, and the kernels the model ran
on. The whole-answer target is the one of the kernels' class: AVX-512 when the model ran on an AVX-512 variant of
llama.cpp's CPU backend, AVX2 otherwise. rgb_zh is external data (../shared/evaldata): without it the rgb runs are
reported as skipped. The 8-residents target needs the app running: `bench/load.py`, not run here.

Environment variables reach every run, e.g. NEWSQA_GENERATOR__CPU_VARIANT=haswell for the AVX2 kernels on an AVX-512
machine: that run is held to the AVX2 target, and stays a proxy (the CPU named is still this one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# name -> latency.py arguments
RUNS = {
    "sample": ["--sets", "sample", "--ahead", "newest"],
    "rgb_off": ["--sets", "rgb", "--ahead", "off"],
    "rgb_typed": ["--sets", "rgb", "--ahead", "off"],
}
# llama.cpp's CPU variants that use AVX-512: a run on any other is held to the AVX2 target
AVX512_VARIANTS = frozenset(
    {"skylakex", "cannonlake", "cascadelake", "cooperlake", "icelake", "zen4", "sapphirerapids"}
)
# the quality the issue asks not to fall below, on the sample set; its refusal figure, 0.86, is 6 of the set's 7
# unanswerable questions, rounded
SAMPLE_QUALITY = {"accuracy": 0.88, "refusal_rate": 6 / 7, "false_refusal_rate": 0.12, "verified_sentences": 0.96}


def run_latency(name: str, out: Path, home: Path, rgb_limit: int, typed: float, ask: int) -> Path:
    """One latency.py run; its JSON file."""
    path = out / f"{name}.json"
    command = [sys.executable, str(ROOT / "bench" / "latency.py"), *RUNS[name], "--home", str(home), "--out", str(path)]
    if name.startswith("rgb"):
        command += ["--rgb-limit", str(rgb_limit)]
    if name == "rgb_typed":
        command += ["--typed", str(typed)]
    if name == "sample" and ask:
        command += ["--ask", str(ask)]
    print(f"targets: {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    log_path = out / f"{name}.log"
    with log_path.open("w", encoding="utf-8") as log:  # its own summary; its progress goes to stderr
        done = subprocess.run(command, cwd=ROOT, stdout=log)
    if done.returncode:
        raise SystemExit(f"targets: the {name} run failed (exit {done.returncode}); what it printed: {log_path}")
    return path


def _row(result: dict[str, Any], name: str) -> dict[str, Any] | None:
    part = result.get(name) or {}
    return part.get("row")


def verdicts(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(target, run, measured, verdict) for each target the runs measure."""
    rows: list[tuple[str, str, str, str]] = []

    def check(ok: bool) -> str:
        return "met" if ok else "**not met**"

    for name, result in results.items():
        row = _row(result, "rgb" if name.startswith("rgb") else "sample")
        if row is None:
            skipped = (result.get("rgb") or result.get("sample") or {}).get("skipped", "no result")
            rows.append(("(all)", name, f"skipped: {skipped}", ""))
            continue
        first, answer = row["first_content_ms"], row["answer_ms"]
        variants = {plan.get("variant") for plan in result.get("kernels", [])}
        avx512 = bool(variants) and variants <= AVX512_VARIANTS
        rows.append(("first verified content ≤ 1 s p50", name, f"{first[0]} ms", check(first[0] <= 1000)))
        if avx512:
            rows.append(
                (
                    "whole answer ≤ 6 s p50, ≤ 10 s p95 (AVX-512)",
                    name,
                    f"{answer[0] / 1000:.1f} / {answer[1] / 1000:.1f} s",
                    check(answer[0] <= 6000 and answer[1] <= 10000),
                )
            )
        else:
            rows.append(
                (
                    "whole answer ≤ 10 s p50 (AVX2)",
                    name,
                    f"{answer[0] / 1000:.1f} s ({answer[1] / 1000:.1f} s p95)",
                    check(answer[0] <= 10000),
                )
            )
        quality = f"{row['accuracy']:.3f} / {row['false_refusal_rate']:.3f} / {row['verified_sentences']:.3f}"
        if name == "sample":
            ok = all(
                (row[key] <= floor) if key == "false_refusal_rate" else (row[key] >= floor)
                for key, floor in SAMPLE_QUALITY.items()
            )
            rows.append(
                (
                    "sample quality ≥ 0.88 / ≥ 0.86 / ≤ 0.12 / ≥ 0.96 (accuracy, refusal, false refusal, verified)",
                    name,
                    f"{row['accuracy']:.2f} / {row['refusal_rate']:.3f} / {row['false_refusal_rate']:.2f} / "
                    f"{row['verified_sentences']:.3f}",
                    check(ok),
                )
            )
        else:
            rows.append(("rgb60 accuracy / false refusal / verified (reported)", name, quality, ""))
        ask = result.get("ask")
        if ask and ask.get("quote_s"):
            quote = ask["quote_s"]
            rows.append(("`newsqa ask` quotation ≤ 2 s p50", name, f"{quote[0]:.2f} s", check(quote[0] <= 2.0)))
    return rows


def report(results: dict[str, dict[str, Any]]) -> str:
    """The table, under the CPU and kernels of the runs."""
    first = next(iter(results.values()), {})
    named = first.get("cpu_ident", "")
    kernels = {name: [plan.get("variant") for plan in result.get("kernels", [])] for name, result in results.items()}
    lines = [
        f"CPU: {first.get('cpu', '?')}{f' ({named})' if named else ''}; "
        f"flags: {' '.join(first.get('flags', [])) or '-'}",
        f"kernels: {json.dumps(kernels)}",
        "",
        "| target | run | measured | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {target} | {run} | {measured} | {verdict} |" for target, run, measured, verdict in verdicts(results)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="data directory kept between runs (default: a temporary one)")
    parser.add_argument("--out", type=Path, help="where each run's JSON goes (default: a temporary directory)")
    parser.add_argument("--runs", nargs="*", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--rgb-limit", type=int, default=60)
    parser.add_argument("--typed", type=float, default=0.8, help="share of each question typed before it is read")
    parser.add_argument("--ask", type=int, default=5, help="`newsqa ask` runs timed with the sample set")
    parser.add_argument("--report", action="store_true", help="only print the table of the runs already in --out")
    args = parser.parse_args(argv)
    if not 0 < args.typed <= 1 or args.rgb_limit < 1 or args.ask < 0:
        raise SystemExit("targets: --typed must be in (0, 1], --rgb-limit at least 1, --ask 0 or more")
    if args.report and args.out is None:
        raise SystemExit("targets: --report reads the runs of --out")
    out = args.out or Path(tempfile.mkdtemp(prefix="newsqa-targets-"))
    out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        with contextlib.ExitStack() as stack:  # a temporary home (rgb_zh's index among it) goes when the runs end
            home = args.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newsqa-targets-home-")))
            for name in args.runs:
                run_latency(name, out, home, args.rgb_limit, args.typed, args.ask)
    results: dict[str, dict[str, Any]] = {}
    for name in args.runs:
        path = out / f"{name}.json"
        if path.is_file():
            try:
                results[name] = json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SystemExit(f"targets: {path} is not a latency.py result: {exc}") from exc
            if not isinstance(results[name], dict) or "cpu" not in results[name]:
                raise SystemExit(f"targets: {path} is not a latency.py result (no cpu)")
    if not results:
        raise SystemExit(f"targets: no runs in {out}")
    print(report(results))
    print(f"\n(runs kept in {out})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
