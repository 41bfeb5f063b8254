"""Build a development set of time questions from the dated CRUD news and the sample page, by kind of question.

Issue 18 asks for a set of our own (the held-out one stays unseen). Every question carries its `question_date` and
a `category`, so that `newsqa eval` reports accuracy by kind:

- relative: an absolute question moved in time ("2023年8月，…" asked on 2024-03-01 becomes "去年8月，…"; "上周三，…",
  "三年前的8月1日，…"), the answer unchanged; "absolute" holds the unmoved counterparts as a control;
- anchored: "A当天，B…？", A and B events of different docs reported for the same day;
- comparison: "A和B，哪个更早？" (answer: the earlier one's actor or name) and "A和B相隔多少天？" (answer in days);
- event-day: "which day" questions about events reported as 昨天/今天/上周X (bench/time_set.py's, and the sample
  page's hand-written ones);
- announced-period: asked during or after a period, about a doc that announced it beforehand ("…将于8月16日至22日
  在…举行" asked on 8月24日 as "上周，…在哪里举行？").

Events come from the opening sentences of dated docs: a relative day word (bench/time_set.py's rules) or a written
day, in a clause of one of two shapes, "X在Y举行" or "X发布Z", which gives both a short name for the event and a
question about it. Everything is chosen in a seeded hash order, so the same data give the same set. The evaldata
license forbids copying its texts into the repository, so corpus and questions go to a folder outside it:

    python bench/time_dev_set.py --out /tmp/newsqa-time-dev
    newsqa eval /tmp/newsqa-time-dev/time_dev_questions.jsonl --corpus /tmp/newsqa-time-dev/corpus.jsonl \
        --generator extractive --retrieval-only
"""

from __future__ import annotations

import argparse
import calendar
import dataclasses
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.time_set import _DATELINE, _NOT_AN_EVENT, DEFAULT_CRUD, _day_mention, _event, _key, _write_jsonl  # noqa: E402
from bench.time_set import build as build_event_day  # noqa: E402
from corpus.ingest import SAMPLE_DATE, SAMPLE_PAGE, SAMPLE_SOURCE  # noqa: E402
from corpus.readers import read_paths  # noqa: E402
from corpus.timeexpr import TimeMention, parse_question_time  # noqa: E402

KINDS = ("relative", "absolute", "anchored", "comparison", "event-day", "announced-period")
SEED = "time-dev-1"  # another seed draws another set from the same data
SAMPLE_QUESTIONS = ROOT / "corpus" / "sample" / "time_questions.jsonl"
SAMPLE_DAY = date.fromisoformat(SAMPLE_DATE) - timedelta(days=1)  # the page's four meetings were "昨天上午"


def _order(key: str) -> str:
    return _key(f"{SEED}:{key}")


# --- how a resident names a day, a month or a period ---------------------------------------------------------

_CN_DIGITS = "零一二三四五六七八九"
_WEEKDAY_NAMES = "一二三四五六日"


def chinese_number(n: int) -> str:
    """1-99 as a Chinese count: 两 for 2 alone, 十二, 二十, 三十五."""
    if n == 2:
        return "两"
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def month_phrase(year: int, month: int, asked: date, variant: int = 0) -> str | None:
    """How a resident asking on `asked` names the month year-month (这个月, 上个月, 三个月前, 今年八月, 去年8月,
    前年8月, 三年前的8月); `variant` picks among equivalent wordings. None for a later month or one over ten
    years back."""
    months = (asked.year * 12 + asked.month) - (year * 12 + month)
    years = asked.year - year
    if months < 0 or years > 10:
        return None
    name = f"{chinese_number(month) if month != 2 else '二'}月" if variant % 3 == 2 else f"{month}月"
    if months == 0:
        return "这个月"
    if months == 1:
        return "上个月"
    if years == 0:
        return f"{chinese_number(months)}个月前" if variant % 2 else f"今年{name}"
    if years == 1:
        return f"去年{name}"
    if years == 2 and variant % 2:
        return f"前年{name}"
    return f"{chinese_number(years)}年前{'的' if variant % 4 == 1 else ''}{name}"


