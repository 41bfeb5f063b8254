"""Resolve relative Chinese time expressions (昨天上午, 上周五, 春节前) against a publication or question date.

Articles say "昨天上午" and questions say "去年的产值"; neither can be matched against the other, nor answered,
without the date they are relative to. A relative year, month or week and the absolute part it leads ("三年前5月",
"上个月5日", "去年春节期间") are one expression with one date. Articles also get the first year implied by
counting expressions ("2024年是…的第六年", "十年来"). The rules here are hand-written and deliberately conservative: a
word that might be part of a longer word ("目前天气", "说明天津", "如今年轻人") or whose reference is unclear
is left alone rather than guessed.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from lunardate import LunarDate

from core.text import CN_NUMERAL_CHARS, FULLWIDTH_DIGITS, SENTENCE_ENDS, numeral_value

__all__ = [
    "AnnotatedText",
    "TimeMention",
    "TimeScope",
    "annotate",
    "annotate_with_offsets",
    "parse_question_time",
    "resolve_expressions",
    "rewrite_question",
]


@dataclass(frozen=True)
class TimeMention:
    """One time expression in a text: its span and wording, a Chinese absolute rendering and the dates it covers."""

    start: int
    end: int
    text: str
    resolved: str  # e.g. "2024年2月1日上午", "2024年上半年", "发稿日期2024年2月2日前不久"
    first: date
    last: date
    approximate: bool = False  # a fuzzy range (近日, 日前): rendered without "即"


@dataclass(frozen=True)
class TimeScope:
    """The time a question asks about: a date range, a wish for the newest news, or both."""

    first: date | None
    last: date | None
    prefer_recent: bool
    text: str  # the question's own wording, several expressions joined by "、"
    resolved: str


@dataclass(frozen=True)
class AnnotatedText:
    """Text with "（即…）" notes inserted, and the map back to the original's character offsets."""

    text: str
    original: str
    notes: tuple[tuple[int, int], ...]  # (offset in original where a note was inserted, note length), ascending

    def to_original(self, offset: int) -> int:
        """Offset in the original text of annotated `offset`; a position inside a note maps to where it was inserted."""
        shift = 0
        for at, length in self.notes:
            annotated_at = at + shift
            if offset < annotated_at:
                break
            if offset < annotated_at + length:
                return at
            shift += length
        return min(max(offset - shift, 0), len(self.original))

    def to_original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original span [start, end) of an annotated span; notes inside it simply drop out."""
        return self.to_original(start), self.to_original(end)

    def to_annotated(self, offset: int, *, end: bool = False) -> int:
        """Annotated offset of original `offset`; with end=True a note inserted exactly there stays outside."""
        return offset + sum(length for at, length in self.notes if at < offset or (at == offset and not end))


# --- small helpers -------------------------------------------------------------------------------------------

_NUM = rf"[0-9０-９]+|[{CN_NUMERAL_CHARS}]+"
_NUM_CHARS = frozenset("0123456789０１２３４５６７８９" + CN_NUMERAL_CHARS)
_DAYPART = "凌晨|清晨|早晨|早上|早间|上午|中午|午间|下午|午后|傍晚|晚上|晚间|夜间|夜里|深夜|白天"


def _day(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _range(a: date, b: date) -> str:
    """ "2024年1月22日至28日" style rendering of an inclusive day range."""
    if a == b:
        return _day(a)
    if a.year != b.year:
        return f"{_day(a)}至{_day(b)}"
    if a.month != b.month:
        return f"{_day(a)}至{b.month}月{b.day}日"
    return f"{_day(a)}至{b.day}日"


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + delta
    return index // 12, index % 12 + 1


def _valid_year(year: int) -> bool:
    return 1901 <= year <= 2099  # the range lunardate knows and date arithmetic below stays safe in


# --- word boundaries -----------------------------------------------------------------------------------------
# Chinese has no spaces, so "前天" may sit inside "目前天气" and "今年" inside "如今年轻人". Each lead character
# has the characters that, put before it, make a longer word. Leads that end very many words (前 后 上 下 本 次 日)
# are "guarded": in article text they must follow a break or a typical lead-in (记者昨天… 我区下周…).
# Questions are short and unpunctuated ("武高新上个月的产值"), so there only the known compounds block a match.

_GLUES_BEFORE = {
    "今": "如当现而古迄",
    "昨": "的别",
    "明": "说证表声透光文聪鲜发简分查开阐标注指载申严昆黎清神英精高贤公廉失不澄言辨照昌修空晴通自挑昭启彰嘉明"
    "的好创向抱",
    "去": "过失除离回出进死归来",
    "前": "目提此之以日年月向面眼门事会赛节空生当战课饭睡考跟从先早超胸身台幕阵窗床灯车馆楼堂殿院期史婚产学临庭头"
    "额马阶站场绝街店席首线庙墓征营陵检训开演拍天周",
    "后": "之以此然随最落今午前先背幕善战其而日事会赛节饭睡考身产婚售术病震灾年月天皇太王稍过往向退延推滞断殿垫",
    "上": "以之晚早马路网线会海天地手身面台桌街加向至迎赶看爱跟追关登踏奔冲班床车墙书场世岸山史楼堂镇村",
    "下": "以之天地手陛乡底楼上私当眼目时一拿留放写定立打降落树山部麾名线南北脚窗月灯阁殿足剩坐躺倒跪趴低",
    "本": "日成资基根课书剧版文样范标账脚老原蓝副正读手善画话一两户血工赔亏保笔戏台",
    "次": "每多一两几数首此这那历层依名档屡批班场人车航位架频主其再二上本该",
    "日": "节生作止念假每末庆期平当前次明昨今同周首数多几某往旧近白终逐连时昔0123456789０１２３４５６７８９"
    "零〇一二两三四五六七八九十",
    "当": "应相适担充正恰妥便典押勾上承抵停得稳不理亦每直该门家敢难勇",
    "近": "接临靠附最逼贴挨亲邻走",
}
_GUARDED = frozenset("前后上下本次日")
_LEAD_INS = frozenset(
    "者他她我你们区市县镇村省局委府司院校部厅处办团队员民于在是至到从自就已并又也都还则直和与及或而将拟计划取争"
)
# Characters after "X天" that make "天X" a word (前天津市, 当天然气).
_TIAN_COMPOUNDS = "津然鹅涯猫坛府赋堂使才文际"


def _starts_word(text: str, start: int, question: bool) -> bool:
    """Whether a time word can begin at `start` rather than being the tail of a longer word."""
    if start == 0:
        return True
    before = text[start - 1]
    if not before.isalnum():
        return True
    lead = text[start]
    if before in _GLUES_BEFORE.get(lead, ""):
        return False
    return question or lead not in _GUARDED or before in _LEAD_INS


def _next_char(text: str, end: int) -> str:
    return text[end] if end < len(text) else ""


def _follows(text: str, end: int, forbidden: str) -> bool:
    """Whether the character at `end` is one of `forbidden` (a sign the match is part of a longer word)."""
    nxt = _next_char(text, end)
    return bool(nxt) and nxt in forbidden


def _number_starts(text: str, start: int) -> bool:
    """A numeral must not continue an earlier one: "2023年前" must not yield "023年前" or "23年前"."""
    return start == 0 or (text[start - 1] not in _NUM_CHARS and text[start - 1] != "第")


# --- rules ---------------------------------------------------------------------------------------------------
# A rule is a regex and a resolver; the resolver checks the context and returns a TimeMention or None.

_Resolver = Callable[[str, "re.Match[str]", date, bool], "TimeMention | None"]


def _mention(
    text: str, start: int, end: int, resolved: str, first: date, last: date, approximate: bool = False
) -> TimeMention:
    return TimeMention(start, end, text[start:end], resolved, first, last, approximate)


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
_DAY_RE = re.compile(rf"(?P<word>大前天|大后天|前天|昨天|昨日|今天|今日|明天|明日|后天)(?P<part>{_DAYPART})?")
# 今日头条 and 今日俄罗斯 are names, not days
_DAY_COLUMNS = ("头条", "说法", "视点", "要闻", "话题", "看点", "聚焦", "焦点", "俄罗斯", "美国")
_ACQUIRED = "性的形培养习获努学因失缺修造环"  # 后天 as "acquired" (后天形成), not the day after tomorrow


def _resolve_day(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    word, part = m["word"], m["part"] or ""
    start, word_end = m.start(), m.end("word")
    if not _starts_word(text, start, question):
        return None
    if word.endswith("天") and _follows(text, word_end, _TIAN_COMPOUNDS + ("宁" if word[0] in "前后明" else "")):
        return None
    if word in ("今天", "今日") and start and text[start - 1] in "的前":
        return None  # "78年前的今天", "十年前今天", "相连的今天": another day, or "nowadays"
    if word.endswith("日") and (_follows(text, word_end, "之") or text.startswith(_DAY_COLUMNS, word_end)):
        return None
    if word == "后天" and (_follows(text, word_end, _ACQUIRED) or "先天" in text[max(0, start - 12) : start + 12]):
        return None
    day = ref + timedelta(days=_DAY_OFFSETS[word])
    return _mention(text, start, m.end(), _day(day) + part, day, day)


_SHORT_DAY_RE = re.compile(r"(?P<word>[今昨明])(?P<part>[晨早晚夜])")
_SHORT_PARTS = {"晨": "早晨", "早": "早上", "晚": "晚上", "夜": "夜间"}


def _resolve_short_day(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    """今晨, 昨晚, 明早 and the like."""
    if not _starts_word(text, m.start(), question) or _follows(text, m.end(), "报餐市间饭霞"):
        return None
    day = ref + timedelta(days={"今": 0, "昨": -1, "明": 1}[m["word"]])
    return _mention(text, m.start(), m.end(), _day(day) + _SHORT_PARTS[m["part"]], day, day)


_WEEK_RE = re.compile(
    r"(?P<rel>上上|下下|上|本|这|下)?(?P<ge>个)?(?P<unit>周|星期|礼拜)"
    r"(?:(?P<wde>的(?:周|星期|礼拜))(?=[一二三四五六日天末]))?(?P<wd>[一二三四五六日天末])?"
    rf"(?P<part>{_DAYPART})?"
)
_WEEK_OFFSETS = {"上上": -2, "上": -1, "本": 0, "这": 0, "下": 1, "下下": 2}
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAY_DATED_RE = re.compile(r"[日号][（(\s]*$")
_WEEKDAY_LIST_RE = re.compile(r"[、至到和及与~\-—](?:周|星期|礼拜)")
# What may follow a bare "周一": the surname 周 makes "周五福" a name, and "每周一次" a frequency.
_WEEKDAY_FOLLOW = frozenset("上下晚凌中早傍夜清白午起至到前后的是这那在举召开将当来去又再也都和与及或正全")


def _resolve_week(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    rel, unit, wd = m["rel"], m["unit"], m["wd"]
    start = m.start()
    if rel is None and (wd is None or m["ge"] or wd == "末" or m["wde"]):
        return None
    if not _starts_word(text, start, question):
        return None
    if _WEEKDAY_DATED_RE.search(text, max(0, start - 3), start):
        return None  # "8月19日（周六）": the text names the day itself
    if rel is None:
        before = text[start - 1] if start else ""
        if before and before in "每隔逢一两二三四五六七八九十几数半个整上下本这做、至到和及与~-—":
            return None  # 每周一, and lists/ranges such as "周一至周五" that describe a timetable
        nxt = _next_char(text, m.end("wd"))
        if unit == "周" and (wd == "天" or (nxt.isalnum() and nxt not in _WEEKDAY_FOLLOW and not m["part"])):
            return None
        if _WEEKDAY_LIST_RE.match(text, m.end("wd")):
            return None
    if wd is None:
        end = m.end("unit")
        if _follows(text, end, "期年岁边围转全密到长旋折游知刊报"):
            return None
    elif _follows(text, m.end("wd"), "次遍个年岁周期刊百千万十边围常" + ("本元韩军方籍" if wd == "日" else "")):
        return None  # 每周一次; 本周日本央行 is 本周 + 日本央行
    monday = ref - timedelta(days=ref.weekday()) + timedelta(weeks=_WEEK_OFFSETS.get(rel or "本", 0))
    if wd is None:
        sunday = monday + timedelta(days=6)
        return _mention(text, start, m.end("unit"), _range(monday, sunday), monday, sunday)
    if wd == "末":
        saturday = monday + timedelta(days=5)
        sunday = saturday + timedelta(days=1)
        return _mention(text, start, m.end("wd"), _range(saturday, sunday), saturday, sunday)
    day = monday + timedelta(days=_WEEKDAYS[wd])
    if rel is None and day > ref:
        # A bare "周六" later in the week than the reference day is either the coming one (an announcement) or
        # the last one (a report): a question means the last one; in an article it stays unresolved.
        if not question:
            return None
        day -= timedelta(weeks=1)
    return _mention(text, start, m.end(), _day(day) + (m["part"] or ""), day, day)


_MONTH_SUBS = "初|上旬|中旬|下旬|底|末"
_MONTH_RE = re.compile(rf"(?P<rel>本|这个?|上个?|下个?)月(?P<sub>{_MONTH_SUBS})?")
# After 初/底/末 these characters make a different word: 初步, 底线, 末端.
_SUB_GLUES = {
    "初": "步次期中心衷始见选审赛稿级创现具露显伏",
    "底": "线数气色层部盘蕴子下牌价稿薪座片端板限",
    "末": "端位尾梢期日伏",  # 今年末伏 is 今年 + 末伏
}


def _month_sub_range(year: int, month: int, sub: str) -> tuple[date, date]:
    last = _month_end(year, month)
    if sub in ("初", "上旬"):
        return date(year, month, 1), date(year, month, 10)
    if sub == "中旬":
        return date(year, month, 11), date(year, month, 20)
    return date(year, month, 21), last  # 下旬, 底, 末


def _sub_ok(text: str, m: re.Match[str], group: str) -> bool:
    """Whether the suffix in `group` (初, 底, …) really is a suffix and not the start of 初步, 底线, …."""
    sub = m[group]
    return sub is not None and not _follows(text, m.end(group), _SUB_GLUES.get(sub[-1], ""))


def _resolve_month(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    start = m.start()
    if not _starts_word(text, start, question):
        return None
    delta = {"上": -1, "下": 1}.get(m["rel"][0], 0)
    if delta and _other_year_before(text, start, ref):
        return None
    year, month = _shift_month(ref.year, ref.month, delta)
    if _sub_ok(text, m, "sub"):
        first, last = _month_sub_range(year, month, m["sub"])
        return _mention(text, start, m.end(), f"{year}年{month}月{m['sub']}", first, last)
    end = m.end() - len(m["sub"] or "")
    if (found := _day_in_month(text, end, year, month, ref)) is not None:
        return _mention(text, start, found[0], _day(found[1]), found[1], found[1])
    if _follows(text, end, "球亮光饼色食牙票刊报薪"):
        return None
    return _mention(text, start, end, f"{year}年{month}月", date(year, month, 1), _month_end(year, month))


_SAME_DAY = "今天|今日|这一天|这天"
_DAY_OF_MONTH_RE = re.compile(rf"的?(?:(?P<same>{_SAME_DAY})|(?P<day>{_NUM})[日号])")


def _day_in_month(text: str, pos: int, year: int, month: int, ref: date) -> tuple[int, date] | None:
    """A day of a resolved month named at `pos` ("上个月5日", "两个月前的今天"): where it ends and its date.
    A relative month and its day are one expression; resolving only the month would leave "5日" to the wrong one."""
    m = _DAY_OF_MONTH_RE.match(text, pos)
    if m is None:
        return None
    last = calendar.monthrange(year, month)[1]
    day = min(ref.day, last) if m["same"] else numeral_value(m["day"])
    if day is None or not 1 <= day <= last:
        return None
    return m.end(), date(year, month, day)


_YEAR_SUBS = r"上半年|下半年|前三个?季度|前[两二]个?季度|第?[一二三四1-4]季度|年初|年中|年底|年末|全年|初|底|末"
_YEAR_WORD_RE = re.compile(r"大前年|大后年|前年|去年|今年|明年|后年")
# What a year may lead, with or without 的: a part of it, a month (and day), or "the same day" (去年的今天).
_YEAR_TAIL_RE = re.compile(
    rf"(?P<de>的)?(?:(?P<same>{_SAME_DAY}|这个月|本月)|(?P<ysub>{_YEAR_SUBS})"
    rf"|(?P<mon>{_NUM})月份?(?:(?P<mday>{_NUM})[日号]|(?P<msub>{_MONTH_SUBS}))?)"
)
_YEAR_OFFSETS = {"大前年": -3, "前年": -2, "去年": -1, "今年": 0, "明年": 1, "后年": 2, "大后年": 3}
_QUARTER_NAMES = "一二三四"


def _year_sub_range(year: int, sub: str) -> tuple[str, date, date]:
    """Rendering and range of a part of a year: 上半年, 第一季度, 前三季度, 年初, 年底."""
    if sub == "上半年":
        return f"{year}年上半年", date(year, 1, 1), date(year, 6, 30)
    if sub == "下半年":
        return f"{year}年下半年", date(year, 7, 1), date(year, 12, 31)
    if sub == "全年":
        return f"{year}年全年", date(year, 1, 1), date(year, 12, 31)
    if sub.startswith("前"):
        count = 3 if "三" in sub else 2
        return f"{year}年前{_QUARTER_NAMES[count - 1]}季度", date(year, 1, 1), _month_end(year, count * 3)
    if sub.endswith("季度"):
        q_char = sub[-3]
        quarter = int(q_char) if q_char.isdigit() else _QUARTER_NAMES.index(q_char) + 1
        return (
            f"{year}年第{_QUARTER_NAMES[quarter - 1]}季度",
            date(year, quarter * 3 - 2, 1),
            _month_end(year, quarter * 3),
        )
    if sub in ("年初", "初"):
        return f"{year}年初", date(year, 1, 1), _month_end(year, 2)
    if sub == "年中":
        return f"{year}年年中", date(year, 6, 1), date(year, 7, 31)
    word = "年底" if sub in ("年底", "底") else "年末"
    return f"{year}{word}", date(year, 11, 1), date(year, 12, 31)


def _year_tail(text: str, pos: int, year: int, ref: date | None) -> tuple[int, str, date, date] | None:
    """End, rendering and range of the part of `year` named at `pos` (上半年, 5月, 5月1日; with `ref` also its day
    or month in that year: 去年的今天, 去年这个月), or None when none is named there."""
    m = _YEAR_TAIL_RE.match(text, pos)
    if m is None:
        return None
    if m["same"] is not None:
        if ref is None:
            return None
        if m["same"] in ("这个月", "本月"):
            return m.end(), f"{year}年{ref.month}月", date(year, ref.month, 1), _month_end(year, ref.month)
        d = date(year, ref.month, min(ref.day, calendar.monthrange(year, ref.month)[1]))
        return m.end(), _day(d), d, d
    if m["ysub"] is not None:
        if m["ysub"] in ("初", "底", "末") and (m["de"] or not _sub_ok(text, m, "ysub")):
            return None  # "去年的底子", "今年末伏"
        return (m.end("ysub"), *_year_sub_range(year, m["ysub"]))
    month = numeral_value(m["mon"])
    if month is None or not 1 <= month <= 12:
        return None
    day = numeral_value(m["mday"]) if m["mday"] else None
    if day is not None and 1 <= day <= calendar.monthrange(year, month)[1]:
        d = date(year, month, day)
        return m.end("mday") + 1, _day(d), d, d
    if _sub_ok(text, m, "msub"):
        first, last = _month_sub_range(year, month, m["msub"])
        return m.end("msub"), f"{year}年{month}月{m['msub']}", first, last
    month_end = m.end("mon") + 1
    if text.startswith("份", month_end):
        month_end += 1
    return month_end, f"{year}年{month}月", date(year, month, 1), _month_end(year, month)


def _year_mention(text: str, start: int, head_end: int, year: int, ref: date | None) -> TimeMention:
    """A year (去年, 三年前, 2023年) together with the part of it that follows: one span, one absolute rendering."""
    tail = _year_tail(text, head_end, year, ref)
    if tail is None:
        return _mention(text, start, head_end, f"{year}年", date(year, 1, 1), date(year, 12, 31))
    return _mention(text, start, *tail)


_SENTENCE_END_RE = re.compile(rf"[{SENTENCE_ENDS}\n]")
_ABSOLUTE_YEAR_RE = re.compile(r"(?<![0-9０-９])([0-9０-９]{4})年")


def _other_year_before(text: str, start: int, ref: date) -> bool:
    """Whether the sentence so far names another year: in "2023年……比去年增长" (published 2024) 去年 is 2022,
    so a word counted from the reference date would be wrong; such words are left alone."""
    sentence_start = max((m.end() for m in _SENTENCE_END_RE.finditer(text, 0, start)), default=0)
    return any(
        int(m[1].translate(FULLWIDTH_DIGITS)) != ref.year
        for m in _ABSOLUTE_YEAR_RE.finditer(text, sentence_start, start)
    )


def _resolve_year_word(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    start, head_end = m.start(), m.end()
    if not _starts_word(text, start, question):
        return None
    if m[0] != "今年" and _other_year_before(text, start, ref):
        return None
    mention = _year_mention(text, start, head_end, ref.year + _YEAR_OFFSETS[m[0]], ref)
    if mention.end == head_end and _follows(text, head_end, "轻纪龄级薪华画糕鉴"):
        return None  # 如今年轻人, 今年纪念 are not 今年
    return mention


_AGO_RE = re.compile(rf"(?P<n>{_NUM})(?P<unit>年|个月|个星期|星期|周|天)(?:之)?前")
_AGO_LIMITS = {"年": 100, "个月": 120, "个星期": 104, "星期": 104, "周": 104, "天": 1000}


# after 近/过去 "三年前三季度" is 三年 + 前三季度, not the third quarter three years ago
_AMBIGUOUS_QUARTER_RE = re.compile(r"[二两三]个?季度")
_WEEKDAY_AFTER_RE = re.compile(r"的?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天末])")
_DAYPART_RE = re.compile(_DAYPART)


def _resolve_ago(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    """三年前, 5天前, 两个月前, counted back from the reference date, with what they lead: 三年前5月, 三年前的今天,
    两个月前的5日, 两周前的周五, 三天前上午."""
    start, end, unit = m.start(), m.end(), m["unit"]
    n = numeral_value(m["n"])
    if n is None or not 1 <= n <= _AGO_LIMITS[unit] or not _number_starts(text, start) or m["n"] in ("百", "千"):
        return None
    if start and text[start - 1] in "几数":
        return None  # 几十年前 is vague
    if unit == "年":
        spans_years = start and text[start - 1] in "近去"
        if not (spans_years and _AMBIGUOUS_QUARTER_RE.match(text, end)) and _year_tail(text, end, ref.year - n, ref):
            return _year_mention(text, start, end, ref.year - n, ref)
    elif unit == "个月":
        year, month = _shift_month(ref.year, ref.month, -n)
        if (found := _day_in_month(text, end, year, month, ref)) is not None:
            return _mention(text, start, found[0], _day(found[1]), found[1], found[1])
    elif unit == "天":
        if part := _DAYPART_RE.match(text, end):
            day = ref - timedelta(days=n)
            return _mention(text, start, part.end(), _day(day) + part[0], day, day)
    elif wd := _WEEKDAY_AFTER_RE.match(text, end):
        monday = ref - timedelta(days=ref.weekday(), weeks=n)
        if wd["wd"] == "末":
            saturday, sunday = monday + timedelta(days=5), monday + timedelta(days=6)
            return _mention(text, start, wd.end(), _range(saturday, sunday), saturday, sunday)
        day = monday + timedelta(days=_WEEKDAYS[wd["wd"]])
        return _mention(text, start, wd.end(), _day(day), day, day)
    nxt = _next_char(text, end)
    if nxt and (nxt in _NUM_CHARS or nxt in "后夕往进来"):
        return None  # 近三年前三季度 is 近三年 + 前三季度; 三天前后 is vaguer; 10天前往 is "went for 10 days"
    if unit == "年":
        year = ref.year - n
        return _mention(text, start, end, f"{year}年", date(year, 1, 1), date(year, 12, 31))
    if unit == "个月":
        year, month = _shift_month(ref.year, ref.month, -n)
        return _mention(text, start, end, f"{year}年{month}月", date(year, month, 1), _month_end(year, month))
    if unit == "天":
        day = ref - timedelta(days=n)
        return _mention(text, start, end, _day(day), day, day)
    monday = ref - timedelta(days=ref.weekday(), weeks=n)
    return _mention(text, start, end, _range(monday, monday + timedelta(days=6)), monday, monday + timedelta(days=6))


_FUZZY_RE = re.compile(r"近日|日前|前不久|不久前|近期|近来|前几天|前些天|前些日子|前一段时间|前段时间|前阵子")
_FUZZY_DAYS = {"近日": 14, "日前": 14, "前几天": 14, "前些天": 14}  # the rest: about two months
_FUZZY_GLUES_AFTER = {"近期": "望待货满限刊末中间", "近来": "访"}


def _resolve_fuzzy(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    """近日, 日前, 近期: only "shortly before publication" can honestly be said, so that is what is rendered."""
    word, start = m[0], m.start()
    if not _starts_word(text, start, question) or _follows(text, m.end(), _FUZZY_GLUES_AFTER.get(word, "")):
        return None
    if word == "近期":  # may point forward too: 近期将举行
        return _mention(
            text,
            start,
            m.end(),
            f"发稿日期{_day(ref)}前后",
            ref - timedelta(days=30),
            ref + timedelta(days=30),
            approximate=True,
        )
    first = ref - timedelta(days=_FUZZY_DAYS.get(word, 60))
    return _mention(text, start, m.end(), f"发稿日期{_day(ref)}前不久", first, ref, approximate=True)


_FESTIVAL_RE = re.compile(
    rf"(?:(?:(?P<fyw>大前年|前年|去年|今年|明年|后年|大后年)|(?P<fago>{_NUM})年(?:之)?前|(?P<fy>[0-9０-９]{{4}})年)"
    r"(?P<fde>的)?)?(?P<fest>春节|除夕|元宵节|元旦|国庆节|国庆)"
    r"(?P<fsub>前夕|前后|期间|假期|长假|黄金周|以来|当天|前|后)?"
)
_HOLIDAY_SUBS = ("期间", "假期", "长假", "黄金周")


def _festival_day(festival: str, year: int) -> date:
    if festival == "春节":
        return LunarDate(year, 1, 1).to_solar_date()
    if festival == "除夕":
        return LunarDate(year, 1, 1).to_solar_date() - timedelta(days=1)
    if festival == "元宵节":
        return LunarDate(year, 1, 15).to_solar_date()
    if festival == "元旦":
        return date(year, 1, 1)
    return date(year, 10, 1)  # 国庆


def _festival_year(festival: str, ref: date, question: bool) -> int | None:
    """Which year's festival a bare "春节" means: in an article the one within ~5 months of publication, in a
    question the latest one whose run-up has begun (questions are about news already written)."""
    if question:
        return ref.year if _festival_day(festival, ref.year) - timedelta(days=45) <= ref else ref.year - 1
    candidates = [y for y in (ref.year - 1, ref.year, ref.year + 1) if _valid_year(y)]
    best = min(candidates, key=lambda y: abs((_festival_day(festival, y) - ref).days))
    return best if abs((_festival_day(festival, best) - ref).days) <= 150 else None


def _festival_range(festival: str, day: date, sub: str, ref: date) -> tuple[date, date] | None:
    if sub in ("", "当天"):
        return day, day
    if sub == "前夕":
        return day - timedelta(days=7), day - timedelta(days=1)
    if sub == "前":
        return day - timedelta(days=30), day - timedelta(days=1)
    if sub == "后":
        return day + timedelta(days=1), day + timedelta(days=30)
    if sub == "前后":
        return day - timedelta(days=15), day + timedelta(days=15)
    if sub == "以来":
        return (day, ref) if day <= ref else None
    # a public holiday: roughly 除夕 to 初七 for 春节, seven days for 国庆, a long weekend for 元旦
    if festival == "春节":
        return day - timedelta(days=1), day + timedelta(days=6)
    if festival.startswith("国庆"):
        return day, day + timedelta(days=6)
    if festival == "元旦":
        return day - timedelta(days=1), day + timedelta(days=1)
    return day, day


def _resolve_festival(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    start, festival = m.start(), m["fest"]
    sub, end = m["fsub"] or "", m.end()
    if sub in ("前", "后") and _follows(text, end, "往来进面台方期"):
        sub, end = "", m.end("fest")  # 元旦前往 is "went on New Year's Day", not "before New Year's Day"
    if festival == "国庆" and sub not in (*_HOLIDAY_SUBS, "前夕"):
        return None  # 国庆 alone is as often a given name (王国庆)
    if m["fyw"]:
        if not _starts_word(text, start, question):
            return None
        year: int | None = ref.year + _YEAR_OFFSETS[m["fyw"]]
    elif m["fago"]:
        ago = numeral_value(m["fago"])
        if ago is None or not 1 <= ago <= _AGO_LIMITS["年"] or not _number_starts(text, start):
            return None
        if start and text[start - 1] in "几数":
            return None
        year = ref.year - ago
    elif m["fy"]:
        # "2024年春节期间" in an article is absolute and stays as written; a question gets its dates for searching
        if not question or not _number_starts(text, start):
            return None
        year = int(m["fy"].translate(FULLWIDTH_DIGITS))
    else:
        if start and (text[start - 1] in "年日" or text[start - 1].isdigit()):
            return None  # "2024年春节", "2月10日春节", "2022春节档" already carry their date
        year = _festival_year(festival, ref, question)
    if year is None or not _valid_year(year):
        return None
    day = _festival_day(festival, year)
    span = _festival_range(festival, day, sub, ref)
    if span is None:
        return None
    name = "国庆节" if festival == "国庆" else festival
    # a question is rewritten for search, where "2026年春节前" matches the articles' own words
    in_article = _day(day) if sub in ("", "当天") else f"{_day(day)}{name}{sub}"
    resolved = f"{year}年{name}{sub}" if question else in_article
    return _mention(text, start, end, resolved, *span)


_RELATIVE_RULES: tuple[tuple[re.Pattern[str], _Resolver], ...] = (
    (_DAY_RE, _resolve_day),
    (_SHORT_DAY_RE, _resolve_short_day),
    (_WEEK_RE, _resolve_week),
    (_MONTH_RE, _resolve_month),
    (_YEAR_WORD_RE, _resolve_year_word),
    (_AGO_RE, _resolve_ago),
    (_FESTIVAL_RE, _resolve_festival),
)


def _scan(
    text: str, rules: tuple[tuple[re.Pattern[str], _Resolver], ...], ref: date, question: bool
) -> list[tuple[TimeMention, int]]:
    """Every accepted match of every rule, with the index of the rule that made it (overlaps included)."""
    found = []
    for index, (pattern, resolve) in enumerate(rules):
        pos = 0
        while (m := pattern.search(text, pos)) is not None:
            mention = None if _inside_title(text, m.start()) else resolve(text, m, ref, question)
            if mention is not None:
                found.append((mention, index))
                pos = mention.end if mention.end > m.start() else m.start() + 1
            else:
                pos = m.start() + 1  # a rejected match may hide a valid one starting inside it
    return found


def _inside_title(text: str, start: int) -> bool:
    """Whether `start` lies inside 《…》: 《明日战记》 and 《星期日泰晤士报》 are titles, not dates."""
    return text.rfind("《", 0, start) > text.rfind("》", 0, start)


def _non_overlapping(found: list[tuple[TimeMention, int]]) -> list[tuple[TimeMention, int]]:
    """Leftmost, then longest, matches that do not overlap."""
    chosen: list[tuple[TimeMention, int]] = []
    for item in sorted(found, key=lambda it: (it[0].start, -(it[0].end - it[0].start), it[1])):
        if not chosen or item[0].start >= chosen[-1][0].end:
            chosen.append(item)
    return chosen


# --- article side --------------------------------------------------------------------------------------------

# "明天（7月31日）": the text already says which day, and a second opinion could only contradict it
_DATED_AFTER_RE = re.compile(r"\s*[（(]\s*(?:[0-9０-９]{4}年)?(?:[0-9０-９]{1,2}月)?[0-9０-９]{1,2}[日号]")
_ANCHORED_RE = re.compile(rf"(?P<word>当天|当日|次日|翌日)(?P<part>{_DAYPART})?")
_ABSOLUTE_DAY_RE = re.compile(r"(?:(?P<y>[0-9０-９]{4})年)?(?P<m>[0-9０-９]{1,2})月(?P<d>[0-9０-９]{1,2})[日号]")
_ABSOLUTE_OTHER_RE = re.compile(r"[0-9０-９]{4}年|[0-9０-９]{1,2}月")
_RI_COMPOUNDS = "常期益趋渐夜子用记报程志历均本元韩军方式语"  # 次日常, 当日期: 日 starting another word


def _absolute_day(m: re.Match[str], ref: date) -> date | None:
    """The date an absolute "2月1日" names; without a year, the one not far after publication."""
    month, day = int(m["m"].translate(FULLWIDTH_DIGITS)), int(m["d"].translate(FULLWIDTH_DIGITS))
    year = int(m["y"].translate(FULLWIDTH_DIGITS)) if m["y"] else ref.year
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    if not m["y"] and found > ref + timedelta(days=60):
        try:
            found = date(year - 1, month, day)
        except ValueError:
            return None
    return found


def _anchored_mentions(text: str, pub_date: date, others: list[TimeMention]) -> list[TimeMention]:
    """当天/次日 refer to the day last mentioned. They are resolved only when that day is clear: the last date
    before them names a single day, or (for 当天 alone) no date at all comes before them and publication day is
    the only candidate."""
    events: list[tuple[int, int, str, date | None, re.Match[str] | None]] = []
    taken = [(mn.start, mn.end) for mn in others]
    for mn in others:
        single = mn.first if mn.first == mn.last and not mn.approximate else None
        events.append((mn.start, 1, "date", single, None))
    for m in _ABSOLUTE_DAY_RE.finditer(text):
        if not any(s <= m.start() < e for s, e in taken):  # "去年12月31日" is already a mention
            events.append((m.start(), 1, "date", _absolute_day(m, pub_date), None))
            taken.append((m.start(), m.end()))
    for m in _ABSOLUTE_OTHER_RE.finditer(text):
        if not any(s <= m.start() < e for s, e in taken):
            events.append((m.start(), 1, "date", None, None))
    for m in _ANCHORED_RE.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in taken) or not _starts_word(text, m.start(), False):
            continue
        glues = _TIAN_COMPOUNDS + "宁" if m["word"] == "当天" else _RI_COMPOUNDS
        if _follows(text, m.end("word"), glues):
            continue
        events.append((m.start(), 0, "anchored", None, m))
    events.sort(key=lambda ev: (ev[0], ev[1]))

    mentions, anchor, seen_date = [], None, False
    for _, _, kind, day, m in events:
        if kind == "date":
            anchor, seen_date = day, True
            continue
        assert m is not None
        word = m["word"]
        if word in ("当天", "当日"):
            target = anchor if anchor is not None else (None if seen_date else pub_date)
        else:
            target = anchor + timedelta(days=1) if anchor is not None else None
        if target is None:
            continue
        mentions.append(_mention(text, m.start(), m.end(), _day(target) + (m["part"] or ""), target, target))
        anchor, seen_date = target, True
    return mentions


def resolve_expressions(text: str, pub_date: date) -> list[TimeMention]:
    """Relative time expressions in an article published on `pub_date`, in text order, with their dates."""
    rules = (*_RELATIVE_RULES, (_FUZZY_RE, _resolve_fuzzy))
    mentions = [mn for mn, _ in _non_overlapping(_scan(text, rules, pub_date, question=False))]
    mentions = [mn for mn in mentions if not _DATED_AFTER_RE.match(text, mn.end)]
    anchored = _anchored_mentions(text, pub_date, mentions)
    mentions += [mn for mn in anchored if not _DATED_AFTER_RE.match(text, mn.end) and not _inside_title(text, mn.start)]
    return sorted(mentions, key=lambda mn: mn.start)


_BARE_DAY_RE = re.compile(r"(?<![0-9０-９月年])(?P<d>[0-9０-９]{1,2})[日号](?![0-9０-９])")


def _bare_day(m: re.Match[str], ref: date) -> date | None:
    """The date a bare "28日" names in news: this month, or the last one when the day is well after publication."""
    day = int(m["d"].translate(FULLWIDTH_DIGITS))
    year, month = ref.year, ref.month
    if day > ref.day + 3:
        year, month = _shift_month(year, month, -1)
    try:
        return date(year, month, day)
    except ValueError:
        return None


_FUTURE_RE = re.compile(r"将于|将在|将|即将|拟于|拟|计划|预计|定于")


def _next_year_day(day: date, pub_date: date) -> date:
    """`day` moved to the first year that puts it on or after `pub_date`."""
    while day < pub_date:
        try:
            day = day.replace(year=day.year + 1)
        except ValueError:  # 29 February
            day = day.replace(year=day.year + 1, day=28)
    return day


def dated_mentions(text: str, pub_date: date) -> list[TimeMention]:
    """Every day or period an article names or establishes, in text order: its relative expressions resolved, and
    its written days ("2023年7月28日", "2月1日", "28日", read against the publication date)."""
    mentions = resolve_expressions(text, pub_date)
    taken = [(mn.start, mn.end) for mn in mentions]
    for pattern, read in ((_ABSOLUTE_DAY_RE, _absolute_day), (_BARE_DAY_RE, _bare_day)):
        for m in pattern.finditer(text):
            if any(s <= m.start() < e for s, e in taken) or _inside_title(text, m.start()):
                continue
            day = read(m, pub_date)
            announced = _FUTURE_RE.search(text, max(0, m.start() - 6), m.start()) or text.startswith("起", m.end())
            if day is not None and day < pub_date and announced and not m.groupdict().get("y"):
                day = _next_year_day(day, pub_date)  # "将于9月1日起施行": an arrangement ahead, not a past day
            if day is not None:
                mentions.append(TimeMention(m.start(), m.end(), m.group(), _day(day), day, day))
                taken.append((m.start(), m.end()))
    return sorted(mentions, key=lambda mn: mn.start)


def spoken_periods(text: str, pub_date: date, *, max_days: int = 92) -> list[tuple[date, date]]:
    """The days and periods (at most `max_days` long) an article speaks about, upcoming ones included: an article
    of 2月3日 on the library's 春节 opening hours speaks about 春节, whenever it was published."""
    spans = {
        (mn.first, mn.last)
        for mn in dated_mentions(text, pub_date)
        if not mn.approximate and (mn.last - mn.first).days < max_days
    }
    return sorted(spans)


