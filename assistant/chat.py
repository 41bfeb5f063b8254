"""The answering loop: rewrite a follow-up, retrieve, prompt, stream the reply, check its citations, or refuse."""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol

from assistant.attribution import Attribution, Attributor, Evidence
from assistant.context import in_article_order, select_passages, trim_passage
from assistant.digest import (
    LEAD_CHARS,
    MAX_ITEMS,
    Headline,
    asks_for_news,
    asks_what_article_says,
    asks_who_wrote,
    bylines_text,
    credit_citation,
    credit_text,
    digest_text,
    lead_citation,
    more_news_asked,
)
from assistant.events import Event, Final, Progress, Quote, Token
from assistant.extractive import ExtractiveAnswerer, asked_who, asks_for_credit, credited, posts_of
from assistant.facts import adds_nothing, facts_of, unmatched_question_facts, unstated_answer
from assistant.generation import LoopWatch, Messages, ModelCrashed, choice_probs, usage_of
from assistant.judgements import combined_judgement, confirmation_turns
from assistant.markers import finished_sentences, renumbered
from assistant.memory import Remembered, ReplyMemory, memory_key
from assistant.periods import covered_dates, search_period
from assistant.prompts import (
    EVENT_DAY_NOTE,
    JUDGE_OPTIONS,
    JUDGE_TASK,
    MODEL_CRASHED_NOTE,
    MODEL_FAILED_NOTE,
    PERIOD_FALLBACK_NOTE,
    Source,
    answer_messages,
    fence_text,
    lead_messages,
    refusal_text,
)
from assistant.rewrite import needs_model_rewrite, refers_back, rewrite
from assistant.smalltalk import small_talk_reply
from assistant.timeline import (
    Anchored,
    Comparison,
    EventDay,
    analyse,
    asked_event,
    compare_text,
    days_in,
    event_day,
    without_anchor,
)
from assistant.turns import Ticket, TurnLine
from core.config import Settings
from core.text import simplified, simplified_history
from core.types import Answer, Article, Citation, Hit, Quotation, parse_day
from corpus.timeexpr import (
    TimeScope,
    note_days,
    parse_question_time,
    relative_mentions,
    render_day,
    rewrite_question,
)

log = logging.getLogger(__name__)

# (passage text, publication date) -> the text with relative dates spelled out, e.g. corpus.timeexpr.annotate
Annotator = Callable[[str, date | None], str]

_QUEUE_REPORT_S = 0.25  # how often a waiting question looks at its place in the line


_CJK = re.compile(r"[\u3400-\u9fff]")


class SearcherLike(Protocol):
    def search(self, query: str, *, k: int, **options: Any) -> list[Hit]: ...

    def held_terms(self, text: str) -> list[str]: ...

    def held_together(self, terms: Sequence[str], beside: Sequence[str] = ()) -> bool: ...


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


def _passage_number(turn: _Turn, cited: Citation) -> int:
    """The number among the turn's passages of the passage a quotation's citation (numbered as shown) cites; 0 if
    none."""
    return next((k for k, shown in turn.numbers.items() if shown == cited.n), 0)


def _as_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"question date {value!r} is not a date in the form YYYY-MM-DD") from None


@dataclass
class _Turn:
    """One question on its way through the steps of `Assistant.stream`."""

    question: str
    history: Sequence[tuple[str, str]]
    today: date | None
    context: list[Hit] | None
    start: float = field(default_factory=time.perf_counter)
    query: str = ""  # what is searched: the standalone question with its dates resolved
    standalone: str = ""  # the standalone question before dates are resolved ("去年" is not a fact to find)
    asked: str = ""  # the question the model reads (with today's date beside it, and a period note)
    scope: TimeScope | None = None
    hits: list[Hit] = field(default_factory=list)
    period_fallback: bool = False  # the question names a period that held nothing relevant: searched without it
    period_note: bool = False  # and the model was told so
    evidence: list[Evidence] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # the question's names and numbers no passage mentions
    anchor: EventDay | None = None  # the event whose day an anchored question asks about
    anchor_text: str = ""  # that event as the question names it
    annotated: dict[int, str] = field(default_factory=dict)  # chunk id -> text with relative dates spelled out
    messages: list[dict[str, str]] = field(default_factory=list)
    answerable_p: float | None = None
    confirmed_p: float | None = None
    read: int = 0  # the passages the model was given (the best first), 0 before it reads any
    noted: int = 0  # the source a note after the question names
    reply: str = ""
    quotation: Quotation | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    numbers: dict[int, int] = field(default_factory=dict)  # source number in the prompt -> number shown
    shown: int = 0  # the numbers shown above the answer, also by sources its prompt does not hold
    generator: str = ""
    notice: str = ""
    remembered: Remembered | None = None  # the model's work on this prompt, from an earlier question
    timings: dict[str, float] = field(default_factory=dict)

    def lap(self, name: str, since: float) -> None:
        self.timings[name] = time.perf_counter() - since

    @property
    def follow_up(self) -> str:
        """The question as asked when it was rewritten only for being short, else "": what is searched then carries
        a topic over that the question may not be about, and a quotation must hold some of the question itself. One
        that points back ("它", "那X呢？", "第二篇") is about what it points at."""
        asked = self.question.strip()
        rewritten = bool(self.history) and bool(self.standalone) and self.standalone != asked
        return asked if rewritten and not refers_back(asked, self.history) else ""


