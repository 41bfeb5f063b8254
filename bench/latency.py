"""How long residents wait, side by side with the quality of the same run: the sample set and rgb_zh's first 60.

    .venv/bin/python bench/latency.py [--sets sample rgb] [--rgb-limit 60] [--rgb-from 0] [--ask 5]
                                      [--ask-beside-app 6] [--typed 0.8] [--out F.json]

For each set it runs every question through the assistant as `newsqa eval` does (the model server started and
warmed before the first question, as `newsqa serve` does), and prints:
- first content: the verified quotation (原文摘录), or the checked answer when there is none;
- first model token, and the whole answer (p50 / p95);
- prompt tokens per question (the answer prompt as the model counts it), and the prompt tokens the model server
  actually read per question over all its calls (judgement, answer), the rest coming from its prompt caches;
- the speeds the model read and wrote at during the run (`model_tokens_per_s`): on a shared machine the warm-up's
  do not tell them, so runs of different hours are compared at their own speeds;
- accuracy, refusal rate on unanswerable questions, false refusals, and the share of answer sentences verified.
Before the first question the model reads passages ahead as the app does once started (`--ahead newest`), or
each question's best passage (`--ahead best`, a bound), or none (`--ahead off`). `--typed SHARE` has the model
read each question's passages as the app does while a resident types it, paused after that share of its
characters, before the question is sent.
`--ask N` also times `newsqa ask` N times from process start to the quotation on screen and to the answer,
against a data directory holding the sample page. `--ask-beside-app N` times it on N sample questions while
`newsqa serve` runs on that directory, through the app's model server and then each with its own. Every figure
is printed with the CPU and kernels it ran on, and with the share of the run's CPU time a virtual machine's
hypervisor gave to other guests (`cpu_stolen`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant import kernels  # noqa: E402
from assistant.factory import build_assistant  # noqa: E402
from assistant.readahead import ReadAhead, hit_of  # noqa: E402
from core.config import Settings, load_settings  # noqa: E402
from eval.metrics import percentile  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from eval.runner import open_target, run, summarize  # noqa: E402

EVALDATA = ROOT.parent / "shared" / "evaldata"
SAMPLE = ROOT / "corpus" / "sample"
SETS = {
    "sample": (SAMPLE / "questions.jsonl", SAMPLE / "wujin_daily_page.txt", "2024-02-02", "武进日报"),
    "rgb": (EVALDATA / "rgb_zh" / "questions.jsonl", EVALDATA / "rgb_zh" / "corpus.jsonl", "", ""),
}


def _ms(values: list[float | None], p: int) -> float | None:
    kept = [v for v in values if v is not None]
    return round(percentile(kept, p)) if kept else None


def cpu_ticks(stat: Path = Path("/proc/stat")) -> tuple[int, int] | None:
    """(stolen, all) clock ticks of every CPU since boot, or None where the kernel does not say.

    A virtual machine's hypervisor can hand its cores to other guests; that time is "steal", and no figure of this
    bench is comparable with another run's unless both say how much of the run was stolen.
    """
    try:
        fields = stat.read_text(encoding="ascii").split("\n", 1)[0].split()
        # cpu  user nice system idle iowait irq softirq steal ...
        ticks = [int(v) for v in fields[1:9]] if fields[:1] == ["cpu"] and len(fields) >= 9 else []
    except (OSError, ValueError):
        return None
    return (ticks[7], sum(ticks)) if ticks else None


def stolen_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of the CPUs' time between two `cpu_ticks` readings that the hypervisor gave to other guests."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 3)


def read_first(record: dict[str, Any]) -> bool:
    """The model wrote this answer from fewer passages than were selected for it (answer.first_read)."""
    found = record.get("sources_found") or len(record.get("context") or [])  # runs before sources_found: the hits
    return 0 < (record.get("sources_read") or 0) < found


def latency_row(records: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    ok = [r for r in records if not r.get("error")]
    timing = [r["timing"] for r in ok]
    tokens = [r.get("prompt_tokens") for r in ok if r.get("prompt_tokens")]
    read = [r["sources_read"] for r in ok if r.get("sources_read")]
    written = [r for r in ok if r.get("completion_tokens") and r["timing"].get("ttft_ms") is not None]
    # the model's writing speed: tokens after the first over the time from the first token to the end
    writing = [
        (r["completion_tokens"] - 1) / ((r["timing"]["total_ms"] - r["timing"]["ttft_ms"]) / 1000)
        for r in written
        if r["completion_tokens"] > 1 and r["timing"]["total_ms"] > r["timing"]["ttft_ms"]
    ]
    return {
        "questions": len(records),
        "errors": len(records) - len(ok),
        "first_content_ms": (
            _ms([t.get("first_content_ms") for t in timing], 50),
            _ms([t.get("first_content_ms") for t in timing], 95),
        ),
        "first_token_ms": (_ms([t.get("ttft_ms") for t in timing], 50), _ms([t.get("ttft_ms") for t in timing], 95)),
        "answer_ms": (_ms([t.get("total_ms") for t in timing], 50), _ms([t.get("total_ms") for t in timing], 95)),
        "prompt_tokens": (round(sum(tokens) / len(tokens)) if tokens else None, _ms(tokens, 50)),
        "reply_tokens_p50": _ms([r["completion_tokens"] for r in written], 50),
        "writing_tokens_per_s_p50": round(percentile(writing, 50), 1) if writing else None,
        # passages in the answer prompt, over the questions the model read (answer.score_gap and the like)
        "passages_read_mean": round(sum(read) / len(read), 2) if read else None,
        "quoted": sum(1 for r in ok if r.get("quotation")),
        "answered_from_first_read": sum(1 for r in ok if read_first(r) and not r.get("refused")),
        "accuracy": summary["answer"]["accuracy"],
        "refusal_rate": summary["refusal"]["refusal_rate"],
        "false_refusal_rate": summary["refusal"]["false_refusal_rate"],
        "verified_sentences": summary["citation"]["verified_sentences"],
    }


def read_ahead(target: Any, questions: list[Any], mode: str) -> dict[str, Any] | None:
    """Have the model read passages ahead before the first question: "newest", as the app does once it has
    started (the newest `generator.read_ahead` chunks); "best", each question's best passage, found by a run
    without the model (a bound: the case of questions about the articles read ahead); "off", none."""
    if mode == "off" or not getattr(target.assistant.generator, "reads_ahead", False):
        return None
    reader = ReadAhead.configured(target.assistant, target.settings)
    hits = None
    if mode == "best":
        quoting = build_assistant(target.settings, target.store, target.searcher, None)
        records, _ = run(questions, searcher=target.searcher, assistant=quoting)
        ids = list(dict.fromkeys(r["hits"][0]["id"] for r in records if r.get("hits")))
        chunks = target.store.chunks_by_id(ids)
        articles = target.store.articles_by_id(c.article_id for c in chunks.values())
        hits = [hit_of(chunks[i], articles[chunks[i].article_id]) for i in ids if i in chunks]
    done = reader.run_once(hits)
    return {"mode": mode, **{k: v for k, v in done.items() if k != "ended_at"}}


class TypedFirst:
    """The assistant, but each question is first read as typed up to `share` of its characters, as the app does
    when a resident pauses there (ReadAhead.read_typed): a bound, since a resident may type faster than the model
    reads. What those reads took is in `read`; `clock` leaves their time out of the question's times (the runner
    starts a question's clock before it calls `stream`)."""

    def __init__(self, assistant: Any, reader: ReadAhead, share: float) -> None:
        self.assistant, self.reader, self.share = assistant, reader, share
        self.read = {"questions": 0, "prompts": 0, "tokens_read": 0, "seconds": 0.0}

    def clock(self) -> float:
        return time.perf_counter() - self.read["seconds"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.assistant, name)

    def stream(self, question: str, history: Any = (), **options: Any) -> Any:
        typed = question[: max(1, math.ceil(len(question) * self.share))]
        began = time.perf_counter()
        done = self.reader.read_typed(typed, history, question_date=options.get("question_date"))
        self.read["seconds"] += time.perf_counter() - began
        self.read["questions"] += 1
        for key in ("prompts", "tokens_read"):
            self.read[key] += done[key]
        return self.assistant.stream(question, history, **options)