# --- counting expressions ------------------------------------------------------------------------------------
# "2024年是…的第六年", "十年来", "2022年，…连续8年" and "2023年第十届（每两年一届）" imply a first year that the reader
# has to work out. A note is added only when the year counted from is certain: named by the sentence in the way
# each rule asks, or for 年来 the publication year in a sentence naming no year. A sentence that states a start
# (自2019年起, 从今年开始) or looks ahead (将, 未来) is left alone.

_WHOLE_YEAR_RE = re.compile(
    r"(?<![0-9０-９])(?P<y>[0-9０-９]{4})年度?(?![0-9０-９零〇一二两三四五六七八九十上下前后初中底末]|第.{1,2}季)"
)
_ORDINAL_YEAR_RE = re.compile(rf"第(?P<n>{_NUM})个?年(?:头)?(?![度级])")
_YEAR_IS_RE = re.compile(r"[，,]?(?:也|还|既|正|则)?[是为][^，,；;：:]*")
_YEARS_SINCE_RE = re.compile(rf"(?P<n>{_NUM})年(?:以)?来(?![到访华京看])")
_RUN_OF_YEARS_RE = re.compile(rf"连续(?P<n>{_NUM})年(?![度级份])")
_EDITION_RE = re.compile(rf"第(?P<n>{_NUM})届")
_EDITION_PERIOD_RE = re.compile(rf"(?:每(?P<every>{_NUM})?|(?P<per>{_NUM}))年(?:举办|举行|召开)?一[届次]")
# a start already stated, or a run still to come: the count is not from the year in view
_STATED_START_RE = re.compile(
    r"[自从][^，,。；;]{0,12}?年|(?<![0-9０-９零〇一二两三四五六七八九十]年)以来|年(?:起|开始|至今)"
    r"|将|未来|今后|计划|预计|力争|争取|有望"
)
_TOPIC_YEAR_RE = re.compile(r"[，,]|全年")  # "2022年，…" and "2022年全年…" make the year the sentence's topic
_SENTENCE_OPENING = '“"‘『「（( \t'


