"""Split an article into passages of whole sentences, with exact character offsets for citations."""

from __future__ import annotations

import re

from core.types import Article, Chunk, chunk_id

# A Chinese sentence ends after 。！？；… (and the closing quotes/brackets that follow); a Latin one after . ! ?
# followed by a space. The trailing space belongs to the sentence before it.
_SENTENCE_END = re.compile(r"[。！？；…]+[”’」』）)]*|[.!?]+[\"'”’)]*(?:\s+|$)")
# Inside a sentence longer than a chunk, cut after a comma-like mark.
_CLAUSE_END = re.compile(r"[，、：,:]+[”’」』）)]*\s*")


def _pieces(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Spans of text[start:end] that end after each match of `pattern`; the last span takes the rest."""
    spans, begin = [], start
    for match in pattern.finditer(text, start, end):
        if match.end() > begin:
            spans.append((begin, match.end()))
            begin = match.end()
    if begin < end:
        spans.append((begin, end))
    return spans


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences of text[start:end]."""
    return _pieces(text, start, len(text) if end is None else end, _SENTENCE_END)


def _small_spans(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """A sentence cut into spans of at most `size` characters: at commas if possible, else hard."""
    spans = []
    for c_start, c_end in _pieces(text, start, end, _CLAUSE_END):
        while c_end - c_start > size:
            spans.append((c_start, c_start + size))
            c_start += size
        spans.append((c_start, c_end))
    return spans


def _pack(spans: list[tuple[int, int]], size: int, min_size: int) -> list[tuple[int, int]]:
    """Greedily join consecutive spans into chunks of at most `size`; a short last chunk joins the one before."""
    chunks: list[tuple[int, int]] = []
    for s_start, s_end in spans:
        if chunks and s_end - chunks[-1][0] <= size:
            chunks[-1] = (chunks[-1][0], s_end)
        else:
            chunks.append((s_start, s_end))
    if len(chunks) > 1 and chunks[-1][1] - chunks[-1][0] < min_size:
        tail = chunks.pop()
        chunks[-1] = (chunks[-1][0], tail[1])
    return chunks


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Move the span's ends inwards past whitespace, so a chunk never starts or ends with a space."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _paragraph_chunks(text: str, p_start: int, p_end: int, size: int, min_size: int) -> list[tuple[int, int]]:
    units: list[tuple[int, int]] = []
    for s_start, s_end in sentence_spans(text, p_start, p_end):
        s_start, s_end = _trim(text, s_start, s_end)
        if s_end > s_start:
            units.extend(_small_spans(text, s_start, s_end, size) if s_end - s_start > size else [(s_start, s_end)])
    return [_trim(text, a, b) for a, b in _pack(units, size, min_size)]


def chunk_spans(
    text: str, paragraphs: list[tuple[int, int]], *, size: int, min_size: int
) -> list[tuple[int, int, int]]:
    """(paragraph number, start, end) of each chunk of `text`.

    Chunks never cross a paragraph boundary, except that a paragraph shorter than `min_size` (a subheading or a
    one-line note) joins the first chunk of the paragraph after it when both fit in `size`; such a chunk counts
    as part of the paragraph it starts in.
    """
    result: list[tuple[int, int, int]] = []
    pending: tuple[int, int, int] | None = None  # a short paragraph waiting to join the next one
    for number, (p_start, p_end) in enumerate(paragraphs):
        chunks = _paragraph_chunks(text, p_start, p_end, size, min_size)
        if not chunks:
            continue
        first_paragraph = number
        if pending is not None:
            if chunks[0][1] - pending[1] <= size:
                chunks[0] = (pending[1], chunks[0][1])
                first_paragraph = pending[0]
            else:
                result.append(pending)
            pending = None
        is_last = number == len(paragraphs) - 1
        if len(chunks) == 1 and first_paragraph == number and chunks[0][1] - chunks[0][0] < min_size and not is_last:
            pending = (number, *chunks[0])
            continue
        result.extend((first_paragraph if i == 0 else number, a, b) for i, (a, b) in enumerate(chunks))
    if pending is not None:
        result.append(pending)
    return result


def chunk_article(article: Article, *, size: int = 300, min_size: int = 60) -> list[Chunk]:
    """Passages of whole sentences of at most about `size` characters; `article.text[c.start:c.end] == c.text`.

    A sentence longer than `size` is cut at commas, or hard where it has none. A last piece shorter than
    `min_size` joins the chunk before it in the same paragraph, so a chunk may reach size + min_size characters.
    """
    if size <= 0 or min_size < 0:
        raise ValueError(f"chunk size must be positive and min_size non-negative, got {size} and {min_size}")
    text = article.text
    chunks = []
    for index, (paragraph, start, end) in enumerate(
        chunk_spans(text, article.paragraphs, size=size, min_size=min_size)
    ):
        piece = text[start:end]
        chunks.append(
            Chunk(
                id=chunk_id(article.id, start, end, piece, article.content_hash),
                article_id=article.id,
                index=index,
                paragraph=paragraph,
                start=start,
                end=end,
                text=piece,
            )
        )
    return chunks
