"""The answering loop: rewrite a follow-up, retrieve, prompt, stream the reply, check its citations, or refuse."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from typing import Any, Protocol

from assistant.citations import (
    Attribution,
    Attributor,
    Evidence,
    bigrams,
    normalise,
    sentence_spans,
    unmatched_question_facts,
)
from assistant.extractive import ExtractiveAnswerer
from assistant.generation import ModelCrashed, choice_probs
from assistant.prompts import (
    CONFIRM_TASK,
    JUDGE_OPTIONS,
    JUDGE_TASK,
    MODEL_CRASHED_NOTE,
    MODEL_FAILED_NOTE,
    PERIOD_FALLBACK_NOTE,
    Source,
    answer_messages,
    fence_text,
    refusal_text,
)
from assistant.rewrite import rewrite
from core.config import Settings
from core.types import Answer, Hit
from corpus.timeexpr import TimeScope, parse_question_time, rewrite_question

log = logging.getLogger(__name__)

Event = tuple[str, Any]  # ("token", str) while generating, then ("answer", Answer)
# (passage text, publication date) -> the text with relative dates spelled out, e.g. corpus.timeexpr.annotate
Annotator = Callable[[str, date | None], str]

QUESTION_FACT_MODES = ("off", "numbers", "names")
_RECENT_WORDS = ("最近", "最新", "近期", "目前", "现在", "如今", "眼下")
# A question about a period is searched among articles published in it and for a while after it (news reports
# on a day, a month or a year later): the span's quarter, at least 3 days, at most 92.
_REPORT_LAG_MIN_DAYS, _REPORT_LAG_MAX_DAYS = 3, 92
# The confirmation after the answer counts half as much as the judgement before it (log-odds): on the dev sample
# (30 + 30, bench/judgements.py) the sum with weight 0.5 had AUC 0.977, 0.25 gave 0.972, 1.0 0.952, none 0.967.
CONFIRM_WEIGHT = 0.5


class SearcherLike(Protocol):
    def search(self, query: str, *, k: int, **options: Any) -> list[Hit]: ...


class GeneratorLike(Protocol):
    name: str

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]: ...


class ExtractiveLike(Protocol):
    def answer(self, question: str, passages: list[str]) -> str: ...


def trim_passage(text: str, query: str, max_chars: int) -> str:
    """The contiguous run of sentences of `text` around those sharing most words with `query`, ≤ max_chars."""
    if len(text) <= max_chars:
        return text
    spans = sentence_spans(text)
    if not spans:
        return text[:max_chars]
    grams = bigrams(normalise(query))
    scores = [len(grams & bigrams(normalise(text[s:e]))) for s, e in spans]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    lo = hi = best
    while True:
        options = []
        if lo > 0 and spans[hi][1] - spans[lo - 1][0] <= max_chars:
            options.append((scores[lo - 1], 0, lo - 1, hi))
        if hi + 1 < len(spans) and spans[hi + 1][1] - spans[lo][0] <= max_chars:
            options.append((scores[hi + 1], 1, lo, hi + 1))  # ties grow forwards: news leads with the facts
        if not options:
            break
        _, _, lo, hi = max(options)
    start, end = spans[lo][0], min(spans[hi][1], spans[lo][0] + max_chars)
    return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")


def combined_judgement(before: float, after: float) -> float:
    """sigmoid(logit(before) + CONFIRM_WEIGHT * logit(after)): the judgement before the answer, with the
    generator's confirmation of its own reply counting at CONFIRM_WEIGHT."""

    def logit(p: float) -> float:
        p = min(max(p, 1e-9), 1 - 1e-9)
        return math.log(p / (1 - p))

    return 1 / (1 + math.exp(-(logit(before) + CONFIRM_WEIGHT * logit(after))))


def _confirmation(reply: str) -> list[dict[str, str]]:
    """The turns that follow the answer prompt to ask the generator whether the sources back its reply."""
    return [{"role": "assistant", "content": reply}, {"role": "user", "content": CONFIRM_TASK}]


