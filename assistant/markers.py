"""Citation markers in a reply: "[1]", "【1】", "[资料1]" and the rest parsed, stripped, and put back after checking."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from core.text import CLOSING_QUOTES, FULL_STOPS, SENTENCE, SENTENCE_ENDS, normalise
from core.types import Citation

_NUM = r"[0-9０-９]{1,3}"
_NUM_LIST = rf"(?:{_NUM}(?:\s*[,，、;；\-–－~]\s*(?:资料|来源)?\s*{_NUM})*)"
_SOURCE_WORD = r"(?:资料|来源|文档|编号|参考)"
# "[1]", "【1】", "［1］", "[1,2]", "[资料1]", "[编号=3]" (copied from the fence tag); in round brackets only
# with a source word ("（资料1）"), since "(1)" is as likely to be an enumeration
_ONE_MARKER = (
    rf"(?:[\[【［]\s*(?:{_SOURCE_WORD}\s*[=:：]?)?\s*{_NUM_LIST}\s*[\]】］]"
    rf"|[（(]\s*{_SOURCE_WORD}\s*[=:：]?\s*{_NUM_LIST}\s*[)）])"
)
MARKERS = re.compile(rf"(?:{_ONE_MARKER}\s*)+")
_ONE = re.compile(_ONE_MARKER)
# stray end marks and line breaks are pieces too, so that the reply can be rebuilt from its pieces
_PIECE = re.compile(rf"{SENTENCE.pattern}|[{SENTENCE_ENDS}]+|\n+")
_LEADING_MARKERS = re.compile(rf"^\s*(?:{_ONE_MARKER}\s*)+")
# a marker followed by a measure word or unit, where a small model wrote the citation instead of the count
_MARKER_AS_NUMBER = re.compile(rf"{_ONE_MARKER}(?=[起个人名次件万亿元条岁届项家所辆架只%％])")
_TRAILING_PUNCT = re.compile(rf"[{SENTENCE_ENDS}，,：:]*[{CLOSING_QUOTES}]?\s*$")
# A sentence that opens by naming its sources ("根据资料编号为2的正文，", "资料3显示：", "根据资料[1]和[2]，") cites
# them; left in the text, a bare number would be checked as a fact of the article, and stripping the markers alone
# would leave "根据资料和，"
_REFERENCE = rf"(?:编号)?\s*(?:为|是)?\s*(?:{_ONE_MARKER}|{_NUM})"
_SOURCE_NOUN = "资料|来源|文档"  # each of two characters: it stands in a look-behind too
_AND = "和|、|及|与|以及"
_LEADING_REFERENCE = re.compile(
    rf"^\s*(?:根据|据)?\s*(?:{_SOURCE_NOUN})\s*{_REFERENCE}"
    rf"(?:\s*(?:{_AND})\s*(?:{_SOURCE_NOUN})?\s*{_REFERENCE})*"
    r"\s*(?:号)?\s*(?:的)?\s*(?:资料|文档|内容|信息|正文|标题)?\s*(?:中|里)?"
    r"\s*(?:(?:提到|显示|指出|所述|称|记载)\s*[，,：:]?|[，,：:])\s*"
)

# the same inside a sentence ("这些要求都是根据资料[1]、[2]、[3]中的内容提出来的"): the markers cite the sentence, and
# the source word stays, which stripping the markers alone would leave as "资料、、中"
_NAMED_SOURCES = re.compile(rf"(?<={_SOURCE_NOUN})\s*{_ONE_MARKER}(?:\s*(?:{_AND}|，|,)\s*{_ONE_MARKER})+")


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of a reply: its text without markers and the source numbers it cites, in order."""

    text: str
    cited: tuple[int, ...] = ()
    separator: bool = False  # a bare line break kept to rebuild the text
    marker_as_number: bool = False  # a marker stands where the number should be ("共发生[1]起")


def _ints(group: str) -> list[int]:
    group = unicodedata.normalize("NFKC", group)
    numbers: list[int] = []
    for m in re.finditer(r"(\d+)(?:\s*[-–~]\s*(\d+))?", group):
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        numbers.extend(range(lo, hi + 1) if 0 <= hi - lo <= 10 else (lo, hi))
    return numbers


def cited_numbers(text: str) -> list[int]:
    """Every source number in `text`'s markers, in order of appearance, repeated ones once."""
    found: list[int] = []
    for m in _ONE.finditer(text):
        found.extend(n for n in _ints(m.group(0)) if n not in found)
    return found


# the end of a finished sentence: its end mark, a closing quote, and the markers that cite it ("。[1]" or "[1]。")
_FINISHED = re.compile(rf"[{SENTENCE_ENDS}]+[{CLOSING_QUOTES}]?(?:\s*{_ONE_MARKER})*")


def finished_sentences(text: str) -> str:
    """`text` up to the end of its last finished sentence, with the markers after it: a reply the model stopped
    writing at its token limit ends in half a sentence. All of `text` when no sentence in it is finished."""
    ends = list(_FINISHED.finditer(text))
    return text[: ends[-1].end()] if ends else text


# "2. 标题[2]" a line: an answer's numbered list (the news of a day, a model's enumeration)
_LIST_ITEM = re.compile(r"^\s*(?P<n>\d{1,3})[.．、]\s*(?P<item>.+?)\s*$", re.MULTILINE)


# how an item of a list starts: "1. ", "2、", "（3）", "- ", "• "
LIST_ITEM_START = re.compile(r"^\s*(?:\d{1,2}[.．、)）]|[（(]\d{1,2}[)）]|[-*•·])\s*")


