"""Attribution: each sentence of a reply checked against the sources it cites, re-attributed, and quoted.

A sentence counts as supported by a passage when every checkable fact in it (numbers, dates, quoted titles,
person/place/organisation names) appears in the passage and enough of its wording does too. A citation that
fails is moved to another numbered passage that passes; when none does, it stays but is marked unverified. A model's
sentence that adds to the question mostly words none of the passages it read holds is unverified wherever it points,
and so is one that gives as X's members what a passage lists beside X.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from assistant.facts import (
    FACT_KINDS,
    WORDING_KIND,
    EvidenceFacts,
    Facts,
    evidence_facts,
    facts_of,
    joint_evidence,
    members_are_siblings,
    missing_facts,
    missing_kinds,
    name_supported,
    unread_words,
)
from assistant.markers import (
    LIST_ITEM_START,
    AnswerSentence,
    cited_numbers,
    join_sentences,
    merge_repeats,
    split_answer,
    strip_markers,
)
from assistant.prompts import ANSWER_SYSTEM, ANSWER_TASK, echoes_sources, is_refusal
from core.text import bigrams, normalise, sentence_spans
from core.types import Citation, Hit

# how much of an uncited list item one source must hold to be cited for it: most of its wording, well above what a
# cited sentence needs (the model named no source, so the wording alone must tell which)
UNCITED_MIN_OVERLAP = 0.6
_TITLES = re.compile(r"《[^》]{1,40}》")
# the answer prompt's own words ("资料", "信息", "报道"…): a reply that speaks of its sources in them claims nothing
_PROMPT = bigrams(normalise(ANSWER_SYSTEM + ANSWER_TASK))


@dataclass(frozen=True)
class Evidence:
    """Source [n] as given to the model: the hit, plus the text it was shown (trimmed, maybe annotated)."""

    n: int
    hit: Hit
    shown: str = ""
    lead_day: date | None = None  # the day its article's first paragraph establishes, for a passage later in it

    @property
    def full_text(self) -> str:
        return "\n".join(t for t in (self.hit.title, self.hit.chunk.text, self.shown) if t)


@dataclass(frozen=True)
class Attribution:
    """A reply with its markers checked: cleaned text, one citation per (sentence, source), what failed."""

    text: str
    citations: tuple[Citation, ...] = ()
    unverified: tuple[str, ...] = ()
    factual: int = 0  # sentences with checkable content (refusal sentences excluded)
    verified: int = 0  # of those, sentences whose citations all verify
    refusal_sentences: int = 0
    opens_with_refusal: bool = False  # the first sentence declines ("资料中没有找到……")
    reattributed: int = 0
    dropped: tuple[int, ...] = field(default=())  # marker numbers that named no source
    # the kinds of fact (facts.FACT_KINDS) the unverified sentences state that no source holds at all
    unsupported: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Check:
    ok: bool
    score: float


class Attributor:
    """Checks the sentences of a reply against numbered evidence; build once per answer."""

    def __init__(
        self,
        evidence: Sequence[Evidence],
        *,
        min_overlap: float = 0.3,
        asked: str = "",
        subjects: Sequence[str] = (),
    ) -> None:
        """`asked`: the question a model's reply answers (as asked, and standalone); its words are the reply's to
        use, and most of what the reply adds to them must be words of the sources. "" checks no such thing (a
        quotation copies its sources). `subjects`: the names the question asks about ("乔俊杰提了哪些要求？"); a
        sentence is backed only by sources whose articles, as far as they were read, name one of them."""
        self.evidence = {e.n: e for e in evidence}
        self.min_overlap = min_overlap
        self._asked = bigrams(normalise(asked)) | _PROMPT if asked else None
        self._subjects = tuple(subjects)
        self._facts = {e.n: evidence_facts(e.full_text, e.hit.date, e.hit.source, e.lead_day) for e in evidence}
        self._on_subject: dict[str, bool] = {}  # article id -> whether its passages name a subject

    def check(self, sentence: str, facts: Facts, numbers: Sequence[int], *, min_overlap: float = 0.0) -> _Check:
        """Do the sources `numbers` together support `sentence` (sharing `min_overlap` of it, else the default)?"""
        if not numbers:
            return _Check(False, 0.0)
        parts = [self._facts[n] for n in numbers]
        joined = parts[0] if len(parts) == 1 else joint_evidence(parts)
        score = overlap(sentence, joined)
        ok = not missing_facts(facts, joined) and score >= (min_overlap or self.min_overlap)
        return _Check(ok and self._about_subjects(numbers), score)

    def _about_subjects(self, numbers: Sequence[int]) -> bool:
        """Does one of the articles of sources `numbers` name one of the question's subjects, in the passages of it
        that were read (titles included)? Always, when the question names none."""
        if not self._subjects:
            return True
        return any(self._names_subject(self.evidence[n].hit.chunk.article_id) for n in numbers)

    def _names_subject(self, article_id: str) -> bool:
        if article_id not in self._on_subject:
            read = [self._facts[n] for n, e in self.evidence.items() if e.hit.chunk.article_id == article_id]
            joined = joint_evidence(read)
            self._on_subject[article_id] = any(name_supported(name, joined) for name in self._subjects)
        return self._on_subject[article_id]

    def supporting(self, sentence: str, facts: Facts, cited: Sequence[int]) -> tuple[Sequence[int], bool]:
        """The cited sources that back `sentence`, and whether they do.

        A source that supports the sentence alone is enough, and co-cited sources that add nothing are dropped,
        so a bystander is never shown as verified. Otherwise the cited sources may support it together; then only
        those holding some of its facts or wording stay. When neither works, all cited sources are kept, unverified.
        """
        alone = [n for n in cited if self.check(sentence, facts, [n]).ok]
        if alone:
            return alone, True
        if len(cited) > 1 and self.check(sentence, facts, cited).ok:
            contributing = [n for n in cited if self._contributes(sentence, facts, n)]
            if contributing and self.check(sentence, facts, contributing).ok:
                return contributing, True
        return cited, False

    def _uncited_sources(self, sentence: str, facts: Facts, closing: Sequence[int]) -> Sequence[int]:
        """The sources an uncited sentence is checked against, and cited to when they back it, else ().

        The markers that close its paragraph ("…责任。要…整改。要…一批。[1][2]") cover it, as a reader takes them. An
        item of a list written without markers is cited to the source that holds most of its wording, titles left
        out: they only name what it is about ("《条例》由市政府起草"), and the rest must be the source's.
        """
        if closing:
            numbers, ok = self.supporting(sentence, facts, closing)
            if ok:
                return numbers
        if LIST_ITEM_START.match(sentence):
            strict = max(self.min_overlap, UNCITED_MIN_OVERLAP)
            copied = self.best_source(_TITLES.sub("", sentence), facts, min_overlap=strict)
            if copied is not None:
                return (copied,)
        return ()

    def _contributes(self, sentence: str, facts: Facts, n: int) -> bool:
        evidence = self._facts[n]
        return len(missing_facts(facts, evidence)) < facts.count or overlap(sentence, evidence) >= self.min_overlap

    def best_source(self, sentence: str, facts: Facts, *, min_overlap: float = 0.0) -> int | None:
        best, best_score = None, -1.0
        for n in self.evidence:
            check = self.check(sentence, facts, [n], min_overlap=min_overlap)
            if check.ok and check.score > best_score:
                best, best_score = n, check.score
        return best

    def attribute(self, reply: str) -> Attribution:
        raw_numbers = cited_numbers(reply)
        dropped = tuple(n for n in raw_numbers if n not in self.evidence)
        sentences = merge_repeats(split_answer(reply, valid=list(self.evidence)))
        parts: list[tuple[AnswerSentence, Sequence[int]]] = []
        citations: list[Citation] = []
        unverified: list[str] = []
        unsupported: set[str] = set()
        factual = verified = refusals = moved = 0
        opening = False
        closing = _closing_markers(sentences)
        for i, s in enumerate(sentences):
            if s.separator:
                parts.append((s, ()))
                continue
            if is_refusal(s.text) and not s.cited:
                opening = opening if refusals or factual else True
                refusals += 1
                parts.append((s, ()))
                continue
            if not s.cited and s.text.rstrip().endswith(("：", ":")):
                parts.append((s, ()))  # "乔俊杰提了以下要求：" introduces the list after it and says nothing itself
                continue
            facts = facts_of(s.text)
            made_up = self._made_up(s.text)
            if not s.cited:
                found = () if made_up else self._uncited_sources(s.text, facts, closing[i])
                if found:
                    inherited = set(found) <= set(closing[i])
                    factual, verified, moved = factual + 1, verified + 1, moved + (not inherited)
                    parts.append((s, found))
                    citations.extend(self._citation(n, s.text, facts, True) for n in found)
                    continue
                if not facts.empty or made_up or LIST_ITEM_START.match(s.text):  # a list's item is a claim
                    factual += 1
                    unverified.append(s.text)
                    unsupported.update(self._unsupported(facts, made_up))
                parts.append((s, ()))
                continue
            factual += 1
            if s.marker_as_number or echoes_sources(s.text) or made_up:
                # it lost the very number it is about, or it is a source's date line copied, or what it says is in
                # no source: nothing backs it
                numbers, ok = s.cited, False
            else:
                numbers, ok = self.supporting(s.text, facts, s.cited)
                better = None if ok else self.best_source(s.text, facts)
                if better is not None:
                    numbers, ok = (better,), True
                    moved += 1
            if ok:
                verified += 1
            else:
                unverified.append(s.text)
                unsupported.update(self._unsupported(facts, made_up))
            parts.append((s, numbers))
            citations.extend(self._citation(n, s.text, facts, ok) for n in numbers)
        return Attribution(
            join_sentences(parts),
            tuple(citations),
            tuple(unverified),
            factual,
            verified,
            refusals,
            opening,
            moved,
            dropped,
            tuple(kind for kind in (*FACT_KINDS, WORDING_KIND) if kind in unsupported),
        )

    @cached_property
    def _all(self) -> EvidenceFacts | None:
        """What all the sources vouch for together: for a sentence that fails, and for what a reply may say."""
        return joint_evidence(list(self._facts.values())) if self._facts else None

    def _unsupported(self, facts: Facts, made_up: bool = False) -> tuple[str, ...]:
        """The kinds of fact in `facts` that none of the sources holds, and the wording when it is `made_up`."""
        kinds = missing_kinds(facts, self._all) if self._all is not None else ()
        return (*kinds, WORDING_KIND) if made_up else kinds

    def _made_up(self, sentence: str) -> bool:
        """Does a reply's sentence add to the question mostly words that no source holds (facts.unread_words), or
        give as X's members what a source lists beside X (facts.members_are_siblings)?"""
        if self._asked is None or self._all is None:
            return False
        if unread_words(sentence, self._asked, self._all.bigrams):
            return True
        return members_are_siblings(sentence, self._texts)

    @cached_property
    def _texts(self) -> list[str]:
        return [e.full_text for e in self.evidence.values()]

    def _citation(self, n: int, sentence: str, facts: Facts, verified: bool) -> Citation:
        hit = self.evidence[n].hit
        start, end = best_span(sentence, facts, hit.chunk.text)
        return Citation.of_span(
            hit.chunk, start, end, n=n, title=hit.title, date=hit.date, verified=verified, sentence=sentence
        )