def day_phrase(day: date, asked: date) -> str | None:
    """How a resident asking on `asked` names the earlier `day`: 昨天, 前天, 本周一, 上周三, 五天前, 上个月5日,
    去年8月1日, 三年前的8月1日; None for a day not before `asked`."""
    delta = (asked - day).days
    if delta <= 0:
        return None
    if delta == 1:
        return "昨天"
    if delta == 2:
        return "前天"
    monday = asked - timedelta(days=asked.weekday())
    if day >= monday:
        return f"本周{_WEEKDAY_NAMES[day.weekday()]}"
    if day >= monday - timedelta(weeks=1):
        return f"上周{_WEEKDAY_NAMES[day.weekday()]}"
    if delta <= 10:
        return f"{chinese_number(delta)}天前"
    months = (asked.year * 12 + asked.month) - (day.year * 12 + day.month)
    if months == 1:
        return f"上个月{day.day}日"
    years = asked.year - day.year
    if years == 1:
        return f"去年{day.month}月{day.day}日"
    if 2 <= years <= 10:
        return f"{chinese_number(years)}年前的{day.month}月{day.day}日"
    return None


def period_phrase(first: date, last: date, asked: date) -> str | None:
    """How a resident asking on `asked` names a period that has begun: a day as day_phrase does, else 本周,
    上周, 这个月, 上个月; None when none of these covers it."""
    if first > asked:
        return None
    if first == last:
        return day_phrase(first, asked) or "今天"
    monday = asked - timedelta(days=asked.weekday())
    if first >= monday:
        return "本周"
    if first >= monday - timedelta(weeks=1) and last < monday:
        return "上周"
    previous = shift_month(asked, -1, 1)
    for (year, month), phrase in (((asked.year, asked.month), "这个月"), ((previous.year, previous.month), "上个月")):
        if (first.year, first.month) == (last.year, last.month) == (year, month):
            return phrase
    return None