def _sources(turn: _Turn) -> list[Source]:
    """The turn's evidence as the model reads it."""
    return [Source(e.n, e.hit.title, e.hit.date, e.shown) for e in turn.evidence]


def without_resolved(asked: str, resolved: str) -> str:
    """`asked` without the time words its resolution replaced ("上周四，谁…" -> "，谁…"). The question-facts gate
    reads this: "上周四" is no name a passage must mention, and the period it means was searched already (the
    period search), so neither the words nor their resolved days are facts to find; dates written as such stay."""
    matcher = difflib.SequenceMatcher(None, asked, resolved, autojunk=False)
    return "".join(asked[i1:i2] for tag, i1, i2, _, _ in matcher.get_opcodes() if tag == "equal")


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
        self.extractive = extractive or ExtractiveAnswerer()
        self.annotate = annotate
        self.line = TurnLine(settings.generator.parallel)
        self.memory = ReplyMemory(settings.answer.remembered_replies)
        self.generator_error = ""  # why the generator was given up on, when it was

    def ask(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        *,
        question_date: date | str | None = None,
        context: list[Hit] | None = None,
    ) -> Answer:
        for event in self.stream(question, history, question_date=question_date, context=context):
            if isinstance(event, Final):
                return event.answer
        raise AssertionError("stream() always ends with a Final event")

    def stream(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        *,
        question_date: date | str | None = None,
        context: list[Hit] | None = None,
    ) -> Iterator[Event]:
        """Token events as the reply is generated, then one Final with the checked answer or a refusal.

        `question_date` (a date or "YYYY-MM-DD") is "today" for the question; `context` replaces retrieval.
        """
        if not question or not question.strip():
            raise ValueError("the question is empty")
        # typed in traditional characters ("喬俊傑"), it is read in the simplified ones the news is written in
        question, history = simplified(question), simplified_history(history)
        turn = _Turn(question, history, _as_date(question_date), context)
        said = small_talk_reply(question) if context is None else ""
        if said:  # "谢谢", "你好", "你是谁": a line of its own, nothing searched
            turn.generator = "smalltalk"
            yield Final(self._answer(turn, Attribution(text=said), ""))
            return
        yield Progress("searching")
        more = self._more_news(turn)
        if more is not None:  # "还有什么新闻？" after the news of a day: its next titles, from the store
            yield Final(more)
            return
        early = self._quote_early(turn)
        if early is not None and early.quotation is not None:
            turn.lap("quote", turn.start)
            yield Quote(early.quotation)
        self._rewrite(turn)
        from_store = self._digest(turn) or self._what_it_says(turn) or self._bylines(turn)
        if from_store is not None:  # "今天有什么新闻？", "「标题」讲了什么？": from the store, no search or model
            yield Final(from_store)
            return
        plan = analyse(turn.standalone) if turn.context is None and self.settings.answer.resolve_dates else None
        if isinstance(plan, Comparison):  # two events' days, compared in code: no model needed
            yield Final(self._compare(turn, plan))
            return
        if isinstance(plan, Anchored):
            self._anchor(turn, plan)
        self._retrieve(turn)
        reason = self._gate(turn)
        attribution = None
        if not reason:
            if not self._keep_quotation(turn, early):
                turn.quotation = self._quote(turn)
                if turn.quotation is not None:
                    turn.lap("quote", turn.start)
                    yield Quote(turn.quotation)
            # "…的报道是哪位记者写的？", "乔俊杰是谁？": the credit or the posts quoted are the answer, no model
            quoted = self._credit(turn) or self._posts(turn)
            if quoted is not None:
                yield Final(quoted)
                return
            # a prompt the model has worked on before is answered from memory, without joining the line
            key = self._memory_key(turn)
            turn.remembered = self.memory.get(key) if key else None
            # the model reads one question at a time: from the judgement to the last token, this one holds it
            ticket = self.line.join() if self.generator is not None and turn.remembered is None else None
            try:
                if ticket is not None:
                    turn.remembered = yield from self._wait(ticket, key)
                if turn.remembered is not None:
                    reason = self._recall(turn, turn.remembered)
                elif ticket is not None:
                    reason = yield from self._judge(turn)
                if not reason:
                    if ticket is not None and turn.remembered is None and not turn.notice:
                        yield Progress("writing")
                    yield from self._generate(turn)
                    attribution = self._verify(turn)
                    reason = self._decide(turn, attribution)
                if key and turn.remembered is None:
                    self._remember(key, turn, reason)
            finally:
                if ticket is not None:
                    ticket.release()
        yield Final(self._answer(turn, attribution, reason))

    # -- the steps ---------------------------------------------------------------------------------------------

    def _quote_early(self, turn: _Turn) -> _Turn | None:
        """0. A follow-up the model is about to rewrite is quoted meanwhile from the rules' rewrite: the model's
        takes seconds, longer while it reads ahead. The turn that found the quotation, or None."""
        if not self._model_rewrites(turn):
            return None  # no model rewrite to wait for: the usual quotation comes as soon
        early = self._found_by_rules(turn.question, turn.history, turn.today)
        if early is None:
            return None
        early.quotation = self._quote(early)
        return early if early.quotation is not None else None

    def _found_by_rules(self, question: str, history: Sequence[tuple[str, str]], today: date | None) -> _Turn | None:
        """The turn of `question` rewritten by the rules alone, searched, and through the checks before the model;
        None where those steps do not give its passages: a question about an event's day (searched in steps of
        its own), one the store answers (the news of a day, what an article says or who wrote it), or one refused
        before the model reads anything."""
        turn = _Turn(question, history, today, None)
        self._rewrite(turn, model=False)
        if self._from_store(turn) or self.settings.answer.resolve_dates and analyse(turn.standalone) is not None:
            return None
        self._retrieve(turn)
        return None if self._gate(turn) else turn

    def _keep_quotation(self, turn: _Turn, early: _Turn | None) -> bool:
        """The quotation shown before the model's rewrite stays above the answer when it quotes a passage the
        answer's prompt holds too: that passage keeps its number, and the answer's other sources are numbered
        after the quotation's. A quotation of passages the rewrite no longer finds gives way to a new one."""
        if early is None or early.quotation is None:
            return False
        shown = {c.chunk_id: c.n for c in early.quotation.citations}
        numbers = {e.n: shown[e.hit.chunk.id] for e in turn.evidence if e.hit.chunk.id in shown}
        if not numbers:
            return False
        turn.quotation, turn.numbers, turn.shown = early.quotation, numbers, max(shown.values())
        return True

    def _model_rewrites(self, turn: _Turn) -> bool:
        """The model is to rewrite this follow-up: it leans on the conversation in a way the rules cannot settle by
        swapping one slot, and the model is free (a busy one would keep it from even being searched: the rules
        rewrite it then)."""
        return (
            self.generator is not None
            and turn.context is None
            and self.settings.answer.rewrite_followups
            and self.line.length == 0
            and needs_model_rewrite(turn.question, turn.history, self.searcher)
            and not self._news_asked(turn.question, turn.today)
        )

    def _rewrite(self, turn: _Turn, *, model: bool = True) -> None:
        """1. A follow-up becomes a standalone question; its time words are resolved against the question date.
        `model=False` leaves it to the rules."""
        opts = self.settings.answer
        query = turn.question.strip()
        if turn.history and opts.rewrite_followups and turn.context is None and not self._news_asked(query, turn.today):
            if model and self._model_rewrites(turn):
                with self.line.turn():
                    query = rewrite(turn.question, turn.history, self.generator, corpus=self.searcher)
            else:
                query = rewrite(turn.question, turn.history, None, corpus=self.searcher)
        turn.standalone = turn.asked = query  # the model reads the question as asked, with today's date beside it
        if opts.resolve_dates:
            turn.today = turn.today or date.today()
            turn.scope = parse_question_time(query, turn.today)
            turn.asked = note_days(query, relative_mentions(query, turn.today))  # "上周四（即2024年2月1日）"
            query = rewrite_question(query, turn.today)  # "去年的产值" is searched as "2025年的产值"
        turn.query = query
        turn.lap("rewrite", turn.start)

    def _event(self, description: str) -> tuple[EventDay | None, list[Hit]]:
        """The day of the event `description` names, from the passages a search for it finds."""
        assert self.searcher is not None
        hits = list(self.searcher.search(description, k=self.settings.answer.max_passages))
        return event_day(description, hits), hits

    def _anchor(self, turn: _Turn, plan: Anchored) -> None:
        """1b. "A发生当天，B？": find A's day; then B is searched within that day and is all that is checked."""
        anchor, _ = self._event(plan.anchor)
        if anchor is None:
            return  # A is not in the corpus: the question is searched as asked, and refused if nothing fits
        turn.anchor, turn.anchor_text = anchor, plan.anchor
        day = render_day(anchor.day)
        turn.scope = TimeScope(anchor.day, anchor.day, False, plan.anchor + "当天", day)
        turn.standalone = plan.asked  # the anchor's own names need not be in B's passages
        turn.query = plan.asked
        turn.asked = f"{day}（{plan.anchor}当天），{plan.asked}"

    def _digest(self, turn: _Turn) -> Answer | None:
        """1d. The answer to a question that asks what the news is and names no topic: the titles of the articles of
        the period it names, or of the newest day the store holds, each cited with its first sentence. None for any
        other question, and where no article is dated."""
        if not self._asks_for_news(turn):
            return None
        dated = self.store.dated
        mark = time.perf_counter()
        scope = turn.scope if turn.scope is not None and turn.scope.first and turn.scope.last else None
        total, articles = dated(scope.first.isoformat(), scope.last.isoformat(), MAX_ITEMS) if scope else (0, [])
        if not total:  # no period named, "最新", or a period with nothing: the newest day
            newest = dated("", "", 1)[1]
            if not newest:
                return None
            if scope is not None:
                turn.notice = f"资料中没有{scope.resolved}的报道，以下是最新一天的。"
            day = newest[0].date
            total, articles = dated(day, day, MAX_ITEMS)
            scope = None
        newest_day = parse_day(articles[0].date)
        period = scope.resolved if scope is not None else render_day(newest_day) if newest_day else articles[0].date
        return self._listed(turn, articles, total, period, mark)

    def _more_news(self, turn: _Turn) -> Answer | None:
        """0b. "还有什么新闻？" right after the news of a day: the next titles of that list, numbered on. None for any
        other question."""
        listed = more_news_asked(turn.question, turn.history) if turn.context is None else None
        days = listed.days() if listed is not None and hasattr(self.store, "dated") else None
        if days is None:
            return None
        mark = time.perf_counter()
        first, last = (d.isoformat() for d in days)
        total, articles = self.store.dated(first, last, MAX_ITEMS, offset=listed.shown)
        turn.standalone = turn.query = turn.question.strip()
        return self._listed(turn, articles, total, listed.period, mark, start=listed.shown + 1)

    def _listed(
        self, turn: _Turn, articles: Sequence[Article], total: int, period: str, mark: float, start: int = 1
    ) -> Answer:
        """The answer listing `articles` of `period` (which holds `total`), numbered from `start`, each title cited
        with its article's first sentence."""
        headlines = []
        for article in articles:
            chunks = self.store.chunks_of(article.id)
            if chunks:
                headlines.append(Headline(article, lead_citation(article, chunks[0], len(headlines) + 1)))
        turn.lap("retrieve", mark)
        citations = tuple(h.citation for h in headlines)
        return self._cited_answer(turn, digest_text(headlines, total, period, start), citations, "digest")

    def _what_it_says(self, turn: _Turn) -> Answer | None:
        """1e. The answer to "「标题」讲了什么？" or "「标题」是谁写的？" (as "第二篇讲了什么？" is rewritten after
        the news of a day) when an article has that title: its lead, the news in a report's first sentences, or
        its credit, quoted and cited. None otherwise. The small model answers these badly (docs/BENCHMARKS.md,
        "What residents ask first")."""
        about = asks_what_article_says(turn.standalone) if turn.context is None else ""
        who = asks_who_wrote(turn.standalone) if turn.context is None and not about else ""
        articles = self.store.titled(about or who) if (about or who) and hasattr(self.store, "titled") else []
        chunks = self.store.chunks_of(articles[0].id) if articles else []
        if not chunks:
            return None
        article = articles[0]
        if about:
            citation = lead_citation(article, chunks[0], 1, chars=LEAD_CHARS)
            published = _as_date(article.date or None)
            shown = self.annotate(citation.quote, published) if self.annotate and published else citation.quote
            text = f"{shown}[1]"  # its relative days spelled out, as in a quotation
        else:
            credit = credit_citation(article, chunks, 1)
            if credit is None:
                return None
            citation, text = credit, credit_text(article, 1)
        return self._cited_answer(turn, text, (citation,), "lead" if about else "credit")

    def _credit(self, turn: _Turn) -> Answer | None:
        """3c. The answer to "…的报道是哪位记者写的？" or "…的照片是谁拍的？" when its quotation is the credit of an
        article found for it: the reporters or photographers the store has for that article, cited with the credit.
        None otherwise. The small model judges such questions badly with the credit before it (docs/BENCHMARKS.md,
        "One chat, many questions")."""
        asked = asks_for_credit(turn.standalone)
        quotation = turn.quotation
        if not asked or quotation is None or len(quotation.citations) != 1:
            return None
        cited = quotation.citations[0]
        article = self.store.articles_by_id([cited.article_id]).get(cited.article_id)
        names = credited(cited.quote)
        if article is None or not names or not set(names) <= {*article.reporters, *article.photographers}:
            return None
        n = _passage_number(turn, cited)
        if not n:
            return None
        text = credit_text(article, n, photo=asked == "photo")
        return self._cited_answer(turn, text, (replace(cited, n=n),), "credit")

    def _posts(self, turn: _Turn) -> Answer | None:
        """3d. The answer to "乔俊杰是谁？" or "李皓担任什么职务？" when its quotation introduces the person with their
        posts: "乔俊杰是市委常委、区委书记、武进国家高新区党工委书记[1]。", the posts quoted. None otherwise. The small
        model judges such questions badly with the sentence before it (docs/BENCHMARKS.md)."""
        quotation = turn.quotation
        if quotation is None or len(quotation.citations) != 1:
            return None
        cited = quotation.citations[0]
        found = next(((name, p) for name in asked_who(turn.standalone) if (p := posts_of(name, cited.quote))), None)
        n = _passage_number(turn, cited)
        if found is None or not n:
            return None
        name, posts = found
        return self._cited_answer(turn, f"{name}是{posts}[{n}]。", (replace(cited, n=n),), "posts")

    def _cited_answer(self, turn: _Turn, text: str, citations: Sequence[Citation], generator: str) -> Answer:
        """An answer made without the model (`generator` names how): `text`, each line or sentence cited from
        `citations`, which it states as they are."""
        turn.generator = generator
        verified = sum(c.verified for c in citations)
        attribution = Attribution(text=text, citations=tuple(citations), factual=len(citations), verified=verified)
        return self._answer(turn, attribution, "")

    def _bylines(self, turn: _Turn) -> Answer | None:
        """1f. The answer to "何晓丹是谁？" of a reporter or photographer the store credits: the articles credited to
        them, newest first, each cited with its credit. None for anyone else, who is searched for."""
        found = self._credited(turn)
        if found is None:
            return None
        mark = time.perf_counter()
        name, total, articles = found
        listed: list[tuple[Article, Citation]] = []
        for article in articles:
            credit = credit_citation(article, self.store.chunks_of(article.id), len(listed) + 1)
            if credit is not None:
                listed.append((article, credit))
        if not listed:
            return None
        turn.lap("retrieve", mark)
        text = bylines_text(name, [(a, c.n) for a, c in listed], total)
        return self._cited_answer(turn, text, [c for _, c in listed], "bylines")

    def _credited(self, turn: _Turn) -> tuple[str, int, list[Article]] | None:
        """The person the (rewritten) question asks who they are, when the store credits articles to them: their
        name, how many, and the newest of them."""
        if turn.context is not None or not hasattr(self.store, "credited"):
            return None
        for name in asked_who(turn.standalone, loose=True):
            total, articles = self.store.credited(name, MAX_ITEMS)
            if articles:
                return name, total, articles
        return None

    def _from_store(self, turn: _Turn) -> bool:
        """Is the (rewritten) question one of those the store answers: the news of a day, or what the article of a
        quoted title says or who wrote it?"""
        asked = turn.standalone
        told = asks_what_article_says(asked) or asks_who_wrote(asked) or self._credited(turn) is not None
        return self._asks_for_news(turn) or bool(told)

    def _news_asked(self, question: str, today: date | None) -> bool:
        """Does `question`, as asked, ask for the news itself ("最新的新闻是什么？")? Then it follows nothing, and no
        rewrite may give it the last question's topic."""
        if not hasattr(self.store, "dated"):
            return False
        scope = parse_question_time(question, today or date.today()) if self.settings.answer.resolve_dates else None
        return asks_for_news(question, scope.text if scope is not None else "")

    def _asks_for_news(self, turn: _Turn) -> bool:
        """Does the (rewritten) question ask what the news is, with no topic, of a store that can tell?"""
        words = turn.scope.text if turn.scope is not None else ""
        return turn.context is None and hasattr(self.store, "dated") and asks_for_news(turn.standalone, words)

    def _compare(self, turn: _Turn, plan: Comparison) -> Answer:
        """1c. The answer to "A和B哪个更早/相隔多少天": both days found and compared in code, each cited."""
        mark = time.perf_counter()
        (first, first_hits), (second, second_hits) = self._event(plan.first), self._event(plan.second)
        turn.hits = first_hits[:2] + second_hits[:2]
        turn.lap("retrieve", mark)
        turn.generator = "timeline"
        turn.missing = [d for d, e in ((plan.first, first), (plan.second, second)) if e is None]
        if first is None or second is None:
            return self._answer(turn, None, "event_missing")
        text = compare_text(plan, first.day, second.day)
        citations = (first.citation(1), second.citation(2))
        attribution = Attribution(text=text, citations=citations, unverified=(), factual=1, verified=1)
        return self._answer(turn, attribution, "")

    def _retrieve(self, turn: _Turn) -> None:
        """2. The passages: the given context, or a search within the period the question names."""
        mark = time.perf_counter()
        if turn.context is not None:
            turn.hits = list(turn.context)
        else:
            if self.searcher is None:
                raise ValueError("no searcher: pass `context` passages or build the Assistant with a searcher")
            opts = self.settings.answer
            # a year only guessed for a bare "9月1日" that found nothing is dropped: the question is searched as
            # asked, and the model is told of no period, which nobody asked about
            guessed = turn.scope is not None and turn.scope.guessed_year
            turn.hits, turn.period_fallback = search_period(
                self.searcher,
                turn.query,
                turn.scope,
                k=opts.max_passages,
                min_dense_score=opts.min_dense_score,
                fallback_query=turn.standalone if guessed else "",
            )
            if turn.period_fallback and guessed:
                turn.query = turn.standalone  # what was searched, and what the passages' windows are cut around
            # the note says the sources were published at other dates: untrue of undated ones (search snippets,
            # files without dates), and read as "the sources cannot answer" by a small model
            if turn.period_fallback and turn.scope is not None and not guessed and all(h.date for h in turn.hits):
                turn.period_note = True
                turn.asked += PERIOD_FALLBACK_NOTE.format(period=turn.scope.resolved.removesuffix("期间"))
        turn.lap("retrieve", mark)

    def _gate(self, turn: _Turn) -> str:
        """3. Why the question is refused before any answer is written ("" to go on): nothing found, nothing close
        enough, or a name or number of the question that no passage mentions. `_judge` asks the model next."""
        opts = self.settings.answer
        if not turn.hits:
            return "no_hits"
        dense = [h.scores["dense"] for h in turn.hits if "dense" in h.scores]
        if turn.context is None and dense and max(dense) < opts.min_dense_score:
            return "retrieval" if _CJK.search(turn.question) else "not_chinese"  # the threshold is for Chinese
        turn.evidence = self._with_lead_days(self._context(turn))
        # after a period note the model knows the period found nothing and may say what other dates hold
        if opts.question_facts != "off" and not turn.period_note:
            turn.missing = unmatched_question_facts(
                without_resolved(turn.standalone, turn.query),
                # an article's title is its words too: "「标题」讲了什么？" names the article
                [(f"{h.title}\n{self._annotated(h, turn)}", h.date, h.source) for h in turn.hits],
                names=opts.question_facts == "names",
            )
            if turn.missing:
                return "question_facts"
        self._note_event_day(turn)
        return ""

    def _note_event_day(self, turn: _Turn) -> None:
        """A question for an event's day is told the day a source's sentence establishes, when one does."""
        event = asked_event(turn.standalone)
        found = event_day(event, [e.hit for e in turn.evidence]) if event else None
        if found is None or found.by_publication:
            return  # no sentence names the day: the model reads the publication dates as given
        n = turn.noted = next(e.n for e in turn.evidence if e.hit is found.hit)
        turn.asked += EVENT_DAY_NOTE.format(n=f"[{n}]", day=render_day(found.day))

    def _quote(self, turn: _Turn) -> Quotation | None:
        """The best sentence of the passages for the question, with its verified citation, or None."""
        text = self.extractive.answer(turn.query, [fence_text(e.shown) for e in turn.evidence], asked=turn.follow_up)
        if not text:
            return None
        attribution = self._verify(turn, text)
        if not attribution.verified or attribution.unverified:
            return None
        quoted, citations, turn.numbers = renumbered(attribution.text, attribution.citations, {})
        return Quotation(quoted, citations)

    def _wait(self, ticket: Ticket, key: str = "") -> Generator[Progress, None, Remembered | None]:
        """Report the place in the line until this question has the model, or until the model has answered the
        same prompt for someone ahead in the line: then the question leaves the line with that answer, which it
        also takes when it was given just before its turn."""
        shown = None
        while not ticket.wait(_QUEUE_REPORT_S):
            if key and (remembered := self.memory.get(key)) is not None:
                ticket.release()
                return remembered
            position = ticket.position
            if position != shown and position > 0:  # 0: only the model's reading ahead is before it
                yield Progress("queued", position=position)
                shown = position
        return self.memory.get(key) if key else None

    def _judge(self, turn: _Turn) -> Iterator[Progress]:
        """3b. The generator's own judgement whether the sources answer the question; returns "judge" when they do
        not. With `answer.first_read`, the best passages are judged alone first, and answered from when the model
        is sure of them: the rest is read only when they are not enough."""
        opts = self.settings.answer
        sources = _sources(turn)
        first = opts.first_read if opts.min_answerable > 0 and turn.noted <= opts.first_read else 0
        if 0 < first < len(sources):
            yield Progress("reading", sources=first, found=len(sources))
            p = self._judged(turn, sources[:first])
            if turn.notice or (p is not None and p >= max(opts.first_read_answerable, opts.min_answerable)):
                return ""  # answered from these, or without the model when it died
        yield Progress("reading", sources=len(sources), found=len(sources))
        if opts.min_answerable <= 0:
            turn.read, turn.messages = len(sources), answer_messages(turn.asked, sources, today=self._prompt_day(turn))
            return ""
        p = self._judged(turn, sources)
        if p is not None and p < opts.min_answerable:
            turn.generator = getattr(self.generator, "name", "")
            return "judge"
        return ""

    def _judged(self, turn: _Turn, sources: list[Source]) -> float | None:
        """The model's probability that `sources` answer the question, which become the answer's prompt."""
        turn.read, turn.messages = len(sources), answer_messages(turn.asked, sources, today=self._prompt_day(turn))
        turn.answerable_p = None
        mark = time.perf_counter()
        try:
            turn.answerable_p = self._answerable(
                answer_messages(turn.asked, sources, today=self._prompt_day(turn), task=JUDGE_TASK)
            )
        except ModelCrashed as exc:
            self._gave_up(turn, exc)
            return None
        if turn.answerable_p is not None:
            turn.timings["judge"] = turn.timings.get("judge", 0.0) + time.perf_counter() - mark
        return turn.answerable_p

    def _generate(self, turn: _Turn) -> Iterator[Token]:
        """4. The reply, streamed: the generator's, or the extractive answerer's when there is none or it failed."""
        mark = time.perf_counter()
        pieces: list[str] = []
        if turn.remembered is not None:
            turn.lap("ttft", turn.start)
            pieces = [turn.remembered.reply]
            yield Token(turn.remembered.reply)
        elif self.generator is not None and not turn.notice:
            try:
                max_tokens = min(self.settings.generator.max_tokens, self.settings.answer.max_answer_tokens)
                reply = self.generator.stream(
                    turn.messages, max_tokens=max_tokens, temperature=self.settings.generator.temperature
                )
                watch = LoopWatch(self.settings.answer.loop_chars)
                for piece in reply:
                    if not pieces:
                        turn.lap("ttft", turn.start)
                    pieces.append(piece)
                    yield Token(piece)
                    if (cut := watch.add(piece)) >= 0:
                        pieces = [watch.text[:cut]]  # what it goes on to repeat is not written, nor waited for
                        close = getattr(reply, "close", None)
                        if close is not None:
                            close()
                        break
                turn.usage = usage_of(reply)
                turn.generator = getattr(self.generator, "name", type(self.generator).__name__)
                if turn.usage.get("completion_tokens", 0) >= max_tokens:  # stopped at the limit, mid-sentence
                    pieces = [finished_sentences("".join(pieces))]
            except Exception as exc:  # a model that fails to load or dies mid-reply: answer extractively instead
                self._gave_up(turn, exc)
                pieces = []
        if not turn.generator:
            # quoted article text keeps its own bracketed numbers as 〔n〕, so they are never read as our citations
            reply = self.extractive.answer(
                turn.query, [fence_text(e.shown) for e in turn.evidence], asked=turn.follow_up
            )
            turn.timings.setdefault("ttft", time.perf_counter() - turn.start)
            pieces = [reply]
            turn.generator = "extractive"
            yield Token(reply)
        turn.reply = "".join(pieces).strip()
        turn.lap("generate", mark)

    def _prompt_day(self, turn: _Turn) -> date | None:
        """Today's date as the prompt gives it: always, or (`answer.prompt_day` "asked") only for a question that
        names a time ("去年", "最新", "现在…")."""
        if self.settings.answer.prompt_day == "asked" and turn.scope is None:
            return None
        return turn.today

    def _memory_key(self, turn: _Turn) -> str:
        """What identifies this question's work at the model (see assistant.memory); "" when it is not kept: no
        model, sampling, or a confirmation after the answer."""
        gen, opts = self.settings.generator, self.settings.answer
        if self.generator is None or not opts.remembered_replies or gen.temperature > 0 or opts.min_confirmed > 0:
            return ""
        sources = _sources(turn)
        options = (
            min(gen.max_tokens, opts.max_answer_tokens),
            opts.min_answerable,
            opts.first_read,
            opts.first_read_answerable,
            turn.noted,
        )
        model = getattr(self.generator, "name", type(self.generator).__name__)
        return memory_key(model, options, answer_messages(turn.asked, sources, today=self._prompt_day(turn)))

    def _recall(self, turn: _Turn, remembered: Remembered) -> str:
        """The judgement of an earlier question with this prompt; its reply follows in `_generate`."""
        turn.answerable_p, turn.read, turn.messages = remembered.answerable_p, remembered.read, remembered.messages
        turn.usage, turn.generator = dict(remembered.usage), remembered.generator
        return remembered.refusal

    def _remember(self, key: str, turn: _Turn, reason: str) -> None:
        """Keep what the model made of this prompt when it worked to the end: judged no, or wrote its whole reply
        (a reply cut short by its reader never gets here)."""
        judged = turn.answerable_p is not None or self.settings.answer.min_answerable <= 0
        wrote = reason == "judge" or (turn.generator not in ("", "extractive") and turn.reply)
        if turn.notice or not judged or not wrote:
            return
        refusal = "judge" if reason == "judge" else ""  # later refusals follow from the reply, checked again
        reply = "" if refusal else turn.reply
        usage = dict(turn.usage)  # the answer hands turn.usage to its reader; the memory keeps its own
        remembered = Remembered(refusal, turn.answerable_p, turn.read, turn.messages, reply, turn.generator, usage)
        self.memory.put(key, remembered)

    def _verify(self, turn: _Turn, text: str | None = None) -> Attribution:
        """5. Each sentence of the reply is matched to a quoted span of a cited passage that supports it."""
        # the model's reply may cite only what it read; the quotation, any passage
        model_reply = text is None and turn.read and turn.generator != "extractive"
        evidence = turn.evidence[: turn.read] if model_reply else turn.evidence
        opts = self.settings.answer
        asked = f"{turn.question}\n{turn.asked}" if model_reply else ""  # the words the reply may take from it
        # the names it asks about (not an anchor's: "A发生当天，B？" is answered from B's passages)
        subjects = facts_of(turn.standalone).names if model_reply and opts.question_facts == "names" else ()
        attributor = Attributor(evidence, min_overlap=opts.min_support_overlap, asked=asked, subjects=subjects)
        text = turn.reply if text is None else text
        if turn.anchor_text:  # the passages are about the asked part; the anchor's names are the question's
            text = without_anchor(text, turn.anchor_text)
        if turn.today is not None:  # "上周四，…" echoed from the question claims that day: say which, and check it
            text = note_days(text, relative_mentions(turn.standalone, turn.today))
        return attributor.attribute(text)

    def _decide(self, turn: _Turn, attribution: Attribution) -> str:
        """6. Why the reply is replaced by a refusal ("" to keep it): empty, declined, unverified, without the day,
        count or change the question asks for or only echoing it, or not confirmed by the generator's second look
        at its own reply."""
        opts = self.settings.answer
        reason = self._refusal_reason(turn.reply, attribution)
        if not reason:
            # the day, count or change asked for ("有多少物业公司参加？" — "有物业公司参加": true, and no answer), else
            # anything: the question echoed back is no answer, told against the question as asked, which a rewrite
            # may have given the answer's words ("动员谁参与？" → "“警力+物业+网格” 动员谁参与？")
            quoted = [c.quote for c in attribution.citations if c.verified]
            unstated = unstated_answer(turn.standalone, attribution.text, quoted)
            unstated = unstated or ("答案" if adds_nothing(turn.question, attribution.text) else "")
            if unstated:
                turn.missing = [unstated]
                return "unanswered"
        if reason or turn.generator == "extractive" or opts.min_confirmed <= 0 or turn.answerable_p is None:
            return reason
        mark = time.perf_counter()
        turn.confirmed_p = self._confirmed(turn.answerable_p, [*turn.messages, *confirmation_turns(turn.reply)])
        if turn.confirmed_p is None:
            return ""
        turn.lap("confirm", mark)
        return "confirmation" if turn.confirmed_p < opts.min_confirmed else ""

    # -- helpers of the steps ----------------------------------------------------------------------------------

    def _answer(self, turn: _Turn, attribution: Attribution | None, reason: str) -> Answer:
        turn.lap("total", turn.start)
        common = {
            "question": turn.question,
            "hits": tuple(turn.hits),
            "rewritten_query": turn.query,
            "timings": dict(turn.timings),
            "generator": turn.generator,
            "notice": turn.notice,
            "answerable_p": turn.answerable_p,
            "confirmed_p": turn.confirmed_p,
            "sources_read": turn.read,
            "sources_found": len(turn.evidence),
            "period_fallback": turn.period_fallback,
            "quotation": turn.quotation,
            "usage": turn.usage,
            "remembered": turn.remembered is not None,
        }
        if reason or attribution is None:
            # a question about another period than the corpus covers is told what the corpus does cover
            covered = covered_dates(turn.hits) if turn.period_fallback else []
            text = refusal_text(
                reason,
                missing=turn.missing,
                unsupported=attribution.unsupported if attribution is not None else (),
                covered=covered,
                quoted=turn.quotation is not None,
            )
            return Answer(text=text, refused=True, refusal_reason=reason, **common)
        # the answer's sources continue the quotation's numbering, in the order the reader meets them
        text, citations, _ = renumbered(attribution.text, attribution.citations, turn.numbers, shown=turn.shown)
        if turn.quotation is not None and text == turn.quotation.text:
            common["quotation"] = None  # answered by the quotation itself: shown once
        return Answer(text=text, citations=citations, unverified=attribution.unverified, refused=False, **common)

    def _gave_up(self, turn: _Turn, exc: Exception) -> None:
        """The generator failed: the question is answered without it, and the reader is told why."""
        self.generator_error = f"{type(exc).__name__}: {exc}"
        log.warning("generator failed, answering extractively: %s", self.generator_error)
        turn.notice = MODEL_CRASHED_NOTE if isinstance(exc, ModelCrashed) else MODEL_FAILED_NOTE
        turn.generator = ""

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

    def _context(self, turn: _Turn) -> list[Evidence]:
        """The sources the model reads, numbered from 1 (see assistant.context.select_passages)."""
        opts = self.settings.answer
        kept = select_passages(
            turn.hits,
            [self._shown(hit, turn) for hit in turn.hits],
            budget_chars=opts.context_chars,
            duplicate_overlap=opts.duplicate_overlap,
            score_gap=opts.score_gap,
        )
        return in_article_order(kept) if opts.passage_order == "article" else kept

    def _with_lead_days(self, evidence: list[Evidence]) -> list[Evidence]:
        """Each passage from later in its article with the day the article's lead paragraph establishes: news
        dates its event in the lead ("昨天上午，我区召开…会议"), and "会上，…" further down is that event."""
        later = {e.hit.chunk.article_id for e in evidence if e.hit.chunk.index > 0 and parse_day(e.hit.date)}
        if not later:
            return evidence
        days: dict[str, date | None] = {}
        for aid, article in self.store.articles_by_id(sorted(later)).items():
            published = parse_day(article.date)
            lead = article.text.strip().split("\n", 1)[0]
            found = days_in(lead, published) if published else []
            days[aid] = found[0][1] if found else None
        return [replace(e, lead_day=days.get(e.hit.chunk.article_id)) if e.hit.chunk.index > 0 else e for e in evidence]

    def _annotated(self, hit: Hit, turn: _Turn) -> str:
        """The chunk with its relative dates spelled out against its publication date (when annotating)."""
        if hit.chunk.id not in turn.annotated:
            turn.annotated[hit.chunk.id] = self._annotate(hit)
        return turn.annotated[hit.chunk.id]

    def _annotate(self, hit: Hit) -> str:
        if self.annotate is None:
            return hit.chunk.text
        try:
            published = _as_date(hit.date or None)
        except ValueError:
            published = None
        return self.annotate(hit.chunk.text, published)

    def lead_messages(self, *hits: Hit) -> Messages:
        """The start of the prompt of every question whose first passages are `hits`, in that order, each shown
        whole or from its first sentence (a chunk within answer.max_passage_chars always is): what
        assistant.readahead has the model read before anyone asks."""
        opts = self.settings.answer
        return lead_messages(
            [
                Source(
                    n,
                    hit.title,
                    hit.date,
                    trim_passage(self._annotate(hit), "", opts.max_passage_chars, opts.window_sentences),
                )
                for n, hit in enumerate(hits, start=1)
            ]
        )

    def typed_sources(
        self, question: str, history: Sequence[tuple[str, str]] = (), *, question_date: date | str | None = None
    ) -> list[Source]:
        """The passages the answer prompt of `question` would hold, in its order and windows, found without the
        model: what a question being typed lets the model read ahead (assistant.readahead). None are given where
        the model would not read them, or not first: nothing found or close enough, a fact of the question no
        passage holds, a question about an event's day, or a follow-up the model would rewrite."""
        if not question.strip():
            return []
        question, history = simplified(question), simplified_history(history)
        rewrites = history and self.settings.answer.rewrite_followups
        if rewrites and needs_model_rewrite(question, history, self.searcher):
            return []
        turn = self._found_by_rules(question, history, _as_date(question_date))
        return [] if turn is None else _sources(turn)

    def _shown(self, hit: Hit, turn: _Turn) -> str:
        """The passage as the model sees it: relative dates spelled out over the whole chunk (so that 当天 still
        finds the day named sentences before), then the window around what the question asks."""
        opts = self.settings.answer
        return trim_passage(self._annotated(hit, turn), turn.query, opts.max_passage_chars, opts.window_sentences)

    def _refusal_reason(self, reply: str, attribution: Attribution) -> str:
        """Why this reply should be replaced by a refusal, or "" to keep it."""
        if not attribution.text:
            return "empty"
        if attribution.opens_with_refusal or (attribution.refusal_sentences and not attribution.verified):
            return "generator"  # the model declined, first of all or with nothing it said backed by a source
        if attribution.factual and not attribution.verified and self.settings.answer.refuse_unverified:
            return "unverified"
        return ""