def _closing_markers(sentences: Sequence[AnswerSentence]) -> list[tuple[int, ...]]:
    """For each sentence, the markers of the next cited sentence of its paragraph (up to a line break), or ()."""
    closing: list[tuple[int, ...]] = [()] * len(sentences)
    ahead: tuple[int, ...] = ()
    for i in range(len(sentences) - 1, -1, -1):
        s = sentences[i]
        ahead = () if s.separator else tuple(s.cited) or ahead
        closing[i] = ahead
    return closing


def overlap(sentence: str, evidence: EvidenceFacts) -> float:
    """Share of the sentence's bigrams that occur in the evidence."""
    grams = bigrams(normalise(strip_markers(sentence)))
    return len(grams & evidence.bigrams) / len(grams) if grams else 0.0


def best_span(sentence: str, facts: Facts, passage: str, *, max_window: int = 3) -> tuple[int, int]:
    """The run of 1..max_window passage sentences that covers most of the sentence's facts, then overlaps most.

    Offsets are into `passage`; the whole passage when it has no sentences.
    """
    spans = sentence_spans(passage)
    if not spans:
        return 0, len(passage)
    grams = bigrams(normalise(sentence))
    best_key, best = None, spans[0]
    for size in range(1, min(max_window, len(spans)) + 1):
        for i in range(len(spans) - size + 1):
            start, end = spans[i][0], spans[i + size - 1][1]
            window = evidence_facts(passage[start:end])
            covered = facts.count - len(missing_facts(facts, window))
            shared = len(grams & window.bigrams)
            key = (covered, shared if size == 1 else shared - 2 * (size - 1), -size)
            if best_key is None or key > best_key:
                best_key, best = key, (start, end)
    return best
