"""The model server: a child process that runs one local model and speaks the OpenAI chat-completions protocol.

Native model code that dies (SIGILL from kernels the CPU traps, SIGSEGV, an out-of-memory kill) takes only this
process down; the app's supervisor (`assistant.worker`) answers the question in flight without the model and starts
a new server. Requests are served one at a time, so the prefix a judgement evaluated is still there for the answer
that follows it; a question waiting goes before any prompt to read ahead, whoever sent either (`Turns`).

    python -m assistant.model_server --engine llama --model M.gguf [--cpu-variant zen4 --cpu-library L.so]

prints one line `READY {"port": ..., "warmup": {...}}` on stdout once the model is loaded and warmed up.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import importlib
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from assistant.backends.llama import READ_AHEAD_KEEPS, LlamaGenerator
from assistant.backends.transformers import TransformersGenerator
from assistant.generation import prompt_tokens_read
from assistant.kernels import KernelPlan

TOKEN_ENV = "NEWSQA_WORKER_TOKEN"  # a bearer token the supervisor shares with its server, so other users cannot call it
# OpenAI caps top_logprobs at 20; one-word judgements need only their first token's alternatives
MAX_TOP_LOGPROBS = 20
# a fixed news paragraph read at start-up: it exercises the matrix kernels a first question would, and times them
WARMUP_TEXT = (
    "本报讯 为进一步提升城市精细化管理水平，区城管局近日召开生活垃圾分类工作推进会，"
    "部署今年的重点任务。会议指出，《常州市生活垃圾分类管理条例》将于2024年9月1日起施行，"
    "各镇、街道要对照条例要求，完善投放、收集、运输和处理体系，加强宣传引导，"
    "推动居民养成分类投放的习惯。会上，各相关部门负责人就下一步工作作了交流发言。"
)
Messages = list[dict[str, str]]


class Engine(Protocol):
    """What the server runs: a streaming chat model that can also report its first token's log-probabilities."""

    name: str

    def stream(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None
    ) -> Iterator[str]: ...

    def first_token_logprobs(
        self, messages: Messages, top_n: int
    ) -> tuple[list[tuple[str, float]], dict[str, Any]]: ...

    def warm_up(self, text: str) -> dict[str, float]: ...


class BadRequest(ValueError):
    """A request the server refuses with HTTP 400 and this message."""


def _messages(body: Any) -> Messages:
    """The validated 'messages' of a request body."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise BadRequest(f"messages[{i}] must have a string 'role' and 'content'")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _chat_request(body: Any) -> dict[str, Any]:
    """The validated fields of a chat-completions request body."""
    messages = _messages(body)
    max_tokens = body.get("max_tokens", 256)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise BadRequest("'max_tokens' must be a positive integer")
    temperature = body.get("temperature", 0.0)
    if not isinstance(temperature, int | float) or isinstance(temperature, bool) or temperature < 0:
        raise BadRequest("'temperature' must be a number ≥ 0")
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise BadRequest("'stop' must be a string or a list of strings")
    top = body.get("top_logprobs", 0) if body.get("logprobs") else 0
    if not isinstance(top, int) or isinstance(top, bool) or not 0 <= top <= MAX_TOP_LOGPROBS:
        raise BadRequest(f"'top_logprobs' must be an integer from 0 to {MAX_TOP_LOGPROBS}")
    if body.get("logprobs") and max_tokens != 1:
        raise BadRequest("this server reports logprobs only for one-token replies (max_tokens 1)")
    return {
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": float(temperature),
        "stop": stop,
        "stream": bool(body.get("stream")),
        "include_usage": bool((body.get("stream_options") or {}).get("include_usage")),
        "logprobs": bool(body.get("logprobs")),
        "top_logprobs": top,
    }


def _read_ahead_request(body: Any) -> dict[str, Any]:
    """A read-ahead: {"messages": [...], "keep": "ahead" (default), "recent" or "none"} (LlamaGenerator.read_ahead)."""
    messages = _messages(body)
    keep = body.get("keep", "ahead")
    if keep not in READ_AHEAD_KEEPS:
        raise BadRequest(f"keep must be one of {', '.join(READ_AHEAD_KEEPS)}, got {keep!r}")
    return {"messages": messages, "keep": keep}


class Turns:
    """The engine's one-at-a-time lock, with questions first: a read-ahead waits while any question waits.

    The app reads ahead only while its own questions leave the model idle; a question from another process that
    shares this server (`newsqa ask` beside the app) is unknown to it, and would otherwise race each next passage.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held = False
        self._questions = 0  # questions waiting for the engine

    def locked(self) -> bool:
        return self._held

    def waiting(self) -> bool:
        """Does a question wait for the engine? (A read-ahead under way stops for it between two batches.)"""
        return self._questions > 0

    @contextlib.contextmanager
    def question(self) -> Iterator[None]:
        with self._cond:
            self._questions += 1
            try:
                while self._held:
                    self._cond.wait()
            finally:
                self._questions -= 1
            self._held = True
        try:
            yield
        finally:
            self._release()

    @contextlib.contextmanager
    def ahead(self) -> Iterator[None]:
        with self._cond:
            while self._held or self._questions:
                self._cond.wait()
            self._held = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()