def numbered_items(text: str) -> dict[int, str]:
    """The items of the numbered lists in `text`, by number, without their markers."""
    return {int(m["n"]): strip_markers(m["item"]).strip() for m in _LIST_ITEM.finditer(text)}


def strip_markers(text: str) -> str:
    return MARKERS.sub("", text)


def split_answer(text: str, valid: Sequence[int] | None = None) -> list[AnswerSentence]:
    """Split a reply into sentences, attaching each marker to the sentence it follows.

    Markers written after the full stop ("…施行。[1]") belong to the sentence before them. Numbers not in
    `valid` (sources that do not exist) are dropped.
    """
    pieces = [m.group(0) for m in _PIECE.finditer(text)]
    # a reply that opens with a marker ("[1]据报道…。[2]…") puts each marker before the sentence it cites
    prefixed = _LEADING_MARKERS.match(text) is not None
    merged: list[str] = []
    for piece in pieces:
        lead = _LEADING_MARKERS.match(piece)
        rest = piece[lead.end() :] if lead else piece
        if lead and merged and not merged[-1].startswith("\n") and not (prefixed and rest.strip()):
            merged[-1] += lead.group(0).strip()
            piece = rest
        elif lead and not rest.strip() and any(m.strip() for m in merged):
            # markers on a line of their own ("…施行。\n[1][2]") cite the sentence before the line break
            said = max(i for i, m in enumerate(merged) if m.strip())
            merged[said] += lead.group(0).strip()
            piece = rest
        if piece:
            merged.append(piece)
    sentences = []
    for piece in merged:
        if not piece.strip():
            sentences.append(AnswerSentence("\n" if "\n" in piece else piece, separator=True))
            continue
        numbers = cited_numbers(piece)
        lead = _LEADING_MARKERS.match(piece)
        body = piece[lead.end() :] if lead else piece
        named = _LEADING_REFERENCE.match(body)
        if named and MARKERS.sub("", body[named.end() :]).strip():
            numbers += [n for n in _ints(named.group(0)) if n not in numbers]
            body = body[named.end() :]
        numbers = [n for n in numbers if valid is None or n in valid]
        clean = MARKERS.sub("", _NAMED_SOURCES.sub("", body)).strip()
        if clean:
            sentences.append(
                AnswerSentence(clean, tuple(numbers), marker_as_number=bool(_MARKER_AS_NUMBER.search(body)))
            )
    return sentences


def merge_repeats(sentences: Sequence[AnswerSentence]) -> list[AnswerSentence]:
    """One sentence for each text said more than once, citing every source its copies cited.

    A small model sometimes writes the same sentence once per source ("…1.4万名师生志愿者[1]。…[2]。…[3]。"); a
    reader needs it once, and each citation is then checked as a co-citation of that one sentence.
    """
    first: dict[str, int] = {}
    out: list[AnswerSentence] = []
    for s in sentences:
        key = normalise(s.text) if not s.separator else ""
        if key and key in first:
            i = first[key]
            cited = (*out[i].cited, *(n for n in s.cited if n not in out[i].cited))
            out[i] = replace(out[i], cited=cited, marker_as_number=out[i].marker_as_number or s.marker_as_number)
            if out and out[-1].separator:
                out.pop()  # the line break that led to the copy
            continue
        if key:
            first[key] = len(out)
        out.append(s)
    return out


# the marks that only pause a sentence, and those that end it
_PAUSES = "，,、；;：:"
_PAUSE = re.compile(f"[{_PAUSES}]")
_STOP = re.compile(f"[{FULL_STOPS}]")


def with_markers(sentence: str, numbers: Sequence[int]) -> str:
    """`sentence` with "[n]" markers placed before its closing punctuation."""
    if not numbers:
        return sentence
    marks = "".join(f"[{n}]" for n in numbers)
    tail = _TRAILING_PUNCT.search(sentence)
    cut = tail.start() if tail else len(sentence)
    end = sentence[cut:]
    if _PAUSE.search(end) and _STOP.search(end):  # "…一批”，[1]。": the comma before the full stop goes
        end = _PAUSE.sub("", end)
    return sentence[:cut] + marks + end


# a reply that ends mid-sentence, as "…131万辆，[1]" does: its last comma reads as if something were cut off
_ENDS_OPEN = re.compile(rf"[{_PAUSES}]((?:\[\d+\])*)$")


def join_sentences(parts: Sequence[tuple[AnswerSentence, Sequence[int]]]) -> str:
    out = []
    for sentence, numbers in parts:
        out.append(sentence.text if sentence.separator else with_markers(sentence.text, numbers))
    return _ENDS_OPEN.sub(r"\1。", "".join(out).strip())


_MARKER = re.compile(r"\[(\d+)\]")


def renumbered(
    text: str, citations: Sequence[Citation], numbers: dict[int, int], *, shown: int = 0
) -> tuple[str, tuple[Citation, ...], dict[int, int]]:
    """`text` and `citations` with sources numbered 1, 2, … in the order the reader meets them, each once.

    `numbers` maps source numbers already shown (by the quotation above the answer) to their shown number; the
    returned map extends it. Numbers up to `shown` are taken too, by sources shown above that this text's numbers
    do not name. A marker for a source without a citation keeps a number of its own.
    """
    numbers = dict(numbers)
    taken = max([shown, *numbers.values()])
    for n in [int(match[1]) for match in _MARKER.finditer(text)] + [c.n for c in citations]:
        if n not in numbers:
            taken += 1
            numbers[n] = taken
    text = _MARKER.sub(lambda m: f"[{numbers[int(m[1])]}]", text)
    return text, tuple(replace(c, n=numbers[c.n]) for c in citations), numbers