def run_set(
    name: str, settings: Settings, limit: int | None, ahead: str = "newest", start: int = 0, typed: float = 0.0
) -> dict[str, Any]:
    questions_path, corpus, corpus_date, source = SETS[name]
    if not questions_path.is_file():
        return {"skipped": f"{questions_path} is missing (external evaluation data, see docs/BENCHMARKS.md)"}
    questions = load_questions(questions_path)[start : start + limit if limit else None]
    target = open_target(settings, corpus=corpus, corpus_date=corpus_date, corpus_source=source)
    read = None
    try:
        worker = getattr(target.assistant.generator, "worker", None)
        if worker is not None:
            worker.url()  # loaded and warmed, as `newsqa serve` has it before the first resident asks
            read = read_ahead(target, questions, ahead)
        assistant = target.assistant
        if typed and getattr(assistant.generator, "reads_ahead", False):
            assistant = TypedFirst(assistant, ReadAhead.configured(assistant, target.settings), typed)
        before, tokens_before = cpu_ticks(), _model_tokens(worker)
        clock = assistant.clock if isinstance(assistant, TypedFirst) else time.perf_counter
        records, wall_s = run(questions, searcher=target.searcher, assistant=assistant, progress=True, clock=clock)
        stolen, tokens = stolen_share(before, cpu_ticks()), tokens_read(tokens_before, _model_tokens(worker))
    finally:
        target.close()
    summary = summarize(records, wall_s, {"set": name})
    row = {**latency_row(records, summary), "cpu_stolen": stolen, "read_ahead": read}
    if isinstance(assistant, TypedFirst):
        row["typed_read"] = {"share": typed, **assistant.read, "seconds": round(assistant.read["seconds"], 1)}
    if tokens:
        row["model_prompt_tokens_read_mean"] = round(tokens["read"] / len(records), 1)
        row["model_requests"] = tokens["requests"]
        row["model_tokens_per_s"] = model_speeds(tokens)
    if worker is not None:  # the speeds the server measured on its warm-up text, before the first question
        warmup = worker.status().warmup
        row["warmup_tokens_per_s"] = {"prompt": warmup.get("prompt_tps"), "writing": warmup.get("gen_tps")}
    return {"row": row, "records": records}


