"""Keyword index: BM25 ranking over segmented text, incremental sync, user dictionary terms kept whole."""

from __future__ import annotations

import pytest

from index.keyword import KeywordIndex, Segmenter, fts_query, salient_terms
from tests.support.news import make_article


def _index(settings, store) -> KeywordIndex:
    return KeywordIndex(store.path, settings.index_dir / "userdict.txt")


def _articles(store, hits) -> list[str]:
    chunks = store.chunks_by_id([i for i, _ in hits])
    return [chunks[i].article_id for i, _ in hits]


def test_search_ranks_the_chunk_with_the_query_terms_first(settings, store):
    kw = _index(settings, store)
    assert kw.sync(store, progress=False) == {"added": len(store.chunk_ids()), "removed": 0}
    hits = kw.search("淹城春秋乐园清明接待了多少游客？", 3)
    assert _articles(store, hits)[0] == "a2"
    assert hits[0][1] > 0 and hits == sorted(hits, key=lambda h: -h[1])


def test_title_is_indexed_with_every_chunk(settings, store):
    kw = _index(settings, store)
    kw.sync(store, progress=False)
    # "幼儿园" is in a3's only chunk; "湖塘镇" too; "新建" appears in a3's title and text, but "马拉松" only in
    # a4's title and first and last chunk: every chunk of a4 must match through the title
    hits = kw.search("西太湖马拉松", 10)
    assert set(_articles(store, hits)) == {"a4"}
    assert len(hits) == 4


def test_removed_article_vanishes_and_new_one_appears(settings, store):
    kw = _index(settings, store)
    kw.sync(store, progress=False)
    assert "a4" in _articles(store, kw.search("马拉松", 5))
    store.remove(["a4"])
    article, chunks = make_article("a9", "武进马拉松报名开启", ["2024武进马拉松今日开放报名。"], date="2024-02-01")
    store.put([(article, chunks)])
    assert kw.sync(store, progress=False) == {"added": 1, "removed": 4}
    assert _articles(store, kw.search("马拉松", 5)) == ["a9"]
    assert kw.sync(store, progress=False) == {"added": 0, "removed": 0}
    assert kw.ids() == store.chunk_ids()


def test_filter_keeps_only_allowed_ids(settings, store):
    kw = _index(settings, store)
    kw.sync(store, progress=False)
    allowed = {c.id for c in store.chunks_of("a1")}
    hits = kw.search("马拉松 安全生产", 5, allowed)
    assert {i for i, _ in hits} <= allowed and hits


def test_reporter_names_and_quoted_title_terms_join_the_user_dictionary(settings, store):
    article, chunks = make_article(
        "a7", "“龙城英才计划”发布", ["记者宫晓翔报道，龙城英才计划今年发布新政。"], reporters=("宫晓翔",)
    )
    assert salient_terms(article) == {"宫晓翔", "龙城英才计划", "武进日报"}
    store.put([(article, chunks)])
    kw = _index(settings, store)
    kw.sync(store, progress=False)
    words = (settings.index_dir / "userdict.txt").read_text(encoding="utf-8")
    assert "宫晓翔" in words and "龙城英才计划" in words
    fresh = Segmenter(settings.index_dir / "userdict.txt")  # a later process loads the same dictionary
    assert "宫晓翔" in fresh.tokens("宫晓翔报道")


def test_query_terms_drop_question_words_and_punctuation():
    seg = Segmenter()
    terms = seg.query_terms("西太湖马拉松有多少人参赛？")
    assert "多少" not in terms and "？" not in terms and "马拉松" in terms
    assert fts_query(['a"b', "c"]) == '"a""b" OR "c"'


def test_interrupted_sync_keeps_finished_batches_and_resumes(settings, store, monkeypatch):
    import index.keyword as keyword_module

    monkeypatch.setattr(keyword_module, "SYNC_BATCH", 2)
    kw = _index(settings, store)
    calls = []
    real = kw.segmenter.tokens

    def failing(text):
        calls.append(text)
        if len(calls) > 4:
            raise KeyboardInterrupt
        return real(text)

    monkeypatch.setattr(kw.segmenter, "tokens", failing)
    with pytest.raises(KeyboardInterrupt):
        kw.sync(store, progress=False)
    assert len(kw) == 4 and kw.store_version == -1  # two batches kept, the sync not marked done
    monkeypatch.setattr(kw.segmenter, "tokens", real)
    assert kw.sync(store, progress=False) == {"added": len(store.chunk_ids()) - 4, "removed": 0}
    assert kw.ids() == store.chunk_ids() and kw.store_version == store.version


def test_holds_tells_whether_one_chunk_has_every_term(settings, store):
    kw = _index(settings, store)
    kw.sync(store, progress=False)
    race = kw.segmenter.query_terms("西太湖马拉松")
    assert len(race) > 1 and kw.holds(race)  # in a4's title, so in each of its chunks
    assert kw.holds(["幼儿园"]) and not kw.holds(["马拉松", "幼儿园"])  # each in some chunk, never in one
    assert not kw.holds([]) and not kw.holds(['"'])
