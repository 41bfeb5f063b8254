"""The checkable facts of a sentence (numbers, dates, quoted titles, names) and what a passage can vouch for.

A fact is supported when the passage states it too: the same number (Chinese numerals, full-width digits and
thousands separators aside), the same date (a relative day resolved against the publication date), the same name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from assistant.markers import LIST_ITEM_START, strip_markers
from core import lexicon
from core.text import ASKS_FOR_COUNT, ASKS_FOR_DAY, CN_NUMERAL, CN_NUMERAL_CHARS, bigrams, normalise, numeral_value
from core.types import parse_day

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


_NAME_GLUE = {"zg", "ng", "nr", "n", "nrfg", "j"}  # one-character pieces jieba splits off names ("乔"+"俊杰")
# jieba tags "上周四" as a person's name; a day of the week is a time word, never a name a passage must mention
_WEEKDAY_WORD = re.compile(r"(?:上|下|本|这|每)?个?(?:周|星期|礼拜)[一二三四五六日天末]")


@lru_cache(maxsize=4096)
def named_entities(text: str, *, people_only: bool = False) -> tuple[str, ...]:
    """Person, place and organisation names (jieba nr/ns/nt/nz) of ≥ 2 characters, split surnames re-attached."""
    pairs = [(w, f) for w, f in lexicon.pos_tagger().cut(text)]
    names: list[str] = []
    for i, (word, flag) in enumerate(pairs):
        if flag not in _NAME_FLAGS or (people_only and not flag.startswith("nr")) or _WEEKDAY_WORD.fullmatch(word):
            continue
        if _used_as_verb(pairs, i):
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


# jieba's dictionary knows some verbs only as place names ("新建", a district of 南昌): a name takes no aspect
# particle after it ("新建了") unless it is where one goes or is ("到南京了")
_ASPECT = {"ul", "uz", "ug"}  # 了, 着, 过
_BEFORE_PLACE = ("v", "p")


def _used_as_verb(pairs: Sequence[tuple[str, str]], i: int) -> bool:
    before = pairs[i - 1][1] if i > 0 else ""
    after = pairs[i + 1][1] if i + 1 < len(pairs) else ""
    return after in _ASPECT and not before.startswith(_BEFORE_PLACE)


def _is_cjk(text: str) -> bool:
    return all("\u3400" <= c <= "\u9fff" for c in text)


# the day or month of a relative expression before its note ("上个月1日（即2024年2月1日）"): the note states it in full
_NOTED_PART = re.compile(r"\d{1,2}[月日号](?=[（(]即\d{4}年)")


def facts_of(sentence: str) -> Facts:
    text = _NOTED_PART.sub("", normalise(LIST_ITEM_START.sub("", strip_markers(sentence))))
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


_REPORTED = re.compile(r"报道|发布|刊发|刊登|发稿|消息|报讯|见报")


@dataclass(frozen=True)
class EvidenceFacts:
    text: str
    numbers: frozenset[str]
    dates: tuple[tuple[int | None, int, int | None], ...]
    year: int | None
    bigrams: frozenset[str]
    published: tuple[int, int, int] | None = None  # vouches only for a sentence that dates the report...
    names_no_day: bool = False  # ...or for any event of a passage that gives no day of its own (reported that day)
    areas: frozenset[str] = frozenset()  # the paper's own area where it writes 我区/本市 ("武进区" in 武进日报)
    lead: tuple[int, int, int] | None = None  # the day the article's lead gives its event, for a later paragraph


# a local paper calls its own area 我区, 本市, 全县: in 武进日报 "我区召开…" vouches for "武进区召开…"
_PAPER_NAME = re.compile(r"(?P<area>[\u3400-\u9fff]{2,4}?)(?:日报|晚报|早报|时报|商报|新闻网|融媒体中心|广播电视台)")
_OWN_AREA = re.compile(r"(?:我|本|全)(?P<unit>[省市区县镇])")


def home_area(source: str) -> str:
    """The place a local paper is named after ("武进日报" -> "武进"), or "" for any other source."""
    m = _PAPER_NAME.fullmatch(source.strip())
    return m["area"] if m else ""


def evidence_facts(text: str, published: str = "", source: str = "", lead_day: date | None = None) -> EvidenceFacts:
    """What a passage can vouch for: its normalised text, numbers and dates (relative days resolved), the names of
    the area its paper (`source`) calls 我区 or 本市, and, for a passage giving no day of its own, the day its
    article's lead paragraph establishes ("会上，…" under "昨天上午（即2月1日上午），我区召开…会议")."""
    norm = normalise(text)
    home = home_area(source)
    areas = frozenset(f"{home}{m['unit']}" for m in _OWN_AREA.finditer(norm)) if home else frozenset()
    dates, rest = _dates_and_rest(norm)
    numbers = _numbers(rest, single_cn=True)
    pub = parse_day(published)
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
        _no_past_day(dates, pub),
        areas,
        (lead_day.year, lead_day.month, lead_day.day) if lead_day else None,
    )


