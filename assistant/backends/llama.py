"""A local GGUF chat model run by llama-cpp-python, with the CPU kernels the model server was told to load.

It runs inside the model server child process (assistant/model_server.py), where a crash in native code ends
only that process. llama_cpp is imported where it is used: importing it loads the native libraries, which only
the model server should do, and only once its CPU variant is registered.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
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
from core.files import write_atomic

log = logging.getLogger(__name__)


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
    llm.eval_carry = None  # a prompt's start read in a call of its own (its system message), counted with the rest

    def counting_eval(tokens: Sequence[int]) -> Any:
        kept, start = int(llm.n_tokens), time.perf_counter()
        try:
            return original(tokens)
        finally:
            read, seconds = len(tokens), time.perf_counter() - start
            if llm.eval_carry is not None:
                carried, carried_s = llm.eval_carry
                kept, read, seconds, llm.eval_carry = kept - carried, read + carried, seconds + carried_s, None
            llm.eval_log.append((kept, read, seconds))

    llm.eval = counting_eval


def _join_evals(llm: Any, first: int) -> None:
    """Count the eval calls logged from index `first` on as one (see `_count_evals`): a prompt read in batches."""
    log_ = getattr(llm, "eval_log", None)
    if log_ is None or len(log_) - first < 2:
        return
    batches = log_[first:]
    del log_[first:]
    log_.append((batches[0][0], sum(b[1] for b in batches), sum(b[2] for b in batches)))


def _new_request(llm: Any) -> None:
    """Start the eval log of a request afresh (see `_count_evals`)."""
    if hasattr(llm, "eval_log"):
        del llm.eval_log[:]
        llm.eval_carry = None


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


# a system message shorter than this is read again rather than kept on disk
_MIN_LEAD_TOKENS = 64


# where a state read ahead is kept (LlamaGenerator.read_ahead): apart from the questions', among them, or nowhere
READ_AHEAD_KEEPS = ("ahead", "recent", "none")
# a prompt read ahead is read in batches of this many tokens, so that a question arriving meanwhile waits for one
# batch, not the whole prompt; batches of 128 read 512 tokens 0-10% slower than one batch, of 64 17-25% slower
# (docs/BENCHMARKS.md, "A read ahead stops for a question between two batches")
READ_AHEAD_BATCH = 128


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

        def holds(self, prefix: Sequence[int]) -> bool:
            """Does a kept state start with all of `prefix`? A look only: which states are kept does not change."""
            found = self._longest(tuple(prefix))
            return found is not None and Llama.longest_token_prefix(found[1], prefix) >= len(prefix)

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


class PromptStarts:
    """States of prompt starts kept on disk, so that a system message is read once per machine, not once per process.

    Every answer and judgement prompt starts with the same rules (~285 tokens with Qwen2.5's template). A model
    server reads them for its first question, and `newsqa ask` starts a model server for every question: ~2 s on
    a 2-core Zen 4, 5-8 s at the 36-54 tokens/s AVX2 machines read. Their state (~8 MB) is kept in `directory`
    under a key of its tokens and of everything that shapes the arithmetic (`context`: model file, llama.cpp
    build, kernels, threads, context size, flash attention). Loaded, it gives the logits the rules read again
    in a batch of their own give, bit for bit. Read with the rest of a prompt in one batch, they round the same
    with the zen4 kernels and a little differently with the haswell ones (docs/BENCHMARKS.md). A file that cannot
    be read, or whose bytes do not match their checksum, is removed and the rules are read again: llama.cpp would
    load damaged bytes as they are, and a model server that crashed on them would crash again on every restart.
    """

    MAGIC = b"newsqa prompt state 2\n"
    SUFFIX = ".state"

    def __init__(self, directory: Path, context: str, *, keep: int = 4) -> None:
        self.directory = Path(directory)
        self.context = context
        self.keep = keep

    def path(self, tokens: Sequence[int]) -> Path:
        digest = hashlib.sha256(f"{self.context}\n{list(tokens)}".encode()).hexdigest()[:32]
        return self.directory / f"{digest}{self.SUFFIX}"

    def load(self, tokens: Sequence[int], n_vocab: int) -> Any | None:
        """The state saved for exactly `tokens`, or None."""
        from llama_cpp import LlamaState

        path = self.path(tokens)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read the prompt state %s: %s", path, exc)
            return None
        try:
            if not data.startswith(self.MAGIC):
                raise ValueError("not a prompt state file")
            line_end = data.index(b"\n", len(self.MAGIC))
            header = json.loads(data[len(self.MAGIC) : line_end])
            body = data[line_end + 1 :]
            if header["tokens"] != list(tokens) or header["size"] != len(body):
                raise ValueError("its tokens or size do not match")
            if header["sha256"] != hashlib.sha256(body).hexdigest():  # llama.cpp would take damaged bytes as they are
                raise ValueError("its bytes do not match their checksum")
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("dropping the prompt state %s: %s", path, exc)
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # the newest used are kept
        return LlamaState(
            input_ids=np.array(tokens, dtype=np.intc),
            scores=np.zeros((1, n_vocab), dtype=np.single),
            n_tokens=len(tokens),
            llama_state=body,
            llama_state_size=len(body),
            seed=int(header.get("seed", 0)),
        )

    def save(self, tokens: Sequence[int], state: Any) -> None:
        """Keep `state`, the model's after reading exactly `tokens`; a failure only costs the next process the read."""
        body = bytes(state.llama_state)
        header = {
            "tokens": list(tokens),
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "seed": int(state.seed),
        }
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path(tokens), self.MAGIC + json.dumps(header).encode() + b"\n" + body)
            self._prune()
        except OSError as exc:
            log.warning("cannot keep the prompt state in %s: %s", self.directory, exc)

    def _prune(self) -> None:
        files = sorted(self.files(self.directory), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in files[self.keep :]:
            stale.unlink(missing_ok=True)

    @classmethod
    def files(cls, directory: Path) -> list[Path]:
        """The state files kept in `directory`."""
        return list(Path(directory).glob(f"*{cls.SUFFIX}"))


def _stamp(path: Path | None) -> list[int] | None:
    """Size and modification time of a file that a state depends on; None where there is none."""
    if path is None or not path.is_file():
        return None
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _build_context(model_path: Path, plan: KernelPlan | None, n_ctx: int, n_threads: int, flash_attn: bool) -> str:
    """What a prompt state read by this model server depends on besides its tokens: a rebuilt llama.cpp, another
    model file or other kernels make their own states."""
    import llama_cpp

    library = Path(plan.library) if plan is not None and plan.library else None
    return json.dumps(
        {
            "model": [str(model_path.resolve()), _stamp(model_path)],
            "llama_cpp": [llama_cpp.__version__, _stamp(Path(llama_cpp.__file__).parent / "lib" / "libllama.so")],
            "kernels": [plan.variant, plan.extra_buffers, str(library or ""), _stamp(library)] if plan else None,
            "n_ctx": n_ctx,
            "threads": n_threads,
            "flash_attn": flash_attn,
        }
    )


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
        state_dir: Path | None = None,
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
        self.state_dir = state_dir  # where the states of system messages are kept (PromptStarts); None: nowhere
        self._starts: PromptStarts | None = None
        self._chat_formatter: Any = None
        self._leads: dict[str, list[int]] = {}

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
            if self.state_dir is not None:
                context = _build_context(self.model_path, self.plan, self.n_ctx, self.n_threads, self.flash_attn)
                self._starts = PromptStarts(self.state_dir, context)
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
            _new_request(llm)
            logits = self._first_logits(llm, messages)
            top = [(_token_text(llm, i), lp) for i, lp in top_logprobs(logits, top_n)]
            return top, _usage(llm.eval_log, completion=False)

    def read_ahead(
        self, messages: Messages, keep: str = "ahead", *, yield_to: Callable[[], bool] | None = None
    ) -> dict[str, Any]:
        """Read the prompt of `messages` now and keep its state among the `ahead_entries` read ahead: a later prompt
        that starts the same way (a passage read ahead for the questions about it) reads only the rest. With
        `keep` "recent" the state joins the recent questions' instead (a question being typed, asked soon or
        never); with "none" it is only the model's current state (a step towards a longer prompt to read). Returns
        the prompt's token counts; nothing is read without a prompt cache to keep the state in.

        With `yield_to`, the prompt is read READ_AHEAD_BATCH tokens at a time and the read stops between two
        batches once `yield_to()` is true (a question waits): nothing is kept, the counts say `"stopped": True`,
        and the model's state holds what was read, which a question starting the same way reads no more."""
        if keep not in READ_AHEAD_KEEPS:
            raise ValueError(f"keep: expected one of {', '.join(READ_AHEAD_KEEPS)}, got {keep!r}")
        loaded = self.loaded()
        llm = loaded.model
        if not llm.cache or (keep == "ahead" and self.ahead_entries <= 0):
            return {}
        with loaded.lock:
            _new_request(llm)
            tokens = self._read_prompt(llm, messages, yield_to=yield_to)
            if tokens is None:
                return {**_usage(llm.eval_log, completion=False), "stopped": True}
            if keep == "ahead":
                llm.cache.keep_ahead(tokens, llm.save_state())
            elif keep == "recent":
                llm.cache[tokens] = llm.save_state()
            return _usage(llm.eval_log, completion=False)

    def _first_logits(self, llm: Any, messages: Messages) -> Any:
        """The logits of the reply's first token.

        Only the part of the prompt not shared with the model's current state is evaluated, and the state is
        left holding this prompt: an answer prompt that shares its start (sources and question) then reuses it.
        """
        self._read_prompt(llm, messages)
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()

    def _read_prompt(
        self, llm: Any, messages: Messages, *, yield_to: Callable[[], bool] | None = None
    ) -> list[int] | None:
        """Bring the model's state to the prompt of `messages`, from the cached state that shares its longest start
        (or the current one); the prompt's tokens, or None when `yield_to` stopped the reading (see `_read`)."""
        from llama_cpp import Llama

        prompt = self._formatter(llm)(messages=messages).prompt
        tokens = llm.tokenize(prompt.encode("utf-8"), special=True)
        if len(tokens) >= llm.n_ctx():
            raise GeneratorError(f"{self.name}: prompt of {len(tokens)} tokens does not fit in n_ctx")
        _restore_longest_prefix(llm, tokens)
        self._bring_lead(llm, messages, tokens)
        shared = min(Llama.longest_token_prefix(llm._input_ids.tolist(), tokens), len(tokens) - 1)
        return tokens if self._read(llm, prompt, tokens, shared, yield_to=yield_to) else None

    def _lead(self, llm: Any, messages: Messages, tokens: Sequence[int]) -> list[int]:
        """The start of `tokens` that the system message alone makes, [] without one (or when it is short)."""
        from llama_cpp import Llama

        if not messages or messages[0].get("role") != "system" or len(messages) < 2:
            return []
        system = messages[0]["content"]
        if system not in self._leads:
            alone = self._formatter(llm)(messages=messages[:1]).prompt
            self._leads[system] = llm.tokenize(alone.encode("utf-8"), special=True)
        lead = self._leads[system]
        shared = Llama.longest_token_prefix(lead, tokens)
        return list(tokens[:shared]) if shared >= _MIN_LEAD_TOKENS else []

    def _bring_lead(self, llm: Any, messages: Messages, tokens: Sequence[int]) -> None:
        """Bring the model's state to at least the system message of `tokens`: from disk when it was read before
        on this machine, else by reading it (then kept on disk). Nothing happens when the state holds it already."""
        from llama_cpp import Llama

        if self._starts is None:
            return
        lead = self._lead(llm, messages, tokens)
        have = Llama.longest_token_prefix(llm._input_ids.tolist(), lead) if lead else 0
        if have >= len(lead) or (llm.cache and llm.cache.holds(lead)):
            return  # the model or its prompt cache has the rules: the prompt is read as it always was
        state = self._starts.load(lead, llm.n_vocab())
        if state is not None:
            try:
                llm.load_state(state)
                return
            except RuntimeError as exc:  # a state llama.cpp does not take: read the rules again
                log.warning("cannot load the prompt state %s: %s", self._starts.path(lead), exc)
                self._starts.path(lead).unlink(missing_ok=True)
                llm.reset()
                have = 0
        self._read(llm, "", lead, have)
        self._starts.save(lead, llm.save_state())
        if getattr(llm, "eval_log", None):  # the request's log counts the rules as part of its prompt
            _, read, seconds = llm.eval_log.pop()
            llm.eval_carry = (read, seconds)

    def _read(
        self, llm: Any, prompt: str, tokens: Sequence[int], shared: int, *, yield_to: Callable[[], bool] | None = None
    ) -> bool:
        """Evaluate `tokens` (the formatted `prompt`) past the `shared` ones the model's state already holds; with
        `yield_to`, READ_AHEAD_BATCH tokens at a time (the last batch up to twice that), stopping between two
        once `yield_to()` is true. Whether all were read; the eval log counts the batches as one read."""
        llm.n_tokens = shared  # eval() drops the cached state past this point
        if yield_to is None:
            llm.eval(tokens[shared:])
            return True
        logged, start = len(getattr(llm, "eval_log", ())), shared
        while start < len(tokens):
            end = len(tokens) if len(tokens) - start < 2 * READ_AHEAD_BATCH else start + READ_AHEAD_BATCH
            llm.eval(tokens[start:end])
            start = end
            if start < len(tokens) and yield_to():
                break
        _join_evals(llm, logged)
        return start >= len(tokens)

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
            _new_request(loaded.model)
            try:
                if self._starts is not None:  # a completion restores its own prefix; the rules may be on disk
                    llm = loaded.model
                    tokens = llm.tokenize(self._formatter(llm)(messages=messages).prompt.encode("utf-8"), special=True)
                    self._bring_lead(llm, messages, tokens)
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
