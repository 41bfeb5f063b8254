"""A scripted engine for the model server child process, so supervisor tests need no model and no compiler.

The server runs it with `--engine tests.support.engines:scripted --model SCRIPT.json`; the JSON says what to reply,
how slowly, and on which kernel plans to die the way a CPU that traps an instruction kills the real one.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class ScriptedEngine:
    """Replies with `reply` piece by piece; dies by `signal` when the plan's variant is in `die_on`, at `die_when`
    ("warmup" or "answer"), and with `only_with_extra_buffers` only while extra buffer types are on."""

    def __init__(self, script: dict[str, Any], variant: str, extra_buffers: bool, flash_attn: bool = False) -> None:
        self.script = script
        self.flash_attn = flash_attn  # reported by warm_up, so tests see what the server was told
        self.name = script.get("name", "scripted")
        self.variant = variant
        self.extra_buffers = extra_buffers

    def _die_if_scripted(self, when: str) -> None:
        if self.script.get("die_when", "warmup") != when:
            return
        dies = self.variant in self.script.get("die_on", [])
        if dies and (self.extra_buffers or not self.script.get("only_with_extra_buffers")):
            # at this thread, as a trapped instruction is: a signal sent to the process may be handled by another
            # thread while this one goes on to write the whole reply
            signal.pthread_kill(threading.get_ident(), getattr(signal, self.script.get("signal", "SIGILL")))

    def stream(
        self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float = 0.0, stop: Any = None
    ) -> Iterator[str]:
        self._die_if_scripted("answer")
        reply = self.script.get("reply", "好")
        step = int(self.script.get("piece_chars", 2))
        for i in range(0, len(reply), step):
            time.sleep(float(self.script.get("piece_delay_s", 0.0)))
            yield reply[i : i + step]

    def first_token_logprobs(self, messages: list[dict[str, str]], top_n: int) -> tuple[list[tuple[str, float]], dict]:
        top = sorted(self.script.get("logprobs", {"是": -0.1}).items(), key=lambda kv: -kv[1])
        return top[:top_n], {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 0}}

    def read_ahead(
        self, messages: list[dict[str, str]], keep: str = "ahead", *, yield_to: Any = None
    ) -> dict[str, Any]:
        """Reads in `ahead_batches` batches of `ahead_batch_s` each (default one, at once), stopping between two
        when `yield_to()` is true, as the llama engine does."""
        self._die_if_scripted("read_ahead")
        self.kept = keep
        batches = int(self.script.get("ahead_batches", 1))
        for n in range(1, batches + 1):
            time.sleep(float(self.script.get("ahead_batch_s", 0.0)))
            if n < batches and yield_to is not None and yield_to():
                self.kept = None
                return {"prompt_tokens": 30 + n, "prompt_tokens_details": {"cached_tokens": 30}, "stopped": True}
        return {"prompt_tokens": 40, "prompt_tokens_details": {"cached_tokens": 30}}

    def warm_up(self, text: str) -> dict[str, float]:
        self._die_if_scripted("warmup")
        speeds = self.script.get("speeds", {})
        prompt_tps = float(speeds.get(self.variant, 100.0))
        return {"prompt_tokens": 50, "prompt_tps": prompt_tps, "gen_tps": 20.0, "flash_attn": float(self.flash_attn)}


def scripted(args: argparse.Namespace) -> ScriptedEngine:
    script = json.loads(Path(args.model).read_text(encoding="utf-8"))
    return ScriptedEngine(script, args.cpu_variant, args.extra_buffers, args.flash_attn)