class ModelServer:
    """An HTTP server on 127.0.0.1 around one engine: POST /v1/chat/completions, GET /v1/models and /health, and
    POST /v1/read_ahead ({"messages": [...], "keep": ...}) for an engine with `read_ahead`: read a prompt's start
    before any question needs it (assistant.readahead)."""

    def __init__(self, engine: Engine, *, token: str = "", info: dict[str, Any] | None = None, port: int = 0) -> None:
        self.engine = engine
        self.token = token
        self.info = dict(info or {})
        self.busy = Turns()  # held while the engine works: /health says whether a request is running
        # what the engine has done since the start: prompt tokens read (not taken from a cache) tell how much of
        # the work the prompt caches saved, which time alone cannot on a machine shared with other guests
        self.tokens = {"requests": 0, "prompt": 0, "cached": 0, "completion": 0, "ahead": 0}
        # and the time it spent reading those prompts and writing (engines that report it): the speeds a run had,
        # which on a shared machine the warm-up before it does not tell
        self.timings = {"read_ms": 0.0, "writes": 0, "write_ms": 0.0}
        self._tokens_lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def count(self, usage: dict[str, Any]) -> None:
        """Add one request's OpenAI-style token counts to the server's totals."""
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        with self._tokens_lock:
            self.tokens["requests"] += 1
            self.tokens["prompt"] += int(usage.get("prompt_tokens") or 0)
            self.tokens["cached"] += cached
            self.tokens["completion"] += int(usage.get("completion_tokens") or 0)
            timings = usage.get("timings") or {}
            for key in self.timings:
                self.timings[key] += timings.get(key) or 0

    def count_ahead(self, usage: dict[str, Any]) -> None:
        """Add the prompt tokens a read-ahead read to its own total: the questions' counts stay theirs alone."""
        with self._tokens_lock:
            self.tokens["ahead"] += prompt_tokens_read(usage)

    def totals(self) -> dict[str, int]:
        with self._tokens_lock:
            return dict(self.tokens)

    def spent(self) -> dict[str, float]:
        """The questions' time at the model since the start: reading prompts, and writing `writes` tokens."""
        with self._tokens_lock:
            return {key: round(value, 1) for key, value in self.timings.items()}

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # requests are not worth a log line each
                pass

            def _authorised(self) -> bool:
                if server.token and self.headers.get("Authorization", "") != f"Bearer {server.token}":
                    self._send_json(401, {"error": {"message": "missing or wrong bearer token", "type": "auth"}})
                    return False
                return True

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if not self._authorised():
                    return
                if self.path.rstrip("/") == "/health":
                    health = {
                        "status": "ok",
                        "busy": server.busy.locked(),
                        "tokens": server.totals(),
                        "timings": server.spent(),
                    }
                    self._send_json(200, {**health, **server.info})
                elif self.path.rstrip("/") == "/v1/models":
                    self._send_json(200, {"object": "list", "data": [{"id": server.engine.name, "object": "model"}]})
                else:
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802
                if not self._authorised():
                    return
                path = self.path.rstrip("/")
                reads_ahead = path == "/v1/read_ahead" and hasattr(server.engine, "read_ahead")
                if path != "/v1/chat/completions" and not reads_ahead:
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    length = int(self.headers.get("Content-Length", "0"))
                    body = json.loads(self.rfile.read(length) or b"null")
                    request = _read_ahead_request(body) if reads_ahead else _chat_request(body)
                except (ValueError, BadRequest) as exc:
                    self._send_json(400, {"error": {"message": str(exc), "type": "invalid_request_error"}})
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                    if not reads_ahead and request["stream"] and not request["logprobs"]:
                        self._stream(request)
                        return
                    try:
                        if reads_ahead:
                            self._read_ahead(request)
                        elif request["logprobs"]:
                            self._judge(request)
                        else:
                            self._complete(request)
                    except Exception as exc:
                        message = f"{type(exc).__name__}: {exc}"
                        self._send_json(500, {"error": {"message": message, "type": "server_error"}})

            def _judge(self, request: dict[str, Any]) -> None:
                with server.busy.question():
                    top, usage = server.engine.first_token_logprobs(
                        request["messages"], max(request["top_logprobs"], 1)
                    )
                server.count({**usage, "completion_tokens": 1})
                token, logprob = top[0]
                content = {"token": token, "logprob": logprob, "top_logprobs": []}
                content["top_logprobs"] = [{"token": t, "logprob": lp} for t, lp in top[: request["top_logprobs"]]]
                reply = _completion(server.engine.name, token, "length", logprobs={"content": [content]})
                self._send_json(200, {**reply, "usage": {**usage, "completion_tokens": 1}})

            def _read_ahead(self, request: dict[str, Any]) -> None:
                with server.busy.ahead():
                    engine: Any = server.engine
                    usage = engine.read_ahead(request["messages"], keep=request["keep"], yield_to=server.busy.waiting)
                server.count_ahead(usage)
                self._send_json(200, {"object": "read_ahead", "usage": usage})

            def _pieces(self, request: dict[str, Any]) -> Iterator[str]:
                return server.engine.stream(
                    request["messages"],
                    max_tokens=request["max_tokens"],
                    temperature=request["temperature"],
                    stop=request["stop"] or None,
                )

            def _complete(self, request: dict[str, Any]) -> None:
                with server.busy.question():
                    pieces = self._pieces(request)
                    text = "".join(pieces)
                usage = dict(getattr(pieces, "usage", None) or {})
                server.count(usage)
                self._send_json(200, {**_completion(server.engine.name, text, "stop"), "usage": usage})

            def _stream(self, request: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()  # HTTP/1.0: the body ends when the connection closes; [DONE] marks a whole reply
                chunk_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"

                def send(delta: dict[str, str], finish: str | None = None) -> None:
                    event = {
                        "id": chunk_id,
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": server.engine.name,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()

                with server.busy.question():
                    send({"role": "assistant"})
                    pieces = self._pieces(request)
                    try:
                        for piece in pieces:
                            send({"content": piece})
                    except (BrokenPipeError, ConnectionResetError):
                        raise
                    except Exception as exc:  # e.g. a prompt too long for the context: the client reads why
                        error = {"error": {"message": f"{type(exc).__name__}: {exc}", "type": "server_error"}}
                        self.wfile.write(f"data: {json.dumps(error, ensure_ascii=False)}\n\n".encode())
                        return
                    finally:
                        close = getattr(pieces, "close", None)
                        if close is not None:
                            close()  # a client that went away stops the generation here
                        server.count(dict(getattr(pieces, "usage", None) or {}))
                send({}, "stop")
                if request["include_usage"]:
                    usage = {
                        "id": chunk_id,
                        "object": "chat.completion.chunk",
                        "model": server.engine.name,
                        "choices": [],
                        "usage": dict(getattr(pieces, "usage", None) or {}),
                    }
                    self.wfile.write(f"data: {json.dumps(usage)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _send_json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _completion(model: str, text: str, finish: str, **choice: Any) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": text}, **choice}],
    }