def _years_in(text: str, lo: int, hi: int, mentions: list[TimeMention]) -> list[tuple[int, int, int]]:
    """(start, end, year) of every whole year named in text[lo:hi]: "2023年", or a resolved 今年/去年/三年前."""
    found = [(m.start(), m.end(), numeral_value(m["y"]) or 0) for m in _WHOLE_YEAR_RE.finditer(text, lo, hi)]
    found += [
        (mn.start, mn.end, mn.first.year)
        for mn in mentions
        if lo <= mn.start and mn.end <= hi and mn.resolved == f"{mn.first.year}年"
    ]
    return sorted(found)


def _counted_mention(text: str, m: re.Match[str], resolved: str, first: int, last: int) -> TimeMention:
    return _mention(text, m.start(), m.end(), resolved, date(first, 1, 1), date(last, 12, 31))


def _count(m: re.Match[str], text: str) -> int | None:
    """The N of a counting expression, 2 to 100: a count of one implies nothing, a larger one is no count of years."""
    start = m.start("n")
    if (start and text[start - 1] in "数几多余" + "".join(_NUM_CHARS)) or m["n"] in ("百", "千"):
        return None  # 数十年来 and 几十年来 are vague
    n = numeral_value(m["n"])
    return n if n is not None and 2 <= n <= 100 else None


