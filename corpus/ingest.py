"""Ingest: read input files into articles, chunk them and store them in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.config import Settings
from corpus.chunker import chunk_article
from corpus.readers import read_paths
from corpus.store import IngestResult, Store

SAMPLE_PAGE = Path(__file__).parent / "sample" / "wujin_daily_page.txt"
SAMPLE_DATE = "2024-02-02"  # the page reports "昨天上午" meetings held on 2024-02-01
SAMPLE_SOURCE = "武进日报"


def ingest_paths(
    settings: Settings, store: Store, paths: Sequence[Path], *, date: str = "", source: str = ""
) -> IngestResult:
    """Read every path completely before writing, so bad input anywhere leaves the store as it was."""
    articles = read_paths([Path(p) for p in paths], date=date, source=source, max_file_mb=settings.corpus.max_file_mb)
    items = [
        (a, chunk_article(a, size=settings.corpus.chunk_size, min_size=settings.corpus.chunk_min)) for a in articles
    ]
    return store.put(items)


def ingest_sample(settings: Settings, store: Store) -> IngestResult:
    """Load the bundled 武进日报 page (what `make run` and an empty app start with)."""
    return ingest_paths(settings, store, [SAMPLE_PAGE], date=SAMPLE_DATE, source=SAMPLE_SOURCE)
