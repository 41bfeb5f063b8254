"""Rules for days and weeks: 昨天上午, 今晨, 上周五, 本周末, and the fuzzy 近日/日前 (shortly before publication)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from corpus.timeexpr.spans import (
    DAYPART,
    TIAN_COMPOUNDS,
    Resolver,
    TimeMention,
    follows,
    make_mention,
    next_char,
    render_day,
    render_range,
    starts_word,
)

_DAY_OFFSETS = {
    "大前天": -3,
    "前天": -2,
    "昨天": -1,
    "昨日": -1,
    "今天": 0,
    "今日": 0,
    "明天": 1,
    "明日": 1,
    "后天": 2,
    "大后天": 3,
}
_DAY_RE = re.compile(rf"(?P<word>大前天|大后天|前天|昨天|昨日|今天|今日|明天|明日|后天)(?P<part>{DAYPART})?")
# 今日头条 and 今日俄罗斯 are names, not days
_DAY_COLUMNS = ("头条", "说法", "视点", "要闻", "话题", "看点", "聚焦", "焦点", "俄罗斯", "美国")
_ACQUIRED = "性的形培养习获努学因失缺修造环"  # 后天 as "acquired" (后天形成), not the day after tomorrow


def _resolve_day(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    word, part = m["word"], m["part"] or ""
    start, word_end = m.start(), m.end("word")
    if not starts_word(text, start, question):
        return None
    if word.endswith("天") and follows(text, word_end, TIAN_COMPOUNDS + ("宁" if word[0] in "前后明" else "")):
        return None
    if word in ("今天", "今日") and start and text[start - 1] in "的前":
        return None  # "78年前的今天", "十年前今天", "相连的今天": another day, or "nowadays"
    if word.endswith("日") and (follows(text, word_end, "之") or text.startswith(_DAY_COLUMNS, word_end)):
        return None
    if word == "后天" and (follows(text, word_end, _ACQUIRED) or "先天" in text[max(0, start - 12) : start + 12]):
        return None
    day = ref + timedelta(days=_DAY_OFFSETS[word])
    return make_mention(text, start, m.end(), render_day(day) + part, day, day)


_SHORT_DAY_RE = re.compile(r"(?P<word>[今昨明])(?P<part>[晨早晚夜])")
_SHORT_PARTS = {"晨": "早晨", "早": "早上", "晚": "晚上", "夜": "夜间"}


def _resolve_short_day(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    """今晨, 昨晚, 明早 and the like."""
    if not starts_word(text, m.start(), question) or follows(text, m.end(), "报餐市间饭霞"):
        return None
    day = ref + timedelta(days={"今": 0, "昨": -1, "明": 1}[m["word"]])
    return make_mention(text, m.start(), m.end(), render_day(day) + _SHORT_PARTS[m["part"]], day, day)


_WEEK_RE = re.compile(
    r"(?P<rel>上上|下下|上|本|这|下)?(?P<ge>个)?(?P<unit>周|星期|礼拜)"
    r"(?:(?P<wde>的(?:周|星期|礼拜))(?=[一二三四五六日天末]))?(?P<wd>[一二三四五六日天末])?"
    rf"(?P<part>{DAYPART})?"
)
_WEEK_OFFSETS = {"上上": -2, "上": -1, "本": 0, "这": 0, "下": 1, "下下": 2}
WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAY_DATED_RE = re.compile(r"[日号][（(\s]*$")
_WEEKDAY_LIST_RE = re.compile(r"[、至到和及与~\-—](?:周|星期|礼拜)")
# What may follow a bare "周一": the surname 周 makes "周五福" a name, and "每周一次" a frequency.
_WEEKDAY_FOLLOW = frozenset("上下晚凌中早傍夜清白午起至到前后的是这那在举召开将当来去又再也都和与及或正全")
# "周一开吗？", "图书馆周日开放不？": a question about a timetable, every such day, not one of them
_TIMETABLE_ASKED = re.compile(
    r"(?:也|还|都|照常|正常)?(?:开门|开放|开馆|营业|闭馆|休馆|休息|上班|办公|开)(?:吗|么|不|没|嘛)"
)


def _resolve_week(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    rel, unit, wd = m["rel"], m["unit"], m["wd"]
    start = m.start()
    if rel is None and (wd is None or m["ge"] or wd == "末" or m["wde"]):
        return None
    if not starts_word(text, start, question):
        return None
    if _WEEKDAY_DATED_RE.search(text, max(0, start - 3), start):
        return None  # "8月19日（周六）": the text names the day itself
    if rel is None:
        before = text[start - 1] if start else ""
        if before and before in "每隔逢一两二三四五六七八九十几数半个整上下本这做、至到和及与~-—":
            return None  # 每周一, and lists/ranges such as "周一至周五" that describe a timetable
        nxt = next_char(text, m.end("wd"))
        if unit == "周" and (wd == "天" or (nxt.isalnum() and nxt not in _WEEKDAY_FOLLOW and not m["part"])):
            return None
        if _WEEKDAY_LIST_RE.match(text, m.end("wd")):
            return None
        if question and wd is not None and _TIMETABLE_ASKED.match(text, m.end()):
            return None
    if wd is None:
        end = m.end("unit")
        if follows(text, end, "期年岁边围转全密到长旋折游知刊报"):
            return None
    elif follows(text, m.end("wd"), "次遍个年岁周期刊百千万十边围常" + ("本元韩军方籍" if wd == "日" else "")):
        return None  # 每周一次; 本周日本央行 is 本周 + 日本央行
    monday = ref - timedelta(days=ref.weekday()) + timedelta(weeks=_WEEK_OFFSETS.get(rel or "本", 0))
    if wd is None:
        sunday = monday + timedelta(days=6)
        return make_mention(text, start, m.end("unit"), render_range(monday, sunday), monday, sunday)
    if wd == "末":
        saturday = monday + timedelta(days=5)
        sunday = saturday + timedelta(days=1)
        return make_mention(text, start, m.end("wd"), render_range(saturday, sunday), saturday, sunday)
    day = monday + timedelta(days=WEEKDAYS[wd])
    if rel is None and day > ref:
        # A bare "周六" later in the week than the reference day is either the coming one (an announcement) or
        # the last one (a report): a question means the last one; in an article it stays unresolved.
        if not question:
            return None
        day -= timedelta(weeks=1)
    return make_mention(text, start, m.end(), render_day(day) + (m["part"] or ""), day, day)


_FUZZY_RE = re.compile(r"近日|日前|前不久|不久前|近期|近来|前几天|前些天|前些日子|前一段时间|前段时间|前阵子")
_FUZZY_DAYS = {"近日": 14, "日前": 14, "前几天": 14, "前些天": 14}  # the rest: about two months
_FUZZY_GLUES_AFTER = {"近期": "望待货满限刊末中间", "近来": "访"}


def _resolve_fuzzy(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    """近日, 日前, 近期: only "shortly before publication" can honestly be said, so that is what is rendered."""
    word, start = m[0], m.start()
    if not starts_word(text, start, question) or follows(text, m.end(), _FUZZY_GLUES_AFTER.get(word, "")):
        return None
    if word == "近期":  # may point forward too: 近期将举行
        return make_mention(
            text,
            start,
            m.end(),
            f"发稿日期{render_day(ref)}前后",
            ref - timedelta(days=30),
            ref + timedelta(days=30),
            approximate=True,
        )
    first = ref - timedelta(days=_FUZZY_DAYS.get(word, 60))
    return make_mention(text, start, m.end(), f"发稿日期{render_day(ref)}前不久", first, ref, approximate=True)


RULES: tuple[tuple[re.Pattern[str], Resolver], ...] = (
    (_DAY_RE, _resolve_day),
    (_SHORT_DAY_RE, _resolve_short_day),
    (_WEEK_RE, _resolve_week),
)
# articles only: a question's 近日 asks for the newest news instead
FUZZY_RULE: tuple[re.Pattern[str], Resolver] = (_FUZZY_RE, _resolve_fuzzy)
