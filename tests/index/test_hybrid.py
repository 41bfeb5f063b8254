"""Hybrid searcher: fusion, grouping by article, date/source filters, recency, scores for the answer loop."""

from __future__ import annotations

import dataclasses

import pytest

from core.config import RetrievalSettings
from index.hybrid import Searcher, SearchError, fuse_convex, fuse_rrf, fuse_zscore
from tests.support.news import make_article


@pytest.fixture
def searcher(settings, store, embedder) -> Searcher:
    s = Searcher(settings, store, embedder)
    s.sync(progress=False)
    return s


def test_hits_carry_metadata_and_every_retrievers_score(searcher):
    hits = searcher.search("淹城春秋乐园游客人次", k=3)
    top = hits[0]
    assert top.chunk.article_id == "a2" and top.title == "淹城春秋乐园迎来游客高峰"
    assert top.date == "2024-04-07" and top.source == "常州晚报"
    assert set(top.scores) >= {"dense", "bm25", "fused"} and top.score == top.scores["fused"]
    assert all("dense" in h.scores for h in hits)  # the answer loop reads it to decide whether to refuse
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_single_modes_report_their_own_score(searcher, mode):
    hits = searcher.search("西太湖马拉松冠军成绩", k=2, mode=mode)
    assert hits and all(mode in h.scores for h in hits)


def test_chunks_of_one_article_are_capped(settings, store, embedder):
    searcher = Searcher(settings.override({"retrieval": {"max_chunks_per_article": 2}}), store, embedder)
    searcher.sync(progress=False)
    hits = searcher.search("西太湖马拉松", k=5)
    per_article = [h.chunk.article_id for h in hits]
    assert per_article.count("a4") == 2
    assert len(hits) == len(set(h.chunk.id for h in hits))


def test_an_articles_lead_keeps_the_last_of_its_places(settings, store, embedder):
    # the lead says who did what and when: found at all, it is not cut for the article's third-best paragraph
    def ranked(cap: int) -> list[int]:
        searcher = Searcher(settings.override({"retrieval": {"max_chunks_per_article": cap}}), store, embedder)
        searcher.sync(progress=False)
        return [h.chunk.index for h in searcher.search("冠军成绩 补给站 志愿者", k=10) if h.chunk.article_id == "a4"]

    assert ranked(4).index(0) >= 2  # the lead is not among the article's two best paragraphs...
    assert ranked(2) == [ranked(4)[0], 0]  # ...and takes the second place, after the best one


def test_date_and_source_filters(searcher):
    hits = searcher.search("游客 马拉松 幼儿园 安全生产", k=10, date_from="2024-01-01")
    assert hits and {h.chunk.article_id for h in hits} <= {"a1", "a2"}
    hits = searcher.search("游客 马拉松 幼儿园 安全生产", k=10, date_to="2023-06")
    assert {h.chunk.article_id for h in hits} == {"a3"}
    hits = searcher.search("游客 马拉松 幼儿园 安全生产", k=10, sources=["常州晚报"])
    assert {h.chunk.article_id for h in hits} == {"a2"}
    assert searcher.search("马拉松", k=5, sources=["人民日报"]) == []
    with pytest.raises(SearchError, match="date_from"):
        searcher.search("马拉松", date_from="去年")


def test_undated_articles_pass_a_date_filter_only_when_asked(settings, store, embedder):
    store.put([make_article("u1", "西太湖马拉松报名开启", ["西太湖马拉松报名今天开启，名额一万个。"], date="")])
    searcher = Searcher(settings, store, embedder)
    searcher.sync(progress=False)
    strict = searcher.search("西太湖马拉松 游客", k=10, date_from="2024-01-01")
    assert "u1" not in {h.chunk.article_id for h in strict}
    lenient = searcher.search("西太湖马拉松 游客", k=10, date_from="2024-01-01", undated=True)
    found = {h.chunk.article_id for h in lenient}
    assert "u1" in found and "a4" not in found  # a4 is dated 2023: still outside


def test_prefer_recent_lifts_a_newer_article_of_equal_relevance(settings, store, embedder):
    old = make_article("o1", "运河文化节开幕", ["第十届运河文化节今天开幕，展期一个月。"], date="2020-05-01")
    new = make_article("n1", "运河文化节开幕", ["第十届运河文化节今天开幕，展期一个月。"], date="2024-05-01")
    store.put([old, new])
    searcher = Searcher(settings, store, embedder)
    searcher.sync(progress=False)
    plain = searcher.search("运河文化节开幕", k=2)
    assert {h.chunk.article_id for h in plain} == {"o1", "n1"}
    assert plain[0].score == pytest.approx(plain[1].score)  # same text: only the date tells them apart
    recent = searcher.search("运河文化节开幕", k=2, prefer_recent=True)
    assert recent[0].chunk.article_id == "n1" and recent[0].score > recent[1].score


def test_sync_follows_the_store(searcher, store):
    store.remove(["a2"])
    report = searcher.sync(progress=False)
    assert report["keyword"]["removed"] == 2 and report["dense"]["removed"] == 2
    assert all(h.chunk.article_id != "a2" for h in searcher.search("淹城春秋乐园游客", k=5))
    again = searcher.sync(progress=False)
    assert again["keyword"] == {"added": 0, "removed": 0} and again["dense"]["embedded"] == 0


def test_unknown_mode_and_empty_query(searcher):
    with pytest.raises(SearchError, match="mode"):
        searcher.search("马拉松", mode="magic")
    assert searcher.search("   ") == []


