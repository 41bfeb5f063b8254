"""The extractive answerer: quotes the passage sentences that best match the question, with their citations."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")
_ENDINGS = "。！？!?；;"
_BYLINE = re.compile(r"^\s*本报讯\s*[（(][^）)]{0,30}[）)]\s*")
# question words carry no content; they are cut out before comparing (longest first)
_QUESTION_WORDS = (
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
_WANTS_NUMBER = re.compile(
    r"多少|几|什么时候|什么时间|哪天|哪年|哪一年|哪一天|何时|多久|多长|多大|多高|多远|日期|时间|"
    r"数量|金额|比例|第几"
)
_NUMBER = re.compile(
    r"[0-9０-９]|[一二两三四五六七八九十百千万亿]+[年月日号个项家名人户元吨亿万%％]|"
    r"今年|明年|去年|昨天|今天"
)
_NOT_TEXT = re.compile(r"[\W_]+")


def _bigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for segment in _NOT_TEXT.split(text):
        grams.update(segment[i : i + 2] for i in range(len(segment) - 1))
    return grams


@dataclass(frozen=True)
class ScoredSentence:
    """A passage sentence and how well it matches the question."""

    score: float
    passage: int  # 1-based
    sentence: str


class ExtractiveAnswerer:
    """Answers by quoting the passage sentences that share the most character bigrams with the question.

    No model: useful as an offline fallback and as a baseline. Each quoted sentence carries its passage's
    citation marker [n], put before the sentence's final punctuation so sentence splitting keeps them together.
    """

    name = "extractive"

    def __init__(
        self, *, max_sentences: int = 1, min_overlap: float = 0.3, min_shared: int = 2, number_bonus: float = 0.25
    ) -> None:
        self.max_sentences = max_sentences
        self.min_overlap = min_overlap  # share of the question's bigrams a sentence must contain
        self.min_shared = min_shared
        self.number_bonus = number_bonus

    def answer(self, question: str, passages: list[str]) -> str:
        """Up to `max_sentences` best sentences, each with its marker; "" when no sentence overlaps enough."""
        chosen = self.rank(question, passages)[: self.max_sentences]
        return "".join(self._cite(s.sentence, s.passage) for s in chosen)

    def rank(self, question: str, passages: list[str]) -> list[ScoredSentence]:
        """Sentences that pass the thresholds, best first (ties: earlier passage, earlier sentence)."""
        content = question
        for word in _QUESTION_WORDS:
            content = content.replace(word, " ")
        wanted = _bigrams(content)
        if not wanted:
            return []
        wants_number = bool(_WANTS_NUMBER.search(question))
        scored: list[ScoredSentence] = []
        seen: set[str] = set()
        for n, passage in enumerate(passages, start=1):
            for match in _SENTENCE.finditer(passage):
                sentence = _BYLINE.sub("", match.group()).strip()
                key = _NOT_TEXT.sub("", sentence)
                if len(key) < 4 or key in seen:
                    continue
                seen.add(key)
                shared = len(wanted & _bigrams(sentence))
                overlap = shared / len(wanted)
                if shared < self.min_shared or overlap < self.min_overlap:
                    continue
                bonus = self.number_bonus if wants_number and _NUMBER.search(sentence) else 0.0
                scored.append(ScoredSentence(overlap + bonus, n, sentence))
        scored.sort(key=lambda s: -s.score)  # stable: keeps passage and sentence order among equals
        if not scored:
            return []
        # weaker sentences only pad the answer; keep those close to the best
        return [s for s in scored if s.score >= 0.6 * scored[0].score]

    @staticmethod
    def _cite(sentence: str, n: int) -> str:
        body = sentence.rstrip(_ENDINGS + " ")
        end = sentence[len(body) :].strip()[-1:] if sentence[len(body) :].strip() else ""
        if end not in ("。", "！", "？", "!", "?"):
            end = "。"
        return f"{body}[{n}]{end}"