def _counting_in_sentence(
    text: str, lo: int, hi: int, pub_date: date, mentions: list[TimeMention]
) -> list[TimeMention]:
    found = []
    years = _years_in(text, lo, hi, mentions)
    opening = None
    if years and not text[lo : years[0][0]].strip(_SENTENCE_OPENING) and _TOPIC_YEAR_RE.match(text, years[0][1]):
        opening = years[0]
    for m in _ORDINAL_YEAR_RE.finditer(text, lo, hi):
        # "2024年是…的第六年": the year is the subject, the ordinal its predicate
        before = [y for y in years if y[1] <= m.start()]
        n = _count(m, text)
        if n and before and _YEAR_IS_RE.fullmatch(text, before[-1][1], m.start()):
            year = before[-1][2]
            found.append(_counted_mention(text, m, f"自{year - n + 1}年起", year - n + 1, year))
    if _STATED_START_RE.search(text, lo, hi) is None:
        if not years or {y for _, _, y in years} == {pub_date.year}:
            for m in _YEARS_SINCE_RE.finditer(text, lo, hi):
                if n := _count(m, text):  # 十年来 counts back from the publication
                    found.append(
                        _counted_mention(text, m, f"自{pub_date.year - n}年起", pub_date.year - n, pub_date.year)
                    )
        for m in _RUN_OF_YEARS_RE.finditer(text, lo, hi):
            # "2022年，…连续8年": a run ending in the year the sentence opens with; without one, whether the run
            # ends in the publication year or the year before (annual results reported early) is unclear
            n = _count(m, text)
            if n and opening is not None and [y for y in years if y[1] <= m.start()] == [opening]:
                year = opening[2]
                found.append(_counted_mention(text, m, f"自{year - n + 1}年起", year - n + 1, year))
    period = _EDITION_PERIOD_RE.search(text, lo, hi)
    for m in _EDITION_RE.finditer(text, lo, hi) if period else ():
        # "2023年第十届…，每两年举办一届": only a stated year of this edition and a stated period give the first
        named = [y for y in years if y[1] == m.start() or (y[1] + 1 == m.start() and text[y[1]] == "的")]
        n = _count(m, text)
        every = numeral_value(period["every"] or period["per"] or "一")
        if n and named and every and 1 <= every <= 10:
            first = named[-1][2] - (n - 1) * every
            if _valid_year(first):
                found.append(_counted_mention(text, m, f"首届约在{first}年", first, first))
    sentence = text[lo:hi]
    return [mn for mn in found if f"{mn.first.year}年" not in sentence]  # a start the sentence already names


