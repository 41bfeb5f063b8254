"""Reading ahead: the local model reads the newest articles' passages while no one asks.

Nothing in a prompt before its first passage depends on the question: the system rules, then the passage with its
title and date. So the model's state after reading them is the same whichever question follows. The model server
keeps such states apart from those of recent questions (`generator.read_ahead` of them), and a question whose
best passage was read ahead reads only the rest of its prompt. Its answer is the one it would have got anyway.
A passage after the first is read after the ones before it, which the question chooses, so it can be read ahead
only together with them. (Read alone, passages made worse answers: docs/BENCHMARKS.md, "Passages read alone".)
A question about an article of several passages usually finds two or three of them first, so ordered groups of
two and three passages from one article are read ahead as well (`generator.read_ahead_groups`): those closest
together in their article first, for every article, then passages further apart.

Related reports are asked about together too: the passages of other articles nearest to a passage read ahead
(searched with its text) are read ahead after it, as pairs (`generator.read_ahead_neighbours`).

The start of the prompt that rewrites a follow-up as a standalone question (its rules) is read ahead too.

A question being typed is read ahead as well (`typed`): once the resident pauses, its passages are searched as
the question stands, and the model reads them, one more passage a prompt, before anything else the pass has left.
If the question sent finds the same passages first, it reads only the rest of its prompt.

A pass reads the newest chunks, newest article first, when the app starts and whenever the store changes (staff
add articles, `newsqa ingest` from a shell) or the model server was started again. It takes the model only while
no question waits or holds it, one prompt at a time, and the model server stops reading a prompt between two batches
of tokens when a question comes (that prompt is read again after it): a question asked meanwhile waits for one
batch, 128 tokens, at most.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import date
from itertools import combinations, permutations
from pathlib import Path
from typing import Any

from assistant.chat import Assistant
from assistant.generation import GeneratorError, Messages, prompt_tokens_read
from assistant.prompts import lead_messages, rewrite_lead_messages
from core.config import Settings
from core.types import Article, Chunk, Hit
from corpus.store import Store, StoreError

log = logging.getLogger(__name__)

# the most passages read ahead together: a prompt has up to answer.max_passages (4), and groups of four would take
# 4 times as many states as those of three for one more passage read ahead
GROUP_SIZE = 3
# a question being typed is read ahead once it has stood this long unchanged, and this many characters long at least;
# longer than the longest question anyone types (a pasted article) it is not
TYPING_PAUSE_S = 0.5
TYPED_MIN_CHARS, TYPED_MAX_CHARS = 4, 200
# residents whose question typed waits to be read, at the most (history comes from the browser: a bound on memory)
TYPING_SESSIONS = 1024
# a pass stops while the machine has less memory available than this: each state read ahead takes ~17-20 MB of the
# model server's, and questions, uploads and the index need room
MIN_AVAILABLE_BYTES = 2 << 30


def available_memory() -> int | None:
    """The memory the machine has available (MemAvailable of /proc/meminfo) in bytes; None where it cannot tell."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def hit_of(chunk: Chunk, article: Article) -> Hit:
    """`chunk` as a search hit, with its article's title, date and source: what a pass reads it as."""
    return Hit(chunk, 1.0, title=article.title, date=article.date, source=article.source)


def reading_plan(hits: Sequence[Hit], groups: int = 0, size: int = GROUP_SIZE) -> list[tuple[Hit, ...]]:
    """The prompt starts a pass reads, in order: each of `hits` as a first passage, then up to `groups` ordered
    groups of 2 to `size` hits from one article as the first passages. Passages close together in their article
    come first (the smallest span of positions; then fewer passages; then the newest article's), since passages
    near each other are asked about together."""
    plan: list[tuple[Hit, ...]] = [(hit,) for hit in hits]
    if groups <= 0:
        return plan
    articles: dict[str, list[Hit]] = {}
    for hit in hits:
        articles.setdefault(hit.chunk.article_id, []).append(hit)
    ordered = [sorted(same, key=lambda h: h.chunk.index) for same in articles.values()]
    widest = max((same[-1].chunk.index - same[0].chunk.index for same in ordered), default=0)
    extra: list[tuple[Hit, ...]] = []
    for span in range(1, widest + 1):
        for n in range(2, size + 1):
            for same in ordered:
                found = []
                for i, first in enumerate(same):
                    inside = [h for h in same[i + 1 :] if h.chunk.index < first.chunk.index + span]
                    for last in (h for h in same[i + 1 :] if h.chunk.index == first.chunk.index + span):
                        for middle in combinations(inside, n - 2):
                            found += permutations((first, *middle, last))
                extra += sorted(found, key=lambda group: [h.chunk.index for h in group])
            if len(extra) >= groups:
                return plan + extra[:groups]
    return plan + extra


