"""A local GGUF chat model run by llama-cpp-python, with the CPU kernels the model server was told to load.

It runs inside the model server child process (assistant/model_server.py), where a crash in native code ends
only that process. llama_cpp is imported where it is used: importing it loads the native libraries, which only
the model server should do, and only once its CPU variant is registered.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from assistant.generation import (
    GeneratorError,
    Loaded,
    Messages,
    Reply,
    default_threads,
    load_once,
    softmax_pick,
    top_logprobs,
)
from assistant.kernels import KernelPlan


def _load_cpu_backend(library: Path) -> None:
    """Register one ggml CPU variant before llama.cpp starts, instead of letting it pick by cpuid.

    A GGML_BACKEND_DL build loads no backend by itself from llama-cpp-python's directory; llama_backend_init then
    sees one registered and loads no other.
    """
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
    so that function is wrapped for the one load (model loads are serialised by `load_once`).
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
    """Log (tokens already in the context, tokens evaluated, seconds it took) of every eval call on `llm` in
    `llm.eval_log`.

    llama-cpp-python keeps the longest prefix a new prompt shares with the context (or with a state restored from
    the prompt cache) and evaluates only the rest, in one call: the first entry of a request is its prompt, and
    each later one a token it wrote.
    """
    original = llm.eval
    llm.eval_log = []

    def counting_eval(tokens: Sequence[int]) -> Any:
        kept, start = int(llm.n_tokens), time.perf_counter()
        try:
            return original(tokens)
        finally:
            llm.eval_log.append((kept, len(tokens), time.perf_counter() - start))

    llm.eval = counting_eval


def _usage(eval_log: Sequence[tuple[int, int, float]], *, completion: bool) -> dict[str, Any]:
    """OpenAI-style token counts of one request from its eval log (see `_count_evals`), and how long the model
    took to read the prompt and to write: times on a shared machine are compared at the speeds of their own run."""
    if not eval_log:
        return {}
    kept, read, read_s = eval_log[0]
    usage: dict[str, Any] = {"prompt_tokens": kept + read, "prompt_tokens_details": {"cached_tokens": kept}}
    if completion:  # one eval per generated token after the prompt, and the last token is never evaluated
        usage["completion_tokens"] = len(eval_log)
    written = eval_log[1:]
    usage["timings"] = {
        "read_ms": round(read_s * 1000, 1),
        "writes": len(written),
        "write_ms": round(sum(seconds for _, _, seconds in written) * 1000, 1),
    }
    return usage


def _lean_states(llm: Any) -> None:
    """Save and restore prompt-cache states without llama-cpp-python's copies of its logits rows.

    Without logits_all those rows are never written (sampling reads llama.cpp's own logits), yet Llama.save_state
    copies all of them, up to n_batch x n_vocab floats (311 MB for Qwen2.5), after every completion, and
    load_state writes them back and scans the rest before a restored prompt is read: tenths of a second of
    copying on the way to each answer (docs/BENCHMARKS.md). What a state is for is llama.cpp's own (the KV cache).
    """
    import llama_cpp
    from llama_cpp import LlamaState

    def save_state() -> Any:
        ctx = llm._ctx.ctx
        size = int(llama_cpp.llama_state_get_size(ctx))
        buffer = (ctypes.c_uint8 * size)()
        n_bytes = int(llama_cpp.llama_state_get_data(ctx, buffer, size))
        if n_bytes > size:
            raise RuntimeError("Failed to copy llama state data")
        return LlamaState(
            scores=np.zeros((1, llm.n_vocab()), dtype=np.single),
            input_ids=llm.input_ids[: llm.n_tokens].copy(),
            n_tokens=llm.n_tokens,
            llama_state=bytes(memoryview(buffer)[:n_bytes]),
            llama_state_size=n_bytes,
            seed=llm._seed,
        )

    def load_state(state: Any) -> None:
        data = (ctypes.c_uint8 * state.llama_state_size).from_buffer_copy(state.llama_state)
        if llama_cpp.llama_state_set_data(llm._ctx.ctx, data, state.llama_state_size) != state.llama_state_size:
            raise RuntimeError("Failed to set llama state data")
        llm.input_ids[: state.n_tokens] = state.input_ids[: state.n_tokens]
        llm.n_tokens = state.n_tokens
        llm._requires_eval = True  # the next token is sampled only after a fresh decode, as load_state has it
        llm._seed = state.seed

    llm.save_state, llm.load_state = save_state, load_state


def _token_text(llm: Any, token: int) -> str:
    return llm.detokenize([token], special=True).decode("utf-8", errors="replace")


def _prompt_cache(capacity_bytes: int, max_entries: int, ahead_entries: int = 0) -> Any:
    """A LlamaRAMCache bounded in entries that does not keep the logits copy every saved state carries, with a
    second pool of `ahead_entries` states read ahead (`LlamaGenerator.read_ahead`) that questions do not push out.

    Llama.save_state copies up to n_batch rows of logits (512 x 151,936 floats, ~311 MB, for Qwen2.5) and the
    RAM cache counts none of it against its capacity, so a long-running server would grow by that much per
    question. load_state never needs those rows: a restored state is re-evaluated from its last token before
    sampling (llama-cpp-python 0.3.x sets `_requires_eval`), and one row broadcasts into the logits buffer.
    """
    from collections import OrderedDict

    from llama_cpp import Llama, LlamaRAMCache

    class PromptCache(LlamaRAMCache):
        def __init__(self) -> None:
            super().__init__(capacity_bytes=capacity_bytes)
            self.ahead: OrderedDict[tuple[int, ...], Any] = OrderedDict()

        def __setitem__(self, key: Any, value: Any) -> None:
            value.scores = value.scores[-1:].copy()
            super().__setitem__(key, value)
            while len(self.cache_state) > max_entries:
                self.cache_state.popitem(last=False)

        def keep_ahead(self, key: Sequence[int], value: Any) -> None:
            """Keep a state read ahead, dropping the oldest read ahead beyond `ahead_entries`."""
            if ahead_entries <= 0:
                return
            value.scores = value.scores[-1:].copy()
            self.ahead.pop(tuple(key), None)
            self.ahead[tuple(key)] = value
            while len(self.ahead) > ahead_entries:
                self.ahead.popitem(last=False)

        def _longest(self, key: tuple[int, ...]) -> tuple[OrderedDict, tuple[int, ...]] | None:
            """(pool, key) of the state that shares the longest start with `key`; the questions' pool on a tie."""
            best, found = 0, None
            for pool in (self.cache_state, self.ahead):
                for k in pool:
                    shared = Llama.longest_token_prefix(k, key)
                    if shared > best:
                        best, found = shared, (pool, k)
            return found

        def _find_longest_prefix_key(self, key: tuple[int, ...]) -> tuple[int, ...] | None:
            found = self._longest(key)
            return found[1] if found else None

        def __getitem__(self, key: Sequence[int]) -> Any:
            found = self._longest(tuple(key))
            if found is None:
                raise KeyError("Key not found")
            pool, k = found
            pool.move_to_end(k)
            return pool[k]

    return PromptCache()


def _restore_longest_prefix(llm: Any, tokens: Sequence[int]) -> None:
    """Load the prompt cache's state that shares the longest start with `tokens`, when it shares more than the
    model's current state does: what llama-cpp-python does before a completion, done for a judgement too. A
    question about passages an earlier one read (not only the one just before) then skips reading them again."""
    from llama_cpp import Llama

    if not llm.cache:
        return
    try:
        state = llm.cache[tokens]
    except KeyError:
        return
    current = Llama.longest_token_prefix(llm._input_ids.tolist(), tokens)
    if Llama.longest_token_prefix(state.input_ids[: state.n_tokens].tolist(), tokens) > current:
        llm.load_state(state)


class LlamaGenerator:
    """A local GGUF chat model run by llama-cpp-python; the chat template comes from the GGUF metadata.

    llama.cpp always reuses the part of a prompt shared with the previous call. `prefix_cache` also keeps the
    states of the last `cache_entries` calls in RAM, so a prompt sharing its start with any of them (the answer
    prompt after a follow-up rewrite call, a question about passages read for an earlier one) skips re-evaluating
    that prefix. A state is ~28 KB per token for Qwen2.5-1.5B (~23 MB for an 800-token answer), so 16 of them
    take ~370 MB, within `cache_bytes`.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 4096,
        n_threads: int = 0,
        prefix_cache: bool = True,
        cache_entries: int = 16,
        cache_bytes: int = 512 << 20,
        ahead_entries: int = 0,
        plan: KernelPlan | None = None,
        flash_attn: bool = False,
    ) -> None:
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = default_threads(n_threads)
        self.prefix_cache = prefix_cache
        self.cache_entries = cache_entries
        self.cache_bytes = cache_bytes
        self.ahead_entries = ahead_entries
        self.plan = plan  # which CPU kernels to load; None: llama.cpp's own choice (unsafe on CPUs that lie)
        self.flash_attn = flash_attn
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
                llm = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    flash_attn=self.flash_attn,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise GeneratorError(f"cannot load {self.model_path}: {exc}") from exc
        if self.prefix_cache:
            llm.set_cache(_prompt_cache(self.cache_bytes, self.cache_entries, self.ahead_entries))
            _lean_states(llm)
        _count_evals(llm)
        return llm

    def loaded(self) -> Loaded:
        return load_once(
            ("llama", str(self.model_path.resolve()), self.n_ctx, self.n_threads, self.prefix_cache, self.flash_attn),
            self._load,
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
            return softmax_pick(logits, ids)

    def first_token_logprobs(self, messages: Messages, top_n: int) -> tuple[list[tuple[str, float]], dict[str, Any]]:
        """The `top_n` likeliest first tokens of the reply with their log-probabilities (one forward pass), and
        the token counts of the prompt."""
        loaded = self.loaded()
        llm = loaded.model
        with loaded.lock:
            del llm.eval_log[:]
            logits = self._first_logits(llm, messages)
            top = [(_token_text(llm, i), lp) for i, lp in top_logprobs(logits, top_n)]
            return top, _usage(llm.eval_log, completion=False)

    def read_ahead(self, messages: Messages) -> dict[str, Any]:
        """Read the prompt of `messages` now and keep its state among the `ahead_entries` read ahead: a later prompt
        that starts the same way (a passage read ahead for the questions about it) reads only the rest. Returns
        the prompt's token counts; nothing is read without a prompt cache to keep the state in."""
        loaded = self.loaded()
        llm = loaded.model
        if not llm.cache or self.ahead_entries <= 0:
            return {}
        with loaded.lock:
            del llm.eval_log[:]
            tokens = self._read_prompt(llm, messages)
            llm.cache.keep_ahead(tokens, llm.save_state())
            return _usage(llm.eval_log, completion=False)

    def _first_logits(self, llm: Any, messages: Messages) -> Any:
        """The logits of the reply's first token.

        Only the part of the prompt not shared with the model's current state is evaluated, and the state is
        left holding this prompt: an answer prompt that shares its start (sources and question) then reuses it.
        """
        self._read_prompt(llm, messages)
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()

    def _read_prompt(self, llm: Any, messages: Messages) -> list[int]:
        """Bring the model's state to the prompt of `messages`, from the cached state that shares its longest start
        (or the current one); the prompt's tokens."""
        from llama_cpp import Llama

        prompt = self._formatter(llm)(messages=messages).prompt
        tokens = llm.tokenize(prompt.encode("utf-8"), special=True)
        if len(tokens) >= llm.n_ctx():
            raise GeneratorError(f"{self.name}: prompt of {len(tokens)} tokens does not fit in n_ctx")
        _restore_longest_prefix(llm, tokens)
        shared = min(Llama.longest_token_prefix(llm._input_ids.tolist(), tokens), len(tokens) - 1)
        self._read(llm, prompt, tokens, shared)
        return tokens

    def _read(self, llm: Any, prompt: str, tokens: Sequence[int], shared: int) -> None:
        """Evaluate `tokens` (the formatted `prompt`) past the `shared` ones the model's state already holds."""
        llm.n_tokens = shared  # eval() drops the cached state past this point
        llm.eval(tokens[shared:])

    def warm_up(self, text: str, gen_tokens: int = 16) -> dict[str, float]:
        """Read `text` and generate a few tokens greedily: the first question then finds the model paged in and
        its kernels ready, and the timings are this machine's prompt-reading and generation speeds."""
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
        loaded: Loaded,
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
