"""Fakes for the web app's handler tests: a scripted assistant, a searcher that counts syncs, a cited answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from assistant.events import Event, Final, Token
from core.config import Settings
from core.types import Answer, Article, Chunk, Citation, Hit, chunk_id
from corpus.store import Store

GARBAGE_TEXT = (
    "本报讯（记者 王晓）《常州市生活垃圾分类管理条例》将于2024年9月1日起正式施行。\n"
    "条例明确了居民分类投放的责任。<script>alert('xss')</script>"
)
GARBAGE = Article(
    id="garbage",
    title="《常州市生活垃圾分类管理条例》9月1日起施行<img src=x onerror=alert(1)>",
    text=GARBAGE_TEXT,
    date="2024-02-02",
    source="武进日报",
    reporters=("王晓",),
)


def chunk_of(article: Article, start: int = 0, end: int | None = None) -> Chunk:
    end = len(article.text) if end is None else end
    text = article.text[start:end]
    return Chunk(
        id=chunk_id(article.id, start, end, text),
        article_id=article.id,
        index=0,
        paragraph=0,
        start=start,
        end=end,
        text=text,
    )


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


@dataclass
class FakeSearcher:
    """Counts syncs; every search returns the one GARBAGE chunk."""

    syncs: int = 0
    searches: int = 0

    def sync(self, **_: object) -> dict:
        self.syncs += 1
        return {}

    def search(self, query: str, *, k: int | None = None, **_: object) -> list[Hit]:
        self.searches += 1
        return [Hit(chunk=chunk_of(GARBAGE), score=1.0, title=GARBAGE.title, date=GARBAGE.date, source=GARBAGE.source)]


@dataclass
class FakeRuntime:
    settings: Settings
    store: Store
    searcher: FakeSearcher
    assistant: FakeAssistant
