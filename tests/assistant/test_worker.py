"""The model out of process: the server's protocol, the supervisor's kernel choice, and crashes that are contained.

The child processes run a scripted engine (tests/support/engines.py), so these tests need no model; the crashes
are real signals delivered to real processes.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from assistant import worker as worker_module
from assistant.backends.openai import OpenAIGenerator
from assistant.chat import Assistant
from assistant.events import Final, Progress, Quote, Token
from assistant.generation import GeneratorError, ModelCrashed, Reply, choice_probs, complete, usage_of
from assistant.kernels import KernelPlan
from assistant.model_server import ModelServer
from assistant.prompts import MODEL_CRASHED_NOTE
from assistant.worker import ModelWorker, WorkerGenerator, WorkerSpec
from core.config import Settings
from tests.support.engines import ScriptedEngine
from tests.support.news import FakeStore, sample_corpus
from tests.support.searchers import FakeSearcher

ENGINE = "tests.support.engines:scripted"
REPO = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "user", "content": "垃圾分类条例什么时候施行？"}]
LAW_REPLY = "《常州市生活垃圾分类管理条例》将于2024年9月1日起施行[1]。"

AMX = KernelPlan("sapphirerapids", "", True)
ZEN4 = KernelPlan("zen4", "", True)
ZEN4_SAFE = KernelPlan("zen4", "", False)


def _script(tmp_path: Path, **script: object) -> Path:
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"reply": LAW_REPLY, **script}, ensure_ascii=False), encoding="utf-8")
    return path


def _worker(tmp_path: Path, script: Path, **options: object) -> ModelWorker:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    worker = ModelWorker(
        WorkerSpec(
            ENGINE,
            str(script),
            warmup=True,
            plan=options.pop("plan", None),
            nice=options.pop("nice", 0),
            flash_attn=options.pop("flash_attn", False),
        ),
        log_path=tmp_path / "run" / "model-server.log",
        choice_path=tmp_path / "run" / "kernels.json",
        start_timeout_s=60,
        env=env,
        **options,
    )
    return worker


@pytest.fixture
def fast_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "_RESTART_DELAYS_S", (0.05,))


# -- the server's protocol, in process -----------------------------------------------------------------------------


@pytest.fixture
def server() -> ModelServer:
    engine = ScriptedEngine({"reply": LAW_REPLY, "logprobs": {"是": -0.2, "否": -1.8, "不": -4.0}}, "zen4", True)
    server = ModelServer(engine, token="t0ken")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()


def _post(server: ModelServer, body: object, token: str = "t0ken") -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{server.port}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_server_streams_and_reports_the_first_tokens_logprobs(server: ModelServer) -> None:
    client = OpenAIGenerator(f"http://127.0.0.1:{server.port}/v1", api_key="t0ken", timeout_s=10)
    assert complete(client, MESSAGES, max_tokens=64) == LAW_REPLY
    probs = choice_probs(client, MESSAGES, ("是", "否"))
    assert probs is not None and probs["是"] == pytest.approx(0.8320, abs=1e-3)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "user"}]}, "messages[0]"),
        ({"messages": MESSAGES, "max_tokens": 0}, "max_tokens"),
        ({"messages": MESSAGES, "temperature": "hot"}, "temperature"),
        ({"messages": MESSAGES, "stop": [1]}, "stop"),
        ({"messages": MESSAGES, "logprobs": True, "top_logprobs": 99, "max_tokens": 1}, "top_logprobs"),
        ({"messages": MESSAGES, "logprobs": True, "top_logprobs": 5, "max_tokens": 8}, "one-token replies"),
    ],
)
def test_server_rejects_bad_requests_clearly(server: ModelServer, body: object, message: str) -> None:
    response = _post(server, body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


class _CountingEngine(ScriptedEngine):
    """Reports token counts as the llama engine does: the prompt, the part of it taken from a cache, the reply."""

    def stream(self, messages, *, max_tokens, temperature=0.0, stop=None) -> Reply:
        usage = {"prompt_tokens": 30, "prompt_tokens_details": {"cached_tokens": 20}, "completion_tokens": 5}
        usage["timings"] = {"read_ms": 200.0, "writes": 4, "write_ms": 250.5}
        return Reply(super().stream(messages, max_tokens=max_tokens), usage)

    def first_token_logprobs(self, messages, top_n):
        top, _ = super().first_token_logprobs(messages, top_n)
        usage = {"prompt_tokens": 32, "prompt_tokens_details": {"cached_tokens": 30}}
        return top, {**usage, "timings": {"read_ms": 40.0, "writes": 0, "write_ms": 0.0}}


def test_server_counts_the_tokens_it_read_and_took_from_its_caches() -> None:
    server = ModelServer(_CountingEngine({"reply": LAW_REPLY}, "zen4", True), token="t0ken")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = OpenAIGenerator(f"http://127.0.0.1:{server.port}/v1", api_key="t0ken", timeout_s=10)
        assert complete(client, MESSAGES, max_tokens=64) == LAW_REPLY  # streamed
        assert _post(server, {"messages": MESSAGES}).json()["usage"]["completion_tokens"] == 5  # not streamed
        choice_probs(client, MESSAGES, ("是", "否"))
        health = httpx.get(
            f"http://127.0.0.1:{server.port}/health", headers={"Authorization": "Bearer t0ken"}, timeout=5
        ).json()
    finally:
        server.shutdown()
        thread.join()
    assert health["tokens"] == {"requests": 3, "prompt": 92, "cached": 70, "completion": 11, "ahead": 0}
    assert health["timings"] == {"read_ms": 440.0, "writes": 8, "write_ms": 501.0}  # and the time they took


def test_server_wants_its_token(server: ModelServer) -> None:
    assert _post(server, {"messages": MESSAGES}, token="wrong").status_code == 401
    health = httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=5)
    assert health.status_code == 401


def test_server_reads_ahead_and_counts_that_apart_from_the_questions(server: ModelServer) -> None:
    url = f"http://127.0.0.1:{server.port}"
    headers = {"Authorization": "Bearer t0ken"}
    reply = httpx.post(f"{url}/v1/read_ahead", json={"messages": MESSAGES}, headers=headers, timeout=10)
    assert reply.status_code == 200 and reply.json()["usage"]["prompt_tokens"] == 40
    bad = httpx.post(f"{url}/v1/read_ahead", json={"messages": []}, headers=headers, timeout=10)
    assert bad.status_code == 400 and "non-empty list" in bad.json()["error"]["message"]
    tokens = httpx.get(f"{url}/health", headers=headers, timeout=5).json()["tokens"]
    assert tokens == {"requests": 0, "prompt": 0, "cached": 0, "completion": 0, "ahead": 10}


def test_a_read_ahead_says_where_its_state_is_kept(server: ModelServer) -> None:
    url = f"http://127.0.0.1:{server.port}/v1/read_ahead"
    headers = {"Authorization": "Bearer t0ken"}
    for keep in ("recent", "none", "ahead"):
        reply = httpx.post(url, json={"messages": MESSAGES, "keep": keep}, headers=headers, timeout=10)
        assert reply.status_code == 200 and server.engine.kept == keep
    httpx.post(url, json={"messages": MESSAGES}, headers=headers, timeout=10)
    assert server.engine.kept == "ahead"  # the default: apart from the questions' states
    bad = httpx.post(url, json={"messages": MESSAGES, "keep": "forever"}, headers=headers, timeout=10)
    assert bad.status_code == 400 and "keep must be one of ahead, recent, none" in bad.json()["error"]["message"]


def test_an_engine_that_cannot_read_ahead_has_no_such_route() -> None:
    class Plain:  # the server's Engine protocol and nothing more
        name = "plain"

        def stream(self, messages, *, max_tokens, temperature=0.0, stop=None):
            yield "好"

        def first_token_logprobs(self, messages, top_n):
            return [("是", -0.1)], {}

        def warm_up(self, text):
            return {}

    server = ModelServer(Plain(), token="t0ken")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reply = httpx.post(
            f"http://127.0.0.1:{server.port}/v1/read_ahead",
            json={"messages": MESSAGES},
            headers={"Authorization": "Bearer t0ken"},
            timeout=10,
        )
    finally:
        server.shutdown()
        thread.join()
    assert reply.status_code == 404


# -- the supervisor, with real child processes ---------------------------------------------------------------------


def test_worker_answers_through_the_openai_protocol(tmp_path: Path) -> None:
    worker = _worker(tmp_path, _script(tmp_path), plan=ZEN4)
    try:
        gen = WorkerGenerator(worker, "scripted")
        reply = gen.stream(MESSAGES, max_tokens=64)
        assert "".join(reply) == LAW_REPLY
        assert usage_of(reply) == {}  # the scripted engine counts nothing; the real one is tested below
        assert choice_probs(gen, MESSAGES, ("是", "否")) == {"是": 1.0, "否": 0.0}
        assert worker.health()["tokens"] == {"requests": 2, "prompt": 10, "cached": 0, "completion": 1, "ahead": 0}
        status = worker.status()
        assert status.state == "ready" and status.plan == ZEN4 and status.warmup["prompt_tps"] == 100.0
    finally:
        worker.stop()
    assert worker.status().state == "stopped" and worker.health() == {}


def test_the_worker_reads_ahead_and_a_server_that_dies_doing_it_is_a_crash(tmp_path: Path, fast_restarts) -> None:
    worker = _worker(tmp_path, _script(tmp_path, die_when="read_ahead", die_on=["zen4"], signal="SIGSEGV"), plan=ZEN4)
    try:
        with pytest.raises(ModelCrashed, match="SIGSEGV"):
            WorkerGenerator(worker, "scripted").read_ahead(MESSAGES)
    finally:
        worker.stop()
    assert not WorkerGenerator(worker, "scripted").reads_ahead  # the server was not told to keep states
    worker = _worker(tmp_path, _script(tmp_path), plan=ZEN4)
    try:
        assert WorkerGenerator(worker, "scripted").read_ahead(MESSAGES)["prompt_tokens"] == 40
        assert worker.health()["tokens"]["ahead"] == 10
    finally:
        worker.stop()


def test_the_server_gives_up_cpu_priority_to_the_app(tmp_path: Path) -> None:
    worker = _worker(tmp_path, _script(tmp_path), plan=ZEN4, nice=5)
    try:
        assert "".join(WorkerGenerator(worker, "scripted").stream(MESSAGES, max_tokens=8)) == LAW_REPLY
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker.status().pid) == min(ours + 5, 19)
    finally:
        worker.stop()


def test_probe_that_dies_falls_back_and_the_choice_is_cached(tmp_path: Path) -> None:
    script = _script(tmp_path, die_on=["sapphirerapids"], signal="SIGILL", speeds={"zen4": 95.0})
    worker = _worker(tmp_path, script, candidates=[AMX, ZEN4, ZEN4_SAFE])
    try:
        assert worker.url().startswith("http://127.0.0.1:")
        status = worker.status()
        assert status.plan == ZEN4
        assert [(t.plan.label, t.outcome) for t in status.choice.trials] == [
            ("sapphirerapids", "died: SIGILL"),
            ("zen4", "ok"),
            ("zen4，extra buffers off", "ok"),  # as fast, so the repacked plan stays
        ]
        assert "sapphirerapids died: SIGILL" in status.choice.reason
    finally:
        worker.stop()
    cached = json.loads((tmp_path / "run" / "kernels.json").read_text(encoding="utf-8"))
    (entry,) = cached.values()
    assert entry["plan"]["variant"] == "zen4"

    again = _worker(tmp_path, script, candidates=[AMX, ZEN4, ZEN4_SAFE])
    try:
        again.url()
        assert again.status().plan == ZEN4
    finally:
        again.stop()
    starts = (tmp_path / "run" / "model-server.log").read_text(encoding="utf-8").count("--- ")
    assert starts == 4  # AMX, zen4 and its twin when probing, then zen4 straight from the cache


def test_no_plan_runs_is_a_clear_failure(tmp_path: Path) -> None:
    script = _script(tmp_path, die_on=["sapphirerapids", "zen4"], signal="SIGSEGV")
    worker = _worker(tmp_path, script, candidates=[AMX, ZEN4])
    try:
        with pytest.raises(GeneratorError, match=r"cannot run: no llama.cpp CPU kernel runs.*died: SIGSEGV"):
            worker.url()
        assert worker.status().state == "failed"
    finally:
        worker.stop()


def test_a_killed_server_fails_the_reply_in_flight_and_is_restarted(tmp_path: Path, fast_restarts: None) -> None:
    worker = _worker(tmp_path, _script(tmp_path, piece_delay_s=0.2), plan=ZEN4)
    try:
        gen = WorkerGenerator(worker, "scripted")
        reply = gen.stream(MESSAGES, max_tokens=64)
        assert next(reply)  # the answer has started
        first_pid = worker.status().pid
        os.kill(first_pid, signal.SIGSEGV)
        with pytest.raises(ModelCrashed, match="died: SIGSEGV"):
            list(reply)
        assert complete(gen, MESSAGES, max_tokens=64) == LAW_REPLY  # waits for the restart, then answers
        status = worker.status()
        assert status.pid != first_pid and status.restarts == 1 and status.last_exit == "died: SIGSEGV"
    finally:
        worker.stop()


def test_a_plan_that_keeps_dying_is_given_up_for_the_next(tmp_path: Path, fast_restarts: None) -> None:
    # zen4 starts fine but dies on every answer, like a kernel that traps only on some shapes
    script = _script(tmp_path, die_on=["zen4"], die_when="answer", only_with_extra_buffers=True, signal="SIGILL")
    worker = _worker(tmp_path, script, candidates=[ZEN4, ZEN4_SAFE])
    try:
        gen = WorkerGenerator(worker, "scripted")
        for _ in range(worker_module._MAX_DEATHS):
            with pytest.raises(ModelCrashed):
                complete(gen, MESSAGES, max_tokens=64)
        # the supervisor notices the third death in its own thread; on a busy machine that can come after the next
        # request, which would then meet the dead server (and count as a crash of its own)
        deadline = time.monotonic() + 30
        while worker.status().restarts < worker_module._MAX_DEATHS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert complete(gen, MESSAGES, max_tokens=64) == LAW_REPLY
        assert worker.status().plan == ZEN4_SAFE
    finally:
        worker.stop()


def test_server_exits_when_its_app_is_gone(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = _script(tmp_path)
    code = f"""
