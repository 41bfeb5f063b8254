"""Answers as safe HTML for the web chat: clickable [n] citations, a sources panel, marked unverified sentences.

Everything taken from an answer or an article is HTML-escaped when it is placed, and the assembled fragment goes
through nh3 with a short allow-list as a second line of defence, so no markup from a news article can run in the
browser. Citations open with <details>/<summary>, which needs neither JavaScript nor links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

from assistant.markers import LIST_ITEM_START, MARKERS, cited_numbers
from core.types import Answer, Article, Citation, Hit, Quotation, parse_day
from corpus.timeexpr import AnnotatedText, annotate_with_offsets

ArticleLookup = Callable[[str], Article | None] | Mapping[str, Article]

_TAGS = {"div", "span", "details", "summary", "mark", "ol", "ul", "li", "br", "small", "strong"}
_ATTRIBUTES = {"*": {"class", "title"}, "details": {"data-n", "data-article", "data-chunk"}}

PARAGRAPH_CONTEXT_CHARS = 160  # characters of the paragraph shown on each side of the quoted span
SNIPPET_CHARS = 80  # characters of a passage shown for a refusal's nearby articles
HOVER_QUOTE_CHARS = 60  # characters of the quote in a citation's tooltip

# styles for the fragments below; the app passes them to Gradio with launch(css=...)
CSS = """
.nq-answer { line-height: 1.7; }
.nq-body { white-space: normal; }
details.nq-cite { display: inline; }
details.nq-cite > summary { display: inline; cursor: pointer; color: var(--color-accent, #2563eb);
  font-size: 0.85em; vertical-align: super; list-style: none; }
details.nq-cite > summary::-webkit-details-marker { display: none; }
/* a closed <details> still lays out an empty block for its content, which would break the line after [n] */
details.nq-cite::details-content { display: none; }
details.nq-cite[open]::details-content { display: contents; }
details.nq-cite[open] > .nq-pop { display: block; }
.nq-pop { display: none; margin: 0.4em 0; padding: 0.5em 0.7em; border-left: 3px solid #2563eb;
  background: rgba(37, 99, 235, 0.07); border-radius: 4px; font-size: 0.92em; }
.nq-src-title { font-weight: 600; }
.nq-src-meta { display: block; color: #6b7280; font-size: 0.88em; }
.nq-src-para { display: block; margin-top: 0.3em; }
.nq-src-para mark { background: #fde68a; color: #111827; padding: 0 1px; }
.nq-unverified { text-decoration: underline dotted #d97706; }
.nq-unverified-sign { color: #d97706; }
.nq-warn { display: block; color: #b45309; font-size: 0.88em; }
.nq-sources { margin-top: 0.8em; padding-top: 0.4em; border-top: 1px solid rgba(128, 128, 128, 0.3);
  font-size: 0.92em; }
.nq-sources-h { font-weight: 600; }
.nq-sources ol, .nq-sources ul { margin: 0.2em 0 0 1.2em; padding: 0; }
.nq-sources ul { list-style: none; margin-left: 0; }
.nq-sources summary { cursor: pointer; }
.nq-refusal { color: #92400e; }
.nq-added { color: #1d4ed8; background: rgba(37, 99, 235, 0.08); border-radius: 3px; font-size: 0.92em;
  cursor: help; }
.nq-quote { margin-bottom: 0.6em; padding: 0.4em 0.7em; border-left: 3px solid #9ca3af;
  background: rgba(156, 163, 175, 0.1); border-radius: 4px; }
.nq-quote-h { font-size: 0.8em; color: #6b7280; letter-spacing: 0.05em; }
.nq-status { margin-top: 0.3em; color: #6b7280; font-size: 0.88em; }
.nq-notice { margin-bottom: 0.4em; padding: 0.3em 0.6em; border-radius: 4px; background: rgba(217, 119, 6, 0.1);
  color: #92400e; font-size: 0.9em; }
.nq-streaming { opacity: 0.85; }
"""


def _lookup(articles: ArticleLookup) -> Callable[[str], Article | None]:
    if isinstance(articles, Mapping):
        return articles.get
    return articles


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _clean(fragment: str) -> str:
    return nh3.clean(fragment, tags=_TAGS, attributes=_ATTRIBUTES, link_rel=None, strip_comments=True)


def _text_html(text: str) -> str:
    """Escaped text with its line breaks kept (one line of HTML, so Markdown never re-reads it)."""
    return "<br>".join(_e(line) for line in text.split("\n"))


# the notes corpus.timeexpr.annotate adds ("昨天上午（即2024年2月1日上午）"): shown apart from the article's words
_NOTE = re.compile(r"（即[^（）\n]{1,40}）")
_NOTE_TITLE = "newsqa 按发布日期推算补充，原文没有这几个字"


def _note_html(note: str) -> str:
    return f'<span class="nq-added" title="{_NOTE_TITLE}">{_e(note)}</span>'


def _quoted_text_html(text: str) -> str:
    """Text quoted from an annotated passage, its added notes styled as ours."""
    out, pos = [], 0
    for m in _NOTE.finditer(text):
        out += [_text_html(text[pos : m.start()]), _note_html(m.group())]
        pos = m.end()
    return "".join([*out, _text_html(text[pos:])])


def _annotated_html(shown: AnnotatedText, start: int, end: int) -> str:
    """shown.text[start:end] with the inserted notes (known exactly by their offsets) styled as ours."""
    out, pos, shift = [], start, 0
    for at, length in shown.notes:
        a, b = at + shift, at + shift + length
        shift += length
        if b <= start or a >= end:
            continue
        a, b = max(a, start), min(b, end)
        out += [_text_html(shown.text[pos:a]), _note_html(shown.text[a:b])]
        pos = b
    return "".join([*out, _text_html(shown.text[pos:end])])


# -- the source of one citation ----------------------------------------------------------------------------------


def byline(article: Article | None, date: str = "") -> str:
    """ "2024-02-02 · 武进日报 · 记者 朱梦琪": what a reader needs to find the printed article."""
    parts = [(article.date if article else "") or date or "日期不详"]
    if article and article.source:
        parts.append(article.source)
    if article and article.page:
        parts.append(article.page)
    if article and article.reporters:
        parts.append("记者 " + "、".join(article.reporters))
    elif article and article.photographers:
        parts.append("摄影 " + "、".join(article.photographers))
    return " · ".join(parts)


def quoted_paragraph(article: Article | None, citation: Citation, *, resolve_dates: bool = True) -> str:
    """The paragraph(s) holding the quoted span, escaped, with the span in <mark>; trimmed around long quotes.

    With `resolve_dates`, relative dates are followed by the day they mean ("昨天上午（即2024年2月1日上午）"),
    read against the article's date; the citation's offsets still index the original text.
    """
    if article is None or not (0 <= citation.start < citation.end <= len(article.text)):
        return f"<mark>{_e(citation.quote)}</mark>"
    spans = [(s, e) for s, e in article.paragraphs if s < citation.end and e > citation.start]
    lo = min((s for s, _ in spans), default=citation.start)
    hi = max((e for _, e in spans), default=citation.end)
    lo = max(lo, citation.start - PARAGRAPH_CONTEXT_CHARS)
    hi = min(hi, citation.end + PARAGRAPH_CONTEXT_CHARS)
    text = article.text
    shown = _annotated(text, article.date or citation.date) if resolve_dates else None
    if shown is None:
        before, quote, after = (
            _text_html(text[a:b]) for a, b in ((lo, citation.start), (citation.start, citation.end), (citation.end, hi))
        )
    else:  # a note belongs to the expression before it: one right after the quote's last word stays in the mark
        a_lo, a_start, a_end, a_hi = (shown.to_annotated(i) for i in (lo, citation.start, citation.end, hi))
        before, quote, after = (
            _annotated_html(shown, a, b) for a, b in ((a_lo, a_start), (a_start, a_end), (a_end, a_hi))
        )
    return (
        ("…" if lo > 0 and text[lo - 1] != "\n" else "")
        + before
        + "<mark>"
        + quote
        + "</mark>"
        + after
        + ("…" if hi < len(text) and text[hi] != "\n" else "")
    )


def _annotated(text: str, published: str) -> AnnotatedText | None:
    day = parse_day(published)
    return None if day is None else annotate_with_offsets(text, day)


def _source_card(citation: Citation, article: Article | None) -> str:
    title = (article.title if article else "") or citation.title
    warn = "" if citation.verified else '<span class="nq-warn">⚠ 这句话未能在此原文中核实</span>'
    return (
        f'<span class="nq-src-title">{_e(title)}</span>'
        f'<span class="nq-src-meta">{_e(byline(article, citation.date))}</span>'
        f'<span class="nq-src-para">{quoted_paragraph(article, citation)}</span>{warn}'
    )


def _marker(n: int, citation: Citation, article: Article | None) -> str:
    title = (article.title if article else "") or citation.title
    quote = citation.quote if len(citation.quote) <= HOVER_QUOTE_CHARS else citation.quote[:HOVER_QUOTE_CHARS] + "…"
    hover = f"{title}（{citation.date or '日期不详'}）：{quote}"  # the browser's tooltip, before any click
    return (
        f'<details class="nq-cite" data-n="{n}" data-article="{_e(citation.article_id)}" '
        f'data-chunk="{citation.chunk_id}"><summary title="{_e(hover)}">[{n}]</summary>'
        f'<span class="nq-pop">{_source_card(citation, article)}</span></details>'
    )


# -- the answer --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    numbers: tuple[int, ...]


def _markers(text: str) -> list[_Piece]:
    """The runs of markers in `text`, each ending before a line break that follows it: "…[1]\n2. …" keeps its
    lines."""
    pieces = []
    for m in MARKERS.finditer(text):
        run = m.group(0)
        kept = len(run.rstrip())
        end = m.start() + (run.index("\n", kept) if "\n" in run[kept:] else len(run))
        pieces.append(_Piece(m.start(), end, tuple(cited_numbers(run))))
    return pieces


def _unverified_spans(text: str, sentences: Sequence[str]) -> list[tuple[int, int]]:
    """Where the unverified sentences are in `text`; they are given without markers, the text has them."""
    keep = [True] * len(text)
    for m in MARKERS.finditer(text):
        keep[m.start() : m.end()] = [False] * (m.end() - m.start())
    where = [i for i, k in enumerate(keep) if k]  # stripped position -> position in text
    stripped = "".join(text[i] for i in where)
    spans: list[tuple[int, int]] = []
    for sentence in sentences:
        needle = MARKERS.sub("", sentence).strip()
        at = stripped.find(needle) if needle else -1
        while at >= 0 and any(s < where[at + len(needle) - 1] + 1 and where[at] < e for s, e in spans):
            at = stripped.find(needle, at + 1)
        if at >= 0:
            start, end = where[at], where[at + len(needle) - 1] + 1
            numbered = LIST_ITEM_START.match(text[start:end])  # "⚠4. …" reads as a fourth warning: "4. ⚠…"
            spans.append((start + (numbered.end() if numbered else 0), end))
    return sorted(spans)


def _citation_for(n: int, at: int, text: str, citations: Sequence[Citation]) -> Citation | None:
    """The citation [n] placed at `at`: the one whose sentence ends right there, else any with that number."""
    same = [c for c in citations if c.n == n]
    for c in same:
        probe = re.sub(r"[。！？!?；;，,：:]+$", "", c.sentence.strip())
        if probe and text.rfind(probe, 0, at + 1) >= 0 and at - text.rfind(probe, 0, at + 1) - len(probe) <= 4:
            return c
    return same[0] if same else None


def _body_html(answer: Answer | Quotation, lookup: Callable[[str], Article | None]) -> str:
    text = answer.text.strip()
    unverified = _unverified_spans(text, getattr(answer, "unverified", ()))
    markers = _markers(text)
    out: list[str] = []
    pos = 0
    events: list[tuple[int, str, object]] = [(m.start, "marker", m) for m in markers]
    events += [(s, "open", None) for s, _ in unverified] + [(e, "close", None) for _, e in unverified]
    events.sort(key=lambda ev: (ev[0], {"close": 0, "marker": 1, "open": 2}[ev[1]]))
    for at, kind, item in events:
        if at < pos:
            continue
        out.append(_quoted_text_html(text[pos:at]))
        pos = at
        if kind == "open":
            out.append(
                '<span class="nq-unverified" title="没有找到支持这句话的原文"><span class="nq-unverified-sign">⚠</span>'
            )
        elif kind == "close":
            out.append("</span>")
        else:
            assert isinstance(item, _Piece)
            # the sentence's closing mark goes before its markers: an opened source then follows the sentence
            closing = _CLOSING.match(text, item.end)
            if closing:
                out.append(_e(closing.group()))
            for n in item.numbers:
                citation = _citation_for(n, item.start, text, answer.citations)
                if citation is None:
                    out.append(_e(f"[{n}]"))
                else:
                    out.append(_marker(n, citation, lookup(citation.article_id)))
            pos = closing.end() if closing else item.end
    out.append(_quoted_text_html(text[pos:]))
    return "".join(out)


_CLOSING = re.compile(r"[。！？!?；;]+[”’」』\"]?")


def _sources_html(citations: Sequence[Citation], lookup: Callable[[str], Article | None]) -> str:
    """One entry per cited article, in the order of its first source number, with each cited passage."""
    first: dict[int, Citation] = {}
    for c in sorted(citations, key=lambda c: c.n):
        first.setdefault(c.n, c)
    by_article: dict[str, list[Citation]] = {}
    for c in first.values():
        by_article.setdefault(c.article_id, []).append(c)
    if not by_article:
        return ""
    items = []
    for article_id, cited in by_article.items():
        article = lookup(article_id)
        title = (article.title if article else "") or cited[0].title
        numbers = "".join(f"[{c.n}]" for c in cited)
        passages = "".join(
            f'<span class="nq-src-para"><strong>[{c.n}]</strong> {quoted_paragraph(article, c)}</span>' for c in cited
        )
        items.append(
            f'<li><details class="nq-source"><summary>{numbers} <span class="nq-src-title">{_e(title)}'
            f"</span> <small>{_e(byline(article, cited[0].date))}</small></summary>{passages}</details></li>"
        )
    return f'<div class="nq-sources"><div class="nq-sources-h">来源</div><ul>{"".join(items)}</ul></div>'


def _nearby_html(hits: Sequence[Hit], lookup: Callable[[str], Article | None], limit: int = 3) -> str:
    seen: set[str] = set()
    items = []
    for hit in hits:
        if hit.chunk.article_id in seen:
            continue
        seen.add(hit.chunk.article_id)
        article = lookup(hit.chunk.article_id)
        title = (article.title if article else "") or hit.title
        snippet = hit.chunk.text.strip()
        short = snippet[:SNIPPET_CHARS] + ("…" if len(snippet) > SNIPPET_CHARS else "")
        items.append(
            f'<li><details class="nq-source"><summary><span class="nq-src-title">{_e(title)}</span> '
            f"<small>{_e(byline(article, hit.date))}</small></summary>"
            f'<span class="nq-src-para">{_text_html(short)}</span></details></li>'
        )
        if len(items) == limit:
            break
    if not items:
        return ""
    return f'<div class="nq-sources"><div class="nq-sources-h">可能相关的文章</div><ol>{"".join(items)}</ol></div>'


def _quotation_html(quotation: Quotation | None, lookup: Callable[[str], Article | None]) -> str:
    """The quotation above the answer, labelled as the sources' own words (its text is not read back as the answer)."""
    if quotation is None:
        return ""
    return (
        f'<div class="nq-quote"><div class="nq-quote-h">原文摘录</div>'
        f'<div class="nq-quote-body">{_body_html(quotation, lookup)}</div></div>'
    )


# what the reader sees while the assistant works (assistant.events.Progress)
_STAGES = {
    "searching": "正在查找相关报道……",
    "queued": "模型正在回答别人的问题，您排在第 {position} 位，请稍候……",
    "reading": "正在阅读找到的 {sources} 段报道……",
    "reading_best": "正在阅读找到的 {found} 段报道中最相关的 {sources} 段……",
    "writing": "正在撰写回答……",
}


def render_progress(
    stage: str,
    quotation: Quotation | None,
    articles: ArticleLookup,
    *,
    position: int = 0,
    sources: int = 0,
    found: int = 0,
    partial: str = "",
) -> str:
    """A message still being worked on: the quotation (already verified), what is happening, the reply so far."""
    lookup = _lookup(articles)
    if stage == "reading" and 0 < sources < found:
        stage = "reading_best"
    status = _STAGES[stage].format(position=position, sources=sources, found=found)
    reply = f'<div class="nq-body">{_text_html(partial.strip())}</div>' if partial.strip() else ""
    return _clean(
        f'<div class="nq-answer nq-streaming">{_quotation_html(quotation, lookup)}{reply}'
        f'<div class="nq-status">{_e(status)}</div></div>'
    )


def render_answer(answer: Answer, articles: ArticleLookup) -> str:
    """The final chat message: the quotation, the answer with [n] citations that open their source, the sources."""
    lookup = _lookup(articles)
    notice = f'<div class="nq-notice">ⓘ {_e(answer.notice)}</div>' if answer.notice else ""
    quote = _quotation_html(answer.quotation, lookup)
    if answer.refused:
        text = answer.text.strip() or "抱歉，资料中没有找到答案。"
        body = f'<div class="nq-body nq-refusal">{_text_html(text)}</div>'
        nearby = "" if answer.quotation else _nearby_html(answer.hits, lookup)
        return _clean(f'<div class="nq-answer">{notice}{quote}{body}{nearby}</div>')
    body = f'<div class="nq-body">{_body_html(answer, lookup)}</div>'
    cited = [*(answer.quotation.citations if answer.quotation else ()), *answer.citations]
    return _clean(f'<div class="nq-answer">{notice}{quote}{body}{_sources_html(cited, lookup)}</div>')


def render_error(message: str) -> str:
    """A message about the app itself (not an answer); conversation history leaves it out."""
    return _clean(f'<div class="nq-answer nq-error"><div class="nq-body nq-refusal">⚠ {_e(message)}</div></div>')


def is_error(fragment: str) -> bool:
    return 'class="nq-answer nq-error"' in fragment


# -- reading a rendered answer back (conversation history, feedback) ----------------------------------------------


@dataclass(frozen=True)
class CitedSource:
    n: int
    article_id: str
    chunk_id: int
    title: str
    quote: str


class _Reader(HTMLParser):
    """Collects the plain answer text (with its [n] markers) and the cited sources from a rendered answer."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.sources: list[CitedSource] = []
        self._stack: list[str] = []  # class of every open element
        self._cite: dict[str, str] | None = None
        self._title: list[str] = []
        self._quote: list[str] = []

    def _inside(self, cls: str) -> bool:
        return any(cls in c.split() for c in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "br":
            if self._inside("nq-body") and not self._inside("nq-pop"):
                self.text.append("\n")
            return
        cls = a.get("class", "")
        self._stack.append(cls if tag != "mark" else cls + " nq-mark")
        if tag == "details" and "nq-cite" in cls.split():
            self._cite, self._title, self._quote = a, [], []

    def handle_endtag(self, tag: str) -> None:
        if tag == "br" or not self._stack:
            return
        cls = self._stack.pop()
        if tag == "details" and "nq-cite" in cls.split() and self._cite is not None:
            c = self._cite
            try:
                n, chunk = int(c.get("data-n", "0")), int(c.get("data-chunk", "0"))
            except ValueError:
                n, chunk = 0, 0
            title = "".join(self._title).strip()
            if n and all(s.n != n or s.chunk_id != chunk for s in self.sources):
                self.sources.append(CitedSource(n, c.get("data-article", ""), chunk, title, "".join(self._quote)))
            self._cite = None

    def handle_data(self, data: str) -> None:
        if self._inside("nq-pop"):
            if self._inside("nq-src-title"):
                self._title.append(data)
            elif self._inside("nq-mark"):
                self._quote.append(data)
            return
        if self._inside("nq-body") and not self._inside("nq-unverified-sign"):
            self.text.append(data)


def read_rendered(fragment: str) -> tuple[str, list[CitedSource]]:
    """(answer text with [n] markers, cited sources) of a message made by render_answer; other text as is."""
    if "nq-answer" not in fragment:
        return html.unescape(fragment), []
    reader = _Reader()
    reader.feed(fragment)
    reader.close()
    # markers were shown after their sentence's closing mark (see _body_html): put them back before it
    text = _MOVED_CLOSING.sub(r"\2\1", "".join(reader.text).strip())
    return text, reader.sources


_MOVED_CLOSING = re.compile(r"([。！？!?；;]+[”’」』\"]?)((?:\[\d+\])+)")
