"""Small news corpora for tests, and a read-only store over them.

`NEWS`: four dated articles whose chunks are their paragraphs; `sample_corpus()`: the bundled 武进日报 page as the
corpus package splits it; `GARBAGE`: one article with markup in its title and text, for escaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.types import Article, Chunk, chunk_id

SAMPLE_PAGE = Path(__file__).resolve().parents[2] / "corpus" / "sample" / "wujin_daily_page.txt"


def make_article(
    aid: str,
    title: str,
    paragraphs: Sequence[str],
    *,
    date: str = "",
    source: str = "武进日报",
    reporters: tuple[str, ...] = (),
) -> tuple[Article, list[Chunk]]:
    """An article whose chunks are its paragraphs."""
    text = "\n".join(paragraphs)
    article = Article(id=aid, title=title, text=text, date=date, source=source, reporters=reporters)
    chunks, start = [], 0
    for n, p in enumerate(paragraphs):
        chunks.append(
            Chunk(
                id=chunk_id(aid, start, start + len(p), p),
                article_id=aid,
                index=n,
                paragraph=n,
                start=start,
                end=start + len(p),
                text=p,
            )
        )
        start += len(p) + 1
    return article, chunks


NEWS = [
    make_article(
        "a1",
        "武进区召开安全生产工作会议",
        [
            "3月5日，武进区召开安全生产工作会议，部署全年安全生产重点任务。",
            "会议要求各镇、街道压实责任，开展隐患排查整治，确保全区安全形势稳定。",
        ],
        date="2024-03-05",
        reporters=("王晓明",),
    ),
    make_article(
        "a2",
        "淹城春秋乐园迎来游客高峰",
        [
            "清明小长假期间，淹城春秋乐园共接待游客12.6万人次，同比增长35%。",
            "乐园推出汉服巡游、非遗市集等活动，吸引大批外地游客。",
        ],
        date="2024-04-07",
        source="常州晚报",
    ),
    make_article(
        "a3", "湖塘镇新建三所幼儿园", ["湖塘镇今年新建三所公办幼儿园，新增学位1080个，9月投入使用。"], date="2023-06-18"
    ),
    make_article(
        "a4",
        "西太湖马拉松鸣枪开跑",
        [
            "11月12日，2023西太湖半程马拉松鸣枪开跑，1.5万名跑者参赛。",
            "男子组冠军成绩为1小时03分，女子组冠军成绩为1小时12分。",
            "赛事沿途设置12个补给站，志愿者超过2000人。",
            "组委会表示明年将继续举办西太湖马拉松。",
        ],
        date="2023-11-12",
        reporters=("李娜",),
    ),
]


GARBAGE_TEXT = (
    "本报讯（记者 王晓）《常州市生活垃圾分类管理条例》将于2024年9月1日起正式施行。\n"
    "条例明确了居民分类投放的责任。<script>alert('xss')</script>"
)
GARBAGE = Article(
    id="garbage",
    title="《常州市生活垃圾分类管理条例》9月1日起施行<img src=x onerror=alert(1)>",
    text=GARBAGE_TEXT,
    date="2024-02-02",
    source="武进日报",
    reporters=("王晓",),
)


def chunk_of(article: Article, start: int = 0, end: int | None = None) -> Chunk:
    end = len(article.text) if end is None else end
    text = article.text[start:end]
    return Chunk(
        id=chunk_id(article.id, start, end, text),
        article_id=article.id,
        index=0,
        paragraph=0,
        start=start,
        end=end,
        text=text,
    )


class FakeStore:
    """The read methods the assistant may use."""

    def __init__(self, articles: Sequence[Article], chunks: Sequence[Chunk] = ()) -> None:
        self._articles = {a.id: a for a in articles}
        self._chunks = list(chunks)

    def get(self, article_id: str) -> Article | None:
        return self._articles.get(article_id)

    def articles_by_id(self, ids: Sequence[str]) -> dict[str, Article]:
        return {i: self._articles[i] for i in ids if i in self._articles}

    def dated(self, first: str = "", last: str = "", limit: int = 10, offset: int = 0) -> tuple[int, list[Article]]:
        found = [a for a in self._articles.values() if a.date and first <= a.date and (not last or a.date <= last)]
        found.sort(key=lambda a: a.date, reverse=True)  # stable: the order added within a day
        return len(found), found[offset : offset + limit]

    def credited(self, name: str, limit: int = 10) -> tuple[int, list[Article]]:
        found = [a for a in self._articles.values() if name in (*a.reporters, *a.photographers)]
        found.sort(key=lambda a: a.date, reverse=True)
        return len(found), found[:limit]

    def titled(self, title: str) -> list[Article]:
        return sorted((a for a in self._articles.values() if a.title == title), key=lambda a: a.date, reverse=True)

    def chunks_of(self, article_id: str) -> list[Chunk]:
        return [c for c in self._chunks if c.article_id == article_id]


def sample_corpus() -> tuple[list[Article], list[Chunk]]:
    """The bundled 武进日报 page, split and chunked by the corpus package."""
    from corpus.chunker import chunk_article
    from corpus.page import parse_page

    articles = parse_page(SAMPLE_PAGE.read_text(encoding="utf-8"), date="2024-02-02", source="武进日报")
    chunks = [c for a in articles for c in chunk_article(a, size=300, min_size=60)]
    return articles, chunks