def _no_past_day(dates: Sequence[tuple[int | None, int, int | None]], published: date | None) -> bool:
    """Whether a passage gives no day on or before its publication: days ahead ("春节（即2月10日）临近") are what it
    announces, not when what it reports happened."""
    for y, m, d in dates:
        if d is None:
            continue
        if published is None:
            return False
        try:
            if date(y or published.year, m, d) <= published:
                return False
        except ValueError:
            continue
    return True


def joint_evidence(parts: Sequence[EvidenceFacts]) -> EvidenceFacts:
    """What several passages vouch for together."""
    return EvidenceFacts(
        "\n".join(p.text for p in parts),
        frozenset().union(*(p.numbers for p in parts)),
        tuple(d for p in parts for d in p.dates),
        next((p.year for p in parts if p.year is not None), None),
        frozenset().union(*(p.bigrams for p in parts)),
        next((p.published for p in parts if p.published is not None), None),
        all(p.names_no_day for p in parts),
        frozenset().union(*(p.areas for p in parts)),
        next((p.lead for p in parts if p.lead is not None), None),
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
    """The passage's publication date supports a date where the sentence says it is the report's date, or where
    the passage gives no day of its own for what it reports (news of the day). A passage that says 昨天 gives its
    event a day, and then the publication date is not that day."""
    # the day of a later passage's article is its lead's ("会上，…" under "昨天上午…召开"), not the paper's
    lead = evidence.lead is not None and evidence.names_no_day
    if lead and _falls_on(want, evidence.lead):
        return True
    if evidence.published is None or not (facts.reported or evidence.names_no_day and not lead):
        return False
    return _falls_on(want, evidence.published)


def _falls_on(want: tuple[int | None, int, int | None], day: tuple[int, int, int]) -> bool:
    """Whether a date as written (year and day may be missing) names `day`."""
    year, month, d = want
    return month == day[1] and year in (None, day[0]) and d in (None, day[2])


def name_supported(name: str, evidence: EvidenceFacts) -> bool:
    """Does `evidence` name `name`: as written, as the area its paper calls 我区/本市, or a place without its suffix?"""
    if name in evidence.text or name in evidence.areas:
        return True
    # "常州市" is supported by "常州"
    return len(name) >= 3 and name[-1] in _PLACE_SUFFIX and name[:-1] in evidence.text


def missing_facts(facts: Facts, evidence: EvidenceFacts) -> list[str]:
    missing = [n for n in sorted(facts.numbers) if n not in evidence.numbers]
    missing += [
        f"{y or ''}-{m}-{d or ''}"
        for y, m, d in facts.dates
        if not _date_supported((y, m, d), evidence) and not _is_report_date((y, m, d), facts, evidence)
    ]
    missing += [n for n in facts.names if not name_supported(n, evidence)]
    return missing


# what a reader calls each kind of checkable fact
FACT_KINDS = ("数字", "日期", "名称")
# what a reader calls the words of a claim no source holds (unread_words)
WORDING_KIND = "说法"


def missing_kinds(facts: Facts, evidence: EvidenceFacts) -> tuple[str, ...]:
    """The kinds of fact (FACT_KINDS) of `facts` that `evidence` lacks, in that order."""
    parts = (
        Facts(numbers=facts.numbers),
        Facts(dates=facts.dates, reported=facts.reported),
        Facts(names=facts.names),
    )
    return tuple(kind for kind, part in zip(FACT_KINDS, parts, strict=True) if missing_facts(part, evidence))


def unmatched_question_facts(
    question: str, passages: Sequence[tuple[str, str] | tuple[str, str, str]], *, names: bool = False
) -> list[str]:
    """The numbers (dates as their parts) and, with `names`, the names of a question that no passage mentions.

    `passages` are (text, publication date[, source]) tuples; a publication date counts here ("2024年的…" asked of a
    passage published in 2024). A question about 2022 put to passages that never mention 2022 cannot be answered
    from them, however close they are in topic.
    """
    facts = facts_of(question)
    if facts.empty:
        return []
    parts = [evidence_facts(*passage) for passage in passages]
    evidence = joint_evidence(parts)
    known = set(evidence.numbers) | {str(x) for p in parts if p.published for x in p.published}
    wanted = set(facts.numbers) | {str(x) for ymd in facts.dates for x in ymd if x is not None}
    missing = sorted(n for n in wanted if n not in known)
    if names:
        missing += [n for n in facts.names if not name_supported(n, evidence)]
    return missing


# a count as replies state it: digits, a run of numerals, or one numeral with its measure word ("六年", "一百多家"),
# not the 一 of "一般" or "统一"
_STATED_COUNT = re.compile(
    rf"[0-9０-９]|[{CN_NUMERAL_CHARS}万亿]{{2,}}|"
    rf"[{CN_NUMERAL_CHARS}万亿](?=[个年月日天号条项家名人户元吨次届批类种所座辆台本册位章款米层岁周倍成期轮场部件处支只块间组])"
)
# "据2024年2月2日的报道，……": the day of the report frames the reply and answers nothing it was asked
_REPORT_FRAME = re.compile(r"据[^，,。]{0,24}?(?:报道|消息)[，,]?")


def _claimed(reply: str) -> str:
    """What a reply says, as the checks of what it states read it: no markers, no report frame."""
    return _REPORT_FRAME.sub("", normalise(strip_markers(reply)))


# "比去年增长了多少？": the question asks for a change, which a source states in words of change ("同比增长12%",
# "下降了3个百分点"); a level ("首次踏上2000亿元台阶") is no answer to it, however the reply words it
_ASKS_FOR_CHANGE = re.compile(
    r"(?:增长|增加|提高|提升|下降|减少|上涨|下跌|降低|上升|回落)了?(?:多少|几)|(?:增幅|涨幅|降幅|增速|增长率)(?:是|为|有)?多少"
)
_STATES_CHANGE = re.compile(r"[增减涨跌降]|提高|提升|上升|攀升|回落|翻番|翻了|同比|环比")


def unstated_answer(question: str, reply: str, quoted: Sequence[str] = ()) -> str:
    """What `reply` leaves out of what `question` asks for: "日期" for a day it does not name, "数字" for a count it
    does not give ("有多少物业公司参加？" — "有物业公司参加"), "增减幅度" for a change its `quoted` spans do not
    state; "" when it states it, or the question asks for none of these.

    A loose check on purpose: any number, time or change word will do; whether it is the right one is the
    citations' job.
    """
    if _ASKS_FOR_CHANGE.search(question) and not any(_STATES_CHANGE.search(q) for q in quoted):
        return "增减幅度"
    text = _claimed(reply)
    if ASKS_FOR_DAY.search(question):
        said = _STATED_COUNT.search(text) or any(flag == "t" for _, flag in lexicon.pos_tagger().cut(text))
        return "" if said else "日期"
    if ASKS_FOR_COUNT.search(question):
        return "" if _STATED_COUNT.search(_dates_and_rest(text)[1]) else "数字"
    return ""


_CONTENT_WORD = re.compile(r"[\u3400-\u9fff]{2,}")
_CONTENT_FLAGS = ("n", "v", "a")  # nouns, verbs, adjectives (names, verbal nouns… included): what a claim is made of


def content_words(sentence: str) -> tuple[str, ...]:
    """The words a sentence's claim is made of: Chinese nouns, verbs and adjectives of ≥ 2 characters (jieba's
    tags), markers, report frame and list numbering left out."""
    return tuple(word for word, _ in _tagged_content(sentence))


def _tagged_content(sentence: str) -> list[tuple[str, str]]:
    text = _claimed(LIST_ITEM_START.sub("", sentence))
    tagged = lexicon.pos_tagger().cut(text)
    return [(w, flag) for w, flag in tagged if flag.startswith(_CONTENT_FLAGS) and _CONTENT_WORD.fullmatch(w)]


# nouns that frame an answer rather than state it ("…等方面", "收运方式为…", "…的故事")
_FRAMING_NOUNS = frozenset({"方面", "方式", "情况", "内容", "故事", "事情", "部分", "过程", "方法", "问题"})


def unread_words(sentence: str, asked: frozenset[str], read: frozenset[str]) -> tuple[str, ...]:
    """The words `sentence` adds to the question that the model never read, when they are most of what it adds;
    else ().

    `asked` and `read` are the character bigrams of the question and of the passages the model read.
    "违反了垃圾分类条例将面临罚款" after "违反了会怎么样？": the one word it adds, 罚款, is in no source. A reply may
    frame its answer in a word of its own ("…的故事", "收运方式为…"); its substance must come from what it read.
    """
    added = [(w, flag) for w, flag in _tagged_content(sentence) if not bigrams(w) <= asked]
    unread = tuple(w for w, _ in added if not bigrams(w) <= read)
    if len(unread) * 2 > len(added):
        return unread
    # nor may most of the things it names: "有害垃圾应投放到有害垃圾收集容器中" adds 投放 and 收集, which the source
    # has, and the one thing it names, 容器, which it has not
    things = [w for w, flag in added if flag.startswith("n") and w not in _FRAMING_NOUNS]
    unnamed = tuple(w for w in things if w in unread)
    return unnamed if len(unnamed) * 2 > len(things) else ()


_WORD_CHAR = re.compile(r"[\u3400-\u9fff0-9A-Za-z]")


# "…是9月1日施行的吗？" asks yes or no, and "是的，…是9月1日施行的" answers yes in the question's own characters
_ASKS_YES_OR_NO = re.compile(r"吗[？?。！!\s]*$|是否|是不是|有没有|能不能|会不会|对不对")
_SAYS_YES = re.compile(r"(?:是的|对的|是|对|没错)[，,]")


def adds_nothing(question: str, reply: str) -> bool:
    """Does `reply` say nothing the question did not ("消失的她原型事件是什么" — "消失的她原型事件是[1]。"): no
    character of it, besides the report's own day, is new? One new character is an answer ("在E组", "加息四次"), and
    so is a yes that restates a yes-or-no question (its sentences are checked against the sources as any)."""
    claimed = _claimed(reply)
    if _ASKS_YES_OR_NO.search(question.strip()) and _SAYS_YES.match(claimed):
        return False
    said = set(_WORD_CHAR.findall(claimed))
    return bool(said) and said <= set(_WORD_CHAR.findall(normalise(question)))


# "可回收物包括：厨余垃圾、有害垃圾、其他垃圾": what a sentence says something holds, by the verb that says so
_HOLDS = re.compile(
    r"(?P<head>[^，,：:；;。]{2,20}?)(?:都|主要|还|也|则)?(?:包括|包含|是指|指的是|指|分为|分成|有)[：:]?"
)
_LISTED = re.compile(r"、|以及|和|及|与|或")
_CLAUSE = re.compile(r"[，,。；;：:！!？?\n]")
# what leads or trails an item of a list without being it: "即可回收物", "集贸市场等人员密集场所", "“九小场所”"
_ITEM_LEAD = re.compile(r"^(?:即|如|例如|比如|像|包括|高度关注|关注)")
_ITEM_TAIL = re.compile(r"等.*$")
_ITEM_MARKS = re.compile(r"[“”\"'《》「」\s]")


def _items(text: str) -> list[str]:
    items = (_ITEM_TAIL.sub("", _ITEM_LEAD.sub("", _ITEM_MARKS.sub("", part))) for part in _LISTED.split(text))
    return [item for item in items if len(item) >= 2]


def members_are_siblings(sentence: str, passages: Sequence[str]) -> bool:
    """Does `sentence` say X holds items that a passage lists beside X, as its siblings, or X itself?

    The small model reads "条例明确将生活垃圾分为四类，即可回收物、有害垃圾、厨余垃圾和其他垃圾" and answers
    "可回收物包括哪些？" with "可回收物包括：厨余垃圾、有害垃圾、其他垃圾"; of "…人员密集场所以及“九小场所”" it
    writes "九小场所指学校、医院、…以及“九小场所”". Every word is the source's, and the relation is not."""
    text = normalise(strip_markers(sentence))
    said = _HOLDS.search(text)
    if said is None:
        return False
    head = _ITEM_MARKS.sub("", said["head"])
    members = set(_items(_CLAUSE.split(text[said.end() :])[0]))
    if head in members:
        return True  # a definition that lists its own term defines nothing
    for passage in passages:
        for clause in _CLAUSE.split(passage):
            listed = set(_items(clause))
            if head in listed and len(members & listed) >= 2:
                return True
    return False
