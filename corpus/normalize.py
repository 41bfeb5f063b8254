"""Text clean-up for Chinese news: invisible characters, full-width punctuation, spaces, broken paragraphs."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Characters that carry no text: BOM, zero-width spaces and joiners, word joiner, soft hyphen.
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00ad"))
# Newline variants that a paragraph split must see as "\n".
_NEWLINES = re.compile(r"\r\n|[\r\u2028\u2029\x0b\x0c\x85]")
# Full-width digits and Latin letters become ASCII, so "２０２３年" and "2023年" search the same.
_FULLWIDTH_ALNUM = {cp: cp - 0xFEE0 for cp in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))}

_ASCII_TO_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}

# Marks that may end a paragraph; closing quotes and brackets after them are skipped first.
SENTENCE_FINAL = "。！？；…!?.;：:"
CLOSERS = "”’」』）)】》〉\"'"


def is_cjk(ch: str) -> bool:
    """True for a Chinese/Japanese ideograph (the text itself, not punctuation)."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3FFFF
        or 0x3040 <= cp <= 0x30FF  # kana, for the odd Japanese name
    )


def is_wide_punct(ch: str) -> bool:
    """True for CJK and full-width punctuation (，。、（）《》 …), which need no spaces around them."""
    cp = ord(ch)
    return 0x3001 <= cp <= 0x303F or (0xFF01 <= cp <= 0xFF65 and not ch.isalnum())


def _is_cjk_context(ch: str) -> bool:
    return is_cjk(ch) or is_wide_punct(ch)


def _neighbour(text: str, i: int, step: int) -> str:
    """The nearest non-space character from position i in direction step, or ""."""
    i += step
    while 0 <= i < len(text) and text[i] in " \t":
        i += step
    return text[i] if 0 <= i < len(text) else ""


def clean_text(text: str) -> str:
    """Drop invisible characters, unify newlines and odd spaces, make full-width digits/letters ASCII."""
    text = _NEWLINES.sub("\n", text.translate(_INVISIBLE))
    text = text.translate(_FULLWIDTH_ALNUM)
    return re.sub(r"[\t\u00a0\u3000\u2002-\u200a\u202f\u205f]", " ", text)


def _paren_pairs(line: str) -> dict[int, int]:
    """Positions of balanced ASCII parentheses, opening -> closing."""
    pairs, stack = {}, []
    for i, ch in enumerate(line):
        if ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            pairs[stack.pop()] = i
    return pairs


def fullwidth_punctuation(line: str) -> str:
    """ASCII , ; : ? ! ( ) next to Chinese text become their full-width forms.

    A mark is converted when the nearest non-space character on at least one side is Chinese (or full-width
    punctuation). Commas and colons between two digits ("1,300", "10:30") are kept. Balanced parentheses are
    converted as a pair, when their content or either outside neighbour is Chinese, so they never mismatch.
    A converted mark counts as Chinese context for its neighbours, so runs such as "?!" convert together.
    """
    if not any(mark in line for mark in _ASCII_TO_FULL):
        return line
    for _ in range(len(line)):
        converted = _convert_once(line)
        if converted == line:
            break
        line = converted
    return line


def _convert_once(line: str) -> str:
    chars = list(line)
    pairs = _paren_pairs(line)
    paired = set(pairs) | set(pairs.values())
    for open_i, close_i in pairs.items():
        inside = line[open_i + 1 : close_i]
        outside = (_neighbour(line, open_i, -1), _neighbour(line, close_i, 1))
        if any(is_cjk(c) for c in inside) or any(c and _is_cjk_context(c) for c in outside):
            chars[open_i], chars[close_i] = "（", "）"
    for i, ch in enumerate(line):
        if ch not in _ASCII_TO_FULL or i in paired:
            continue
        before, after = _neighbour(line, i, -1), _neighbour(line, i, 1)
        if ch in ",:" and i > 0 and i + 1 < len(line) and line[i - 1].isdigit() and line[i + 1].isdigit():
            continue  # 1,300 and 10:30
        if (before and _is_cjk_context(before)) or (after and _is_cjk_context(after)):
            chars[i] = _ASCII_TO_FULL[ch]
    return "".join(chars)


_SPACES = re.compile(r" {2,}")


def tidy_spaces(line: str) -> str:
    """Collapse runs of spaces and drop spaces that touch full-width punctuation ("上午， 市委" -> "上午，市委").

    A single space between two Chinese characters is kept: it separates names ("记者 朱梦琪", "陆新 徐晶玮 摄").
    Spaces between a curly quote and Chinese text are dropped too, as they are layout debris.
    """
    line = _SPACES.sub(" ", line.strip())
    if " " not in line:
        return line
    out = []
    for i, ch in enumerate(line):
        if ch == " ":
            before, after = line[i - 1], line[i + 1]
            if is_wide_punct(before) or is_wide_punct(after):
                continue
            if (before in "“”‘’" and is_cjk(after)) or (after in "“”‘’" and is_cjk(before)):
                continue
        out.append(ch)
    return "".join(out)


def normalize_line(line: str) -> str:
    """One line of Chinese text with full-width punctuation and tidy spaces."""
    return tidy_spaces(fullwidth_punctuation(line.strip()))


def normalize_text(text: str) -> str:
    """Clean a whole text line by line; blank lines are kept (they separate paragraphs and headlines)."""
    return "\n".join(normalize_line(line) for line in clean_text(text).split("\n"))


def ends_sentence(paragraph: str) -> bool:
    """True when the paragraph ends with sentence-final punctuation, possibly followed by closing quotes."""
    stripped = paragraph.rstrip().rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in SENTENCE_FINAL


def _join(left: str, right: str) -> str:
    # Latin words broken over two lines need their space back; Chinese text is joined directly.
    if left[-1:].isascii() and left[-1:].isalpha() and right[:1].isascii() and right[:1].isalpha():
        return f"{left} {right}"
    return left + right


def repair_paragraphs(paragraphs: Iterable[str]) -> list[str]:
    """Join each paragraph that ends mid-sentence with the next one ("勇攀新" + "高、锐意进取" -> "勇攀新高、锐意进取").

    Only pass body paragraphs: a headline has no final punctuation and would swallow the text below it.
    Empty paragraphs are dropped; a last paragraph without final punctuation is kept as it is.
    """
    repaired: list[str] = []
    pending = ""
    for paragraph in paragraphs:
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        pending = _join(pending, paragraph) if pending else paragraph
        if ends_sentence(pending):
            repaired.append(pending)
            pending = ""
    if pending:
        repaired.append(pending)
    return repaired


def first_clause(text: str, limit: int = 40) -> str:
    """The text up to its first comma or sentence end, at most `limit` characters: a title for untitled items."""
    text = text.strip().split("\n", 1)[0]
    match = re.search(r"[，,。！？；;!?：]", text)
    clause = text[: match.start()] if match else text
    return clause[:limit].strip()
