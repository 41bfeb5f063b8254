"""Chinese text helpers every layer uses: sentences, normalised text, character bigrams, numerals, question words."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

# -- sentences ---------------------------------------------------------------------------------------------------

FULL_STOPS = "。！？!?"
SENTENCE_ENDS = FULL_STOPS + "；;"
CLOSING_QUOTES = '”’」』"'
# A sentence runs up to its end marks and the closing quote after them; a line break ends it too.
SENTENCE = re.compile(rf"[^{SENTENCE_ENDS}\n]+[{SENTENCE_ENDS}]*[{CLOSING_QUOTES}]?")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the sentences of `text`, surrounding whitespace excluded."""
    spans = []
    for m in SENTENCE.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


# -- normalised text and bigrams ---------------------------------------------------------------------------------

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def normalise(text: str) -> str:
    """NFKC (full-width digits and punctuation to ASCII), thousands separators and spaces removed."""
    text = unicodedata.normalize("NFKC", text)
    text = _THOUSANDS.sub("", text)
    # a space between two digits separates numbers: "14:37 3月10日" must not become "…373月10日", where the
    # date regex then reads month 73 and loses 3月10日
    text = re.sub(r"(?<=\d)\s+(?=\d)", "|", text)
    return re.sub(r"\s+", "", text)


# A bigram never spans punctuation or a space. Runs are \w (so "_" too) and the CJK range, which adds the Yijing
# hexagram symbols; letters_only runs hold letters and digits alone.
_RUN = re.compile(r"[\u3400-\u9fff\w]+")
_LETTERS_RUN = re.compile(r"[^\W_]+")


def bigrams(text: str, *, letters_only: bool = False) -> frozenset[str]:
    """Character bigrams of the CJK, letter and digit runs of `text`."""
    grams: set[str] = set()
    for run in (_LETTERS_RUN if letters_only else _RUN).findall(text):
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(grams)


# -- numerals ----------------------------------------------------------------------------------------------------

CN_NUMERAL_CHARS = "零〇一二两三四五六七八九十百千"
CN_NUMERAL = re.compile(f"[{CN_NUMERAL_CHARS}]+")
FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_CN_DIGITS = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def numeral_value(numeral: str, *, strict: bool = True) -> int | None:
    """Value of an Arabic (also full-width) or Chinese numeral: 3, 三, 十二, 二十一, 一百零五, 二〇二四, 两.

    万 and 亿 are left to the caller as units. Strict, a malformed numeral ("三三十", "十十", "两两") is None. Not
    strict, every run of numeral characters gets a value ("两三" reads 23, "三四十" 40), the same for a sentence
    and the passage it is checked against.
    """
    numeral = numeral.translate(FULLWIDTH_DIGITS)
    if numeral.isdigit():
        return int(numeral)
    if not numeral:
        return None
    if not any(ch in _CN_UNITS for ch in numeral):
        if strict and "两" in numeral and len(numeral) > 1:
            return None
        return int("".join(str(_CN_DIGITS[ch]) for ch in numeral))
    total, digit, last_unit = 0, None, 10_000
    for ch in numeral:
        if ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if strict and unit >= last_unit:
                return None
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        elif strict and ch in "零〇":
            digit = None
        elif strict and digit is not None:
            return None  # two digits without a unit between them: "三三十"
        else:
            digit = _CN_DIGITS[ch]
    return total + (digit or 0)


# -- question words ----------------------------------------------------------------------------------------------

# Words that ask rather than say: a question's topic is what is left without them. Removed in this order,
# longest first, so that "什么时候" goes whole before "什么" can match inside it.
QUESTION_WORDS = (
    "什么时候",
    "什么时间",
    "哪一年",
    "哪一天",
    "为什么",
    "怎么样",
    "多少",
    "什么",
    "哪些",
    "哪里",
    "哪儿",
    "哪天",
    "哪年",
    "哪个",
    "何时",
    "怎么",
    "如何",
    "是否",
    "是不是",
    "有没有",
    "请问",
    "吗",
    "呢",
    "几",
)
# The words a follow-up is measured without, to tell whether it says anything beyond asking. A list of its own
# (no bare 什么, 哪个 or 何时; 是谁, 谁 and 么 besides): the follow-up rules are tested against it, and QUESTION_WORDS
# in its place would change which follow-ups get rewritten.
FOLLOW_UP_QUESTION_WORDS = (
    "是什么时候",
    "什么时候",
    "是什么",
    "什么",  # before "么": "达到什么水平" is left "达到水平", not "达到什水平"
    "有哪些",
    "有多少",
    "多少",
    "多大",  # "有多大？", "多长？": how much of something, like 多少
    "多长",
    "多高",
    "多远",
    "多久",
    "多深",
    "多宽",
    "哪些",
    "哪里",
    "哪儿",
    "怎么样",
    "怎样",
    "如何",
    "为什么",
    "是谁",
    "谁",
    "几",
    "吗",
    "呢",
    "么",
)
# "…是哪天召开的？", "…什么时候施行？": the question asks for the day of the event it describes
ASKS_FOR_DAY = re.compile(r"(?:是)?(?:在)?(?:哪一天|哪天|哪日|什么时候|什么时间|何时|几月几日|几月几号|几号|哪个日子)")
# "有多少物业公司参加？", "实施几年了？", "面积多大？": the question asks for a count or an amount ("哪几类" asks which)
ASKS_FOR_COUNT = re.compile(r"多少|(?<!哪)几(?!乎)|多大|多长|多高|多远|多重|多深|多宽|多久|第几")
# A question asking when, how many or how much: its answer holds a number or a date.
ASKS_FOR_NUMBER = re.compile(
    r"多少|几|什么时候|什么时间|哪天|哪年|哪一年|哪一天|何时|多久|多长|多大|多高|多远|日期|时间|"
    r"数量|金额|比例|第几"
)
_QUESTION = re.compile(r"[？?]|什么|哪|谁|多少|几|吗|呢|如何|怎|为什么")


def is_question(text: str) -> bool:
    """Does `text` ask something (a question mark or a question word)?"""
    return _QUESTION.search(text) is not None


_SURROGATE = re.compile("[\ud800-\udfff]")


@functools.cache
def _to_simplified() -> Any:
    import opencc  # Apache-2.0; a wheel with its own dictionaries, loaded in a few milliseconds

    return opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """`text` in simplified characters, as the news is written: "喬俊傑強調了什麼？" → "乔俊杰强调了什么？". OpenCC's
    phrases come first, so simplified text comes back as it was (1,390 questions of the evaluation sets and the
    sample page, checked)."""
    if not text:
        return text
    if _SURROGATE.search(text):  # half of a pair, as a client's JSON may send: OpenCC cannot encode it
        text = _SURROGATE.sub("\ufffd", text)
    return _to_simplified().convert(text)


def simplified_history(history: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """A conversation's questions in simplified characters; the answers are the assistant's own, already so."""
    return [(simplified(q), a) for q, a in history]
