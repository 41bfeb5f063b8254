"""Citations: parse [n] markers in a reply, check each sentence against the passage it cites, quote the support.

A sentence counts as supported by a passage when every checkable fact in it (numbers, dates, quoted titles,
person/place/organisation names) appears in the passage and enough of its wording does too. A citation that
fails is moved to another numbered passage that passes; when none does, it stays but is marked unverified.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from assistant.prompts import REFUSAL_PHRASES
from core.text import CN_NUMERAL, SENTENCE, SENTENCE_ENDS, bigrams, normalise, numeral_value, sentence_spans
from core.types import Citation, Hit

# -- markers -----------------------------------------------------------------------------------------------------

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
_SENTENCE = re.compile(rf"{SENTENCE.pattern}|[{SENTENCE_ENDS}]+|\n+")
_LEADING_MARKERS = re.compile(rf"^\s*(?:{_ONE_MARKER}\s*)+")
# a marker followed by a measure word or unit, where a small model wrote the citation instead of the count
_MARKER_AS_NUMBER = re.compile(rf"{_ONE_MARKER}(?=[起个人名次件万亿元条岁届项家所辆架只%％])")
_TRAILING_PUNCT = re.compile(r"[。！？!?；;，,：:]*[”’」』\"]?\s*$")
# A sentence that opens by naming its sources ("根据资料编号为2的资料，", "资料3显示：", "根据资料[1]和[2]，") cites
# them; left in the text, a bare number would be checked as a fact of the article, and stripping the markers alone
# would leave "根据资料和，"
_REFERENCE = rf"(?:编号)?\s*(?:为|是)?\s*(?:{_ONE_MARKER}|{_NUM})"
_LEADING_REFERENCE = re.compile(
    rf"^\s*(?:根据|据)?\s*(?:资料|来源|文档)\s*{_REFERENCE}"
    rf"(?:\s*(?:和|、|及|与|以及)\s*(?:资料|来源|文档)?\s*{_REFERENCE})*"
    r"\s*(?:号)?\s*(?:的)?\s*(?:资料|文档|内容|信息)?\s*(?:中|里)?"
    r"\s*(?:(?:提到|显示|指出|所述|称|记载)\s*[，,：:]?|[，,：:])\s*"
)


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


def strip_markers(text: str) -> str:
    return MARKERS.sub("", text)


def split_answer(text: str, valid: Sequence[int] | None = None) -> list[AnswerSentence]:
    """Split a reply into sentences, attaching each marker to the sentence it follows.

    Markers written after the full stop ("…施行。[1]") belong to the sentence before them. Numbers not in
    `valid` (sources that do not exist) are dropped.
    """
    pieces = [m.group(0) for m in _SENTENCE.finditer(text)]
    # a reply that opens with a marker ("[1]据报道…。[2]…") puts each marker before the sentence it cites
    prefixed = _LEADING_MARKERS.match(text) is not None
    merged: list[str] = []
    for piece in pieces:
        lead = _LEADING_MARKERS.match(piece)
        rest = piece[lead.end() :] if lead else piece
        if lead and merged and not merged[-1].startswith("\n") and not (prefixed and rest.strip()):
            merged[-1] += lead.group(0).strip()
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
        clean = MARKERS.sub("", body).strip()
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


def with_markers(sentence: str, numbers: Sequence[int]) -> str:
    """`sentence` with "[n]" markers placed before its closing punctuation."""
    if not numbers:
        return sentence
    marks = "".join(f"[{n}]" for n in numbers)
    tail = _TRAILING_PUNCT.search(sentence)
    cut = tail.start() if tail else len(sentence)
    return sentence[:cut] + marks + sentence[cut:]


def join_sentences(parts: Sequence[tuple[AnswerSentence, Sequence[int]]]) -> str:
    out = []
    for sentence, numbers in parts:
        out.append(sentence.text if sentence.separator else with_markers(sentence.text, numbers))
    return "".join(out).strip()


# -- facts -------------------------------------------------------------------------------------------------------

_ARABIC = re.compile(r"\d+(?:\.\d+)?")
_DATE_PATTERNS = (
    re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})"),
    re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]"),
    re.compile(r"(\d{4})年(\d{1,2})月"),
)
_QUOTED = re.compile(r"《([^》]{1,40})》|“([^”]{2,40})”|\"([^\"]{2,40})\"|「([^」]{2,40})」|『([^』]{2,40})』")
_RELATIVE_DAYS = {"今天": 0, "今日": 0, "当天": 0, "昨天": -1, "昨日": -1, "前天": -2, "明天": 1, "明日": 1}
_NAME_FLAGS = {"nr", "ns", "nt", "nz", "nrt", "nrfg"}
_PLACE_SUFFIX = "省市区县镇乡村街"


def _canonical(number: str) -> str:
    try:
        value = Decimal(number)
    except InvalidOperation:
        return number
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Facts:
    """The checkable facts of a sentence."""

    numbers: frozenset[str] = frozenset()
    dates: tuple[tuple[int | None, int, int | None], ...] = ()  # (year, month, day); None where not given
    names: tuple[str, ...] = ()
    reported: bool = False  # the sentence dates a report ("据2024年1月20日的报道"), not an event

    @property
    def empty(self) -> bool:
        return not (self.numbers or self.dates or self.names)

    @property
    def count(self) -> int:
        return len(self.numbers) + len(self.dates) + len(self.names)


def _dates_and_rest(text: str) -> tuple[list[tuple[int | None, int, int | None]], str]:
    found = []

    def take(m: re.Match[str]) -> str:
        groups = m.groups()
        if len(groups) == 2:  # year and month only
            year, month, day = int(groups[0]), int(groups[1]), None
        else:
            year = int(groups[0]) if groups[0] else None
            month, day = int(groups[1]), int(groups[2])
        if 1 <= month <= 12 and (day is None or 1 <= day <= 31):
            found.append((year, month, day))
            return " "
        return m.group(0)

    for pattern in _DATE_PATTERNS:
        text = pattern.sub(take, text)
    return found, text


def _numbers(text: str, *, single_cn: bool) -> set[str]:
    numbers = {_canonical(m.group(0)) for m in _ARABIC.finditer(text)}
    for m in CN_NUMERAL.finditer(text):
        numeral = m.group(0)
        if len(numeral) == 1 and not single_cn and numeral not in "十百千":
            continue  # "一项", "三大任务": too common in prose to demand
        if numeral in {"千", "百"} and not single_cn:
            continue
        # not strict: "两三" still reads the same in a sentence and in the passage it is checked against
        value = numeral_value(numeral, strict=False)
        if value is not None:
            numbers.add(str(value))
    return numbers


@lru_cache(maxsize=1)
def _posseg():  # jieba builds its dictionary on first use (~1 s), so only when names are first needed
    import logging

    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg


_NAME_GLUE = {"zg", "ng", "nr", "n", "nrfg", "j"}  # one-character pieces jieba splits off names ("乔"+"俊杰")


@lru_cache(maxsize=4096)
def named_entities(text: str, *, people_only: bool = False) -> tuple[str, ...]:
    """Person, place and organisation names (jieba nr/ns/nt/nz) of ≥ 2 characters, split surnames re-attached."""
    pairs = [(w, f) for w, f in _posseg().cut(text)]
    names: list[str] = []
    for i, (word, flag) in enumerate(pairs):
        if flag not in _NAME_FLAGS or (people_only and not flag.startswith("nr")):
            continue
        if flag.startswith("nr"):
            if i > 0 and len(pairs[i - 1][0]) == 1 and pairs[i - 1][1] in _NAME_GLUE and _is_cjk(pairs[i - 1][0]):
                word = pairs[i - 1][0] + word
            if (
                i + 1 < len(pairs)
                and len(pairs[i + 1][0]) == 1
                and pairs[i + 1][1] in {"ng", "zg"}
                and _is_cjk(pairs[i + 1][0])
            ):
                word += pairs[i + 1][0]
        if len(word) >= 2 and not re.fullmatch(r"[\w.]+", word, re.ASCII) and word not in names:
            names.append(word)
    return tuple(names)


def _is_cjk(text: str) -> bool:
    return all("\u3400" <= c <= "\u9fff" for c in text)


_ENUMERATOR = re.compile(r"^\s*(?:\d{1,2}[.、)）]|[（(]\d{1,2}[)）]|[-*•·])\s*")


def facts_of(sentence: str) -> Facts:
    text = normalise(_ENUMERATOR.sub("", strip_markers(sentence)))
    quoted = []
    for m in _QUOTED.finditer(text):
        term = next(g for g in m.groups() if g)
        if term not in quoted:
            quoted.append(term)
    dates, rest = _dates_and_rest(text)
    numbers = _numbers(rest, single_cn=False)
    names = list(quoted)
    names += [n for n in named_entities(_QUOTED.sub(" ", rest)) if not any(n in q for q in quoted)]
    return Facts(frozenset(numbers), tuple(dates), tuple(names), bool(_REPORTED.search(text)))


def _parse_iso(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


_REPORTED = re.compile(r"报道|发布|刊发|刊登|发稿|消息|报讯|见报")


@dataclass(frozen=True)
class EvidenceFacts:
    text: str
    numbers: frozenset[str]
    dates: tuple[tuple[int | None, int, int | None], ...]
    year: int | None
    bigrams: frozenset[str]
    published: tuple[int, int, int] | None = None  # vouches only for a sentence that dates the report


def evidence_facts(text: str, published: str = "") -> EvidenceFacts:
    """What a passage can vouch for: its normalised text, numbers and dates (relative days resolved)."""
    norm = normalise(text)
    dates, rest = _dates_and_rest(norm)
    numbers = _numbers(rest, single_cn=True)
    pub = _parse_iso(published)
    if pub is not None:
        # the publication date itself is not evidence: "会议于发稿当天召开" must be backed by the text
        # (今天 / 昨天 … in it), else a model that dates every event by the paper would always verify
        for word, offset in _RELATIVE_DAYS.items():
            if word in norm:
                d = pub + timedelta(days=offset)
                dates.append((d.year, d.month, d.day))
    for y, m, d in dates:  # a date's parts may be cited as plain numbers ("9月", "2024年")
        numbers.update(str(x) for x in (y, m, d) if x is not None)
    return EvidenceFacts(
        norm,
        frozenset(numbers),
        tuple(dates),
        pub.year if pub else None,
        bigrams(norm),
        (pub.year, pub.month, pub.day) if pub else None,
    )


def _date_supported(want: tuple[int | None, int, int | None], evidence: EvidenceFacts) -> bool:
    year, month, day = want
    for ey, em, ed in evidence.dates:
        if em != month or (day is not None and ed is not None and ed != day):
            continue
        if day is not None and ed is None:
            continue
        if year is None or ey == year:
            return True
        if ey is None and (evidence.year is None or abs(evidence.year - year) <= 1):
            return True
    return False


def _is_report_date(want: tuple[int | None, int, int | None], facts: Facts, evidence: EvidenceFacts) -> bool:
    """The passage's publication date supports a date only where the sentence says it is the report's date."""
    if not facts.reported or evidence.published is None:
        return False
    year, month, day = want
    py, pm, pd = evidence.published
    return month == pm and (year is None or year == py) and (day is None or day == pd)


def _name_supported(name: str, evidence: EvidenceFacts) -> bool:
    if name in evidence.text:
        return True
    # "常州市" is supported by "常州"
    return len(name) >= 3 and name[-1] in _PLACE_SUFFIX and name[:-1] in evidence.text


def overlap(sentence: str, evidence: EvidenceFacts) -> float:
    """Share of the sentence's bigrams that occur in the evidence."""
    grams = bigrams(normalise(strip_markers(sentence)))
    return len(grams & evidence.bigrams) / len(grams) if grams else 0.0


