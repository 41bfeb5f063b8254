"""Deterministic fakes for the eval tests: a scripted searcher, a scripted streaming assistant, a manual clock."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from assistant.events import Event, Final, Token
from core.types import Answer, Chunk, Citation, Hit, chunk_id


class ManualClock:
    """A clock that only moves when told to, so latencies are exact."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_hit(article_id: str, title: str, text: str = "正文", score: float = 1.0, index: int = 0) -> Hit:
    chunk = Chunk(
        id=chunk_id(article_id, index, index + len(text), text),
        article_id=article_id,
        index=index,
        paragraph=0,
        start=0,
        end=len(text),
        text=text,
    )
    return Hit(chunk=chunk, score=score, title=title, date="2024-02-02", source="武进日报")


class ScriptedSearcher:
    """Returns the hits scripted for a query (all queries it saw are kept in `queries`)."""

    def __init__(
        self, results: dict[str, Sequence[Hit]] | None = None, *, clock: ManualClock | None = None, seconds: float = 0.0
    ) -> None:
        self.results = dict(results or {})
        self.queries: list[str] = []
        self.clock, self.seconds = clock, seconds

    def search(self, query: str, *, k: int) -> list[Hit]:
        self.queries.append(query)
        if self.clock:
            self.clock.advance(self.seconds)
        if query not in self.results:
            raise KeyError(f"no hits scripted for {query!r}")
        return list(self.results[query])[:k]


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