# -- the child process ---------------------------------------------------------------------------------------------


def _watch_parent(parent: int) -> None:
    """Exit when the process that started this server is gone: an orphaned server would hold 1 GB for nobody."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _make_engine(args: argparse.Namespace) -> Engine:
    if args.engine == "llama":
        plan = KernelPlan(args.cpu_variant, args.cpu_library, args.extra_buffers) if args.cpu_variant else None
        return LlamaGenerator(
            Path(args.model),
            n_ctx=args.n_ctx,
            n_threads=args.threads,
            ahead_entries=args.ahead_states,
            plan=plan,
            flash_attn=args.flash_attn,
            state_dir=Path(args.state_dir) if args.state_dir else None,
        )
    if args.engine == "transformers":
        return TransformersGenerator(Path(args.model), n_threads=args.threads)
    # "package.module:factory": a factory called with the parsed arguments (tests run scripted engines this way)
    module, _, attr = args.engine.partition(":")
    factory: Callable[[argparse.Namespace], Engine] = getattr(importlib.import_module(module), attr)
    return factory(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant.model_server")
    parser.add_argument("--engine", default="llama", help="llama, transformers, or package.module:factory")
    parser.add_argument("--model", default="", help="GGUF file or transformers model directory")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--cpu-variant", default="", help="ggml CPU variant to load (empty: llama.cpp's own choice)")
    parser.add_argument("--cpu-library", default="", help="its libggml-cpu-<variant>.so")
    parser.add_argument("--no-extra-buffers", dest="extra_buffers", action="store_false")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false")
    parser.add_argument("--flash-attn", action="store_true", help="llama.cpp's flash attention")
    parser.add_argument("--ahead-states", type=int, default=0, help="prompt states read ahead to keep (llama)")
    parser.add_argument("--state-dir", default="", help="where system messages' states are kept on disk (llama)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority by this much")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    faulthandler.enable()  # a native crash leaves a Python traceback in the server's log
    if args.nice:
        os.nice(args.nice)  # before llama.cpp starts its threads, which inherit it
    threading.Thread(target=_watch_parent, args=(os.getppid(),), name="watch-parent", daemon=True).start()
    engine = _make_engine(args)
    info: dict[str, Any] = {"engine": engine.name, "pid": os.getpid()}
    if args.cpu_variant:
        info["plan"] = {"variant": args.cpu_variant, "library": args.cpu_library, "extra_buffers": args.extra_buffers}
    info["warmup"] = engine.warm_up(WARMUP_TEXT) if args.warmup else {}
    server = ModelServer(engine, token=os.environ.get(TOKEN_ENV, ""), info=info, port=args.port)
    print("READY " + json.dumps({"port": server.port, **info}, ensure_ascii=False), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