def shift_month(day: date, months: int, on: int) -> date:
    """Day `on` (at most the month's last) of the month `months` after day's month."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(on, calendar.monthrange(year, month + 1)[1]))


def days_answers(n: int) -> list[str]:
    """Ways a reply gives a count of days: 12天, 十二天."""
    return [f"{n}天", f"{chinese_number(n)}天"]


# question dates: after a month's news as (months later, day of that month; 0 months: the month's last day),
# and after an event's day in days; cycled through, so every wording occurs
_MONTH_DELAYS = ((1, 10), (2, 15), (3, 5), (0, 31), (4, 20), (12, 3), (19, 8), (24, 25), (31, 12), (37, 18))
_DAY_DELAYS = (1, 2, 6, 8, 9, 4, 35, 370, 1100, 12)


# --- events and the questions a clause gives ------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """An event clause read as "X在Y举行" (subject, verb, place), "X发布Z" (subject, verb, object) or "X开幕"."""

    subject: str
    verb: str
    place: str = ""
    obj: str = ""

    @property
    def short(self) -> str:
        """The event in a few words, as a question names it: "2023上海书展开幕", "公安部发布…若干措施"."""
        return f"{self.subject}{self.verb}{self.obj}"

    @property
    def question(self) -> str:
        """The question the clause answers: where it took place, or who did it; "" for "X开幕" alone."""
        if self.place:
            return f"{self.subject}在哪里{self.verb}？"
        return f"谁{self.verb}了{self.obj}？" if self.obj else ""

    @property
    def answer(self) -> str:
        return self.place or self.subject


@dataclass(frozen=True)
class Event:
    doc_id: str
    day: date
    clause: Clause
    text: str  # the clause without its time word, as bench/time_set.py cuts it


_PLACE_VERBS = "举行|举办|召开|开幕|开营|闭幕|落幕|拉开帷幕|启动"
_ADVERB = "(?:正式|盛大|隆重|顺利|成功|圆满)?"
_ACT_VERBS = "发布|公布|揭晓|召开|举行|举办|推出|印发|出台"
_WHERE = re.compile(
    rf"^(?P<subject>[^，,；。]{{4,30}}?){_ADVERB}在(?P<place>[^，,；。在的以]{{2,24}}?){_ADVERB}(?P<verb>{_PLACE_VERBS})$"
)
_WHO = re.compile(
    rf"^(?P<subject>[^，,；。在与和及]{{2,16}}?){_ADVERB}(?P<verb>{_ACT_VERBS})了?(?P<obj>[^，,；。了][^，,；。]{{9,39}})$"
)
_HAPPENED_ONLY = re.compile(
    rf"^(?P<subject>[^，,；。在]{{5,30}}?){_ADVERB}(?P<verb>开幕|闭幕|开营|举行|召开|举办|开通|上线|开园|揭牌|开工|投产|成立)$"
)
# A subject that points elsewhere (该, 此事), speaks (称), hedges (早些时候) or is a bare person (李女士) asks nothing
# a reader could answer; an object that is a report (…显示, …称) names no event.
_BAD_SUBJECT = re.compile(
    r"^(?:记者|据|他|她|我|你|该|这|此|其|本|从|在|对|随着|由于|根据|原标题|有|官方)|就|对此|早些时候|宣布|组织|网友|为|向|"
    r"女士|先生|等|对外|日前|\d+[日号时]|[的是将已了称]$|主持$|[“”\"'：:]|[（(][）)]"
)
_BAD_OBJECT = re.compile(r"^(?:的|这|该|此|一[则条份个]?|消息|视频)|[称：:为达%％]|显示|记者|增长|下降|[（(][）)]")


def read_clause(text: str) -> Clause | None:
    """The clause as "X在Y举行", "X发布Z" or "X开幕" when it has one of these shapes and names its actor or event."""
    text = text.strip()
    if "将" in text:
        return None  # still to come: not an event of that day
    if m := _WHERE.match(text):
        clause = Clause(m["subject"], m["verb"], place=m["place"])
    elif (m := _WHO.match(text)) and not _BAD_OBJECT.search(m["obj"]):
        clause = Clause(m["subject"], m["verb"], obj=m["obj"])
    elif m := _HAPPENED_ONLY.match(text):
        clause = Clause(m["subject"], m["verb"])
    else:
        return None
    if _BAD_SUBJECT.search(clause.subject) or not _balanced(text):
        return None
    return clause


def _balanced(text: str) -> bool:
    """Whether every bracket the text opens it also closes: a clause cut inside "（申报稿）" is a fragment."""
    return all(text.count(a) == text.count(b) for a, b in ("（）", "()", "《》", "“”"))


_SUFFIXES = re.compile(r"(?:网站|官网|官方网站|官方微博|新闻办公室)$")
_REGION = re.compile(r"^.*?(?:省|市|自治区|区|县)(?=.{3,})")


def answer_alternatives(answer: str, question: str, *, place: bool = False) -> list[str]:
    """The answer and shorter forms a reply may use ("国家药监局网站" -> 国家药监局, "…陨石坑附近" -> …陨石坑, and
    for a place "北京经济技术开发区亦创国际会展中心" -> 亦创国际会展中心), leaving out any form the question holds:
    a reply that restates the question has not answered it."""
    answer = answer.strip('“”"《》。 ')
    forms = [answer, _SUFFIXES.sub("", answer)] + ([_REGION.sub("", answer)] if place else [])
    forms += [re.sub(r"(?:附近|左右|以上)$", "", form) for form in forms]
    out: list[str] = []
    if len(tail := answer.rsplit("的", 1)[-1]) >= 4:
        forms.append(tail)  # "万众期盼的第三十一届…运动会" -> "第三十一届…运动会"
    for form in (f.strip('“”"《》 ') for f in forms):
        if len(form) >= 2 and form not in out and form.lower() not in question.lower():
            out.append(form)
    return out


_WRITTEN_DAY = re.compile(r"(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})日(?:上午|下午|晚上?|晚间)?(?![电讯])")
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
_RECENT_DAYS = 60  # a written day without a year is read as publication's year when it lies this close before it


def _dated_sentences(text: str, published: date) -> Iterable[tuple[TimeMention, str, int]]:
    """(mention, sentence, offset) for each sentence whose first written day lies in the two months up to
    publication ("8月16日，…"), and for each relative day word as bench/time_set.py reads it, in a doc without a
    dateline."""
    for sentence in _SENTENCE.finditer(text):
        for m in _WRITTEN_DAY.finditer(sentence.group()):
            try:
                day = date(int(m["y"] or published.year), int(m["m"]), int(m["d"]))
            except ValueError:
                break
            if timedelta(0) <= published - day <= timedelta(days=_RECENT_DAYS):
                start, end = sentence.start() + m.start(), sentence.start() + m.end()
                yield TimeMention(start, end, m.group(), "", day, day), sentence.group(), sentence.start()
            break
    if _DATELINE.search(text[:300]):  # a dateline may disagree with the doc's date
        return
    start = 0
    while (found := _day_mention(text[start:], published)) is not None:
        mention, sentence, offset = found
        yield (
            dataclasses.replace(mention, start=mention.start + start, end=mention.end + start),
            sentence,
            offset + start,
        )
        start += offset + len(sentence)


def find_events(docs: Iterable[dict]) -> list[Event]:
    """Events of the docs' opening sentences whose clause reads "X在Y举行" or "X发布Z", one per clause text."""
    events: list[Event] = []
    seen: set[str] = set()  # clause texts and what happened: a story told twice is one event
    for doc in docs:
        published = date.fromisoformat(doc["date"][:10])
        for mention, sentence, offset in _dated_sentences(doc["text"], published):
            text = _event(sentence, mention, offset)
            if not text:
                continue
            clause = read_clause(text)
            if clause is None or _NOT_AN_EVENT.search(text) or {text, clause.short} & seen:
                continue
            if any(e.day == mention.first and similarity(e.clause.short, clause.short) >= 0.35 for e in events):
                continue
            if parse_question_time(clause.short + clause.answer, published) is not None:
                continue  # a time word of its own would stand next to the one the question is given
            seen.update((text, clause.short))
            events.append(Event(doc["id"], mention.first, clause, text))
    return events


