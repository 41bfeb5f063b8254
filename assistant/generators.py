"""Text generators behind one small streaming protocol: local GGUF (llama.cpp), transformers, OpenAI-compatible HTTP.

Constructors are cheap; a model loads on first use, once per process, and calls into one loaded model are
serialised because neither llama.cpp contexts nor a shared torch model are safe to drive from two threads at once.
The extractive answerer (no LLM) lives here too, with its own explicit entry point.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assistant.kernels import KernelPlan
from assistant.models import DEFAULT_MODEL
from core.config import GeneratorSettings

DEFAULT_GGUF = DEFAULT_MODEL.filename
API_KEY_ENV = "NEWSQA_API_KEY"

Messages = list[dict[str, str]]


class GeneratorError(RuntimeError):
    """A generator cannot produce text: missing model, unreachable endpoint, bad configuration."""


class ModelCrashed(GeneratorError):
    """The process running the model died while working on a request; it is being restarted."""


class Generator(Protocol):
    """Streams a chat reply piece by piece; failures raise GeneratorError, from the call or while iterating."""

    name: str

    def stream(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None
    ) -> Iterator[str]: ...


class Chooser(Protocol):
    """A generator that can also weigh a few one-word replies instead of writing one (see `choice_probs`)."""

    def choose(self, messages: Messages, options: Sequence[str]) -> dict[str, float]: ...


def choice_probs(gen: Any, messages: Messages, options: Sequence[str]) -> dict[str, float] | None:
    """How likely `gen` is to open its reply with each option, normalised over the options; None if it cannot say."""
    choose = getattr(gen, "choose", None)
    if choose is None:
        return None
    return _normalised(choose(messages, options), options)


def _normalised(weights: dict[str, float], options: Sequence[str]) -> dict[str, float]:
    total = sum(max(0.0, weights.get(o, 0.0)) for o in options)
    if total <= 0:
        return dict.fromkeys(options, 1.0 / len(options))
    return {o: max(0.0, weights.get(o, 0.0)) / total for o in options}


def _softmax_pick(logits: Any, token_ids: dict[str, int]) -> dict[str, float]:
    """Probabilities (over the whole vocabulary) of the given first tokens, from one row of logits."""
    import numpy as np

    row = np.asarray(logits, dtype=np.float64)
    row = np.exp(row - row.max())
    total = row.sum()
    return {option: float(row[i] / total) for option, i in token_ids.items()}


def _top_logprobs(logits: Any, top_n: int) -> list[tuple[int, float]]:
    """(token id, log-probability over the whole vocabulary) of the `top_n` likeliest tokens, likeliest first."""
    import numpy as np

    row = np.asarray(logits, dtype=np.float64)
    shifted = row - row.max()
    log_total = float(np.log(np.exp(shifted).sum()))
    top = np.argsort(-row, kind="stable")[:top_n]
    return [(int(i), float(shifted[i] - log_total)) for i in top]


class Reply:
    """The pieces of one streamed reply; `usage` holds the token counts the backend reported, once it has ended.

    `usage` follows the OpenAI shape: prompt_tokens, completion_tokens and prompt_tokens_details.cached_tokens (the
    prompt prefix the model did not have to read again). Backends that count nothing leave it empty.
    """

    def __init__(self, pieces: Iterator[str], usage: dict[str, Any] | None = None) -> None:
        self._pieces = pieces
        self.usage: dict[str, Any] = {} if usage is None else usage

    def __iter__(self) -> Reply:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


def usage_of(pieces: Iterable[str]) -> dict[str, Any]:
    """The token counts of a finished reply, {} when its backend reports none."""
    return dict(getattr(pieces, "usage", None) or {})


def complete(
    gen: Generator, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None
) -> str:
    """The whole reply of `gen` as one string."""
    return "".join(gen.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop))


# ---------------------------------------------------------------------------------------------------------------
# Loaded models: one per (kind, path, options) and process


@dataclass
class _Loaded:
    model: Any
    lock: threading.Lock  # held for the whole of one generation


_LOADED: dict[tuple, _Loaded] = {}
_LOADED_LOCK = threading.Lock()


def _load_once(key: tuple, loader: Callable[[], Any]) -> _Loaded:
    # loading under the global lock is deliberate: two threads asking for the same 1 GB model must not both load it
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _Loaded(loader(), threading.Lock())
        return _LOADED[key]


def _threads(n_threads: int) -> int:
    return n_threads if n_threads > 0 else max(os.cpu_count() or 1, 1)


def _cut_at_stop(pieces: Iterable[str], stop: list[str] | None) -> Iterator[str]:
    """Yield `pieces` up to (not including) the first stop string, holding back only what could start one."""
    stops = [s for s in stop or [] if s]
    if not stops:
        yield from pieces
        return
    hold = max(len(s) for s in stops) - 1
    buffer = ""
    for piece in pieces:
        buffer += piece
        cut = min((i for s in stops if (i := buffer.find(s)) >= 0), default=-1)
        if cut >= 0:
            if buffer[:cut]:
                yield buffer[:cut]
            return
        if len(buffer) > hold:
            ready, buffer = buffer[: len(buffer) - hold], buffer[len(buffer) - hold :]
            yield ready
    if buffer:
        yield buffer


# ---------------------------------------------------------------------------------------------------------------
# llama.cpp


def _load_cpu_backend(library: Path) -> None:
    """Register one ggml CPU variant before llama.cpp starts, instead of letting it pick by cpuid.

    A GGML_BACKEND_DL build loads no backend by itself from llama-cpp-python's directory; llama_backend_init then
    sees one registered and loads no other.
    """
    import ctypes

    import llama_cpp  # noqa: F401 - loads libllama, and with it the libggml whose registry llama.cpp reads

    ggml = ctypes.CDLL(_loaded_library("libggml.so"))
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    if not ggml.ggml_backend_load(str(library).encode()):
        raise GeneratorError(f"llama.cpp could not load the CPU backend {library}")


def _loaded_library(prefix: str) -> str:
    """The path of the mapped library named `prefix` or `prefix`.N: the very copy already loaded, since a wheel may
    hold libggml.so and libggml.so.0 as two files, and a second copy would have a registry of its own."""
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            path = line.split(maxsplit=5)[-1].strip() if line.count(" ") >= 5 else ""
            name = Path(path).name
            if name == prefix or name.startswith(prefix + "."):
                return path
    raise GeneratorError(f"{prefix} is not loaded: is llama-cpp-python installed?")


@contextmanager
def _extra_buffers(enabled: bool) -> Iterator[None]:
    """Models loaded inside have llama.cpp's extra buffer types (weight repacking, AMX) on or off.

    `Llama` takes no argument for `use_extra_bufts`; it builds its model params from llama_model_default_params,
    so that function is wrapped for the one load (model loads are serialised by `_load_once`).
    """
    if enabled:
        yield
        return
    import llama_cpp.llama_cpp as lib

    defaults = lib.llama_model_default_params

    def without_extra_buffers() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without_extra_buffers
    try:
        yield
    finally:
        lib.llama_model_default_params = defaults


def _count_evals(llm: Any) -> None:
    """Log (tokens already in the context, tokens evaluated) of every eval call on `llm` in `llm.eval_log`.

    llama-cpp-python keeps the longest prefix a new prompt shares with the context (or with a state restored from
    the prompt cache) and evaluates only the rest, in one call: the first entry of a request is its prompt.
    """
    original = llm.eval
    llm.eval_log = []

    def counting_eval(tokens: Sequence[int]) -> Any:
        llm.eval_log.append((int(llm.n_tokens), len(tokens)))
        return original(tokens)

    llm.eval = counting_eval


def _usage(eval_log: Sequence[tuple[int, int]], *, completion: bool) -> dict[str, Any]:
    """OpenAI-style token counts of one request from its eval log (see `_count_evals`)."""
    if not eval_log:
        return {}
    kept, read = eval_log[0]
    usage: dict[str, Any] = {"prompt_tokens": kept + read, "prompt_tokens_details": {"cached_tokens": kept}}
    if completion:  # one eval per generated token after the prompt, and the last token is never evaluated
        usage["completion_tokens"] = len(eval_log)
    return usage


def _token_text(llm: Any, token: int) -> str:
    return llm.detokenize([token], special=True).decode("utf-8", errors="replace")


def _prompt_cache(capacity_bytes: int, max_entries: int) -> Any:
    """A LlamaRAMCache bounded in entries that does not keep the logits copy every saved state carries.

    Llama.save_state copies up to n_batch rows of logits (512 x 151,936 floats, ~311 MB, for Qwen2.5) and the
    RAM cache counts none of it against its capacity, so a long-running server would grow by that much per
    question. load_state never needs those rows: a restored state is re-evaluated from its last token before
    sampling (llama-cpp-python 0.3.x sets `_requires_eval`), and one row broadcasts into the logits buffer.
    """
    from llama_cpp import LlamaRAMCache

    class PromptCache(LlamaRAMCache):
        def __setitem__(self, key: Any, value: Any) -> None:
            value.scores = value.scores[-1:].copy()
            super().__setitem__(key, value)
            while len(self.cache_state) > max_entries:
                self.cache_state.popitem(last=False)

    return PromptCache(capacity_bytes=capacity_bytes)


class LlamaGenerator:
    """A local GGUF chat model run by llama-cpp-python; the chat template comes from the GGUF metadata.

    llama.cpp always reuses the part of a prompt shared with the previous call. `prefix_cache` also keeps the
    states of the last `cache_entries` calls in RAM, so a prompt sharing its start with any of them (the answer
    prompt after a follow-up rewrite call, say) skips re-evaluating that prefix.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 4096,
        n_threads: int = 0,
        prefix_cache: bool = True,
        cache_entries: int = 4,
        cache_bytes: int = 512 << 20,
        plan: KernelPlan | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = _threads(n_threads)
        self.prefix_cache = prefix_cache
        self.cache_entries = cache_entries
        self.cache_bytes = cache_bytes
        self.plan = plan  # which CPU kernels to load; None: llama.cpp's own choice (unsafe on CPUs that lie)
        self.name = f"llama:{self.model_path.name}"
        self._chat_formatter: Any = None

    def _load(self) -> Any:
        if not self.model_path.is_file():
            raise GeneratorError(
                f"model file {self.model_path} not found; run `newsqa models pull` to provision "
                "the default model, or set generator.model_path to a GGUF file"
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise GeneratorError(
                f"the llama backend needs llama-cpp-python: pip install llama-cpp-python ({exc})"
            ) from exc
        try:
            if self.plan is not None and self.plan.library:
                _load_cpu_backend(Path(self.plan.library))
            with _extra_buffers(self.plan is None or self.plan.extra_buffers):
                llm = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise GeneratorError(f"cannot load {self.model_path}: {exc}") from exc
        if self.prefix_cache:
            llm.set_cache(_prompt_cache(self.cache_bytes, self.cache_entries))
        _count_evals(llm)
        return llm

    def loaded(self) -> _Loaded:
        return _load_once(
            ("llama", str(self.model_path.resolve()), self.n_ctx, self.n_threads, self.prefix_cache), self._load
        )

    def stream(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None
    ) -> Reply:
        loaded = self.loaded()  # load (or fail) now, not on the first next()
        usage: dict[str, Any] = {}
        return Reply(self._stream(loaded, messages, max_tokens, temperature, stop, usage), usage)

    def choose(self, messages: Messages, options: Sequence[str]) -> dict[str, float]:
        """Probability of each option's first token as the first token of the reply (one forward pass)."""
        loaded = self.loaded()
        llm = loaded.model
        with loaded.lock:
            logits = self._first_logits(llm, messages)
            ids = {o: llm.tokenize(o.encode("utf-8"), add_bos=False, special=False)[0] for o in options}
            return _softmax_pick(logits, ids)

    def first_token_logprobs(self, messages: Messages, top_n: int) -> tuple[list[tuple[str, float]], dict[str, Any]]:
        """The `top_n` likeliest first tokens of the reply with their log-probabilities (one forward pass), and
        the token counts of the prompt."""
        loaded = self.loaded()
        llm = loaded.model
        with loaded.lock:
            del llm.eval_log[:]
            logits = self._first_logits(llm, messages)
            top = [(_token_text(llm, i), lp) for i, lp in _top_logprobs(logits, top_n)]
            return top, _usage(llm.eval_log, completion=False)

    def _first_logits(self, llm: Any, messages: Messages) -> Any:
        """The logits of the reply's first token.

        Only the part of the prompt not shared with the model's current state is evaluated, and the state is
        left holding this prompt: an answer prompt that shares its start (sources and question) then reuses it.
        """
        import numpy as np
        from llama_cpp import Llama

        prompt = self._formatter(llm)(messages=messages).prompt
        tokens = llm.tokenize(prompt.encode("utf-8"), special=True)
        if len(tokens) >= llm.n_ctx():
            raise GeneratorError(f"{self.name}: prompt of {len(tokens)} tokens does not fit in n_ctx")
        shared = min(Llama.longest_token_prefix(llm._input_ids.tolist(), tokens), len(tokens) - 1)
        llm.n_tokens = shared  # eval() drops the cached state past this point
        llm.eval(tokens[shared:])
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()

    def warm_up(self, text: str, gen_tokens: int = 16) -> dict[str, float]:
        """Read `text` and generate a few tokens greedily: the first question then finds the model paged in and
        its kernels ready, and the timings are this machine's prompt-reading and generation speeds."""
        import numpy as np

        loaded = self.loaded()
        llm = loaded.model
        with loaded.lock:
            tokens = llm.tokenize(text.encode("utf-8"), special=False)
            llm.reset()
            start = time.perf_counter()
            llm.eval(tokens)
            read = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(gen_tokens):
                logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
                llm.eval([int(np.argmax(logits))])
            written = time.perf_counter() - start
            llm.reset()
        return {
            "prompt_tokens": len(tokens),
            "prompt_tps": round(len(tokens) / read, 2),
            "gen_tokens": gen_tokens,
            "gen_tps": round(gen_tokens / written, 2),
        }

    def _formatter(self, llm: Any) -> Any:
        """The GGUF's own chat template, compiled once per generator (choose is called for every question)."""
        if self._chat_formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise GeneratorError(f"{self.name}: the GGUF has no chat template")
            eos, bos = llm.token_eos(), llm.token_bos()
            self._chat_formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
                bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
            )
        return self._chat_formatter

    def _stream(
        self,
        loaded: _Loaded,
        messages: Messages,
        max_tokens: int,
        temperature: float,
        stop: list[str] | None,
        usage: dict[str, Any],
    ) -> Iterator[str]:
        with loaded.lock:
            eval_log = getattr(loaded.model, "eval_log", None)
            if eval_log is not None:
                del eval_log[:]
            try:
                chunks = loaded.model.create_chat_completion(
                    messages=messages, stream=True, max_tokens=max_tokens, temperature=temperature, stop=stop or None
                )
                for chunk in chunks:
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        yield text
            except ValueError as exc:  # e.g. the prompt does not fit in n_ctx
                raise GeneratorError(f"{self.name}: {exc}") from exc
            if eval_log:
                usage.update(_usage(eval_log, completion=True))