class ReadAhead:
    """Reads ahead the first `limit` chunks of the newest articles in `db_path` with the assistant's model, up to
    `groups` ordered groups of two or three of them from one article (`reading_plan`), and each of them followed by
    each of its `neighbours` nearest passages of other articles."""

    def __init__(
        self,
        assistant: Assistant,
        db_path: Path,
        limit: int,
        *,
        groups: int = 0,
        neighbours: int = 0,
        poll_s: float = 5.0,
        min_available: int = MIN_AVAILABLE_BYTES,
    ) -> None:
        if not getattr(assistant.generator, "reads_ahead", False):
            raise ValueError(f"{getattr(assistant.generator, 'name', assistant.generator)!r} cannot read ahead")
        self.assistant = assistant
        self.generator: Any = assistant.generator
        self.db_path = Path(db_path)
        self.limit = limit
        self.groups = groups
        self.neighbours = neighbours
        self.min_available = min_available
        self.poll_s = poll_s
        # the last pass: passages, rewrite rules, groups, tokens read, seconds, when it ended, why it stopped
        self.last: dict[str, Any] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()  # set to stop, or for a question being typed
        # each resident's latest question typed and not yet read: session -> (question, history, when typed), the
        # oldest forgotten beyond TYPING_SESSIONS
        self._typed: OrderedDict[str, tuple[str, tuple[tuple[str, str], ...], float]] = OrderedDict()
        # the session whose question is being read, and whether it has typed again or sent since (the read stops)
        self._reading: str | None = None
        self._reading_changed = False
        self._typed_lock = threading.Lock()
        self.typed_read = {"questions": 0, "prompts": 0, "tokens_read": 0}  # what questions being typed made it read
        self._thread: threading.Thread | None = None
        self._store: Store | None = None  # its own connection, opened on first use

    @classmethod
    def configured(cls, assistant: Assistant, settings: Settings) -> ReadAhead:
        """A reader of the store of `settings` as its `generator.read_ahead*` settings have it."""
        ahead = settings.generator
        return cls(
            assistant,
            settings.db_path,
            ahead.read_ahead,
            groups=ahead.read_ahead_groups,
            neighbours=ahead.read_ahead_neighbours,
        )

    def start(self) -> None:
        """Read ahead in the background from now on: at once, then after every change of the store or server."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="read-ahead", daemon=True)
            self._thread.start()

    def stop(self, wait_s: float = 10.0) -> None:
        """Stop after the passage being read; with `wait_s` 0, only ask it to (the model server is stopped next,
        which ends a pass still waiting for it to start)."""
        self._stop.set()
        self._wake.set()
        if wait_s and self._thread is not None:
            self._thread.join(timeout=wait_s)
        if wait_s and self._store is not None and (self._thread is None or not self._thread.is_alive()):
            self._store.close()

    def typed(self, question: str, history: Sequence[tuple[str, str]] = (), session: str = "") -> None:
        """The resident of `session` is typing `question` (after `history`): once it stands unchanged for
        TYPING_PAUSE_S, its passages are read before anything else a pass has left. Only the latest question typed
        in a session counts; the questions of several residents are read in the order their typing paused."""
        text = question.strip()
        if not TYPED_MIN_CHARS <= len(text) <= TYPED_MAX_CHARS:
            return
        with self._typed_lock:
            self._changed(session)
            self._typed[session] = (text, tuple(history), time.monotonic())
            self._typed.move_to_end(session)
            while len(self._typed) > TYPING_SESSIONS:
                self._typed.popitem(last=False)
        self._wake.set()

    def sent(self, session: str = "") -> None:
        """The resident of `session` sent a question: what they were typing is not read any further."""
        with self._typed_lock:
            self._changed(session)
            self._typed.pop(session, None)

    def _changed(self, session: str) -> None:
        """`session` typed or sent (under the lock): a read of what it typed before stops."""
        if session == self._reading:
            self._reading_changed = True

    def read_typed(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        *,
        question_date: date | str | None = None,
    ) -> dict[str, Any]:
        """Read the passages `question` would find as the start of its prompt, the first alone, then the first
        two…, each while no question has the model; the last state kept among the recent questions'. What it read
        ({"prompts", "tokens_read"}); stops early at a failure, or once the session it was typed in (the one
        `_serve_typed` reads) types again or sends."""
        sources = self.assistant.typed_sources(question, history, question_date=question_date)
        done = {"prompts": 0, "tokens_read": 0}
        n = 1
        while n <= len(sources):
            if not self._wait_idle() or self._reading_changed:
                break
            keep = "recent" if n == len(sources) else "none"
            try:
                with self.assistant.line.turn(background=True):
                    usage = self.generator.read_ahead(lead_messages(sources[:n]), keep=keep)
            except GeneratorError as exc:
                log.warning("reading a question being typed stopped: %s", exc)
                break
            done["tokens_read"] += prompt_tokens_read(usage)
            if not usage.get("stopped"):  # else a question came first: read these passages again after it
                done["prompts"] += 1
                n += 1
        return done

    def _serve_typed(self) -> None:
        """Read the questions typed, each once it has stood long enough, the one whose typing paused first first,
        until none is left; a question typed again meanwhile is read again."""
        while not self._stop.is_set():
            with self._typed_lock:
                paused = next(iter(self._typed.items()), None)  # in the order typing paused: the last typed last
                left = TYPING_PAUSE_S - (time.monotonic() - paused[1][2]) if paused else 0.0
                if paused is not None and left <= 0:
                    del self._typed[paused[0]]
                    self._reading, self._reading_changed = paused[0], False
            if paused is None:
                return
            if left > 0:
                self._stop.wait(left)
                continue
            question, history, _ = paused[1]
            try:
                self._server_ready()
                done = self.read_typed(question, history)
            except Exception as exc:  # a search or model failure: the question, when sent, finds out and says so
                log.warning("reading a question being typed: %s: %s", type(exc).__name__, exc)
                continue
            finally:
                with self._typed_lock:
                    self._reading, self._reading_changed = None, False
            self.typed_read["questions"] += 1
            for key in ("prompts", "tokens_read"):
                self.typed_read[key] += done[key]

    def newest(self) -> list[Hit]:
        """The chunks a pass reads, as the hits a search would return for them."""
        return [hit_of(chunk, article) for chunk, article in self._opened().newest_chunks(self.limit)]

    def _opened(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_path)
        return self._store

    def run_once(self, hits: Sequence[Hit] | None = None) -> dict[str, Any]:
        """Read `hits` (default: `newest`) ahead, then the rewrite's start and groups of them (`_prompts`), one prompt
        at a time whenever no question has the model or waits for it; stops at the first failure, or while the
        machine is short of memory (`stopped`: "memory"). What it did, also kept in `last`."""
        start = time.perf_counter()
        done: dict[str, Any] = {"passages": 0, "rewrite": 0, "groups": 0, "neighbours": 0, "tokens_read": 0}
        for kind, messages in self._prompts(self.newest() if hits is None else hits):
            if not self._read_in_turn(messages, done):
                break
            done[kind] += 1
        self.last = {**done, "seconds": round(time.perf_counter() - start, 2), "ended_at": time.time()}
        return self.last

    def _read_in_turn(self, messages: Messages, done: dict[str, Any]) -> bool:
        """Read `messages` ahead once no question has the model or waits for it, and again whenever a question came
        while it was read (the model server stops such a read between two batches and keeps nothing: "stopped").
        False when the pass must end: stopped, the model failed, or the machine is short of memory (`done`
        says "memory"); the tokens read go to `done` either way."""
        while True:
            self._serve_typed()  # a resident about to ask comes first
            try:
                self._server_ready()  # outside the line: a question asked while the model loads keeps its place
                if not self._wait_idle():
                    return False
                if self._short_of_memory():  # measured now: the questions just answered may have taken some
                    done["stopped"] = "memory"
                    return False
                with self.assistant.line.turn(background=True):  # not "answering someone else" to those behind
                    usage = self.generator.read_ahead(messages)
            except GeneratorError as exc:  # the model failed or died: questions find out and say so themselves
                if not self._stop.is_set():  # not the server stopped with the app
                    log.warning("reading ahead stopped: %s", exc)
                return False
            done["tokens_read"] += prompt_tokens_read(usage)
            if not usage.get("stopped"):
                return True

    def _prompts(self, hits: Sequence[Hit]) -> Iterator[tuple[str, Messages]]:
        """What a pass reads, in order, each with what it counts as: every passage as a prompt's first; then the
        start of a follow-up's rewrite prompt, when follow-ups are rewritten (a resident's second question can come
        before the groups are read); then the groups; then the pairs of a passage and a neighbour, every passage's
        nearest first."""
        plan = reading_plan(hits, self.groups)
        for lead in plan[: len(hits)]:
            yield "passages", self.assistant.lead_messages(*lead)
        if self.assistant.settings.answer.rewrite_followups:
            yield "rewrite", rewrite_lead_messages()
        for lead in plan[len(hits) :]:
            yield "groups", self.assistant.lead_messages(*lead)
        if self.neighbours <= 0 or self.assistant.searcher is None:
            return
        nearest: list[list[Hit]] = []  # each hit's, searched when its first pair is due: one search between prompts
        for rank in range(self.neighbours):
            for i, hit in enumerate(hits):
                if rank == 0:
                    nearest.append(self._neighbours(hit))
                if rank < len(nearest[i]):
                    yield "neighbours", self.assistant.lead_messages(hit, nearest[i][rank])

    def _neighbours(self, hit: Hit) -> list[Hit]:
        """The passages of other articles nearest to `hit`, searched with its text, best first; none when the
        search fails (logged)."""
        assert self.assistant.searcher is not None
        try:
            found = self.assistant.searcher.search(hit.chunk.text, k=self.neighbours + 4)
        except Exception as exc:  # a broken index fails the questions too, which say so; reading ahead only skips
            log.warning("reading ahead: no neighbours of chunk %s: %s", hit.chunk.id, exc)
            return []
        return [other for other in found if other.chunk.article_id != hit.chunk.article_id][: self.neighbours]

    def _short_of_memory(self) -> bool:
        """Has the machine less memory available than a pass leaves free (logged when so)?"""
        available = available_memory()
        if available is None or available >= self.min_available:
            return False
        log.warning(
            "reading ahead stopped: %d MB of memory available, under %d MB", available >> 20, self.min_available >> 20
        )
        return True

    def _wait_idle(self) -> bool:
        """Wait until no question has the model or waits for it; False when stopped."""
        while not self.assistant.line.idle:
            if self._stop.wait(0.1):
                return False
        return not self._stop.is_set()

    def _server_ready(self) -> None:
        """Wait while the model server starts (a GeneratorError when it cannot)."""
        worker = getattr(self.generator, "worker", None)
        if worker is not None:
            worker.url()

    def _server(self) -> int | None:
        """The model server process holding the states read ahead: one started again has none."""
        worker = getattr(self.generator, "worker", None)
        return worker.status().pid if worker is not None else None

    def _version(self) -> int | None:
        try:
            return self._opened().version
        except (StoreError, sqlite3.Error) as exc:
            log.warning("reading ahead: %s", exc)
            return None

    def _loop(self) -> None:
        done: tuple[int | None, int | None] | None = None
        while not self._stop.is_set():
            self._wake.clear()
            self._serve_typed()
            version = self._version()
            if version is not None and (version, self._server()) != done:
                try:
                    self.run_once()
                except (StoreError, sqlite3.Error) as exc:
                    log.warning("reading ahead: %s", exc)
                done = (version, self._server())
            self._wake.wait(self.poll_s)