def _question(qid: str, text: str, answers: list[str], gold: Iterable[str], asked: date, category: str) -> dict:
    return {
        "id": qid,
        "question": text,
        "answers": answers,
        "answer_match": "any",
        "gold_passage_ids": sorted(set(gold)),
        "question_date": asked.isoformat(),
        "category": category,
    }


def _gold(event: Event, docs: list[dict]) -> list[str]:
    """The event's doc and every other doc naming what it did (copies of a story by other outlets)."""
    clause = event.clause
    needles = (clause.obj,) if clause.obj else (clause.subject, clause.place)
    return [event.doc_id] + [d["id"] for d in docs if all(n in d["text"] for n in needles)]


# --- the kinds of question -----------------------------------------------------------------------------------


def relative_day_questions(events: list[Event], docs: list[dict], limit: int) -> tuple[list[dict], list[dict]]:
    """'上周三，X在哪里举行？' and its unmoved counterpart '2023年8月2日，X在哪里举行？' for up to `limit` events."""
    relative, absolute = [], []
    for event in sorted(events, key=lambda e: _order("day:" + e.text)):
        if len(relative) == limit:
            break
        clause, day = event.clause, event.day
        if not clause.question:
            continue
        answers = answer_alternatives(clause.answer, clause.question, place=bool(clause.place))
        asked = day + timedelta(days=_DAY_DELAYS[len(relative) % len(_DAY_DELAYS)])
        phrase = day_phrase(day, asked)
        if not answers or phrase is None:
            continue
        n, gold = len(relative) + 1, _gold(event, docs)
        relative.append(
            _question(f"dev-rel-day-{n:02d}", f"{phrase}，{clause.question}", answers, gold, asked, "relative")
        )
        written = f"{day.year}年{day.month}月{day.day}日，{clause.question}"
        absolute.append(_question(f"dev-abs-day-{n:02d}", written, answers, gold, asked, "absolute"))
    return relative, absolute


_POINTING = re.compile(r"^(?:这|该|其|此|它|他|她)|这[个些位项次]|该[国市公]")
_NAME_TAGS = frozenset(("nr", "nrt", "nrfg", "ns", "nt", "nz", "eng"))  # jieba's tags of names and foreign words


def names_something(question: str) -> bool:
    """Whether the question names a person, place, organisation or product, or quotes a title: "谁引发了骚乱？"
    names none, and moved to "上个月" it would fit any month's riots."""
    import jieba.posseg  # the keyword index's segmenter; imported here, where it is needed

    if re.search(r"《[^》]+》|“[^”]+”", question):
        return True
    return any(flag in _NAME_TAGS and len(word) >= 2 for word, flag in jieba.posseg.cut(question))


_OTHER_TIME = re.compile(r"(?<![0-9])(?P<m>\d{1,2})月|(?P<y>\d{4})年|去年|前年|年前|上个?月|下个?月|明年")


def _other_time(text: str, answer: str, published: date) -> bool:
    """Whether the sentence holding the answer names a month or year other than publication's."""
    at = text.lower().find(answer.lower())
    start = max(text.rfind(ch, 0, at) for ch in "。！？\n") + 1
    ends = [e for e in (text.find(ch, at) for ch in "。！？\n") if e >= 0]
    for m in _OTHER_TIME.finditer(text, start, min(ends, default=len(text))):
        if not (m["m"] and int(m["m"]) == published.month) and not (m["y"] and int(m["y"]) == published.year):
            return True
    return False