import os, sys
from assistant.worker import ModelWorker, WorkerSpec
from assistant.kernels import KernelPlan
w = ModelWorker(WorkerSpec({ENGINE!r}, {str(script)!r}, plan=KernelPlan("zen4")), log_path={str(tmp_path / "log")!r})
w.url()
print(w.status().pid, flush=True)
os._exit(0)  # no clean-up: the server must notice by itself
"""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    pid = int(done.stdout.strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    pytest.fail("the model server outlived the app that started it")


# -- the assistant answers a question whose model died -------------------------------------------------------------


def test_assistant_answers_without_the_model_when_it_dies_mid_answer(tmp_path: Path, fast_restarts: None) -> None:
    articles, chunks = sample_corpus()
    settings = Settings().override({"answer": {"min_dense_score": 0.0, "min_answerable": 0.0}})
    worker = _worker(tmp_path, _script(tmp_path, piece_delay_s=0.3), plan=ZEN4)
    try:
        gen = WorkerGenerator(worker, "scripted")
        assistant = Assistant(settings, FakeStore(articles), FakeSearcher(articles, chunks), gen)
        events = assistant.stream("《常州市生活垃圾分类管理条例》什么时候施行？")
        assert isinstance(next(e for e in events if not isinstance(e, Progress | Quote)), Token)  # it has started
        os.kill(worker.status().pid, signal.SIGSEGV)
        answer = next(e.answer for e in events if isinstance(e, Final))
        assert answer.generator == "extractive" and answer.notice == MODEL_CRASHED_NOTE
        assert not answer.refused and "2024年9月1日" in answer.text
        after = assistant.ask("《常州市生活垃圾分类管理条例》什么时候施行？")
        assert after.generator == "scripted" and not after.notice
    finally:
        worker.stop()


@pytest.mark.parametrize("flash_attn", [True, False])
def test_the_server_is_told_whether_to_use_flash_attention(tmp_path: Path, flash_attn: bool) -> None:
    worker = _worker(tmp_path, _script(tmp_path), plan=ZEN4, flash_attn=flash_attn)
    try:
        worker.url()
        assert worker.status().warmup["flash_attn"] == float(flash_attn)
    finally:
        worker.stop()


def test_the_setting_reaches_the_worker(tmp_path: Path) -> None:
    from assistant.factory import make_generator

    settings = Settings(home=tmp_path).override({"generator": {"flash_attn": True, "model_path": str(tmp_path)}})
    gen = make_generator(settings.generator, tmp_path, tmp_path / "run")
    assert isinstance(gen, WorkerGenerator) and gen.worker.spec.flash_attn is True
    assert not make_generator(Settings(home=tmp_path).generator, tmp_path, tmp_path / "run").worker.spec.flash_attn


# -- one model server for the web app and `newsqa ask` -------------------------------------------------------------


def test_a_waiting_question_goes_before_a_waiting_read_ahead() -> None:
    from assistant.model_server import Turns

    turns, order = Turns(), []

    def take(kind: str) -> None:
        with turns.question() if kind == "question" else turns.ahead():
            order.append(kind)

    with turns.question():  # the engine is busy; a read-ahead comes first, then a question from another process
        ahead = threading.Thread(target=take, args=("ahead",))
        ahead.start()
        time.sleep(0.1)
        question = threading.Thread(target=take, args=("question",))
        question.start()
        time.sleep(0.1)
        assert turns.locked() and order == []
    ahead.join(5)
    question.join(5)
    assert order == ["question", "ahead"] and not turns.locked()


def test_a_question_arriving_while_a_prompt_is_read_ahead_waits_for_one_batch_not_the_whole_prompt() -> None:
    engine = ScriptedEngine({"reply": LAW_REPLY, "ahead_batches": 40, "ahead_batch_s": 0.05}, "zen4", True)
    server = ModelServer(engine, token="t0ken")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    headers = {"Authorization": "Bearer t0ken"}
    try:
        url = f"http://127.0.0.1:{server.port}/v1/read_ahead"
        whole = httpx.post(url, json={"messages": MESSAGES}, headers=headers, timeout=10).json()
        assert "stopped" not in whole["usage"] and engine.kept == "ahead"  # 2 s alone: read to the end, kept
        replies: dict[str, httpx.Response] = {}
        ahead = threading.Thread(
            target=lambda: replies.update(
                ahead=httpx.post(url, json={"messages": MESSAGES}, headers=headers, timeout=10)
            )
        )
        ahead.start()
        time.sleep(0.3)
        start = time.monotonic()
        assert _post(server, {"messages": MESSAGES}).json()["choices"][0]["message"]["content"] == LAW_REPLY
        waited = time.monotonic() - start
        ahead.join(10)
    finally:
        server.shutdown()
        thread.join()
    usage = replies["ahead"].json()["usage"]
    assert usage["stopped"] is True and engine.kept is None  # not kept: the pass reads it again later
    assert waited < 1.0  # one batch (0.05 s), not the 1.7 s left of the prompt
    assert usage["prompt_tokens"] < whole["usage"]["prompt_tokens"]  # what it read before it stopped


def test_ask_uses_the_app_s_running_server_and_starts_its_own_when_that_is_gone(tmp_path: Path) -> None:
    shared = tmp_path / "run" / worker_module.SHARED_SERVER_FILE
    script = _script(tmp_path, piece_delay_s=0.2)
    app_worker = _worker(tmp_path, script, plan=ZEN4, shared_path=shared)
    try:
        app_url = app_worker.url()
        assert shared.stat().st_mode & 0o777 == 0o600  # it holds the server's token
        ask = WorkerGenerator(_worker(tmp_path, script, plan=ZEN4), "scripted", shared_path=shared)
        assert complete(ask, MESSAGES, max_tokens=64) == LAW_REPLY
        assert ask.shared is not None and ask.shared.url == app_url
        assert ask.worker.status().state == "stopped"  # no second model was loaded
        assert app_worker.health()["tokens"]["requests"] == 1

        reply = ask.stream(MESSAGES, max_tokens=64)
        assert next(reply)
        app_worker.stop()  # the app is closed while `ask` is answering
        with pytest.raises(ModelCrashed, match="web app's model server"):
            list(reply)
        assert not shared.exists()
        assert complete(ask, MESSAGES, max_tokens=64) == LAW_REPLY  # from a server of its own now
        assert ask.worker.status().state == "ready" and ask.shared is None
    finally:
        app_worker.stop()
        ask.worker.stop()


def test_a_named_server_is_asked_only_when_it_runs_and_serves_the_same_way(tmp_path: Path, caplog) -> None:
    from dataclasses import replace

    from assistant.worker import SharedServer

    shared = tmp_path / "run" / worker_module.SHARED_SERVER_FILE
    app_worker = _worker(tmp_path, _script(tmp_path), plan=ZEN4, shared_path=shared)
    spec = app_worker.spec
    try:
        app_worker.url()
        assert SharedServer.find(shared, spec) is not None
        assert SharedServer.find(shared, replace(spec, plan=None, ahead_states=5, state_dir="x", nice=3)) is not None
        for other in (
            replace(spec, n_ctx=1024),
            replace(spec, threads=1),
            replace(spec, flash_attn=True),
            replace(spec, model=str(tmp_path / "other.json")),
            replace(spec, plan=KernelPlan("haswell", "", True)),  # a fixed plan must be the one running
            replace(spec, plan=ZEN4_SAFE),
        ):
            assert SharedServer.find(shared, other) is None, other
        record = json.loads(shared.read_text(encoding="utf-8"))
        shared.write_text(json.dumps({**record, "token": "wrong"}), encoding="utf-8")
        assert SharedServer.find(shared, spec) is None  # the server does not know that token
        shared.write_text("{not json", encoding="utf-8")
        with caplog.at_level("WARNING"):
            assert SharedServer.find(shared, spec) is None
        assert "does not name a model server" in caplog.text
        shared.write_text(json.dumps({**record, "version": 2}), encoding="utf-8")
        assert SharedServer.find(shared, spec) is None
        shared.write_text(json.dumps(record), encoding="utf-8")
    finally:
        app_worker.stop()
    assert not shared.exists()
    shared.write_text(json.dumps(record), encoding="utf-8")  # left behind by an app that was killed
    assert SharedServer.find(shared, spec) is None
    assert SharedServer.find(tmp_path / "nothing.json", spec) is None


def test_a_restarted_app_server_is_named_again(tmp_path: Path, fast_restarts: None) -> None:
    from assistant.worker import SharedServer

    shared = tmp_path / "run" / worker_module.SHARED_SERVER_FILE
    app_worker = _worker(tmp_path, _script(tmp_path), plan=ZEN4, shared_path=shared)
    try:
        app_worker.url()
        first = SharedServer.find(shared, app_worker.spec)
        os.kill(app_worker.status().pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while app_worker.status().restarts < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        url = app_worker.url()
        again = SharedServer.find(shared, app_worker.spec)
        assert first is not None and again is not None and again.url == url and again.pid != first.pid
    finally:
        app_worker.stop()


@pytest.mark.parametrize(
    ("role", "share", "named", "asks"),
    [
        ("serve", True, True, False),
        ("ask", True, False, True),
        ("own", True, False, False),
        ("serve", False, False, False),
        ("ask", False, False, False),
    ],
)
def test_the_roles_and_the_setting_reach_the_worker(tmp_path: Path, role, share, named, asks) -> None:
    from assistant.factory import make_generator

    settings = Settings(home=tmp_path).override({"generator": {"share_server": share}})
    gen = make_generator(settings.generator, tmp_path, tmp_path / "run", role=role)
    assert (gen.worker.shared_path is not None) is named and (gen.shared_path is not None) is asks


def test_an_unknown_role_is_refused(tmp_path: Path) -> None:
    from assistant.factory import make_generator

    with pytest.raises(ValueError, match="role"):
        make_generator(Settings(home=tmp_path).generator, tmp_path, role="guest")