def _counting_mentions(text: str, pub_date: date, mentions: list[TimeMention]) -> list[TimeMention]:
    """Counting expressions of `text` with the first year they imply, outside the spans of `mentions`."""
    found, lo = [], 0
    for end in [m.end() for m in _SENTENCE_END_RE.finditer(text)] + [len(text)]:
        if end > lo:
            found += _counting_in_sentence(text, lo, end, pub_date, mentions)
        lo = end
    return [
        mn
        for mn in found
        if not _inside_title(text, mn.start) and not any(o.start < mn.end and mn.start < o.end for o in mentions)
    ]


_NOTE_OPENINGS = ("（即", "（发稿日期")


def _note(mention: TimeMention) -> str:
    return f"（{mention.resolved}）" if mention.approximate else f"（即{mention.resolved}）"


def annotate_with_offsets(text: str, pub_date: date | None) -> AnnotatedText:
    """`text` with "（即2024年2月1日上午）" after each relative expression and "（即自2019年起）" after each counting
    one ("…的第六年"), and the offset map back to `text`."""
    if pub_date is None:
        return AnnotatedText(text, text, ())
    parts, notes, pos = [], [], 0
    mentions = resolve_expressions(text, pub_date)
    for mention in sorted([*mentions, *_counting_mentions(text, pub_date, mentions)], key=lambda mn: mn.start):
        note = _note(mention)
        if text.startswith(_NOTE_OPENINGS, mention.end):
            continue  # already annotated: a second note could only repeat or contradict the first
        parts += [text[pos : mention.end], note]
        notes.append((mention.end, len(note)))
        pos = mention.end
    parts.append(text[pos:])
    return AnnotatedText("".join(parts), text, tuple(notes))


