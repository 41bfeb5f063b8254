"""Dense index: exact search against a numpy oracle, in-place updates, manifest checks, resumable embedding."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.dense import MANIFEST_FILE, DenseIndex, EmbeddingCache, _digest, document_text
from tests.support.embedders import HashEmbedder
from tests.support.news import NEWS, make_article


def _index(settings, embedder, store) -> DenseIndex:
    return DenseIndex(settings.index_dir, embedder, EmbeddingCache(store.path), settings.index)


def test_flat_search_matches_numpy_top_k(settings, store, embedder):
    dense = _index(settings, embedder, store)
    dense.sync(store, progress=False)
    chunks = list(store.iter_chunks())
    articles = store.articles_by_id({c.article_id for c in chunks})
    matrix = embedder.encode_documents([document_text(c, articles[c.article_id]) for c in chunks])
    for query in ["西太湖马拉松冠军成绩", "幼儿园学位", "游客人次"]:
        q = embedder.encode_queries([query])[0]
        scores = matrix @ q
        oracle = [chunks[i].id for i in np.argsort(-scores, kind="stable")[:4]]
        got = dense.search_vector(q, 4)
        assert [i for i, _ in got] == oracle
        assert [s for _, s in got] == pytest.approx(sorted(scores, reverse=True)[:4], abs=1e-5)


def test_filter_restricts_to_allowed_ids(settings, store, embedder):
    dense = _index(settings, embedder, store)
    dense.sync(store, progress=False)
    allowed = {c.id for c in store.chunks_of("a3")}
    got = dense.search("西太湖马拉松", 5, allowed)
    assert {i for i, _ in got} == allowed


def test_add_and_remove_update_in_place_without_re_embedding(settings, store, embedder):
    dense = _index(settings, embedder, store)
    first = dense.sync(store, progress=False)
    assert first["embedded"] == len(store.chunk_ids())
    assert dense.sync(store, progress=False)["embedded"] == 0  # unchanged store: nothing to do

    article, chunks = make_article("a5", "新北区地铁站开通", ["地铁5号线新北段今日开通运营。"], date="2024-05-01")
    store.put([(article, chunks)])
    store.remove(["a1"])
    embedder.documents_embedded.clear()
    report = dense.sync(store, progress=False)
    assert report == {"added": 1, "removed": 2, "embedded": 1, "rebuilt": False}
    assert embedder.documents_embedded == [document_text(chunks[0], article)]
    assert dense.ids() == store.chunk_ids()
    assert dense.search("地铁开通", 1)[0][0] == chunks[0].id


def test_a_corrected_article_re_embeds_only_the_paragraphs_whose_text_changed(settings, store, embedder):
    dense = _index(settings, embedder, store)
    paragraphs = ["地铁5号线新北段今日开通运营。", "全线设站12座。", "首班车6点发出。"]
    store.put([make_article("a5", "新北区地铁站开通", paragraphs, date="2024-05-01")])
    dense.sync(store, progress=False)
    corrected, chunks = make_article("a5", "新北区地铁站开通", ["地铁5号线新北段于今日上午开通运营。", *paragraphs[1:]])
    store.put([(corrected, chunks)])  # every later offset moves, so every chunk id changes
    embedder.documents_embedded.clear()
    report = dense.sync(store, progress=False)
    assert report["added"] == 3 and report["embedded"] == 1
    assert embedder.documents_embedded == [document_text(chunks[0], corrected)]
    assert dense.ids() == store.chunk_ids()
    assert dense.search("首班车几点", 1)[0][0] == chunks[2].id
    # the vector was stored under the new id too, so it survives the old chunk's row being pruned
    digests = {chunks[2].id: _digest(document_text(chunks[2], corrected))}
    row = dense.cache._db.execute("SELECT digest FROM embeddings WHERE chunk_id = ?", (chunks[2].id,)).fetchone()
    assert row == (digests[chunks[2].id],)


def test_saved_index_reloads_and_resyncs_by_diff(settings, store, embedder):
    _index(settings, embedder, store).sync(store, progress=False)
    store.remove(["a4"])
    again = HashEmbedder()
    dense = _index(settings, again, store)
    assert dense.load()
    report = dense.sync(store, progress=False)
    assert report["removed"] == 4 and report["embedded"] == 0
    assert again.documents_embedded == []
    manifest = json.loads((settings.index_dir / MANIFEST_FILE).read_text())
    assert manifest["count"] == len(store.chunk_ids()) and manifest["store_version"] == store.version


@pytest.mark.parametrize("other", [HashEmbedder(name="other-model"), HashEmbedder(dim=32)])
def test_other_embedder_is_detected_and_everything_re_embedded(settings, store, embedder, other, capsys):
    _index(settings, embedder, store).sync(store, progress=False)
    dense = _index(settings, other, store)
    assert not dense.load()
    assert "re-embedding" in capsys.readouterr().err
    report = dense.sync(store, progress=False)
    assert report["rebuilt"] and report["embedded"] == len(store.chunk_ids())
    q = other.encode_queries(["马拉松"])[0]
    assert len(dense.search_vector(q, 3)) == 3


def test_interrupted_build_resumes_embedding_only_missing_chunks(settings, store):
    class Failing(HashEmbedder):
        def __init__(self, fail_after: int) -> None:
            super().__init__()
            self.fail_after = fail_after

        def encode_documents(self, texts, *, progress=False):
            if len(self.documents_embedded) + len(texts) > self.fail_after:
                raise KeyboardInterrupt
            return super().encode_documents(texts, progress=progress)

    import index.dense as dense_module

    total = len(store.chunk_ids())
    old = dense_module.EMBED_BATCH
    dense_module.EMBED_BATCH = 2
    try:
        failing = Failing(fail_after=4)
        with pytest.raises(KeyboardInterrupt):
            _index(settings, failing, store).sync(store, progress=False)
        assert len(failing.documents_embedded) == 4
        resumed = HashEmbedder()
        report = _index(settings, resumed, store).sync(store, progress=False)
    finally:
        dense_module.EMBED_BATCH = old
    assert report["embedded"] == total - 4
    assert len(resumed.documents_embedded) == total - 4
    assert not set(resumed.documents_embedded) & set(failing.documents_embedded)


def test_hnsw_rebuilds_from_cache_on_removal(settings, store, embedder):
    settings = settings.override({"index": {"kind": "hnsw"}})
    dense = _index(settings, embedder, store)
    dense.sync(store, progress=False)
    embedder.documents_embedded.clear()
    store.remove(["a2"])
    report = dense.sync(store, progress=False)
    assert report["rebuilt"] and report["embedded"] == 0
    assert dense.ids() == store.chunk_ids()
    assert len(NEWS) == 4