# ---------------------------------------------------------------------------------------------------------------
# transformers


class TransformersGenerator:
    """A local transformers causal LM directory, streamed with TextIteratorStreamer from a generation thread."""

    def __init__(self, model_path: Path, *, n_threads: int = 0) -> None:
        self.model_path = Path(model_path)
        self.n_threads = n_threads
        self.name = f"transformers:{self.model_path.name}"

    def _load(self) -> Any:
        if not self.model_path.is_dir():
            raise GeneratorError(
                f"transformers model directory {self.model_path} not found; set "
                "generator.model_path to a local model directory (models are never downloaded)"
            )
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise GeneratorError(f"the transformers backend needs transformers and torch ({exc})") from exc
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(self.model_path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise GeneratorError(f"cannot load transformers model from {self.model_path}: {exc}") from exc
        if tokenizer.chat_template is None:
            raise GeneratorError(f"{self.model_path}: the tokenizer has no chat template; use an instruct model")
        model.eval()
        return tokenizer, model

    def loaded(self) -> _Loaded:
        return _load_once(("transformers", str(self.model_path.resolve())), self._load)

    def stream(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None
    ) -> Iterator[str]:
        loaded = self.loaded()
        return _cut_at_stop(self._stream(loaded, messages, max_tokens, temperature), stop)

    def choose(self, messages: Messages, options: Sequence[str]) -> dict[str, float]:
        """Probability of each option's first token as the first token of the reply (one forward pass)."""
        tokenizer, _ = self.loaded().model
        ids = {o: tokenizer.encode(o, add_special_tokens=False)[0] for o in options}
        return _softmax_pick(self._first_logits(messages), ids)

    def first_token_logprobs(self, messages: Messages, top_n: int) -> tuple[list[tuple[str, float]], dict[str, Any]]:
        """The `top_n` likeliest first tokens of the reply with their log-probabilities (one forward pass)."""
        tokenizer, _ = self.loaded().model
        top = [(tokenizer.decode([i]), lp) for i, lp in _top_logprobs(self._first_logits(messages), top_n)]
        return top, {}

    def _first_logits(self, messages: Messages) -> Any:
        import torch

        loaded = self.loaded()
        tokenizer, model = loaded.model
        with loaded.lock, torch.inference_mode():
            inputs = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            return model(**inputs).logits[0, -1].float().numpy()

    def warm_up(self, text: str, gen_tokens: int = 8) -> dict[str, float]:
        """Load the model and time one short reply, so the first question does not pay for either."""
        start = time.perf_counter()
        reply = "".join(self.stream([{"role": "user", "content": text}], max_tokens=gen_tokens))
        return {"seconds": round(time.perf_counter() - start, 2), "chars": len(reply)}

    def _stream(self, loaded: _Loaded, messages: Messages, max_tokens: int, temperature: float) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        tokenizer, model = loaded.model
        halt = threading.Event()  # set when the consumer stops reading, so generation does not run on

        class _Halt(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return halt.is_set()

        with loaded.lock:
            if self.n_threads > 0:
                torch.set_num_threads(self.n_threads)
            inputs = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
            options: dict[str, Any] = {
                "max_new_tokens": max_tokens,
                "streamer": streamer,
                "stopping_criteria": StoppingCriteriaList([_Halt()]),
                "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id,
            }
            if temperature > 0:
                options.update(do_sample=True, temperature=temperature)
            else:
                options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            failure: list[BaseException] = []

            def run() -> None:
                try:
                    with torch.inference_mode():
                        model.generate(**inputs, **options)
                except BaseException as exc:  # reported to the consumer below
                    failure.append(exc)
                    streamer.end()

            worker = threading.Thread(target=run, name="newsqa-generate", daemon=True)
            worker.start()
            try:
                for text in streamer:
                    if text:
                        yield text
            finally:
                halt.set()
                worker.join()
            if failure:
                raise GeneratorError(f"{self.name}: generation failed: {failure[0]}") from failure[0]


# ---------------------------------------------------------------------------------------------------------------
# OpenAI-compatible HTTP


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
        with self._client_lock:
            if self._client is None:
                import httpx

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
        return Reply(_cut_at_stop(self._request(body, headers, usage=usage), stop), usage)

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
        import math

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

    def _request(
        self, body: dict[str, Any], headers: dict[str, str], raw: bool = False, usage: dict[str, Any] | None = None
    ) -> Iterator[str]:
        import httpx

        usage = {} if usage is None else usage
        try:
            with self._http().stream("POST", self.url, json=body, headers=headers) as response:
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
        except httpx.TimeoutException as exc:
            raise GeneratorError(f"{self.url}: no answer within {self.timeout_s:g} s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise GeneratorError(f"cannot reach {self.url}: {exc}") from exc


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


# ---------------------------------------------------------------------------------------------------------------
# factory


def _worker_generator(settings: GeneratorSettings, engine: str, model: Path, run_dir: Path, name: str) -> Generator:
    from assistant.kernels import BUILTIN, KernelPlan, cpu_variants, llama_lib_dir
    from assistant.worker import ModelWorker, WorkerGenerator, WorkerSpec

    plan = None
    if engine == "llama" and settings.cpu_variant != "auto":
        library = ""
        if settings.cpu_variant != BUILTIN:
            found = cpu_variants(llama_lib_dir())
            if settings.cpu_variant not in found:
                known = ", ".join(["auto", BUILTIN, *found])
                raise GeneratorError(f"generator.cpu_variant {settings.cpu_variant!r} is not in this build ({known})")
            library = str(found[settings.cpu_variant])
        plan = KernelPlan(settings.cpu_variant, library, settings.extra_buffers)
    spec = WorkerSpec(engine, str(model), n_ctx=settings.n_ctx, threads=settings.n_threads, plan=plan)
    worker = ModelWorker(
        spec,
        log_path=run_dir / "model-server.log",
        choice_path=run_dir / "kernels.json",
        start_timeout_s=settings.start_timeout_s,
    )
    return WorkerGenerator(worker, name, timeout_s=settings.timeout_s)


def _make_llama(settings: GeneratorSettings, models_dir: Path, run_dir: Path) -> Generator:
    path = Path(settings.model_path).expanduser() if settings.model_path else Path(models_dir) / DEFAULT_GGUF
    return _worker_generator(settings, "llama", path, run_dir, f"llama:{path.name}")


def _make_transformers(settings: GeneratorSettings, models_dir: Path, run_dir: Path) -> Generator:
    if not settings.model_path:
        raise GeneratorError("the transformers backend needs generator.model_path: a local model directory")
    path = Path(settings.model_path).expanduser()
    return _worker_generator(settings, "transformers", path, run_dir, f"transformers:{path.name}")


def _make_openai(settings: GeneratorSettings, models_dir: Path, run_dir: Path) -> Generator:
    if not settings.base_url:
        raise GeneratorError("the openai backend needs generator.base_url, e.g. http://127.0.0.1:8000/v1")
    return OpenAIGenerator(settings.base_url, settings.api_model, timeout_s=settings.timeout_s)


BACKENDS: dict[str, Callable[[GeneratorSettings, Path, Path], Generator]] = {
    "llama": _make_llama,
    "transformers": _make_transformers,
    "openai": _make_openai,
}


def make_generator(settings: GeneratorSettings, models_dir: Path, run_dir: Path | None = None) -> Generator:
    """The generator `settings.backend` names; cheap, a local model starts in its own process on first use.

    Local models (llama, transformers) run in a model server child process whose log and kernel choice are kept in
    `run_dir` (default: beside `models_dir`). "extractive" is not a Generator: it needs the question and passages,
    not a prompt; use ExtractiveAnswerer.
    """
    try:
        make = BACKENDS[settings.backend]
    except KeyError:
        hint = (
            " (the extractive backend is ExtractiveAnswerer, not a Generator)"
            if settings.backend == "extractive"
            else ""
        )
        raise GeneratorError(
            f"unknown generator.backend {settings.backend!r}; known: {', '.join(sorted(BACKENDS))}{hint}"
        ) from None
    return make(settings, models_dir, Path(run_dir) if run_dir else Path(models_dir).parent / "run")


# ---------------------------------------------------------------------------------------------------------------
# extractive (no LLM)

_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")
_ENDINGS = "。！？!?；;"
_BYLINE = re.compile(r"^\s*本报讯\s*[（(][^）)]{0,30}[）)]\s*")
# question words carry no content; they are cut out before comparing (longest first)
_QUESTION_WORDS = (
    "什么时候",
    "什么时间",
    "哪一年",
    "哪一天",
    "为什么",
    "怎么样",
    "多少",
    "什么",
    "哪些",
    "哪里",
    "哪儿",
    "哪天",
    "哪年",
    "哪个",
    "何时",
    "怎么",
    "如何",
    "是否",
    "是不是",
    "有没有",
    "请问",
    "吗",
    "呢",
    "几",
)
_WANTS_NUMBER = re.compile(
    r"多少|几|什么时候|什么时间|哪天|哪年|哪一年|哪一天|何时|多久|多长|多大|多高|多远|日期|时间|"
    r"数量|金额|比例|第几"
)
_NUMBER = re.compile(
    r"[0-9０-９]|[一二两三四五六七八九十百千万亿]+[年月日号个项家名人户元吨亿万%％]|"
    r"今年|明年|去年|昨天|今天"
)
_NOT_TEXT = re.compile(r"[\W_]+")


def _bigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for segment in _NOT_TEXT.split(text):
        grams.update(segment[i : i + 2] for i in range(len(segment) - 1))
    return grams


@dataclass(frozen=True)
class ScoredSentence:
    """A passage sentence and how well it matches the question."""

    score: float
    passage: int  # 1-based
    sentence: str


class ExtractiveAnswerer:
    """Answers by quoting the passage sentences that share the most character bigrams with the question.

    No model: useful as an offline fallback and as a baseline. Each quoted sentence carries its passage's
    citation marker [n], put before the sentence's final punctuation so sentence splitting keeps them together.
    """

    name = "extractive"

    def __init__(
        self, *, max_sentences: int = 3, min_overlap: float = 0.3, min_shared: int = 2, number_bonus: float = 0.25
    ) -> None:
        self.max_sentences = max_sentences
        self.min_overlap = min_overlap  # share of the question's bigrams a sentence must contain
        self.min_shared = min_shared
        self.number_bonus = number_bonus

    def answer(self, question: str, passages: list[str]) -> str:
        """Up to `max_sentences` best sentences, each with its marker; "" when no sentence overlaps enough."""
        chosen = self.rank(question, passages)[: self.max_sentences]
        return "".join(self._cite(s.sentence, s.passage) for s in chosen)

    def rank(self, question: str, passages: list[str]) -> list[ScoredSentence]:
        """Sentences that pass the thresholds, best first (ties: earlier passage, earlier sentence)."""
        content = question
        for word in _QUESTION_WORDS:
            content = content.replace(word, " ")
        wanted = _bigrams(content)
        if not wanted:
            return []
        wants_number = bool(_WANTS_NUMBER.search(question))
        scored: list[ScoredSentence] = []
        seen: set[str] = set()
        for n, passage in enumerate(passages, start=1):
            for match in _SENTENCE.finditer(passage):
                sentence = _BYLINE.sub("", match.group()).strip()
                key = _NOT_TEXT.sub("", sentence)
                if len(key) < 4 or key in seen:
                    continue
                seen.add(key)
                shared = len(wanted & _bigrams(sentence))
                overlap = shared / len(wanted)
                if shared < self.min_shared or overlap < self.min_overlap:
                    continue
                bonus = self.number_bonus if wants_number and _NUMBER.search(sentence) else 0.0
                scored.append(ScoredSentence(overlap + bonus, n, sentence))
        scored.sort(key=lambda s: -s.score)  # stable: keeps passage and sentence order among equals
        if not scored:
            return []
        # weaker sentences only pad the answer; keep those close to the best
        return [s for s in scored if s.score >= 0.6 * scored[0].score]

    @staticmethod
    def _cite(sentence: str, n: int) -> str:
        body = sentence.rstrip(_ENDINGS + " ")
        end = sentence[len(body) :].strip()[-1:] if sentence[len(body) :].strip() else ""
        if end not in ("。", "！", "？", "!", "?"):
            end = "。"
        return f"{body}[{n}]{end}"
