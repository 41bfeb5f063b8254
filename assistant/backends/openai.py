"""Any OpenAI-compatible chat-completions endpoint: a remote engine, or the app's own model server."""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from assistant.generation import GeneratorError, Messages, Reply, cut_at_stop

API_KEY_ENV = "NEWSQA_API_KEY"


class OpenAIGenerator:
    """Any OpenAI-compatible chat-completions endpoint (llama.cpp server, vLLM, Ollama, hosted APIs).

    The API key comes only from the environment (NEWSQA_API_KEY) and is never logged or shown in repr().
    """

    def __init__(
        self,
        base_url: str,
        model: str = "",
        *,
        timeout_s: float = 120.0,
        api_key: str | None = None,
        streaming: bool = True,
        report_usage: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s
        self.streaming = streaming
        self.report_usage = report_usage  # ask for token counts in the stream (OpenAI's stream_options)
        self._api_key = os.environ.get(API_KEY_ENV, "") if api_key is None else api_key
        self.name = f"openai:{model or self.base_url}"
        self._client: Any = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        key = "set" if self._api_key else "unset"
        return f"OpenAIGenerator(base_url={self.base_url!r}, model={self.model!r}, api_key={key})"

    def _http(self) -> Any:
        # one client per generator: building its TLS context costs ~0.5 s, too much to pay per answer
        import httpx  # here, not on import: `newsqa ask` shows its quotation before it needs the model

        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout_s)
            return self._client

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def stream(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None
    ) -> Reply:
        body, headers = self._call(messages, max_tokens=max_tokens, temperature=temperature, stream=self.streaming)
        if stop:
            body["stop"] = stop
        if self.report_usage and self.streaming:
            body["stream_options"] = {"include_usage": True}
        usage: dict[str, Any] = {}
        # servers may ignore "stop"; cutting here too makes the behaviour the same everywhere
        return Reply(cut_at_stop(self._request(body, headers, usage=usage), stop), usage)

    def _call(
        self, messages: Messages, *, max_tokens: int, temperature: float, stream: bool
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The request body and headers of a chat-completions call."""
        body: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": stream,
        }
        if self.model:
            body["model"] = self.model
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return body, headers

    def choose(self, messages: Messages, options: Sequence[str]) -> dict[str, float]:
        """The options' weights from the endpoint's top log-probabilities of the first reply token.

        Endpoints that return no log-probabilities are read by their one-token reply instead: the option it
        starts with gets all the weight.
        """
        body, headers = self._call(messages, max_tokens=1, temperature=0.0, stream=False)
        body.update(logprobs=True, top_logprobs=20)
        reply = _json("".join(self._request(body, headers, raw=True)), self.url)
        text = _message_content(reply, self.url)
        try:
            top = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            weights = {}
            for entry in top:
                token = entry["token"].strip()
                for option in options:
                    if token and option.startswith(token) and option not in weights:
                        weights[option] = math.exp(entry["logprob"])
            if weights:
                return weights
        except (KeyError, IndexError, TypeError):
            pass
        return {o: 1.0 if text.strip().startswith(o[:1]) else 0.0 for o in options}

    @contextmanager
    def _http_errors(self, url: str) -> Iterator[None]:
        """httpx's failures to reach `url` or hear from it in time, as GeneratorErrors that say which."""
        import httpx

        try:
            yield
        except httpx.TimeoutException as exc:
            raise GeneratorError(f"{url}: no answer within {self.timeout_s:g} s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise GeneratorError(f"cannot reach {url}: {exc}") from exc

    def post(self, route: str, body: dict[str, Any]) -> Any:
        """A JSON request to another route of the same server (`base_url`/`route`) and its JSON reply."""
        url = f"{self.base_url}/{route}"
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        with self._http_errors(url):
            response = self._http().post(url, json=body, headers=headers)
        if response.status_code >= 400:
            raise GeneratorError(f"{url} answered HTTP {response.status_code}: {response.text[:300]}")
        return _json(response.content, url)

    def _request(
        self, body: dict[str, Any], headers: dict[str, str], raw: bool = False, usage: dict[str, Any] | None = None
    ) -> Iterator[str]:
        usage = {} if usage is None else usage
        with self._http_errors(self.url), self._http().stream("POST", self.url, json=body, headers=headers) as response:
            if response.status_code >= 400:
                detail = response.read().decode("utf-8", "replace")[:300]
                raise GeneratorError(f"{self.url} answered HTTP {response.status_code}: {detail}")
            if raw:
                yield response.read().decode("utf-8", "replace")
            elif "text/event-stream" in response.headers.get("content-type", ""):
                yield from _sse_content(response.iter_lines(), self.url, usage)
            else:  # a non-streaming reply, asked for or not
                reply = _json(response.read(), self.url)
                usage.update(reply.get("usage") or {} if isinstance(reply, dict) else {})
                yield _message_content(reply, self.url)


def _json(raw: bytes | str, url: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        raise GeneratorError(f"{url}: reply is not JSON: {text[:200]!r}") from exc


def _message_content(reply: Any, url: str) -> str:
    try:
        return reply["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError) as exc:
        raise GeneratorError(f"{url}: unexpected reply shape: {str(reply)[:200]}") from exc


def _sse_content(lines: Iterable[str], url: str, usage: dict[str, Any] | None = None) -> Iterator[str]:
    """Text deltas of an SSE chat-completions stream, up to `data: [DONE]`.

    A stream that ends before [DONE] and before any finish_reason was cut off (the server died): an error, not a
    short reply.
    """
    finished = False
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments (": ping"), event names
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        event = _json(data, url)
        if "error" in event:
            raise GeneratorError(f"{url}: {event['error']}")
        if usage is not None and isinstance(event.get("usage"), dict):
            usage.update(event["usage"])
        try:
            choice = event["choices"][0] if event["choices"] else {}
            text = (choice.get("delta") or {}).get("content")
            finished = finished or bool(choice.get("finish_reason"))
        except (KeyError, TypeError, AttributeError) as exc:
            raise GeneratorError(f"{url}: unexpected stream event: {data[:200]}") from exc
        if text:
            yield text
    if not finished:
        raise GeneratorError(f"{url}: the reply stream ended before it was complete")
