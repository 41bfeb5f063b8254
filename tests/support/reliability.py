"""Helpers for the reliability tests: generated corpora, `newsqa` in a child process, store consistency checks."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from core.config import Settings
from core.types import Article, Chunk
from corpus.chunker import chunk_article
from corpus.readers import read_path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

_SENTENCES = (
    "武进区召开会议，部署今年重点工作。",
    "会议强调，要落实安全生产责任。",
    "记者从区住建局获悉，口袋公园已建成投用。",
    "该条例将于2024年9月1日起施行。",
    "全区共新增就业岗位3200个。",
    "湖塘镇举办迎春文艺演出，吸引市民观看。",
    "西太湖科技产业园新签约项目12个，总投资45亿元。",
    "区卫健委提醒市民，冬季注意预防呼吸道疾病。",
)


def article_records(n: int, *, seed: int, prefix: str = "a") -> list[dict[str, str]]:
    """`n` JSONL records with their own ids (so a changed text keeps the article's identity)."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        paragraphs = [
            "".join(rng.choice(_SENTENCES) for _ in range(rng.randint(2, 6))) for _ in range(rng.randint(1, 4))
        ]
        records.append(
            {
                "id": f"{prefix}{i:05d}",
                "title": f"武进新闻第{i}条",
                "date": "2024-02-02",
                "source": "武进日报",
                "text": "\n".join(paragraphs),
            }
        )
    return records


def changed(records: list[dict[str, str]], *, every: int = 2) -> list[dict[str, str]]:
    """A copy where every `every`-th article has a new last paragraph (same id: a replacement, not an addition)."""
    out = []
    for i, r in enumerate(records):
        r = dict(r)
        if i % every == 0:
            r["text"] = r["text"] + f"\n更正：第{i}条消息的内容已于2月3日更新，特此说明。"
        out.append(r)
    return out


def write_jsonl(path: Path, records: Sequence[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def expected_state(path: Path, settings: Settings | None = None) -> dict[str, tuple[Article, list[Chunk]]]:
    """What ingesting `path` must store: articles by id with their chunks, computed in this process."""
    settings = settings or Settings()
    return {
        a.id: (a, chunk_article(a, size=settings.corpus.chunk_size, min_size=settings.corpus.chunk_min))
        for a in read_path(path)
    }


def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSQA_")}
    env.update(
        {
            "NEWSQA_HOME": str(home),
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(extra)
    return env


def newsqa_argv(*args: str) -> list[str]:
    """The newsqa CLI with the test fakes registered (the hash embedder in place of the default one).

    Run it with cwd=ROOT or child_env's PYTHONPATH, so the child finds the `tests` package."""
    return [PYTHON, "-m", "tests.support.newsqa_cli", *args]


def run_newsqa(
    home: Path,
    *args: str,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        newsqa_argv(*args),
        cwd=ROOT,
        env=env or child_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec_fn,
    )


# -- store checks ----------------------------------------------------------------------------------------------


def stored_state(db_path: Path) -> dict[str, tuple[str, list[tuple[int, int, int, int, str]]]]:
    """Articles in the database file as {id: (text, [(chunk id, idx, start, end, text), ...])}.

    Opens the file as a plain SQLite database (not through Store), so a store that only opens by accident of our
    own code's leniency still fails here. Raises AssertionError on orphan chunks or a failed integrity check.
    """
    db = sqlite3.connect(db_path, timeout=30)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        orphans = db.execute("SELECT COUNT(*) FROM chunks WHERE article_id NOT IN (SELECT id FROM articles)")
        assert orphans.fetchone()[0] == 0, "chunks without an article"
        rows = db.execute("SELECT id, text FROM articles")
        state: dict[str, tuple[str, list]] = {aid: (text, []) for aid, text in rows}
        for row in db.execute("SELECT article_id, id, idx, start, end, text FROM chunks ORDER BY article_id, idx"):
            state[row[0]][1].append(tuple(row[1:]))
        return state
    finally:
        db.close()


def chunk_rows(chunks: Sequence[Chunk]) -> list[tuple[int, int, int, int, str]]:
    return [(c.id, c.index, c.start, c.end, c.text) for c in chunks]


def check_articles(state: dict, versions: Sequence[dict[str, tuple[Article, list[Chunk]]]]) -> dict[str, int]:
    """Every stored article is whole and equals one of its `versions` (text and exactly that version's chunks).

    Returns how many stored articles matched each version (by position), for reporting where a kill landed.
    """
    counts = {i: 0 for i in range(len(versions))}
    for aid, (text, chunks) in state.items():
        assert chunks, f"article {aid} has no chunks"
        for c_id, _, start, end, c_text in chunks:
            assert text[start:end] == c_text, f"chunk {c_id} of {aid} does not match its offsets"
        matches = [i for i, v in enumerate(versions) if aid in v and v[aid][0].text == text]
        assert matches, f"article {aid} is in neither the old nor the new state"
        assert any(chunk_rows(versions[i][aid][1]) == chunks for i in matches), f"{aid}: chunks of another version"
        counts[matches[-1]] += 1
    return counts


# -- index checks ----------------------------------------------------------------------------------------------


def index_report(home: Path) -> dict[str, object]:
    """How the saved indexes of `home` relate to its store, read in this process with the hash embedder.

    "fresh": both indexes claim the store's current version; "dense_ids_match"/"keyword_ids_match": they hold
    exactly the store's chunks; "vectors_match": every saved vector is the embedding of its chunk's current text
    (so no vector of an old text or another model is mixed in).
    """
    import numpy as np

    from core.config import IndexSettings
    from corpus.store import Store
    from index.dense import DenseIndex, EmbeddingCache, document_text
    from index.keyword import KeywordIndex
    from tests.support.embedders import HashEmbedder

    embedder = HashEmbedder()
    with Store(home / "newsqa.db") as store:
        version, store_ids = store.version, store.chunk_ids()
        cache = EmbeddingCache(store.path)
        dense = DenseIndex(home / "index", embedder, cache, IndexSettings())
        loaded = dense.load()
        keyword = KeywordIndex(store.path, home / "index" / "userdict.txt")
        try:
            report: dict[str, object] = {
                "loaded": loaded,
                "fresh": loaded
                and dense.manifest is not None
                and dense.manifest.store_version == version
                and keyword.store_version == version,
                "dense_ids_match": dense.ids() == store_ids,
                "keyword_ids_match": keyword.ids() == store_ids,
            }
            chunks = store.chunks_by_id(dense.ids())
            articles = store.articles_by_id({c.article_id for c in chunks.values()})
            saved = dense.vectors(list(chunks))
            report["vectors_match"] = len(saved) == len(chunks) and all(
                np.allclose(
                    saved[i], embedder.encode_documents([document_text(c, articles.get(c.article_id))])[0], atol=1e-5
                )
                for i, c in chunks.items()
            )
        finally:
            keyword.close()
            cache.close()
    return report


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()} if folder.is_dir() else {}
