"""Questions that ask what the news is, with no topic: "今天有什么新闻？", "这期报纸讲了什么？", "上周有哪些报道？".

They are answered from the store, not by search and the model: the question names nothing to search for, and which
articles a day holds is a fact of the store. The answer lists the titles of the day's articles (or the period's,
newest first), each cited with its article's first sentence, which a news report gives its news in.

The questions that follow such a list, once "第二篇" is rewritten to the quoted title (assistant.rewrite), are
answered from the store too: what the article says is its lead ("「标题」讲了什么？"), who wrote it is its credit
("「标题」是谁写的？").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from assistant.markers import numbered_items
from core.text import sentence_spans
from core.types import Article, Chunk, Citation, parse_day
from corpus.page import NEWS_LEAD
from corpus.timeexpr import parse_range, render_day

# the question asks for the news itself: "有什么新闻", "讲了什么", "有哪些报道", "头条是什么"
_ASKS_FOR_NEWS = re.compile(
    r"(?:有|讲|说|报道|登|写|发)了?(?:些)?(?:什么|哪些|啥)|(?:新闻|报道|消息|头条|要闻)(?:有哪些|是什么|都是什么|有啥)"
)
# what such a question may hold besides its time words: the news, the paper, and the words that ask for them
_NEWS_WORDS = re.compile(
    r"[\u4e00-\u9fff]{2,6}(?:日报|晚报|时报|商报)|新闻|报道|消息|头条|要闻|内容|文章|报纸|本报|这一?期|那一?期|最新一期|"
    r"今日|上面|上|里|中|都|的|了|些|有|讲|说|登|写|发|一下|请问|介绍|看看|什么|哪些|啥|是|吗|呢|[？?。！!，,、\s]"
)
# a dateline's lead and credit, before the news itself: "本报讯 (记者 朱梦琪) 昨天上午, …"
_DATELINE = re.compile(rf"^{NEWS_LEAD}[（(][^）)]{{0,30}}[）)]\s*")
# the most titles one answer lists
MAX_ITEMS = 10
# "还有什么新闻？", "还有呢？", "更多": the next titles of the list just given
_MORE = re.compile(
    r"^(?:那)?(?:还有|其他|其它|别的|另外的?|更多)的?(?:什么|哪些|啥)?(?:新闻|报道|消息|文章)?(?:呢|吗)?[？?。！!]?$"
    r"|^(?:下一页|继续)[？?。！!]?$"
)
# the first line of a list of the news: "2024年2月2日的报道共 5 篇："
_LIST_HEAD = re.compile(r"^(?P<period>\S+?)的报道共 (?P<total>\d+) 篇")
# "「标题」讲了什么？": what an article says, asked of its title in quotes (as a counted list item is rewritten)
_ABOUT = re.compile(
    r"^[「“](?P<title>[^」]{2,80})[」”](?:这篇|该篇|这则|这条)?(?:报道|文章|新闻|消息)?(?:主要)?"
    r"(?:(?:讲|说|写|报道)(?:了|的)?(?:些)?(?:什么|啥|哪些)(?:内容|事)?|(?:的)?(?:主要)?内容(?:是什么|有哪些))[？?。]?$"
)
# "「标题」是谁写的？": who wrote (or took) it, which the article's credit says
_WHO = re.compile(
    r"^[「“](?P<title>[^」]{2,80})[」”](?:这篇|该篇|这则|这张)?(?:报道|文章|新闻|消息|照片|图片)?的?"
    r"(?:是谁写的|是谁拍的|是哪位记者写的|谁写的|谁拍的|作者是谁|记者是谁|摄影是谁|摄影师是谁)[？?。]?$"
)
# the most characters of an article's lead given for what it says
LEAD_CHARS = 220


def asks_what_article_says(question: str) -> str:
    """The title `question` asks what its article says, or "": "「烟花爆竹燃放管控工作动员部署」讲了什么？"."""
    asked = _ABOUT.match(question.strip())
    return asked["title"] if asked else ""


def asks_who_wrote(question: str) -> str:
    """The title `question` asks who wrote or photographed, or "": "「烟花爆竹燃放管控工作动员部署」是谁写的？"."""
    asked = _WHO.match(question.strip())
    return asked["title"] if asked else ""


def credit_citation(article: Article, chunks: Sequence[Chunk], n: int) -> Citation | None:
    """The sentence of `article` that credits its reporters (or, for a photo, its photographers) as citation [n],
    or None when the article names none or no sentence holds the first of them."""
    names = article.reporters or article.photographers
    for chunk in chunks if names else ():
        for start, end in sentence_spans(chunk.text):
            if names[0] in chunk.text[start:end]:
                return _citation(article, chunk, start, end, n, sentence=chunk.text[start:end])
    return None


def credit_text(article: Article, n: int, *, photo: bool = False) -> str:
    """ "这篇报道的记者是朱梦琪[1]。", or for a photo "这组照片的摄影是陆新、徐晶玮[1]。" (`photo`: the photographers
    first, where the article names both)."""
    if article.reporters and not (photo and article.photographers):
        return f"这篇报道的记者是{'、'.join(article.reporters)}[{n}]。"
    return f"这组照片的摄影是{'、'.join(article.photographers)}[{n}]。"


def bylines_text(name: str, listed: Sequence[tuple[Article, int]], total: int) -> str:
    """ "何晓丹是记者，资料中署名何晓丹的报道共 2 篇：" and one cited title a line; for a photographer, the reports
    whose photos are credited to them."""
    reporter = any(name in article.reporters for article, _ in listed)
    head = (
        f"{name}是记者，资料中署名{name}的报道共 {total} 篇" if reporter else f"资料中署名{name}摄影的报道共 {total} 篇"
    )
    more = _newest_of(total, len(listed))
    lines = [f"{head}{more}："] + [f"{i}. {article.title}[{n}]" for i, (article, n) in enumerate(listed, start=1)]
    return "\n".join(lines)


def asks_for_news(question: str, time_words: str = "") -> bool:
    """Does `question` ask what the news is, and nothing more? `time_words` are the question's own time expressions
    ("今天", "上周"; several joined by "、"), which may stand anywhere in it."""
    if not _ASKS_FOR_NEWS.search(question):
        return False
    rest = question
    for words in filter(None, time_words.split("、")):
        rest = rest.replace(words, "")
    return not _NEWS_WORDS.sub("", rest)


@dataclass(frozen=True)
class Listed:
    """The list of the news the last answer gave: its period as written, how many articles that holds, and the
    number of the last title shown."""

    period: str
    total: int
    shown: int

    def days(self) -> tuple[date, date] | None:
        """The first and last day of the period, for the day and day-range forms the list writes; else None."""
        return parse_range(self.period)


def more_news_asked(question: str, history: Sequence[tuple[str, str]]) -> Listed | None:
    """The list `question` asks to go on with ("还有什么新闻？" right after the news of a day), or None."""
    if not history or not _MORE.match(question.strip()):
        return None
    answer = list(history)[-1][1].strip()
    head = _LIST_HEAD.match(answer)
    shown = numbered_items(answer)
    return Listed(head["period"], int(head["total"]), max(shown)) if head and shown else None


@dataclass(frozen=True)
class Headline:
    """One article of a digest: its title, and its first sentence as the citation."""

    article: Article
    citation: Citation


def lead_citation(article: Article, first: Chunk, n: int, *, chars: int = 0) -> Citation:
    """The first sentence of `article` (its first chunk, past a dateline) as citation [n]; with `chars`, the
    sentences after it too while the lead stays within that many characters and its first paragraph."""
    spans = sentence_spans(first.text)
    start, end = spans[0] if spans else (0, len(first.text))
    for more_start, more_end in spans[1:]:
        if more_end - start > chars or "\n" in first.text[end:more_start]:
            break
        end = more_end
    skip = _DATELINE.match(first.text[start:end])
    if skip and skip.end() < end - start:
        start += skip.end()
    return _citation(article, first, start, end, n, sentence=article.title)


def _citation(article: Article, chunk: Chunk, start: int, end: int, n: int, *, sentence: str) -> Citation:
    """`chunk.text[start:end]` as citation [n], verified when it is the article's text at those offsets."""
    quote = chunk.text[start:end]
    verified = article.text[chunk.start + start : chunk.start + end] == quote
    return Citation.of_span(
        chunk, start, end, n=n, title=article.title, date=article.date, verified=verified, sentence=sentence
    )


