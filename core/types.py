"""Core value types shared by every package: articles, chunks, search hits, citations, answers."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Article:
    """One news item as stored: clean text plus the metadata a fact-checker needs."""

    id: str
    title: str
    text: str
    subtitle: str = ""
    date: str = ""  # ISO yyyy-mm-dd, or "" when unknown
    date_source: str = ""  # where the date came from: "metadata", "option", "text", "url" or ""
    source: str = ""  # paper or site name, e.g. "武进日报"
    url: str = ""
    page: str = ""  # page label of a printed paper, when known
    reporters: tuple[str, ...] = ()
    photographers: tuple[str, ...] = ()
    kind: str = "article"  # "article" or "photo" (a photo caption)

    @property
    def paragraphs(self) -> list[tuple[int, int]]:
        """Character spans of the paragraphs of `text` (paragraphs are separated by newlines)."""
        spans, start = [], 0
        for line in self.text.split("\n"):
            if line.strip():
                spans.append((start, start + len(line)))
            start += len(line) + 1
        return spans

    @property
    def content_hash(self) -> str:
        """Hash of everything stored about the article; a change means the stored copy must be replaced."""
        parts = [
            self.title,
            self.subtitle,
            self.text,
            self.date,
            self.date_source,
            self.source,
            self.url,
            self.page,
            "|".join(self.reporters),
            "|".join(self.photographers),
            self.kind,
        ]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def parse_day(value: str) -> dt.date | None:
    """The day a stored date names ("2024-02-02", also with a time after it); None when it is empty or partial."""
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def article_id(
    *, given: str = "", url: str = "", source: str = "", date: str = "", title: str = "", text: str = ""
) -> str:
    """Stable article id: the input's own id, else a hash of its url, else of source/date/title (or text)."""
    if given:
        return given
    if url:
        key = "url:" + url
    elif title:
        key = "\x1f".join(("meta", source, date, title))
    else:
        key = "\x1f".join(("text", source, date, text))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def chunk_id(article_id: str, start: int, end: int, text: str, salt: str = "") -> int:
    """Stable positive 63-bit chunk id, usable as a FAISS id and as a SQLite rowid.

    `salt` is the article's content hash, so a retitled or redated article gets new chunk ids and the indexes,
    which sync by id, re-embed its chunks instead of keeping vectors of the old title.
    """
    digest = hashlib.sha256(f"{article_id}\x1f{start}\x1f{end}\x1f{text}\x1f{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class Chunk:
    """A passage of an article; `article.text[start:end] == text`."""

    id: int
    article_id: str
    index: int  # position of the chunk within its article
    paragraph: int  # number (0-based) of the paragraph the chunk starts in
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its score and the article metadata needed to show and cite it."""

    chunk: Chunk
    score: float
    title: str = ""
    date: str = ""
    source: str = ""
    # the scores of the individual retrievers, e.g. {"dense": 0.81, "bm25": 12.3}, for reports and debugging
    scores: dict[str, float] = field(default_factory=dict, compare=False)


def hit_json(hit: Hit) -> dict[str, Any]:
    """A hit as JSON, the part every printed or saved hit shares; callers add their own keys (rank, scores)."""
    return {
        "chunk_id": hit.chunk.id,
        "article_id": hit.chunk.article_id,
        "title": hit.title,
        "date": hit.date,
        "score": round(float(hit.score), 6),
        "text": hit.chunk.text,
    }


@dataclass(frozen=True)
class Citation:
    """Source [n] of an answer, resolved to the quoted span of a dated article that supports a sentence."""

    n: int
    chunk_id: int
    article_id: str
    title: str
    date: str
    paragraph: int
    quote: str  # the supporting span, == article.text[start:end]
    start: int
    end: int
    verified: bool
    sentence: str = ""  # the answer sentence this citation supports

    @classmethod
    def of_span(
        cls, chunk: Chunk, start: int, end: int, *, n: int, title: str, date: str, verified: bool, sentence: str
    ) -> Citation:
        """Source [n]: `chunk.text[start:end]`, with its offsets in the article."""
        return cls(
            n=n,
            chunk_id=chunk.id,
            article_id=chunk.article_id,
            title=title,
            date=date,
            paragraph=chunk.paragraph,
            quote=chunk.text[start:end],
            start=chunk.start + start,
            end=chunk.start + end,
            verified=verified,
            sentence=sentence,
        )


@dataclass(frozen=True)
class Quotation:
    """Sentences quoted word for word from the sources, each with its verified citation: evidence, not an answer."""

    text: str
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Answer:
    """What the assistant says to a question, with everything needed to check it."""

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    hits: tuple[Hit, ...] = ()
    refused: bool = False
    rewritten_query: str = ""
    # seconds spent in each step: rewrite, retrieve, judge, generate, confirm; and since the question was asked:
    # quote (the quotation was ready), ttft (the first piece of the reply), total
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    unverified: tuple[str, ...] = ()  # answer sentences no cited passage supports
    generator: str = ""
    notice: str = ""  # shown above the answer: why it comes without the model, when it does
    # why it was refused: "no_hits", "retrieval", "question_facts", "judge" (before writing), "empty", "generator",
    # "unverified", "unanswered" (no day or count where one was asked), "confirmation" (after); "" when answered
    refusal_reason: str = ""
    answerable_p: float | None = None  # the generator's probability, before answering, that the sources answer
    confirmed_p: float | None = None  # that judgement combined with its second look at its own reply
    sources_read: int = 0  # the passages the model read for its answer (the best first: see answer.first_read)
    sources_found: int = 0  # the passages it could have read: the search's hits that answer.* selection kept
    period_fallback: bool = False  # the period the question names held nothing relevant, so it was searched without
    quotation: Quotation | None = None  # the evidence shown before the answer, which stays when the answer is refused
    remembered: bool = False  # the model's work on this very prompt was remembered from an earlier question
    # the model's token counts for the answer: prompt_tokens, completion_tokens, and prompt_tokens_details
    # .cached_tokens, the prompt prefix it did not read again (OpenAI's shape; {} when the backend reports none)
    usage: dict[str, Any] = field(default_factory=dict, compare=False)