def test_convex_fusion_uses_normalised_scores_and_weights():
    cfg = RetrievalSettings(dense_weight=1.0, bm25_weight=1.0)
    dense = {1: 0.9, 2: 0.8, 3: 0.7}
    bm25 = {3: 30.0, 4: 10.0}
    fused = fuse_convex("问题", dense, bm25, cfg)
    assert fused[1] == pytest.approx(0.5) and fused[3] == pytest.approx(0.5)
    assert fused[4] == pytest.approx(0.0) and fused[2] == pytest.approx(0.25)
    cfg = dataclasses.replace(cfg, exact_boost=1.0)  # a number in the query doubles BM25's weight: share 2/3
    assert fuse_convex("2023年", dense, bm25, cfg)[3] == pytest.approx(2 / 3)


def test_rrf_fusion_ranks_by_weighted_reciprocal_rank():
    cfg = RetrievalSettings(rrf_k=60, dense_weight=1.0, bm25_weight=1.0)
    fused = fuse_rrf("问题", {1: 0.9, 2: 0.8}, {2: 5.0, 3: 1.0}, cfg)
    assert fused[2] == pytest.approx(0.5 / 62 + 0.5 / 61)
    assert max(fused, key=fused.get) == 2


def test_reranker_reorders_the_final_hits(settings, store, embedder, fake_generator):
    from index.rerank import LLMReranker

    plain = Searcher(settings, store, embedder).search("西太湖马拉松", k=3)
    fake_generator.enqueue("1: 1\n2: 2\n3: 8")
    reranked = Searcher(settings, store, embedder, reranker=LLMReranker(fake_generator)).search("西太湖马拉松", k=3)
    assert [h.chunk.id for h in reranked] == [plain[2].chunk.id, plain[1].chunk.id, plain[0].chunk.id]


def test_zscore_fusion_lets_a_standout_bm25_hit_win():
    cfg = RetrievalSettings(dense_weight=1.0, bm25_weight=1.0)
    dense = {1: 0.82, 2: 0.81, 3: 0.80, 4: 0.79}  # a flat dense list
    bm25 = {3: 40.0, 1: 5.0, 2: 4.0}  # one chunk stands out by keywords
    fused = fuse_zscore("问题", dense, bm25, cfg)
    assert max(fused, key=fused.get) == 3
    assert fused[4] < min(fused[i] for i in (1, 2, 3))  # missing from BM25: that list's lowest z-score
    cfg = dataclasses.replace(cfg, bm25_weight=0.0)
    dense_only = fuse_zscore("问题", dense, bm25, cfg)
    assert max(dense_only, key=dense_only.get) == 1


def test_a_repeated_query_is_embedded_once(searcher, embedder):
    embedder.queries_embedded.clear()
    searcher.search("西太湖马拉松", mode="dense")
    searcher.search("西太湖马拉松", mode="hybrid")
    searcher.search("幼儿园", mode="hybrid")
    assert embedder.queries_embedded == ["西太湖马拉松", "幼儿园"]


def test_an_article_announcing_a_period_is_found_for_it(settings, store, embedder):
    hours = make_article("lib", "图书馆春节开放时间", ["图书馆春节期间每天9点开门。"], date="2024-02-03")
    store.put([hours])
    searcher = Searcher(settings, store, embedder)
    searcher.sync(progress=False)
    during = {"date_from": "2024-02-09", "date_to": "2024-02-19"}
    assert not any(h.chunk.article_id == "lib" for h in searcher.search("图书馆 开门", k=10, **during))
    hits = searcher.search("图书馆 开门", k=10, about=[("2024-02-09", "2024-02-16")], **during)
    assert [h.chunk.article_id for h in hits] == ["lib"]  # published before the holiday, speaks about it


def test_held_terms_are_the_words_the_keyword_index_has(searcher):
    held = searcher.held_terms("西太湖马拉松的独角兽冠军")
    assert "马拉松" in held and "独角兽" not in held
    assert searcher.held_together(held) and not searcher.held_together(["马拉松", "幼儿园"])


def test_terms_held_beside_others_are_held_in_one_article(settings, store, embedder):
    """`beside` asks for the same story: one chunk with the first terms, the others anywhere in its article."""
    meeting = make_article("fire", "烟花爆竹燃放管控会议", ["今年是实施管控政策的第六年。", "区领导参加会议。"])
    store.put([meeting, make_article("park", "口袋公园建成", ["公园面积约7200平方米。"])])
    searcher = Searcher(settings, store, embedder)
    searcher.sync(progress=False)
    assert not searcher.held_together(["参加", "会议", "政策"])  # no one chunk holds all three
    assert searcher.held_together(["参加", "会议"], beside=["政策", "燃放"])
    assert not searcher.held_together(["参加", "会议"], beside=["政策", "公园"])  # 公园 is another article's
    assert not searcher.held_together(["面积"], beside=["政策"])


def test_held_terms_follow_the_store_after_a_sync(searcher, store):
    assert "独角兽" not in searcher.held_terms("独角兽乐园")
    store.put([make_article("a9", "独角兽乐园开园", ["独角兽乐园今天开园。"], date="2024-04-08")])
    searcher.sync(progress=False)  # the lookups remembered before it are forgotten
    assert "独角兽" in searcher.held_terms("独角兽乐园") and searcher.held_together(["独角兽", "开园"])