def missing_facts(facts: Facts, evidence: EvidenceFacts) -> list[str]:
    missing = [n for n in sorted(facts.numbers) if n not in evidence.numbers]
    missing += [
        f"{y or ''}-{m}-{d or ''}"
        for y, m, d in facts.dates
        if not _date_supported((y, m, d), evidence) and not _is_report_date((y, m, d), facts, evidence)
    ]
    missing += [n for n in facts.names if not _name_supported(n, evidence)]
    return missing


def unmatched_question_facts(question: str, passages: Sequence[tuple[str, str]], *, names: bool = False) -> list[str]:
    """The numbers (dates as their parts) and, with `names`, the names of a question that no passage mentions.

    `passages` are (text, publication date) pairs; a publication date counts here ("2024年的…" asked of a
    passage published in 2024). A question about 2022 put to passages that never mention 2022 cannot be answered
    from them, however close they are in topic.
    """
    facts = facts_of(question)
    if facts.empty:
        return []
    parts = [evidence_facts(text, published) for text, published in passages]
    evidence = _join(parts)
    known = set(evidence.numbers) | {str(x) for p in parts if p.published for x in p.published}
    wanted = set(facts.numbers) | {str(x) for ymd in facts.dates for x in ymd if x is not None}
    missing = sorted(n for n in wanted if n not in known)
    if names:
        missing += [n for n in facts.names if not _name_supported(n, evidence)]
    return missing


