"""Index test fakes: a deterministic hash-based embedder that counts what it embeds, and a small news corpus."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from core.types import Article, Chunk, chunk_id


class HashEmbedder:
    """Bag of hashed character bigrams: texts sharing words get similar vectors, with no model and no randomness."""

    def __init__(self, dim: int = 64, name: str = "hash-bigrams") -> None:
        self.name = name
        self.dim = dim
        self.documents_embedded: list[str] = []
        self.queries_embedded: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in zip(text, text[1:] + " ", strict=True):
            h = int.from_bytes(hashlib.sha256((a + b).encode()).digest()[:4], "big")
            v[h % self.dim] += 1.0 if h & (1 << 31) else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.queries_embedded.extend(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.documents_embedded.extend(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


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
