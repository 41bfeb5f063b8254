"""What every rule shares: the TimeMention it finds, numerals and day parts, dates rendered in Chinese, where a
word may begin, and scanning a text with a list of rules."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from core.text import CN_NUMERAL_CHARS, SENTENCE_ENDS


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
    # a question's bare month or day still to come this year ("9月1日" asked in February): last year's, or the one
    # to come, which news announces ("9月1日起施行"); these are the days of the one to come
    upcoming: tuple[date, date] | None = None


def make_mention(
    text: str, start: int, end: int, resolved: str, first: date, last: date, approximate: bool = False
) -> TimeMention:
    """The mention of text[start:end]."""
    return TimeMention(start, end, text[start:end], resolved, first, last, approximate)


# A rule is a regex and a resolver; the resolver checks the context and returns a TimeMention or None.
Resolver = Callable[[str, "re.Match[str]", date, bool], "TimeMention | None"]


# --- numerals, day parts, dates ------------------------------------------------------------------------------

NUM = rf"[0-9０-９]+|[{CN_NUMERAL_CHARS}]+"
NUM_CHARS = frozenset("0123456789０１２３４５６７８９" + CN_NUMERAL_CHARS)
DAYPART = "凌晨|清晨|早晨|早上|早间|上午|中午|午间|下午|午后|傍晚|晚上|晚间|夜间|夜里|深夜|白天"


def render_day(d: date) -> str:
    """The "2024年2月1日" a note or a rewritten question shows."""
    return f"{d.year}年{d.month}月{d.day}日"


def render_range(a: date, b: date) -> str:
    """ "2024年1月22日至28日" style rendering of an inclusive day range."""
    if a == b:
        return render_day(a)
    if a.year != b.year:
        return f"{render_day(a)}至{render_day(b)}"
    if a.month != b.month:
        return f"{render_day(a)}至{b.month}月{b.day}日"
    return f"{render_day(a)}至{b.day}日"


# what render_range writes: "2024年2月2日", "2024年1月22日至28日", "…至2月4日", "…至2025年1月2日"
_RENDERED_RANGE = re.compile(
    r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日(?:至(?:(?P<y2>\d{4})年)?(?:(?P<m2>\d{1,2})月)?(?P<d2>\d{1,2})日)?$"
)


# a whole month or year as a question's period is written: "2024年2月", "2024年"
_RENDERED_MONTH = re.compile(r"^(?P<y>\d{4})年(?:(?P<m>\d{1,2})月)?$")


def parse_range(text: str) -> tuple[date, date] | None:
    """The first and last day of a range as render_range (or render_day) writes it, or of a whole month or year
    ("2024年2月", "2024年"); None for any other text, or a day no calendar has (the text may come back from a
    client, as a chat's history does)."""
    named = _RENDERED_RANGE.match(text)
    if named is None:
        whole = _RENDERED_MONTH.match(text)
        if whole is None or not valid_year(int(whole["y"])) or not 1 <= int(whole["m"] or 1) <= 12:
            return None
        year = int(whole["y"])
        if not whole["m"]:
            return date(year, 1, 1), date(year, 12, 31)
        return date(year, int(whole["m"]), 1), end_of_month(year, int(whole["m"]))
    try:
        first = date(int(named["y"]), int(named["m"]), int(named["d"]))
        if not named["d2"]:
            return first, first
        return first, date(int(named["y2"] or first.year), int(named["m2"] or first.month), int(named["d2"]))
    except ValueError:
        return None


def end_of_month(year: int, month: int) -> date:
    """The last day of a month."""
    return date(year, month, calendar.monthrange(year, month)[1])


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    """(year, month) `delta` months away, across year ends."""
    index = year * 12 + month - 1 + delta
    return index // 12, index % 12 + 1


def valid_year(year: int) -> bool:
    """Whether a computed year can be resolved: the range lunardate knows, where date arithmetic stays safe."""
    return 1901 <= year <= 2099


SENTENCE_END_RE = re.compile(rf"[{SENTENCE_ENDS}\n]")


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
TIAN_COMPOUNDS = "津然鹅涯猫坛府赋堂使才文际"


def starts_word(text: str, start: int, question: bool) -> bool:
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


def next_char(text: str, end: int) -> str:
    """The character at `end`, or "" at the end of the text."""
    return text[end] if end < len(text) else ""


def follows(text: str, end: int, forbidden: str) -> bool:
    """Whether the character at `end` is one of `forbidden` (a sign the match is part of a longer word)."""
    nxt = next_char(text, end)
    return bool(nxt) and nxt in forbidden


def number_starts(text: str, start: int) -> bool:
    """A numeral must not continue an earlier one: "2023年前" must not yield "023年前" or "23年前"."""
    return start == 0 or (text[start - 1] not in NUM_CHARS and text[start - 1] != "第")


# --- scanning ------------------------------------------------------------------------------------------------


def scan(
    text: str, rules: tuple[tuple[re.Pattern[str], Resolver], ...], ref: date, question: bool
) -> list[tuple[TimeMention, int]]:
    """Every accepted match of every rule, with the index of the rule that made it (overlaps included)."""
    found = []
    for index, (pattern, resolve) in enumerate(rules):
        pos = 0
        while (m := pattern.search(text, pos)) is not None:
            mention = None if inside_title(text, m.start()) else resolve(text, m, ref, question)
            if mention is not None:
                found.append((mention, index))
                pos = mention.end if mention.end > m.start() else m.start() + 1
            else:
                pos = m.start() + 1  # a rejected match may hide a valid one starting inside it
    return found


def inside_title(text: str, start: int) -> bool:
    """Whether `start` lies inside 《…》: 《明日战记》 and 《星期日泰晤士报》 are titles, not dates."""
    return text.rfind("《", 0, start) > text.rfind("》", 0, start)


def non_overlapping(found: list[tuple[TimeMention, int]]) -> list[tuple[TimeMention, int]]:
    """Leftmost, then longest, matches that do not overlap."""
    chosen: list[tuple[TimeMention, int]] = []
    for item in sorted(found, key=lambda it: (it[0].start, -(it[0].end - it[0].start), it[1])):
        if not chosen or item[0].start >= chosen[-1][0].end:
            chosen.append(item)
    return chosen