def _model_tokens(worker: Any) -> dict[str, float]:
    if worker is None:
        return {}
    health = worker.health()
    return {**(health.get("tokens") or {}), **(health.get("timings") or {})}


def tokens_read(before: dict[str, float], after: dict[str, float]) -> dict[str, float] | None:
    """The model server's work between two of its /health counts: requests, and prompt tokens it read rather than
    took from a cache (every call of every question: judgement, answer, rewrite), with the milliseconds it spent
    reading them and writing `writes` tokens when it reports them. None when it was restarted in between (the
    counts start again) or reports none."""
    keys = ("requests", "prompt", "cached")
    if not all(k in before and k in after for k in keys) or after["requests"] < before["requests"]:
        return None
    delta = {k: after[k] - before[k] for k in keys}
    work = {"requests": delta["requests"], "read": delta["prompt"] - delta["cached"]}
    timed = ("read_ms", "writes", "write_ms")
    if all(k in before and k in after for k in timed):
        work.update({k: round(after[k] - before[k], 1) for k in timed})
    return work


def model_speeds(work: dict[str, float]) -> dict[str, float] | None:
    """Prompt tokens read and tokens written a second at the model over a run (see `tokens_read`): the speeds its
    times were made at, which the warm-up's, measured before the run, do not tell on a shared machine."""
    if not work.get("read_ms") or not work.get("write_ms"):
        return None
    return {
        "reading": round(work["read"] / (work["read_ms"] / 1000), 1),
        "writing": round(work["writes"] / (work["write_ms"] / 1000), 1),
    }


