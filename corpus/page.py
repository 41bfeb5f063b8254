"""Split the text of a printed newspaper page into its articles and photo captions.

A page (as copied out of a PDF or an e-paper) is a run of lines: headline lines, a dateline such as
"本报讯 (记者 朱梦琪) 昨天上午, ……", body paragraphs (often broken in the middle of a sentence by the column
layout), and photo captions closed by a credit line such as "陆新 徐晶玮 摄". Blank lines separate blocks.

Rules (generic, none of them names a literal string of one page):
- A dateline line starts an article. The short lines without final punctuation directly above it (up to four,
  possibly in several blank-line-separated blocks) are its headline.
- Headline: within a block, a line that is only a quoted or book-titled name ("“阳湖N警·警物联盟”",
  "《……条例》") or that ends with a comma-like mark is the start of a title broken over two lines and is joined
  with the next line. The main title is the longest of the resulting lines in the first headline block: papers set
  the main title in the biggest type and it carries the news fact, while a kicker above it and decks below it are
  shorter. Every other headline line (kicker or deck, in page order) goes to `subtitle`, joined by a space.
- A credit line ("陆新 徐晶玮 摄", "（记者 陆新 摄）") closes a photo caption: the block above it is the caption.
  The item gets kind="photo", the photographers, and as title its own headline line if one stands above the
  caption, else the caption's first clause. Body lines that follow a photo belong to the article before it.
- Without a dateline, a block of one to three short lines without any punctuation inside, standing after a
  finished paragraph and before body text, is also a headline (articles without "本报讯").
- Body lines are repaired: a paragraph broken mid-sentence is joined with the next one. The dateline stays as the
  start of the first paragraph, so no text is lost. Jump lines ("（下转第2版）") are navigation and are dropped.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from core.types import Article, article_id
from corpus.normalize import ends_sentence, first_clause, normalize_text, repair_paragraphs

HEADLINE_MAX_CHARS = 40  # longer lines are body text
STRICT_HEADLINE_MAX_CHARS = 30  # headlines found without a dateline below them must be shorter still
BODY_MIN_CHARS = 40  # a line at least this long (or ending a sentence) is body text

_ROLES = ("本报记者", "见习记者", "实习记者", "特约记者", "摄影记者", "特约通讯员", "记者", "通讯员", "实习生", "摄影")
_ROLE_RE = "|".join(_ROLES)
# a credited person: an optional role, then a name of 2-4 characters (a longer run is a phrase, not a name)
_PERSON = rf"(?:(?:{_ROLE_RE})\s*)?[\u4e00-\u9fff·]{{2,4}}"
# a dateline's lead before its credit, any paper's: "新京报讯", "新华社南昌7月20日电", "本报北京1月1日电" (a pattern
# for a sentence's start, to be followed by the credit's parenthesis)
NEWS_LEAD = r"[^，。、；：（(]{1,20}?[讯电]\s*"
# "本报讯", "本报北京1月1日电", "新华社北京1月1日电", "海外网1月1日电", optionally followed by "（记者 朱梦琪）".
_DATELINE = re.compile(
    r"^(?P<lead>本报讯|(?:本报|新华社|中新社|[\u4e00-\u9fff]{2,8}[网社台报])[\u4e00-\u9fff\d]{0,12}?电)?"
    r"\s*(?:（(?P<credit>[^（）]{1,80})）)?"
)
_CREDIT_LINE = re.compile(rf"^（?\s*(?P<names>{_PERSON}(?:[\s、，/]+{_PERSON}){{0,4}})\s*/?\s*摄影?\s*）?$")
# A credit at the end of a caption paragraph: "……邻里交流。陆新 徐晶玮 摄".
_INLINE_CREDIT = re.compile(rf"(?<=[。！？”）])\s*(?P<names>(?:{_PERSON}\s+){{1,5}})摄影?$")
# "（下转第2版）", "（上接第一版）": where a story continues; navigation, not news text.
_JUMP_LINE = re.compile(r"^（?\s*(?:上接|下转|转|接)(?:第|本报)?[\dA-Z一二三四五六七八九十]{1,4}[版面]\S{0,3}\s*）?$")
_QUOTED_NAME = re.compile(r"^(“[^“”]+”|《[^《》]+》|「[^「」]+」|『[^『』]+』)$")
_INNER_PUNCT = re.compile(r"[，。；：！？,;:!?]")


def _names(credit: str) -> tuple[str, ...]:
    """Person names of a credit such as "记者 朱梦琪 通讯员 张三、李四" (roles dropped)."""
    names = []
    for token in re.split(r"[\s、，,/]+", credit):
        token = re.sub(rf"^(?:{_ROLE_RE})+", "", token).strip("：:")
        if token and token not in names and re.fullmatch(r"[\u4e00-\u9fff·]{2,6}|[A-Za-z][A-Za-z.\-]*", token):
            names.append(token)
    return tuple(names)


def dateline_reporters(line: str) -> tuple[str, ...] | None:
    """The reporters named by a dateline line, () for a dateline without names, None when it is no dateline."""
    match = _DATELINE.match(line)
    if not match or match.end() == 0:
        return None
    credit = match.group("credit") or ""
    if match.group("lead"):
        return _names(credit)
    if re.match(rf"\s*(?:{_ROLE_RE})", credit):  # "（记者 朱梦琪）昨天……" without "本报讯"
        return _names(credit)
    return None


def photo_credit(line: str) -> tuple[str, tuple[str, ...]] | None:
    """(caption text before the credit, photographers) when the line is or ends with a photo credit."""
    match = _CREDIT_LINE.match(line)
    if match:
        return "", _names(match.group("names"))
    match = _INLINE_CREDIT.search(line)
    if match:
        return line[: match.start()], _names(match.group("names"))
    return None


@dataclass
class _Line:
    text: str
    gap: int  # blank lines before this one
    reporters: tuple[str, ...] | None = None  # set for a dateline
    credit: tuple[str, tuple[str, ...]] | None = None  # set for a photo credit
    after_jump: bool = False  # a jump line ("（下转第2版）") stood before this one


@dataclass
class _Item:
    kind: str
    headline: list[int] = field(default_factory=list)
    body: list[int] = field(default_factory=list)
    reporters: tuple[str, ...] = ()
    photographers: tuple[str, ...] = ()
    credit_line: int = -1


def _split_lines(text: str) -> list[_Line]:
    lines, gap, jumped = [], 0, False
    for raw in normalize_text(text).split("\n"):
        if not raw:
            gap += 1
            continue
        if _JUMP_LINE.match(raw):
            jumped = True  # the story stops here, so whatever follows may start a new item
            continue
        line = _Line(raw, gap, after_jump=jumped)
        jumped = False
        line.reporters = dateline_reporters(raw)
        if line.reporters is None:
            line.credit = photo_credit(raw)
        lines.append(line)
        gap = 0
    return lines


def _headline_like(line: _Line) -> bool:
    text = line.text
    return (
        len(text) <= HEADLINE_MAX_CHARS
        and line.reporters is None
        and line.credit is None
        and not ends_sentence(text)
        and "。" not in text
        and not (text.startswith("（") and text.endswith("）"))  # "（完）", "（责任编辑：张三）"
    )


def _strict_headline(line: _Line) -> bool:
    return _headline_like(line) and len(line.text) <= STRICT_HEADLINE_MAX_CHARS and not _INNER_PUNCT.search(line.text)


def _body_like(line: _Line) -> bool:
    return line.credit is None and (len(line.text) >= BODY_MIN_CHARS or ends_sentence(line.text))


def _finished(line: _Line) -> bool:
    """True when an item may start after this line: it ends a sentence, is a photo credit or a closing note."""
    text = line.text
    return ends_sentence(text) or line.credit is not None or (text.startswith("（") and text.endswith("）"))


def _find_items(lines: list[_Line]) -> dict[int, _Item]:
    """Items keyed by their first line."""
    items: dict[int, _Item] = {}
    taken: set[int] = set()

    for d, line in enumerate(lines):
        if line.reporters is None:
            continue
        head: list[int] = []
        j = d - 1
        while j >= 0 and j not in taken and len(head) < 4 and _headline_like(lines[j]):
            head.insert(0, j)
            j -= 1
        # a headline starts after a finished paragraph: if the line above is unfinished, the first block of
        # the "headline" is the end of that paragraph, broken off by the layout
        while head and j >= 0 and not _finished(lines[j]) and any(lines[i].gap for i in head[1:]):
            first_block_end = next(n for n, i in enumerate(head) if n and lines[i].gap)
            j = head[first_block_end - 1]
            head = head[first_block_end:]
        items[head[0] if head else d] = _Item("article", headline=head, reporters=line.reporters)
        taken.update(head)
        taken.add(d)

    uses_blank_lines = any(line.gap for line in lines)
    for c, line in enumerate(lines):
        if line.credit is None or c in taken:
            continue
        caption_text, photographers = line.credit
        caption: list[int] = []
        if not caption_text:
            # the caption is the block above the credit (at most three lines; one line without blank-line layout)
            k = c - 1
            limit = 3 if uses_blank_lines else 1
            while k >= 0 and k not in taken and len(caption) < limit and lines[k].reporters is None:
                if lines[k].credit is not None:
                    break
                caption.insert(0, k)
                if lines[k].gap:  # first line of its block
                    break
                k -= 1
        if not caption and not caption_text:
            continue
        first = caption[0] if caption else c
        head = []
        t = first - 1
        if (
            t >= 0
            and t not in taken
            and _strict_headline(lines[t])
            and (t == 0 or lines[t].after_jump or ends_sentence(lines[t - 1].text) or t - 1 in taken)
        ):
            head = [t]
        items[head[0] if head else first] = _Item(
            "photo", headline=head, body=caption, photographers=photographers, credit_line=c
        )
        taken.update(head + caption + [c])

    i = 0
    while i < len(lines):
        if i in taken or not _strict_headline(lines[i]) or (uses_blank_lines and i > 0 and not lines[i].gap):
            i += 1
            continue
        prev_ok = (
            i == 0
            or lines[i].after_jump
            or ends_sentence(lines[i - 1].text)
            or (i - 1 in taken and lines[i - 1].credit is not None)
        )
        k = i
        while k + 1 < len(lines) and k + 1 - i < 3 and k + 1 not in taken and _strict_headline(lines[k + 1]):
            k += 1
        after = k + 1
        if prev_ok and after < len(lines) and after not in taken and _body_like(lines[after]):
            items[i] = _Item("article", headline=list(range(i, k + 1)))
            taken.update(range(i, k + 1))
            i = after
        else:
            i += 1
    return items


def _headline_segments(lines: list[_Line], indices: list[int]) -> list[tuple[int, str]]:
    """(block number, text) of each headline line after joining titles broken over two lines."""
    segments: list[tuple[int, str]] = []
    block, joining = -1, False
    for n, i in enumerate(indices):
        if n == 0 or lines[i].gap:
            block += 1
            joining = False
        text = lines[i].text
        if joining and segments and segments[-1][0] == block:
            segments[-1] = (block, segments[-1][1] + text)
        else:
            segments.append((block, text))
        joining = bool(_QUOTED_NAME.match(text)) or text[-1] in "、，：,:—"
    return segments


def split_headline(lines: list[str], gaps: list[int] | None = None) -> tuple[str, str]:
    """(title, subtitle) of headline lines; gaps[i] > 0 where a blank line stands before line i."""
    items = [_Line(text, gap) for text, gap in zip(lines, gaps or [0] * len(lines), strict=True)]
    segments = _headline_segments(items, list(range(len(items))))
    if not segments:
        return "", ""
    first_block = [s for s in segments if s[0] == 0]
    title_seg = max(first_block, key=lambda s: len(s[1]))  # max keeps the first of equal lengths
    rest = [text for s in segments if s is not title_seg for text in [s[1]]]
    return title_seg[1], " ".join(rest)


def _untitled_title(text: str) -> str:
    match = _DATELINE.match(text)
    if match and match.end():
        text = text[match.end() :]
    return first_clause(text)


def parse_page(text: str, *, date: str = "", source: str = "", page: str = "") -> list[Article]:
    """Articles and photo captions of one newspaper page, in page order."""
    lines = _split_lines(text)
    items = _find_items(lines)
    starts = sorted(items)
    claimed = {i for item in items.values() for i in (*item.headline, *item.body, item.credit_line) if i >= 0}

    # Lines not claimed yet are body text: of the item they follow, or, after a photo, of the article before it.
    leading: list[int] = []
    current: _Item | None = None
    last_article: _Item | None = None
    for i in range(len(lines)):
        if i in items:
            current = items[i]
            if current.kind == "article":
                last_article = current
        if i in claimed:
            continue
        if current is None:
            leading.append(i)
        elif current.kind == "article":
            current.body.append(i)
        elif last_article is not None:
            last_article.body.append(i)
        else:
            leading.append(i)

    ordered = [items[s] for s in starts]
    if any(ends_sentence(lines[i].text) for i in leading):
        ordered.insert(0, _Item("article", body=leading))

    articles: list[Article] = []
    seen: set[str] = set()
    for item in ordered:
        article = _build(item, lines, date=date, source=source, page=page)
        if article is None:
            continue
        if article.id in seen:  # two untitled items with the same first clause
            n = 2
            while (new_id := article_id(source=source, date=date, title=f"{article.title}#{n}")) in seen:
                n += 1
            article = dataclasses.replace(article, id=new_id)
        seen.add(article.id)
        articles.append(article)
    return articles


def _build(item: _Item, lines: list[_Line], *, date: str, source: str, page: str) -> Article | None:
    body = [lines[i].text for i in sorted(item.body)]
    if item.kind == "photo":
        caption_text, _ = lines[item.credit_line].credit or ("", ())
        credit_raw = lines[item.credit_line].text[len(caption_text) :].strip()
        if caption_text:
            body.append(caption_text)
        paragraphs = repair_paragraphs(body)
        if paragraphs:
            paragraphs[-1] += credit_raw
        else:
            paragraphs = [credit_raw]
    else:
        paragraphs = repair_paragraphs(body)
    text = "\n".join(paragraphs)
    if not text:
        return None
    if item.headline:
        title, subtitle = split_headline([lines[i].text for i in item.headline], [lines[i].gap for i in item.headline])
    else:
        title, subtitle = _untitled_title(text), ""
    return Article(
        id=article_id(source=source, date=date, title=title),
        title=title,
        subtitle=subtitle,
        text=text,
        date=date,
        date_source="option" if date else "",
        source=source,
        page=page,
        reporters=item.reporters,
        photographers=item.photographers,
        kind=item.kind,
    )


def looks_like_page(text: str) -> bool:
    """True when the text reads as a newspaper page: it has a dateline, or three or more headline blocks."""
    lines = _split_lines(text)
    if any(line.reporters is not None for line in lines):
        return True
    headlines = [i for i, item in _find_items(lines).items() if item.kind == "article" and item.headline]
    return len(headlines) >= 3
