"""The indexes never keep a vector or keyword row made from text the store no longer holds."""

from __future__ import annotations

from pathlib import Path

from core.config import Settings
from core.types import Article
from corpus.chunker import chunk_article
from corpus.store import Store
from index.hybrid import Searcher
from tests.support.embedders import HashEmbedder
from tests.support.reliability import index_report


def article(title: str, text: str) -> Article:
    return Article(id="a1", title=title, text=text, date="2024-02-02", source="武进日报")


def put(store: Store, a: Article) -> None:
    store.put([(a, chunk_article(a))])


def settings_for(home: Path) -> Settings:
    return Settings(home=home)


def test_changed_text_is_reembedded(tmp_path):
    settings = settings_for(tmp_path)
    with Store(settings.db_path) as store:
        put(store, article("武进区召开会议", "会议部署今年重点工作。会议强调落实责任。"))
        Searcher(settings, store, HashEmbedder()).sync(progress=False)
        put(store, article("武进区召开会议", "会议部署今年重点工作。会议要求加快项目建设。"))
        Searcher(settings, store, HashEmbedder()).sync(progress=False)
    assert all(index_report(tmp_path).values())


def test_changed_title_is_reembedded(tmp_path):
    settings = settings_for(tmp_path)
    with Store(settings.db_path) as store:
        put(store, article("武进区召开会议", "会议部署今年重点工作。会议强调落实责任。"))
        Searcher(settings, store, HashEmbedder()).sync(progress=False)
        put(store, article("西太湖马拉松鸣枪开跑", "会议部署今年重点工作。会议强调落实责任。"))
        Searcher(settings, store, HashEmbedder()).sync(progress=False)
    assert index_report(tmp_path)["vectors_match"]
