"""A tiny local server speaking the OpenAI chat-completions protocol (plain JSON and SSE streaming), for tests."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAIStub:
    """Serves `reply` to every POST .../chat/completions on a free localhost port and records the requests.

    Use as a context manager: `with OpenAIStub("你好") as stub: OpenAIGenerator(stub.base_url)`.
    `status` other than 200 answers with that error; `delay_s` sleeps before answering (for timeouts).
    """

    def __init__(
        self,
        reply: str = "",
        *,
        status: int = 200,
        piece_chars: int = 2,
        delay_s: float = 0.0,
        top_logprobs: dict[str, float] | None = None,
    ) -> None:
        self.reply = reply
        self.top_logprobs = top_logprobs  # first-token log-probabilities, sent when a request asks for logprobs
        self.status = status
        self.piece_chars = piece_chars
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "stub not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> OpenAIStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    self._answer()

            def _answer(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if stub.delay_s:
                    time.sleep(stub.delay_s)
                if not self.path.endswith("/chat/completions"):
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                elif stub.status != 200:
                    self._send_json(stub.status, {"error": {"message": "stub failure", "type": "server_error"}})
                elif body.get("stream"):
                    self._send_stream(body)
                else:
                    self._send_json(
                        200,
                        {
                            "id": "stub-1",
                            "object": "chat.completion",
                            "model": body.get("model", ""),
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": stub.reply},
                                    **self._logprobs(body),
                                }
                            ],
                        },
                    )

            def _logprobs(self, body: dict[str, Any]) -> dict[str, Any]:
                if not (body.get("logprobs") and stub.top_logprobs):
                    return {}
                top = [{"token": t, "logprob": lp} for t, lp in stub.top_logprobs.items()]
                first = max(top, key=lambda e: e["logprob"])
                return {"logprobs": {"content": [{**first, "top_logprobs": top[: body.get("top_logprobs", 0)]}]}}

            def _send_json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_stream(self, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()  # HTTP/1.0: the body ends when the connection closes

                def event(payload: dict[str, Any] | str) -> None:
                    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()

                def delta(content: dict[str, str], finish: str | None = None) -> dict[str, Any]:
                    return {
                        "id": "stub-1",
                        "object": "chat.completion.chunk",
                        "model": body.get("model", ""),
                        "choices": [{"index": 0, "delta": content, "finish_reason": finish}],
                    }

                self.wfile.write(b": keep-alive comment\n\n")
                event(delta({"role": "assistant"}))
                text, step = stub.reply, stub.piece_chars
                for i in range(0, len(text), step):
                    event(delta({"content": text[i : i + step]}))
                event(delta({}, "stop"))
                event("[DONE]")

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="openai-stub", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