def digest_text(headlines: Sequence[Headline], total: int, period: str, start: int = 1) -> str:
    """The answer: the period and how many articles it holds, then one cited title a line, numbered from `start`
    (a list gone on with counts on)."""
    if not headlines:
        return f"{period}的 {total} 篇报道都已列出。"
    last = start + len(headlines) - 1
    more = f"，以下是第 {start}–{last} 篇" if start > 1 else _newest_of(total, len(headlines))
    lines = [f"{period}的报道共 {total} 篇{more}："]
    days = len({h.article.date for h in headlines}) > 1 or period != _day_of(headlines[0].article)
    shown = ""
    for i, h in enumerate(headlines, start=start):
        if days and h.article.date != shown:  # a period of several days: each day's titles under it
            shown = h.article.date
            lines.append(f"{_day_of(h.article)}：")
        lines.append(f"{i}. {h.article.title}[{h.citation.n}]")
    return "\n".join(lines)


def _newest_of(total: int, shown: int) -> str:
    """ "，以下是最新的 10 篇" after a list's count, when it shows fewer than it counts."""
    return f"，以下是最新的 {shown} 篇" if total > shown else ""


def _day_of(article: Article) -> str:
    """ "2024年2月2日", the day an article was published, as a list writes it."""
    day = parse_day(article.date)
    return render_day(day) if day else article.date