def crud_month_questions(questions: list[dict], docs: list[dict], limit: int) -> tuple[list[dict], list[dict]]:
    """CRUD questions whose gold docs all come from one month, asked with that month: '去年8月，…' (relative) and
    '2023年8月，…' (absolute). Kept: questions that name something (no 这/该) and have a short answer whose
    sentence names no other month or year, published after the 3rd (earlier, the news may be last month's)."""
    by_id = {d["id"]: d for d in docs}
    picked = []
    for q in sorted(questions, key=lambda q: _order(q["id"])):
        gold = [by_id.get(g) for g in q["gold_passage_ids"]]
        if not gold or None in gold or len({d["date"][:7] for d in gold}) != 1:
            continue
        published = min(date.fromisoformat(d["date"][:10]) for d in gold)
        text = q["question"]
        if published.day < 4 or _POINTING.search(text) or not names_something(text):
            continue
        if parse_question_time(text, published) is not None or not text.endswith("？"):
            continue
        answers = [a for a in q["answers"] if 2 <= len(a) <= 20 and all(a.lower() in d["text"].lower() for d in gold)]
        if not answers or "。" in answers[0] or _other_time(gold[0]["text"], answers[0], published):
            continue
        picked.append((q, answers, published))
        if len(picked) == limit:
            break
    relative, absolute = [], []
    for i, (q, answers, published) in enumerate(picked):
        months_later, on = _MONTH_DELAYS[i % len(_MONTH_DELAYS)]
        asked = max(shift_month(published, months_later, on), published + timedelta(days=1))
        phrase = month_phrase(published.year, published.month, asked, variant=i)
        alternatives = answer_alternatives(answers[0], q["question"])
        if phrase is None or not alternatives:
            continue
        gold, text = q["gold_passage_ids"], q["question"]
        relative.append(
            _question(f"dev-rel-month-{i + 1:02d}", f"{phrase}，{text}", alternatives, gold, asked, "relative")
        )
        written = f"{published.year}年{published.month}月，{text}"
        absolute.append(_question(f"dev-abs-month-{i + 1:02d}", written, alternatives, gold, asked, "absolute"))
    return relative, absolute


def _same_story(a: Event, b: Event) -> bool:
    """Whether two events may be one story told twice: same doc, one's subject in the other, or much the same words
    ("成都第31届世界大学生夏季运动会开幕" and "万众期盼的第三十一届世界大学生夏季运动会开幕")."""
    if a.doc_id == b.doc_id or a.clause.subject in b.text or b.clause.subject in a.text:
        return True
    return similarity(a.clause.short, b.clause.short) >= 0.35


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' character bigrams."""
    x, y = ({t[i : i + 2] for i in range(len(t) - 1)} for t in (a, b))
    return len(x & y) / len(x | y) if x | y else 1.0


def anchored_questions(events: list[Event], docs: list[dict], limit: int) -> list[dict]:
    """'A当天，B？' for each event B that gives a question and another story A reported for the same day."""
    by_day: dict[date, list[Event]] = defaultdict(list)
    for event in sorted(events, key=lambda e: _order("anchor:" + e.text)):
        by_day[event.day].append(event)
    out: list[dict] = []
    for day in sorted(by_day, key=lambda d: _order(d.isoformat())):
        group = by_day[day]
        for i, asked_about in enumerate(group):
            anchors = [a for a in group[i + 1 :] + group[:i] if not _same_story(a, asked_about)]
            if len(out) == limit:
                return out
            if not asked_about.clause.question or not anchors:
                continue
            question = f"{anchors[0].clause.short}当天，{asked_about.clause.question}"
            answers = answer_alternatives(asked_about.clause.answer, question, place=bool(asked_about.clause.place))
            if not answers:
                continue
            asked = day + timedelta(days=_DAY_DELAYS[len(out) % len(_DAY_DELAYS)])
            gold = _gold(asked_about, docs)
            out.append(_question(f"dev-anchor-{len(out) + 1:02d}", question, answers, gold, asked, "anchored"))
    return out


def comparison_questions(events: list[Event], docs: list[dict], limit: int) -> list[dict]:
    """Alternately 'A和B，哪个更早？' (answer: the earlier one's subject) and 'A和B相隔多少天？', for events of
    different stories 2 to 30 days apart; each event is used once."""
    ordered = sorted(events, key=lambda e: _order("compare:" + e.text))
    out: list[dict] = []
    used: set[str] = set()
    for first in ordered:
        for second in ordered:
            if len(out) == limit:
                return out
            gap = abs((second.day - first.day).days)
            if {first.text, second.text} & used or _same_story(first, second) or not 2 <= gap <= 30:
                continue
            earlier, later = sorted((first, second), key=lambda e: e.day)
            pair = f"{first.clause.short}和{second.clause.short}"
            if len(out) % 2:
                question, answers = f"{pair}相隔多少天？", days_answers(gap)
            else:
                question = f"{pair}，哪个更早？"
                names = answer_alternatives(earlier.clause.subject, "")
                answers = [a for a in names if a not in later.clause.short]
            if not answers:
                continue
            used.update((first.text, second.text))
            asked = later.day + timedelta(days=_DAY_DELAYS[len(out) % len(_DAY_DELAYS)])
            gold = _gold(first, docs) + _gold(second, docs)
            out.append(_question(f"dev-compare-{len(out) + 1:02d}", question, answers, gold, asked, "comparison"))
            break
    return out