def _as_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"question date {value!r} is not a date in the form YYYY-MM-DD") from None


def period_filter(scope: TimeScope) -> tuple[str, str]:
    """(date_from, date_to) ISO bounds on publication dates for a question about `scope`'s period."""
    date_from = scope.first.isoformat() if scope.first else ""
    date_to = ""
    if scope.last:
        span = (scope.last - scope.first).days + 1 if scope.first else 0
        lag = min(max(span // 4, _REPORT_LAG_MIN_DAYS), _REPORT_LAG_MAX_DAYS)
        date_to = (scope.last + timedelta(days=lag)).isoformat()
    return date_from, date_to


def refusal_topic(query: str, *, max_chars: int = 60) -> str:
    topic = re.sub(r"^(请问|想问一下|我想知道|问一下)[，,：:\s]*", "", query.strip())
    topic = re.sub(r"[？?。！!\s]+$", "", topic)
    topic = re.sub(r"(吗|呢|(?<![什怎多])么)$", "", topic)  # "是什么" keeps its 么
    return topic[:max_chars] + ("…" if len(topic) > max_chars else "") or "这个问题"


class Assistant:
    """Answers questions from the store through `searcher`, with `generator` (or extractively when it is None).

    `annotate` is an optional hook (e.g. corpus.timeexpr.annotate) that spells out relative dates in a passage
    before the model sees it.
    """

    def __init__(
        self,
        settings: Settings,
        store: Any,
        searcher: SearcherLike | None,
        generator: GeneratorLike | None,
        *,
        extractive: ExtractiveLike | None = None,
        annotate: Annotator | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.searcher = searcher
        self.generator = generator
        self._extractive = extractive
        self.annotate = annotate
        self.generator_error = ""  # why the generator was given up on, when it was

    @property
    def extractive(self) -> ExtractiveLike:
        if self._extractive is None:
            self._extractive = ExtractiveAnswerer()
        return self._extractive

    def ask(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        *,
        question_date: date | str | None = None,
        context: list[Hit] | None = None,
    ) -> Answer:
        answer = None
        for kind, value in self.stream(question, history, question_date=question_date, context=context):
            if kind == "answer":
                answer = value
        assert answer is not None  # stream() always ends with one
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        *,
        question_date: date | str | None = None,
        context: list[Hit] | None = None,
    ) -> Iterator[Event]:
        """("token", piece) events as the reply is generated, then one ("answer", Answer).

        `question_date` (a date or "YYYY-MM-DD") is "today" for the question; `context` replaces retrieval.
        """
        if not question or not question.strip():
            raise ValueError("the question is empty")
        today = _as_date(question_date)
        opts = self.settings.answer
        start = time.perf_counter()
        timings: dict[str, float] = {}

        query = question.strip()
        if history and opts.rewrite_followups and context is None:
            query = rewrite(question, history, self.generator)
        standalone = query  # before dates are rewritten: "去年" must not turn into numbers the passages must hold
        asked, scope = query, None  # the model reads the question as asked, with today's date beside it
        if opts.resolve_dates:
            today = today or date.today()
            scope = parse_question_time(query, today)
            query = rewrite_question(query, today)  # "去年的产值" is searched as "2025年的产值"
        timings["rewrite"] = time.perf_counter() - start

        mark = time.perf_counter()
        if context is not None:
            hits = list(context)
        else:
            if self.searcher is None:
                raise ValueError("no searcher: pass `context` passages or build the Assistant with a searcher")
            hits, outside = self._retrieve(query, scope)
            if outside and scope is not None:
                timings["date_fallback"] = 1.0
                # the note says the sources were published at other dates: untrue of undated ones (search
                # snippets, files without dates), and read as "the sources cannot answer" by a small model
                if all(h.date for h in hits):
                    timings["period_note"] = 1.0
                    asked += PERIOD_FALLBACK_NOTE.format(period=scope.resolved.removesuffix("期间"))  # 春节期间
        timings["retrieve"] = time.perf_counter() - mark

        def refuse(reason: str, generator: str = "", notice: str = "") -> Answer:
            timings["total"] = time.perf_counter() - start
            return Answer(
                question=question,
                text=refusal_text(refusal_topic(query)),
                hits=tuple(hits),
                refused=True,
                rewritten_query=query,
                timings={**timings, "refusal_" + reason: 1.0},
                generator=generator,
                notice=notice,
            )

        if not hits:
            yield "answer", refuse("no_hits")
            return
        dense = [h.scores["dense"] for h in hits if "dense" in h.scores]
        if context is None and dense and max(dense) < opts.min_dense_score:
            yield "answer", refuse("retrieval")
            return

        evidence = [Evidence(n, hit, self._shown(hit, query)) for n, hit in enumerate(hits, 1)]
        if opts.question_facts not in QUESTION_FACT_MODES:
            raise ValueError(
                f"unknown answer.question_facts {opts.question_facts!r} (known: {', '.join(QUESTION_FACT_MODES)})"
            )
        # after a period note the model knows the period found nothing and may say what other dates hold
        if (
            opts.question_facts != "off"
            and "period_note" not in timings
            and unmatched_question_facts(
                standalone, [(e.shown, e.hit.date) for e in evidence], names=opts.question_facts == "names"
            )
        ):
            yield "answer", refuse("question_facts")
            return
        mark = time.perf_counter()
        pieces: list[str] = []
        used = ""
        notice = ""
        messages: list[dict[str, str]] = []
        if self.generator is not None:
            sources = [Source(e.n, e.hit.title, e.hit.date, e.shown) for e in evidence]
            messages = answer_messages(asked, sources, today=today)
            try:
                p = None
                if opts.min_answerable > 0:
                    p = self._answerable(answer_messages(asked, sources, today=today, task=JUDGE_TASK))
            except ModelCrashed as exc:
                self.generator_error = f"{type(exc).__name__}: {exc}"
                log.warning("the model crashed while judging, answering extractively: %s", exc)
                notice = MODEL_CRASHED_NOTE
            if p is not None:
                timings["answerable"] = p
                timings["judge"] = time.perf_counter() - mark
                if p < opts.min_answerable:
                    yield "answer", refuse("judge", getattr(self.generator, "name", ""))
                    return
        if self.generator is not None and not notice:
            try:
                max_tokens = min(self.settings.generator.max_tokens, opts.max_answer_tokens)
                for piece in self.generator.stream(
                    messages, max_tokens=max_tokens, temperature=self.settings.generator.temperature
                ):
                    if not pieces:
                        timings["ttft"] = time.perf_counter() - start
                    pieces.append(piece)
                    yield "token", piece
                used = getattr(self.generator, "name", type(self.generator).__name__)
            except Exception as exc:  # a model that fails to load or dies mid-reply: answer extractively instead
                self.generator_error = f"{type(exc).__name__}: {exc}"
                log.warning("generator failed, answering extractively: %s", self.generator_error)
                notice = MODEL_CRASHED_NOTE if isinstance(exc, ModelCrashed) else MODEL_FAILED_NOTE
                pieces = []
        if not used:
            # quoted article text keeps its own bracketed numbers as 〔n〕, so they are never read as our citations
            reply = self.extractive.answer(query, [fence_text(e.shown) for e in evidence])
            timings.setdefault("ttft", time.perf_counter() - start)
            pieces = [reply]
            used = "extractive"
            yield "token", reply
        timings["generate"] = time.perf_counter() - mark

        reply = "".join(pieces).strip()
        attribution = Attributor(evidence, min_overlap=opts.min_support_overlap).attribute(reply)
        reason = self._refusal_reason(reply, attribution)
        if not reason and used != "extractive" and opts.min_confirmed > 0 and "answerable" in timings:
            mark = time.perf_counter()
            confirmed = self._confirmed(timings["answerable"], [*messages, *_confirmation(reply)])
            if confirmed is not None:
                timings["confirmed"] = confirmed
                timings["confirm"] = time.perf_counter() - mark
                if confirmed < opts.min_confirmed:
                    reason = "confirmation"
        if reason:
            yield "answer", refuse(reason, used, notice)
            return
        timings["total"] = time.perf_counter() - start
        yield (
            "answer",
            Answer(
                question=question,
                text=attribution.text,
                citations=attribution.citations,
                hits=tuple(hits),
                refused=False,
                rewritten_query=query,
                timings=timings,
                unverified=attribution.unverified,
                generator=used,
                notice=notice,
            ),
        )

    def _answerable(self, messages: list[dict[str, str]]) -> float | None:
        """The generator's probability that the sources answer the question; None when it cannot tell.

        A crashed model raises ModelCrashed: the question is then answered without it.
        """
        try:
            probs = choice_probs(self.generator, messages, JUDGE_OPTIONS)
        except ModelCrashed:
            raise
        except Exception as exc:  # the answer call that follows reports a broken generator; never block on this
            log.warning("answerability check failed: %s: %s", type(exc).__name__, exc)
            return None
        return None if probs is None else probs[JUDGE_OPTIONS[0]]

    def _confirmed(self, answerable: float, messages: list[dict[str, str]]) -> float | None:
        """The judgement before the answer combined with the generator's confirmation of its own reply."""
        after = self._answerable(messages)
        return None if after is None else combined_judgement(answerable, after)

    def _retrieve(self, query: str, scope: TimeScope | None) -> tuple[list[Hit], bool]:
        """Search, within the period the question names when that period holds a relevant passage.

        Also says whether the question named a period but the hits come from outside it (the unfiltered fallback).
        """
        assert self.searcher is not None
        opts = self.settings.answer
        recent = scope.prefer_recent if scope is not None else any(w in query for w in _RECENT_WORDS)
        if scope is not None and (scope.first or scope.last):
            date_from, date_to = period_filter(scope)
            # an article without a date may well be about the period: the filter drops only what is dated elsewhere
            # (excluding undated ones cut rgb_zh's answer-path recall@4 from 0.967 to 0.887: 80% of it is undated)
            hits = list(
                self.searcher.search(
                    query,
                    k=opts.max_passages,
                    date_from=date_from,
                    date_to=date_to,
                    prefer_recent=recent,
                    undated=True,
                )
            )
            dense = [h.scores["dense"] for h in hits if "dense" in h.scores]
            if hits and (not dense or max(dense) >= opts.min_dense_score):
                return hits, False
            return list(self.searcher.search(query, k=opts.max_passages, prefer_recent=recent)), True
        return list(self.searcher.search(query, k=opts.max_passages, prefer_recent=recent)), False

    def _shown(self, hit: Hit, query: str) -> str:
        """The passage as the model sees it: relative dates spelled out over the whole chunk, then trimmed."""
        max_chars = self.settings.answer.max_passage_chars
        if self.annotate is None:
            return trim_passage(hit.chunk.text, query, max_chars)
        try:
            published = _as_date(hit.date or None)
        except ValueError:
            published = None
        # the whole chunk, so that 当天 still finds the day named sentences before the trimmed part
        return trim_passage(self.annotate(hit.chunk.text, published), query, max_chars)

    def _refusal_reason(self, reply: str, attribution: Attribution) -> str:
        """Why this reply should be replaced by a refusal, or "" to keep it."""
        if not attribution.text:
            return "empty"
        if attribution.opens_with_refusal or (attribution.refusal_sentences and not attribution.verified):
            return "generator"  # the model declined, first of all or with nothing it said backed by a source
        if attribution.factual and not attribution.verified and self.settings.answer.refuse_unverified:
            return "unverified"
        return ""