def _time_asks(home: Path, questions: list[str], extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Seconds from `newsqa ask` starting to the quotation's line, and to the process's end, one run a question."""
    env = {**os.environ, "NEWSQA_HOME": str(home), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    quote_s, answer_s, answers = [], [], []
    for question in questions:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "newsqa.cli", "ask", question],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        answers.append("")
        for line in process.stdout:
            if line.startswith("原文摘录") and len(quote_s) < len(answer_s) + 1:
                quote_s.append(time.perf_counter() - start)
            elif line.startswith("回答："):
                answers[-1] = line.strip()
        process.wait()
        answer_s.append(time.perf_counter() - start)
    return {
        "runs": len(questions),
        "quote_s": (round(percentile(quote_s, 50), 2), round(percentile(quote_s, 95), 2)) if quote_s else None,
        "answer_s": (round(percentile(answer_s, 50), 2), round(percentile(answer_s, 95), 2)),
        "answer_each_s": [round(t, 2) for t in answer_s],
        "answers": answers,
    }


def time_ask(home: Path, n: int, question: str = "垃圾分类条例什么时候施行？") -> dict[str, Any]:
    """Seconds from `newsqa ask` starting to the quotation's line, and to the process's end, over n runs."""
    return _time_asks(home, [question] * n)


def _app_health(shared: Path) -> dict[str, Any] | None:
    """The /health of the model server the app names in `shared`, or None while there is none."""
    from assistant.worker import server_health

    try:
        record = json.loads(shared.read_text(encoding="utf-8"))
        return server_health(record["port"], record["token"]) or None
    except (OSError, ValueError, KeyError):
        return None


def time_ask_beside_app(home: Path, n: int, quiet_s: float = 20.0, limit_s: float = 3600.0) -> dict[str, Any]:
    """`newsqa ask` while `newsqa serve` runs on the same data, after the app's read-ahead pass: n questions of the
    sample set (none a follow-up) asked through the app's model server (`generator.share_server`, the default),
    then the same n each with a model server of its own (the setting off) with the app still running, idle."""
    import socket

    from assistant.worker import SHARED_SERVER_FILE, stop_process

    with socket.socket() as probe:  # a free port for the app: another may hold the default one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    questions = [q.question for q in load_questions(SETS["sample"][0]) if not q.history][:n]
    shared = home / "run" / SHARED_SERVER_FILE
    env = {**os.environ, "NEWSQA_HOME": str(home)}
    log = (home / "app-beside.log").open("wb")
    app = subprocess.Popen(
        [sys.executable, "-m", "newsqa.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        began, last, quiet_since = time.monotonic(), None, None
        while True:  # the pass is over when the server has read nothing more ahead for quiet_s
            if app.poll() is not None or time.monotonic() - began > limit_s:
                raise RuntimeError(f"the app ended or its pass did not end; see {home / 'app-beside.log'}")
            health = _app_health(shared)
            ahead = None if health is None else (health["tokens"]["ahead"], health["busy"])
            if ahead is not None and ahead == last and not ahead[1]:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet_s:
                    pass_s = quiet_since - began
                    break
            else:
                quiet_since = None
            last = ahead
            time.sleep(2.0)
        before = _app_health(shared)["tokens"]
        beside = _time_asks(home, questions)
        middle = _app_health(shared)["tokens"]
        own = _time_asks(home, questions, {"NEWSQA_GENERATOR__SHARE_SERVER": "false"})
        after = _app_health(shared)["tokens"]
    finally:
        stop_process(app, grace_s=30.0)  # the app stops its model server as it ends
        log.close()
    return {
        "questions": questions,
        "app_start_and_pass_s": round(pass_s, 1),
        "read_ahead_tokens": before["ahead"],
        "shared": {**beside, "app_requests": middle["requests"] - before["requests"]},
        "own": {**own, "app_requests": after["requests"] - middle["requests"]},
        "same_answers": sum(a == b for a, b in zip(beside["answers"], own["answers"], strict=True)),
    }


def measure(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """The runs `args` ask for, with `home` as the data directory."""
    base = load_settings()
    model = (
        Path(base.generator.model_path)
        if base.generator.model_path
        else base.models_dir / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    )
    settings = base.override({"home": str(home), "generator": {"model_path": str(model)}})
    cpu = kernels.cpu_report()
    result: dict[str, Any] = {
        "cpu": cpu.model,
        "cpu_ident": cpu.ident,
        "flags": cpu.shown_flags(),
        "settings": {
            "max_passages": settings.answer.max_passages,
            "max_passage_chars": settings.answer.max_passage_chars,
            "window_sentences": settings.answer.window_sentences,
            "first_read": settings.answer.first_read,
            "first_read_answerable": settings.answer.first_read_answerable,
            "context_chars": settings.answer.context_chars,
            "score_gap": settings.answer.score_gap,
            "passage_order": settings.answer.passage_order,
            "remembered_replies": settings.answer.remembered_replies,
            "flash_attn": settings.generator.flash_attn,
            "read_ahead": settings.generator.read_ahead,
            "read_ahead_groups": settings.generator.read_ahead_groups,
            "read_ahead_neighbours": settings.generator.read_ahead_neighbours,
            "ahead": args.ahead,
            "rgb_from": args.rgb_from,
            "typed": args.typed,
        },
    }
    for name in args.sets:
        limit, start = (args.rgb_limit, args.rgb_from) if name == "rgb" else (None, 0)
        result[name] = run_set(name, settings, limit, args.ahead, start, args.typed)
        print(json.dumps({name: result[name].get("row") or result[name]}, ensure_ascii=False), file=sys.stderr)
    if settings.generator.cpu_variant != "auto":  # the plan was set, not chosen: kernels.json holds another one
        result["kernels"] = [
            {"variant": settings.generator.cpu_variant, "extra_buffers": settings.generator.extra_buffers}
        ]
    else:
        chosen = home / "run" / "kernels.json"
        choice = json.loads(chosen.read_text()) if chosen.is_file() else {}
        result["kernels"] = [entry["plan"] for entry in choice.values()]
    if args.ask or args.ask_beside_app:
        ask_home = home / "ask"
        env = {**os.environ, "NEWSQA_HOME": str(ask_home), "NEWSQA_GENERATOR__MODEL_PATH": str(model)}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "newsqa.cli",
                "ingest",
                str(SETS["sample"][1]),
                "--date",
                "2024-02-02",
                "--source",
                "武进日报",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        os.environ["NEWSQA_GENERATOR__MODEL_PATH"] = str(model)
        if args.ask:
            result["ask"] = time_ask(ask_home, args.ask)
        if args.ask_beside_app:
            result["ask_beside_app"] = time_ask_beside_app(ask_home, args.ask_beside_app)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="*", default=["sample", "rgb"], choices=sorted(SETS))
    parser.add_argument("--rgb-limit", type=int, default=60)
    parser.add_argument(
        "--rgb-from",
        type=int,
        default=0,
        help="rgb_zh's questions from this one on (60: past the measured 60, for choosing settings)",
    )
    parser.add_argument("--ask", type=int, default=0, help="time `newsqa ask` this many times")
    parser.add_argument(
        "--ask-beside-app",
        type=int,
        default=0,
        metavar="N",
        help="time `newsqa ask` on N sample questions while `newsqa serve` runs on the same data, through its "
        "model server and then each with its own",
    )
    parser.add_argument(
        "--ahead",
        choices=["newest", "best", "off"],
        default="newest",
        help="passages read ahead before the first question: as the app does (newest), each question's best "
        "passage (best: a bound), or none",
    )
    parser.add_argument(
        "--typed",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="before each question, have the model read it as typed up to this share of its characters, as the "
        "app does when a resident pauses there (0: not)",
    )
    parser.add_argument("--home", type=Path, help="data directory (default: a temporary one; models from settings)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.home:
        result = measure(args, args.home)
    else:  # a temporary home, rgb_zh's index among it, goes when the run ends
        with tempfile.TemporaryDirectory(prefix="newsqa-latency-") as temp:
            result = measure(args, Path(temp))
    rows = {k: v["row"] for k, v in result.items() if isinstance(v, dict) and "row" in v}
    print(
        json.dumps(
            {
                "cpu": result["cpu"],
                "kernels": result["kernels"],
                **rows,
                "ask": result.get("ask"),
                "ask_beside_app": result.get("ask_beside_app"),
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