# bench/time_set.py's questions whose event is something that happened, in one clause, not a statement
_HAPPENED = re.compile(
    r"举行|举办|召开|开幕|闭幕|开营|发布|公布|揭晓|签署|开通|开放|启动|上线|登陆|首播|投诉|判决|自首|降落|录制|"
    r"暂停|接待|会见|访问|抵达|拉开帷幕|亮相|签约|成立|开工|投产|试跑|重定向"
)
_NOT_HAPPENED = re.compile(r"称|表示|获悉|撰文|发文|了解到|报道|认为|指出|透露|^(?:随着|将|已|持续|起|原标题)|将于")


def event_day_questions(crud: Path, limit: int) -> list[dict]:
    """bench/time_set.py's "…是在哪一天？" questions whose event reads as something that happened."""
    _, questions = build_event_day(crud, 0, limit * 3)
    out, events = [], []
    for q in questions:
        event = re.sub(r"^\d{4}年\d{1,2}月，|是在哪一天？$", "", q["question"])
        if not _HAPPENED.search(event) or _NOT_HAPPENED.search(event) or "，" in event:
            continue
        if any(similarity(event, other) >= 0.35 for other in events):
            continue  # the same story from another outlet
        events.append(event)
        out.append({**q, "id": q["id"].replace("crud-time", "dev-eventday"), "category": "event-day"})
    return out[:limit]


_DAY_SPAN = (
    r"(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]"
    r"(?:[至到—\-－~～](?:(?P<m2>\d{1,2})月)?(?P<d2>\d{1,2})[日号])?"
)
_CLAUSE_START = r"(?:^|(?<=[，,。；;：:！？!?\n）)”]))"
_ANNOUNCED = (
    # "X将于8月16日至22日在Y举行", "8月22日至23日，X将在Y举行"
    re.compile(
        rf"{_CLAUSE_START}(?P<subject>[^，,。；;：:！？!?\n]{{2,40}}?)[，,]?(?:即将|将)(?:于|在)?{_DAY_SPAN}(?:期间)?"
        rf"在(?P<place>[^，,。；;在的]{{2,30}}?)(?P<verb>举行|举办|召开|开幕)(?P<tail>[^，,。；;！？!?]{{0,30}})"
    ),
    re.compile(
        rf"{_CLAUSE_START}{_DAY_SPAN}[，,](?P<subject>[^，,。；;：:！？!?\n]{{2,40}}?)(?:即将|将)在"
        rf"(?P<place>[^，,。；;在的]{{2,30}}?)(?P<verb>举行|举办|召开|开幕)(?P<tail>[^，,。；;！？!?]{{0,30}})"
    ),
)
_ORGANIZER = re.compile(r"(?:会同|联合|、)|(?:会|局|部|院|府|委|办|中心|集团)$")
_ANNOUNCED_LEAD = re.compile(r"^(?:.*?(?:主办|承办)的)?(?:本届|今年的?|此次|这次)?")


def _overlapping(pattern: re.Pattern[str], text: str) -> Iterable[re.Match[str]]:
    """Every match, one per start: a rejected long subject must not hide the right one that starts later."""
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        yield m
        pos = m.start() + 1


def _inside_name(text: str, start: int) -> bool:
    """Whether `start` follows a short bracket that belongs to a name ("海峡两岸(厦门)") rather than a credit
    ("(记者 闫旭)")."""
    if not start or text[start - 1] not in ")）":
        return False
    opening = max(text.rfind("(", 0, start), text.rfind("（", 0, start))
    return opening >= 0 and "记者" not in text[opening:start] and start - opening <= 8