def annotate(text: str, pub_date: date | None) -> str:
    """`text` with each resolvable relative expression followed by its absolute date; unchanged without a date."""
    return annotate_with_offsets(text, pub_date).text


# --- question side -------------------------------------------------------------------------------------------

_ABS_YEAR_RE = re.compile(r"(?P<y>[0-9０-９]{4}|[零〇一二三四五六七八九]{4})年度?")
_BARE_MONTH_RE = re.compile(rf"(?P<mon>{_NUM})月份?(?:(?P<mday>{_NUM})[日号])?")
_RECENT_N_RE = re.compile(rf"(?P<lead>最近|近|过去)(?P<n>{_NUM})(?P<unit>年|个月|个星期|星期|周|天)")
_RECENT_RE = re.compile(r"最近一次|最近一期|最新|最近|近期|近日|近来|目前|当前|现在|如今|眼下|日前|前不久|不久前")


def _resolve_abs_year(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    year = numeral_value(m["y"])
    if year is None or not _valid_year(year) or not _number_starts(text, m.start()):
        return None
    return _year_mention(text, m.start(), m.end(), year, None)


def _resolve_bare_month(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    """ "1月份" in a question: that month of this year, or of last year when it is still to come."""
    start = m.start()
    if not _number_starts(text, start) or (start and text[start - 1] in "年个每-－~～至到、和及"):
        return None  # "2023年1-6月" is a range inside a stated year
    month = numeral_value(m["mon"])
    if month is None or not 1 <= month <= 12:
        return None
    year = ref.year if month <= ref.month else ref.year - 1
    day = numeral_value(m["mday"]) if m["mday"] else None
    if day is not None and 1 <= day <= calendar.monthrange(year, month)[1]:
        d = date(year, month, day)
        return _mention(text, start, m.end(), _day(d), d, d)
    end = m.end("mon") + 1 + (1 if text.startswith("份", m.end("mon") + 1) else 0)
    return _mention(text, start, end, f"{year}年{month}月", date(year, month, 1), _month_end(year, month))


def _resolve_recent_n(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    """近三年, 最近一个月, 过去7天: a window ending today."""
    n, unit = numeral_value(m["n"]), m["unit"]
    if n is None or not 1 <= n <= _AGO_LIMITS[unit] or (m["lead"] == "近" and not _starts_word(text, m.start(), True)):
        return None
    if _follows(text, m.end(), "级"):
        return None
    if unit == "年":
        first = date(ref.year - n + 1, 1, 1)
        return _mention(text, m.start(), m.end(), f"{first.year}年至{ref.year}年", first, ref)
    if unit == "个月":
        year, month = _shift_month(ref.year, ref.month, -n)
        first = date(year, month, min(ref.day, calendar.monthrange(year, month)[1])) + timedelta(days=1)
    elif unit == "天":
        first = ref - timedelta(days=n - 1)
    else:
        first = ref - timedelta(weeks=n) + timedelta(days=1)
    return _mention(text, m.start(), m.end(), _range(first, ref), first, ref)


_RECENT_GLUES = {
    "现在": "体实出表发展呈显再重",
    "当前": "相应正适担恰",
    "近期": "接靠临附逼",
    "近日": "接靠临附逼",
    "近来": "接靠临附逼走",
}


def _resolve_recent(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    if m.start() and text[m.start() - 1] in _RECENT_GLUES.get(m[0], ""):
        return None  # 体现在 is not 现在
    return _mention(text, m.start(), m.end(), m[0], ref, ref)


# kinds: "relative" is rewritten to an absolute date, "absolute" is kept, "recent" only asks for the newest news
_QUESTION_RULES: tuple[tuple[re.Pattern[str], _Resolver], ...] = (
    *_RELATIVE_RULES,
    (_RECENT_N_RE, _resolve_recent_n),
    (_BARE_MONTH_RE, _resolve_bare_month),
    (_ABS_YEAR_RE, _resolve_abs_year),
    (_RECENT_RE, _resolve_recent),
)
_QUESTION_KINDS = ("relative",) * (len(_RELATIVE_RULES) + 2) + ("absolute", "recent")


def _question_mentions(question: str, today: date) -> list[tuple[TimeMention, str]]:
    found = _non_overlapping(_scan(question, _QUESTION_RULES, today, question=True))
    return [(mention, _QUESTION_KINDS[index]) for mention, index in found]


def parse_question_time(question: str, today: date) -> TimeScope | None:
    """The time a question asks about, or None when it names none. Several expressions give their union."""
    found = _question_mentions(question, today)
    if not found:
        return None
    ranged = [mn for mn, kind in found if kind != "recent"]
    return TimeScope(
        first=min((mn.first for mn in ranged), default=None),
        last=max((mn.last for mn in ranged), default=None),
        prefer_recent=any(kind == "recent" for _, kind in found),
        text="、".join(mn.text for mn, _ in found),
        resolved="、".join(mn.resolved for mn, _ in found),
    )


def rewrite_question(question: str, today: date) -> str:
    """The question with relative time words replaced by absolute ones ("去年的产值" -> "2025年的产值")."""
    parts, pos = [], 0
    for mention, kind in _question_mentions(question, today):
        if kind == "relative":
            parts += [question[pos : mention.start], mention.resolved]
            pos = mention.end
    parts.append(question[pos:])
    return "".join(parts)
