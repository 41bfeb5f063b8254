"""Load test of the running web app: simulated residents asking questions through Gradio's HTTP queue.

    .venv/bin/python bench/load.py --url http://127.0.0.1:7860 --residents 8 --duration 300 [--pid PID] \
        [--out /tmp/newsqa-load.json]

Each resident is a browser session of its own (a session hash): it sends a question the way the page does (the
chat's `take` step, then the queued `respond` stream), waits for the final answer, thinks for a few seconds and
asks again, sometimes a follow-up in the same conversation, sometimes starting over. With `--typing CPS` it types
each question first, at CPS characters a second, a word (`TYPED_CHUNK` characters) at a time, sending the box's
`input` event after each word as the page does, so the app may read the question while it is typed
(`generator.read_while_typing`); the question's times start when it is sent. Questions come from the
bundled question set, in a seeded order. Everything is bounded: the run ends after `--duration` seconds (residents
finish the question in flight, each at most `--timeout` s), and each resident asks at most `--max-questions`.

Two runs of one seed ask the same questions in the same order, so they can be compared question by question:

    .venv/bin/python bench/load.py --compare BASE.json NEW.json [BASE2.json NEW2.json ...]

pairs the k-th question of each resident in BASE with the same in NEW (runs written with --out), over as many pairs of
runs as given, and prints how much sooner NEW answered: the median and mean difference and for how many questions.

Recorded: answers per minute, latency p50/p95/max (question sent -> final answer) and time to the first streamed
update, refusals, errors by kind (HTTP, queue full, timeouts, the app's own error message), and the server
process's resident memory over time (VmRSS from /proc; the process is found by the port it listens on, or given
with --pid). Prints one JSON summary. Only loopback addresses are accepted: this drives a local app, never a
remote one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eval.questions import QuestionError, jsonl_rows  # noqa: E402

QUESTIONS = ROOT / "corpus" / "sample" / "questions.jsonl"
FOLLOW_UPS = ("它是什么时候的事？", "还有哪些细节？", "这件事是谁负责的？", "具体数字是多少？")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
RSS_EVERY_S = 2.0
TYPED_CHUNK = 2  # characters a resident types between two input events: about a word, as an IME commits it


# -- the app's endpoints ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatEndpoints:
    """fn indices of the chat's two steps, found in the app's config the way the page finds them."""

    take: int  # puts the question into the session's pending state and marks it busy (not queued)
    respond: int  # streams the answer (queued, in the "answer" concurrency group)
    done: int  # clears the busy mark, so the session can ask again
    # the box's input event: what has been typed so far (not queued); None if the app has none
    typing: int | None = None


def find_endpoints(config: dict[str, Any]) -> ChatEndpoints:
    """The dependency fed by the question box (elem_id "question") and the one that runs after it."""
    ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
    if "question" not in ids or "chat" not in ids:
        raise SystemExit("load: the app has no #question box or #chat chatbot; is this the newsqa app?")
    deps = config["dependencies"]
    take = next((d for d in deps if d.get("inputs", [None])[0] == ids["question"] and not d.get("queue", True)), None)
    if take is None:
        raise SystemExit("load: cannot find the chat's submit step in the app config")
    respond = next(
        (d for d in deps if d.get("trigger_after") == take["id"] and ids["chat"] in d.get("inputs", [])), None
    )
    if respond is None:
        raise SystemExit("load: cannot find the chat's answer step in the app config")
    done = next((d for d in deps if d.get("trigger_after") == respond["id"]), None)
    if done is None:
        raise SystemExit("load: cannot find the step that ends the chat's answer in the app config")
    typing = next((d for d in deps if [ids["question"], "input"] in d.get("targets", [])), None)
    return ChatEndpoints(take=take["id"], respond=respond["id"], done=done["id"], typing=typing and typing["id"])


# -- server memory ---------------------------------------------------------------------------------------------


def pid_listening_on(port: int) -> int | None:
    """The process with a listening TCP socket on `port` (from /proc), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "0A":  # 0A: LISTEN
                inodes.add(parts[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    def __init__(self, pid: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop = pid, stop
        self.samples: list[tuple[float, float]] = []
        self.started = time.monotonic()

    def run(self) -> None:
        while True:
            value = rss_mb(self.pid)
            if value is not None:
                self.samples.append((round(time.monotonic() - self.started, 1), round(value, 1)))
            if self.stop.wait(RSS_EVERY_S):
                return


# -- residents -------------------------------------------------------------------------------------------------


@dataclass
class Record:
    resident: int
    question: str
    started: float  # seconds since the run began
    latency: float | None = None
    first_update: float | None = None
    first_verified: float | None = None  # the verified quotation on screen (or the final answer, if none)
    outcome: str = ""  # "answer", "refusal", or an error kind


@dataclass
class Run:
    url: str
    endpoints: ChatEndpoints
    deadline: float  # time.monotonic() after which no new question is sent
    timeout: float
    max_questions: int
    think: tuple[float, float]
    t0: float
    typing_cps: float = 0.0  # characters typed a second before a question is sent; 0: sent at once
    typing_errors: Counter[str] = field(default_factory=Counter)  # failed input events, by kind
    records: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def message_text(content: Any) -> str:
    """Text of a chat message's content: a string, or (Gradio 6) a list of {"type": "text", "text": ...} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def classify(history: list[dict[str, Any]]) -> str:
    last = history[-1] if history and isinstance(history[-1], dict) else {}
    content = message_text(last.get("content"))
    if last.get("role") != "assistant" or not content:
        return "error:no_answer"
    if "nq-error" in content:
        return "error:app_message"
    if "nq-refusal" in content:
        return "refusal"
    return "answer"


def predict(client: httpx.Client, run: Run, session: str, fn_index: int, data: list[Any]) -> None:
    """Call one of the chat's unqueued steps for `session`, as the page does (an HTTP error raises)."""
    r = client.post(
        run.url.rstrip("/") + "/gradio_api/run/predict",
        json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None},
    )
    r.raise_for_status()


def ask(
    client: httpx.Client, run: Run, session: str, question: str, history: list[dict[str, Any]], record: Record
) -> list[dict[str, Any]]:
    """One question as the page sends it; returns the chat history after the final answer."""
    base = run.url.rstrip("/") + "/gradio_api"
    start = time.monotonic()
    predict(client, run, session, run.endpoints.take, [question, None])  # the question and the busy flag (a State)
    r = client.post(
        f"{base}/queue/join",
        json={
            "data": [None, history],
            "fn_index": run.endpoints.respond,
            "session_hash": session,
            "event_data": None,
            "trigger_id": None,
        },
    )
    if r.status_code == 503:
        raise QueueFull(r.text)
    r.raise_for_status()
    event_id = r.json()["event_id"]
    final: list[dict[str, Any]] | None = None
    with client.stream(
        "GET", f"{base}/queue/data", params={"session_hash": session}, timeout=httpx.Timeout(run.timeout, connect=10)
    ) as stream:
        for line in stream.iter_lines():
            if time.monotonic() - start > run.timeout:
                raise TimeoutError
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("event_id") not in (None, event_id):
                continue
            kind = message.get("msg")
            if record.first_verified is None and ("nq-quote" in line or kind == "process_completed"):
                record.first_verified = time.monotonic() - start  # the quotation, or else the checked answer
            if kind == "process_generating" and record.first_update is None:
                record.first_update = time.monotonic() - start
            elif kind == "process_completed":
                if not message.get("success", False):
                    raise AppError(str(message.get("output", {}).get("error") or "failed"))
                final = message["output"]["data"][0]
                break
            elif kind == "close_stream":
                break
    record.latency = time.monotonic() - start
    predict(client, run, session, run.endpoints.done, [])  # as the page does once the answer is in: may ask again
    if final is None:
        raise AppError("stream ended without an answer")
    return final


def type_question(
    client: httpx.Client, run: Run, session: str, question: str, history: list[dict[str, Any]], rng: random.Random
) -> None:
    """Type `question` as a resident does, a word at a time at `run.typing_cps` characters a second (each pause
    drawn around the mean), sending what the box holds after each word the way the page does."""
    if run.typing_cps <= 0:
        return
    for end in range(TYPED_CHUNK, len(question) + TYPED_CHUNK, TYPED_CHUNK):
        time.sleep(rng.uniform(0.5, 1.5) * TYPED_CHUNK / run.typing_cps)
        if run.endpoints.typing is not None:
            predict(client, run, session, run.endpoints.typing, [question[:end], history])


class QueueFull(Exception):
    pass


class AppError(Exception):
    pass


def resident(run: Run, n: int, questions: list[str], seed: int) -> None:
    rng = random.Random(seed * 1000 + n)
    session = uuid.UUID(int=rng.getrandbits(128)).hex[:11]
    history: list[dict[str, Any]] = []
    with httpx.Client(timeout=httpx.Timeout(run.timeout, connect=10)) as client:
        for _ in range(run.max_questions):
            if time.monotonic() >= run.deadline:
                return
            follow_up = bool(history) and rng.random() < 0.3
            question = rng.choice(FOLLOW_UPS) if follow_up else rng.choice(questions)
            if not follow_up:
                history = []
            try:
                type_question(client, run, session, question, history, rng)
            except httpx.HTTPError as exc:
                with run.lock:
                    run.typing_errors[type(exc).__name__] += 1
            record = Record(resident=n, question=question, started=round(time.monotonic() - run.t0, 2))
            try:
                history = ask(client, run, session, question, history, record)
                record.outcome = classify(history)
            except QueueFull:
                record.outcome = "error:queue_full"
            except (TimeoutError, httpx.TimeoutException):
                record.outcome = "error:timeout"
            except httpx.HTTPStatusError as exc:
                record.outcome = f"error:http_{exc.response.status_code}"
            except (httpx.HTTPError, AppError, ValueError, KeyError) as exc:
                record.outcome = f"error:{type(exc).__name__}"
            with run.lock:
                run.records.append(record)
            if record.outcome.startswith("error"):
                history = []
            time.sleep(rng.uniform(*run.think))


# -- summary ---------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 3)


def finished(records: list[Record]) -> list[Record]:
    """The questions that got an answer or a refusal (not an error)."""
    return [r for r in records if r.outcome in ("answer", "refusal")]


def by_asking(records: list[Record]) -> dict[str, dict[str, Any]]:
    """Latency of the questions asked for the first time in the run apart from those asked again (the same words,
    by anyone, sent later), which the app may answer from memory; a follow-up's repeated words count as again."""
    seen: set[str] = set()
    groups: dict[str, list[Record]] = {"first_asked": [], "asked_again": []}
    for record in sorted(records, key=lambda r: r.started):
        groups["asked_again" if record.question in seen else "first_asked"].append(record)
        seen.add(record.question)
    split = {}
    for name, group in groups.items():
        latencies = [r.latency for r in finished(group) if r.latency is not None]
        split[name] = {
            "questions": len(group),
            "latency_p50_s": percentile(latencies, 0.5),
            "under_1_s": sum(v < 1.0 for v in latencies),
        }
    return split


def summarise(run: Run, elapsed: float, residents: int, rss: RssSampler | None, pid: int | None) -> dict[str, Any]:
    done = finished(run.records)
    latencies = [r.latency for r in done if r.latency is not None]
    firsts = [r.first_update for r in done if r.first_update is not None]
    verified = [r.first_verified for r in done if r.first_verified is not None]
    samples = rss.samples if rss else []
    return {
        "url": run.url,
        "residents": residents,
        "elapsed_s": round(elapsed, 1),
        "questions_sent": len(run.records),
        "answers": sum(r.outcome == "answer" for r in run.records),
        "refusals": sum(r.outcome == "refusal" for r in run.records),
        "answers_per_minute": round(len(done) / (elapsed / 60), 2) if elapsed else None,
        "latency_s": {
            "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95),
            "max": round(max(latencies), 3) if latencies else None,
            "mean": round(statistics.fmean(latencies), 3) if latencies else None,
        },
        "first_update_s": {"p50": percentile(firsts, 0.5), "p95": percentile(firsts, 0.95)},
        "first_verified_s": {"p50": percentile(verified, 0.5), "p95": percentile(verified, 0.95)},
        **by_asking(run.records),
        "errors": dict(Counter(r.outcome for r in run.records if r.outcome.startswith("error"))),
        "typing_cps": run.typing_cps,
        "typing_events": run.endpoints.typing is not None and run.typing_cps > 0,
        "typing_errors": dict(run.typing_errors),
        "server_pid": pid,
        "server_rss_mb": {
            "start": samples[0][1] if samples else None,
            "max": max(s[1] for s in samples) if samples else None,
            "end": samples[-1][1] if samples else None,
            # at most ~60 points over the run
            "samples": samples[:: max(1, len(samples) // 60)],
        },
    }


def load_questions(path: Path) -> list[str]:
    """The "question" of each line of JSON Lines file `path`; a SystemExit that names the file and line otherwise."""
    try:
        rows = list(jsonl_rows(path))
    except OSError as exc:
        raise SystemExit(f"load: cannot read the questions {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SystemExit(f"load: {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except QuestionError as exc:
        raise SystemExit(f"load: {exc}") from exc
    questions = []
    for number, row in rows:
        question = row.get("question")
        if not isinstance(question, str) or not question.strip():
            raise SystemExit(f'load: {path}:{number}: expected a "question" string')
        questions.append(question.strip())
    if not questions:
        raise SystemExit(f"load: no questions in {path}")
    return questions


# -- comparing two runs, question by question ----------------------------------------------------------------


def paired_latencies(base: dict[str, Any], new: dict[str, Any]) -> list[tuple[float, float]]:
    """(base, new) latency of each question both runs asked and answered or refused: the same resident's k-th
    question in each. A SystemExit when they asked different questions (other seeds or question files)."""
    by_resident: list[dict[int, list[dict[str, Any]]]] = []
    for run in (base, new):
        asked: dict[int, list[dict[str, Any]]] = {}
        for record in sorted(run["records"], key=lambda r: r["started"]):
            asked.setdefault(record["resident"], []).append(record)
        by_resident.append(asked)
    pairs = []
    for resident, questions in sorted(by_resident[0].items()):
        for k, (a, b) in enumerate(zip(questions, by_resident[1].get(resident, []), strict=False)):
            if a["question"] != b["question"]:
                raise SystemExit(
                    f"load: the runs asked different questions (resident {resident}'s question {k + 1}: "
                    f"{a['question']!r} and {b['question']!r}); compare runs of one seed and question file"
                )
            if all(r["latency"] is not None and r["outcome"] in ("answer", "refusal") for r in (a, b)):
                pairs.append((a["latency"], b["latency"]))
    return pairs


def compare(paths: list[Path]) -> dict[str, Any]:
    """NEW against BASE for each (BASE, NEW) in `paths`, and over all of them together."""
    if len(paths) % 2:
        raise SystemExit("load: --compare takes runs in pairs: BASE NEW [BASE NEW ...]")
    runs = []
    for path in paths:
        try:
            runs.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SystemExit(f"load: cannot read the run {path}: {exc}") from exc
        if not isinstance(runs[-1], dict) or not isinstance(runs[-1].get("records"), list):
            raise SystemExit(f"load: {path} is not a run written by bench/load.py --out (no records)")
    paired = {i: paired_latencies(runs[i], runs[i + 1]) for i in range(0, len(paths), 2)}
    each = [{"base": str(paths[i]), "new": str(paths[i + 1]), **_sooner(pairs)} for i, pairs in paired.items()]
    return {"pairs_of_runs": each, "all": _sooner([pair for pairs in paired.values() for pair in pairs])}


def _sooner(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    if not pairs:
        return {"questions": 0}
    differences = [new - base for base, new in pairs]
    return {
        "questions": len(pairs),
        "base_p50_s": round(statistics.median(base for base, _ in pairs), 2),
        "new_p50_s": round(statistics.median(new for _, new in pairs), 2),
        "new_minus_base_p50_s": round(statistics.median(differences), 2),
        "new_minus_base_mean_s": round(statistics.fmean(differences), 2),
        "new_sooner": sum(d < 0 for d in differences),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860", help="the running app (loopback only)")
    parser.add_argument("--residents", type=int, default=8)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds during which questions are sent")
    parser.add_argument("--timeout", type=float, default=180.0, help="longest wait for one answer, seconds")
    parser.add_argument("--max-questions", type=int, default=200, help="per resident")
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(2.0, 8.0),
        metavar=("MIN", "MAX"),
        help="pause between a resident's questions, seconds",
    )
    parser.add_argument(
        "--typing",
        type=float,
        default=0.0,
        metavar="CPS",
        help="type each question first at CPS characters a second, sending the box's input events (0: send at once)",
    )
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help='JSONL with a "question" per line')
    parser.add_argument("--pid", type=int, help="server process for memory samples (default: found by port)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the summary (and every record) here as JSON")
    parser.add_argument(
        "--compare", type=Path, nargs="+", metavar="RUN", help="compare runs question by question: BASE NEW [...]"
    )
    args = parser.parse_args(argv)
    if args.compare:
        print(json.dumps(compare(args.compare), ensure_ascii=False, indent=1))
        return 0

    parts = urlsplit(args.url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise SystemExit(f"load: only a local app over http on loopback is allowed, got {args.url}")
    if not (1 <= args.residents <= 64) or args.duration <= 0 or args.duration > 3600:
        raise SystemExit("load: --residents must be 1..64 and --duration 0..3600 s")
    if not 0 <= args.typing <= 50:
        raise SystemExit("load: --typing must be 0 (off) .. 50 characters a second")
    questions = load_questions(args.questions)
    try:
        config = httpx.get(args.url.rstrip("/") + "/config", timeout=30).json()
    except httpx.HTTPError as exc:
        raise SystemExit(f"load: the app at {args.url} does not answer: {exc}") from exc
    endpoints = find_endpoints(config)
    pid = args.pid or pid_listening_on(parts.port or 80)
    stop = threading.Event()
    sampler = RssSampler(pid, stop) if pid else None
    if sampler:
        sampler.start()
    else:
        print("load: server process not found; no memory samples (pass --pid)", file=sys.stderr)

    t0 = time.monotonic()
    run = Run(
        url=args.url,
        endpoints=endpoints,
        deadline=t0 + args.duration,
        timeout=args.timeout,
        max_questions=args.max_questions,
        think=tuple(args.think),
        t0=t0,
        typing_cps=args.typing,
    )
    threads = [
        threading.Thread(target=resident, args=(run, n, questions, args.seed), daemon=True)
        for n in range(args.residents)
    ]
    for t in threads:
        t.start()
        time.sleep(0.2)  # residents arrive over a moment, not in one instant
    for t in threads:
        t.join(timeout=args.duration + args.timeout + 30)
    elapsed = time.monotonic() - t0
    stop.set()
    if sampler:
        sampler.join(timeout=5)
    summary = summarise(run, elapsed, args.residents, sampler, pid)
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    if args.out:
        records = [vars(r) for r in run.records]
        args.out.write_text(
            json.dumps({"summary": summary, "records": records}, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    if args.typing and endpoints.typing is None:
        print("load: the app has no input event on its question box; questions were typed without it", file=sys.stderr)
    return 0 if run.records and not summary["errors"] and not summary["typing_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