def announced_questions(docs: list[dict], limit: int) -> list[dict]:
    """'上周，X在哪里举行？' asked during or after a period, about a doc that announced "X将于…在Y举行" before it;
    for a period of several days also '上周举行的X一共举行了几天？'."""
    out: list[dict] = []
    seen: set[str] = set()
    for doc in sorted(docs, key=lambda d: _order("announce:" + d["id"])):
        published = date.fromisoformat(doc["date"][:10])
        for m in (m for pattern in _ANNOUNCED for m in _overlapping(pattern, doc["text"])):
            sentence_start = max(doc["text"].rfind(ch, 0, m.start()) for ch in "。！？\n") + 1
            if "原标题" in doc["text"][sentence_start : m.end()] or _inside_name(doc["text"], m.start()):
                continue  # a headline run into the body, or a cut after "两岸(厦门)": the subject start is unclear
            try:
                first = date(int(m["y"] or published.year), int(m["m"]), int(m["d"]))
                last = date(first.year, int(m["m2"] or m["m"]), int(m["d2"])) if m["d2"] else first
            except ValueError:
                continue
            if not published < first <= last <= published + timedelta(days=60):
                continue
            subject, tail = _ANNOUNCED_LEAD.sub("", m["subject"].strip()), m["tail"].strip()
            if _ORGANIZER.search(subject) and len(tail) >= 4:
                subject, tail = (
                    tail,
                    "",
                )  # "国家文物局将…在重庆大足举办首届石窟寺保护国际论坛": the forum is asked about
            unquoted = subject.replace("“", "").replace("”", "")  # a quoted name is a name, not a quotation
            if len(tail) > 12 or len(subject) < 5 or subject in seen or _BAD_SUBJECT.search(unquoted):
                continue
            if parse_question_time(subject + tail, published) is not None:
                continue
            n = len(out)
            asked = first + timedelta(days=1) if n % 4 == 0 else last + timedelta(days=(n % 3) * 3 + 1)
            phrase = period_phrase(first, last, asked)
            question = f"{phrase}，{subject}在哪里{m['verb']}{tail}？"
            answers = answer_alternatives(m["place"], question, place=True)
            if phrase is None or not answers:
                continue
            seen.add(subject)
            gold = [doc["id"]] + [d["id"] for d in docs if subject in d["text"] and m["place"] in d["text"]]
            out.append(_question(f"dev-announced-{n + 1:02d}", question, answers, gold, asked, "announced-period"))
            later = last + timedelta(days=3)
            if first < last and not tail and (phrase := period_phrase(first, last, later)) is not None:
                # how long it lasted: only the announcement says so
                question = f"{phrase}{m['verb']}的{subject}一共{m['verb']}了几天？"
                days = days_answers((last - first).days + 1)
                out.append(_question(f"dev-announced-{n + 2:02d}", question, days, gold, later, "announced-period"))
            if len(out) >= limit:
                return out[:limit]
    return out


# --- the sample page -----------------------------------------------------------------------------------------
# The page is part of the repository; its questions are written by hand and moved in time like the others.

# (question without a time word, answers, title of the article that answers it); all four meetings were on
# SAMPLE_DAY
_SAMPLE_FACTS = (
    ("乔俊杰专题调研了哪里的安全生产工作？", ["武进国家高新区", "武高新"], "乔俊杰专题调研"),
    ("武进区召开的群防群治工作部署会要建强哪个群防群治子品牌？", ["警物联盟"], "群防群治工作部署会"),
    (
        "武进区烟花爆竹燃放管控工作动员部署会议上，区燃放办解读了哪个方案？",
        ["燃放管控工作实施方案"],
        "烟花爆竹燃放管控",
    ),
    ("市人大常委会召开新闻发布会介绍的是哪部条例？", ["生活垃圾分类管理条例"], "生活垃圾分类管理条例"),
)
# (question date, question, answers, title): the page of 2024-02-02 announced both periods
_SAMPLE_ANNOUNCED = (
    ("2024-09-10", "这个月开始施行的常州市条例是哪一部？", ["生活垃圾分类管理条例"], "生活垃圾分类管理条例"),
    (
        "2024-10-08",
        "上个月起施行的《常州市生活垃圾分类管理条例》把生活垃圾分为哪几类？",
        ["可回收物", "有害垃圾", "厨余垃圾"],
        "生活垃圾分类管理条例",
    ),
    (
        "2024-09-03",
        "本月1日起施行的《常州市生活垃圾分类管理条例》共有多少条？",
        ["五十八条", "58条"],
        "生活垃圾分类管理条例",
    ),
    ("2025-01-05", "去年9月起施行的常州市生活垃圾分类管理条例共有几章？", ["九章", "9章"], "生活垃圾分类管理条例"),
    (
        "2024-02-12",
        "今年春节期间武进区的烟花爆竹燃放管控按哪个方案实施？",
        ["燃放管控工作实施方案"],
        "烟花爆竹燃放管控",
    ),
    ("2024-02-20", "春节期间武进区的烟花爆竹燃放管控是实施这项政策的第几年？", ["第六年", "第6年"], "烟花爆竹燃放管控"),
)
_SAMPLE_DELAYS = (1, 7, 40, 366)  # question dates: the next day, the next week, the next month, the next year