def is_refusal(text: str) -> bool:
    """Does this text decline to answer (ours or RGB's wording)?"""
    return any(p in text for p in REFUSAL_PHRASES)


# -- attribution -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """Source [n] as given to the model: the hit, plus the text it was shown (trimmed, maybe annotated)."""

    n: int
    hit: Hit
    shown: str = ""

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


@dataclass(frozen=True)
class _Check:
    ok: bool
    score: float


class Attributor:
    """Checks the sentences of a reply against numbered evidence; build once per answer."""

    def __init__(self, evidence: Sequence[Evidence], *, min_overlap: float = 0.3) -> None:
        self.evidence = {e.n: e for e in evidence}
        self.min_overlap = min_overlap
        self._facts = {e.n: evidence_facts(e.full_text, e.hit.date) for e in evidence}

    def check(self, sentence: str, facts: Facts, numbers: Sequence[int]) -> _Check:
        """Do the sources `numbers` together support `sentence`?"""
        if not numbers:
            return _Check(False, 0.0)
        parts = [self._facts[n] for n in numbers]
        joined = parts[0] if len(parts) == 1 else _join(parts)
        score = overlap(sentence, joined)
        return _Check(not missing_facts(facts, joined) and score >= self.min_overlap, score)

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

    def _contributes(self, sentence: str, facts: Facts, n: int) -> bool:
        evidence = self._facts[n]
        return len(missing_facts(facts, evidence)) < facts.count or overlap(sentence, evidence) >= self.min_overlap

    def best_source(self, sentence: str, facts: Facts) -> int | None:
        best, best_score = None, -1.0
        for n in self.evidence:
            check = self.check(sentence, facts, [n])
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
        factual = verified = refusals = moved = 0
        opening = False
        for s in sentences:
            if s.separator:
                parts.append((s, ()))
                continue
            if is_refusal(s.text) and not s.cited:
                opening = opening if refusals or factual else True
                refusals += 1
                parts.append((s, ()))
                continue
            facts = facts_of(s.text)
            if not s.cited:
                if not facts.empty:
                    factual += 1
                    unverified.append(s.text)
                parts.append((s, ()))
                continue
            factual += 1
            if s.marker_as_number:  # the sentence lost the very number it is about: nothing could back it
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
        )

    def _citation(self, n: int, sentence: str, facts: Facts, verified: bool) -> Citation:
        hit = self.evidence[n].hit
        start, end = best_span(sentence, facts, hit.chunk.text)
        chunk = hit.chunk
        return Citation(
            n=n,
            chunk_id=chunk.id,
            article_id=chunk.article_id,
            title=hit.title,
            date=hit.date,
            paragraph=chunk.paragraph,
            quote=chunk.text[start:end],
            start=chunk.start + start,
            end=chunk.start + end,
            verified=verified,
            sentence=sentence,
        )


def _join(parts: Sequence[EvidenceFacts]) -> EvidenceFacts:
    return EvidenceFacts(
        "\n".join(p.text for p in parts),
        frozenset().union(*(p.numbers for p in parts)),
        tuple(d for p in parts for d in p.dates),
        next((p.year for p in parts if p.year is not None), None),
        frozenset().union(*(p.bigrams for p in parts)),
        next((p.published for p in parts if p.published is not None), None),
    )


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
