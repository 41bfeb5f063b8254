"""Fake assistants: one streams a cited answer to any question (web app tests), one is scripted per question (eval)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from assistant.events import Event, Final, Token
from core.types import Answer, Citation, Hit
from tests.support.clock import ManualClock
from tests.support.news import GARBAGE, chunk_of


def cited_answer(question: str = "垃圾分类条例什么时候施行？") -> Answer:
    """An answer citing GARBAGE for its first sentence, with an unverified second sentence."""
    chunk = chunk_of(GARBAGE)
    quote = "将于2024年9月1日起正式施行"
    start = GARBAGE.text.index(quote)
    citation = Citation(
        n=1,
        chunk_id=chunk.id,
        article_id=GARBAGE.id,
        title=GARBAGE.title,
        date=GARBAGE.date,
        paragraph=0,
        quote=quote,
        start=start,
        end=start + len(quote),
        verified=True,
        sentence="条例自2024年9月1日起施行。",
    )
    hit = Hit(chunk=chunk, score=1.0, title=GARBAGE.title, date=GARBAGE.date, source=GARBAGE.source)
    return Answer(
        question=question,
        text="条例自2024年9月1日起施行[1]。违者最高罚款五千元。",
        citations=(citation,),
        hits=(hit,),
        unverified=("违者最高罚款五千元。",),
        generator="fake",
    )


def citation(n: int, hit: Hit, *, verified: bool = True, sentence: str = "") -> Citation:
    return Citation(
        n=n,
        chunk_id=hit.chunk.id,
        article_id=hit.chunk.article_id,
        title=hit.title,
        date=hit.date,
        paragraph=0,
        quote=hit.chunk.text[:10],
        start=0,
        end=10,
        verified=verified,
        sentence=sentence,
    )


class ScriptedAssistant:
    """Streams the scripted reply for each question: the first token after `first_s`, the answer after `total_s`.

    The tokens are the answer's first character, or the pieces in `streamed` for that question (a reply that the
    checks then replace by a refusal).
    """

    def __init__(
        self,
        answers: dict[str, Answer | Exception],
        *,
        clock: ManualClock | None = None,
        first_s: float = 0.0,
        total_s: float = 0.0,
        streamed: dict[str, list[str]] | None = None,
    ) -> None:
        self.answers = answers
        self.streamed = streamed or {}
        self.clock, self.first_s, self.total_s = clock, first_s, total_s
        self.calls: list[dict] = []

    def stream(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        *,
        question_date: str | None = None,
        context: list[Hit] | None = None,
    ) -> Iterator[Event]:
        self.calls.append(
            {"question": question, "history": list(history), "question_date": question_date, "context": context}
        )
        reply = self.answers[question]
        if isinstance(reply, Exception):
            raise reply
        if self.clock:
            self.clock.advance(self.first_s)
        for piece in self.streamed.get(question, [reply.text[:1]]):
            yield Token(piece)
        if self.clock:
            self.clock.advance(self.total_s - self.first_s)
        yield Final(reply)

    def ask(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        *,
        question_date: str | None = None,
        context: list[Hit] | None = None,
    ) -> Answer:
        final = list(self.stream(question, history, question_date=question_date, context=context))[-1]
        assert isinstance(final, Final)
        return final.answer


@dataclass
class FakeAssistant:
    """Streams the scripted answer's text in pieces, then the answer; records every question and history."""

    answers: list[Answer] = field(default_factory=list)
    piece_chars: int = 4
    calls: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    fail: Exception | None = None

    def stream(self, question: str, history: Sequence[tuple[str, str]] = (), **_: object) -> Iterator[Event]:
        self.calls.append((question, list(history)))
        if self.fail is not None:
            raise self.fail
        answer = self.answers.pop(0) if self.answers else cited_answer(question)
        for i in range(0, len(answer.text), self.piece_chars):
            yield Token(answer.text[i : i + self.piece_chars])
        yield Final(answer)

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), **options: object) -> Answer:
        final = list(self.stream(question, history, **options))[-1]
        assert isinstance(final, Final)
        return final.answer