def sample_questions() -> list[dict]:
    """The sample page's questions: its events moved in time, its announced periods, and its event-day ones."""
    out = []
    for i, (text, answers, title) in enumerate(_SAMPLE_FACTS):
        for j, delay in enumerate(_SAMPLE_DELAYS):
            asked = SAMPLE_DAY + timedelta(days=delay + i)
            phrase = day_phrase(SAMPLE_DAY, asked)
            row = _question(f"dev-rel-sample-{i + 1}{j + 1}", f"{phrase}，{text}", answers, [], asked, "relative")
            out.append({**row, "gold_titles": [title]})
    for i, (asked, text, answers, title) in enumerate(_SAMPLE_ANNOUNCED):
        day = date.fromisoformat(asked)
        out.append(
            {
                **_question(f"dev-announced-sample-{i + 1}", text, answers, [], day, "announced-period"),
                "gold_titles": [title],
            }
        )
    for line in SAMPLE_QUESTIONS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else {}
        if row.get("category") == "event-day":
            out.append({**row, "id": f"dev-{row['id']}"})
    return out


def sample_corpus() -> list[dict]:
    """The sample page's articles as corpus lines, titled and dated as `newsqa ingest` reads the page."""
    articles = read_paths([SAMPLE_PAGE], date=SAMPLE_DATE, source=SAMPLE_SOURCE)
    return [
        {"id": f"wujin-{a.id}", "title": a.title, "text": a.text, "date": a.date, "source": a.source} for a in articles
    ]


# --- the whole set -------------------------------------------------------------------------------------------


def build(crud: Path, n_docs: int, per_kind: int) -> tuple[list[dict], list[dict]]:
    """The corpus (the docs the questions need, then distractors up to `n_docs`, then the sample page) and the
    questions, up to `per_kind` of each kind from CRUD plus the sample page's."""
    docs = [json.loads(line) for line in (crud / "corpus.jsonl").open(encoding="utf-8") if line.strip()]
    dated = sorted((d for d in docs if d.get("date")), key=lambda d: _order(d["id"]))
    crud_questions = [json.loads(line) for line in (crud / "questions.jsonl").open(encoding="utf-8") if line.strip()]

    events = find_events(dated)
    rel_day, abs_day = relative_day_questions(events, dated, per_kind // 2)
    rel_month, abs_month = crud_month_questions(crud_questions, dated, per_kind // 2)
    questions = [
        *rel_day,
        *rel_month,
        *abs_day,
        *abs_month,
        *anchored_questions(events, dated, per_kind),
        *comparison_questions(events, dated, per_kind),
        *event_day_questions(crud, per_kind),
        *announced_questions(dated, per_kind),
        *sample_questions(),
    ]
    needed = {g for q in questions for g in q.get("gold_passage_ids", ())}
    chosen = [d for d in dated if d["id"] in needed]
    distractors = [d for d in dated if d["id"] not in needed][: max(0, n_docs - len(chosen))]
    corpus = [
        {"id": d["id"], "text": d["text"], "date": d["date"], "source": d.get("source", "")}
        for d in sorted(chosen + distractors, key=lambda d: d["id"])
    ]
    return corpus + sample_corpus(), questions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crud", type=Path, default=DEFAULT_CRUD, help="folder with CRUD corpus.jsonl and questions")
    parser.add_argument("--out", type=Path, required=True, help="output folder (outside the repository)")
    parser.add_argument("--docs", type=int, default=600, help="CRUD docs in the corpus, distractors included")
    parser.add_argument("--per-kind", type=int, default=30, help="questions per kind from CRUD (fewer if data run out)")
    args = parser.parse_args(argv)
    if args.out.resolve().is_relative_to(ROOT):
        parser.error("--out must be outside the repository: the evaldata license forbids copying its texts into it")
    if not (args.crud / "corpus.jsonl").is_file() or not (args.crud / "questions.jsonl").is_file():
        parser.error(f"{args.crud}: corpus.jsonl and questions.jsonl not found (docs/BENCHMARKS.md says where)")
    corpus, questions = build(args.crud, args.docs, args.per_kind)
    _write_jsonl(args.out / "corpus.jsonl", corpus)
    _write_jsonl(args.out / "time_dev_questions.jsonl", questions)
    counts = Counter(q["category"] for q in questions)
    print(f"{len(corpus)} docs, {len(questions)} questions -> {args.out}")
    for kind in KINDS:
        print(f"  {kind:<17} {counts[kind]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
