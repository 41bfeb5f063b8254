"""Every metric on small examples computed by hand."""

from __future__ import annotations

import math

import pytest

from eval import metrics


def test_relevance_by_id_title_and_once_per_gold_item() -> None:
    hits = [
        {"id": 11, "article_id": "a1", "title": "别的新闻"},
        {"id": 12, "article_id": "a2", "title": "《常州市生活垃圾分类管理条例》9月1日起施行"},
        {"id": 13, "article_id": "a2", "title": "《常州市生活垃圾分类管理条例》9月1日起施行"},  # same gold again
        {"id": 14, "article_id": "a3", "title": "其他"},
    ]
    assert metrics.relevance(hits, [], ["垃圾分类管理条例"]) == ([False, True, False, False], 1)
    assert metrics.relevance(hits, ["a3", "a9"], []) == ([False, False, False, True], 2)
    assert metrics.relevance(hits, ["11"], []) == ([True, False, False, False], 1)  # a chunk id as gold


def test_recall_mrr_ndcg_by_hand() -> None:
    flags = [
        [True, False, False],  # first relevant at rank 1
        [False, False, True],  # rank 3
        [False, False, False],  # none
    ]
    assert metrics.recall_at_k(flags, 1) == pytest.approx(1 / 3)
    assert metrics.recall_at_k(flags, 3) == pytest.approx(2 / 3)
    assert metrics.mrr_at_k(flags, 10) == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert metrics.mrr_at_k(flags, 2) == pytest.approx(1 / 3)  # rank 3 is outside the top 2
    # q1: dcg 1, idcg 1 -> 1; q2: dcg 1/log2(4)=0.5, idcg (1 gold) 1 -> 0.5; q3: 0
    assert metrics.ndcg_at_k(flags, [1, 1, 1], 10) == pytest.approx(0.5)
    # with two gold items the ideal is 1 + 1/log2(3); ranks 1 and 3 give 1 + 1/log2(4)
    assert metrics.ndcg_at_k([[True, False, True]], [2], 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert metrics.ndcg_at_k([[True, True]], [2], 10) == pytest.approx(1.0)
    assert metrics.ndcg_at_k([[False, True]], [2], 10) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))


def test_retrieval_metrics_without_questions_are_none() -> None:
    assert metrics.retrieval_metrics([], []) == {
        "recall@1": None,
        "recall@5": None,
        "recall@10": None,
        "mrr@10": None,
        "ndcg@10": None,
    }
    assert metrics.recall_curve([[False, True]], 3) == [0.0, 1.0, 1.0]


def test_answer_correct_rgb_rule() -> None:
    assert metrics.answer_correct("规上工业总产值首次踏上2000亿元台阶", ["2000亿"])
    assert metrics.answer_correct("RCEP includes ASEAN", ["asean"])  # lower-cased on both sides
    assert not metrics.answer_correct("两千亿元", ["2000亿"])
    parts = [["可回收物"], ["有害垃圾"], ["厨余垃圾", "湿垃圾"], ["其他垃圾"]]
    assert metrics.answer_correct("可回收物、有害垃圾、湿垃圾和其他垃圾", [], "all", parts)
    assert not metrics.answer_correct("可回收物、有害垃圾和其他垃圾", [], "all", parts)
    assert metrics.answer_correct("甲和乙", ["甲", "乙"], "all")  # parts default to one answer each
    assert not metrics.answer_correct("甲", ["甲", "乙"], "all")
    assert not metrics.answer_correct("任何回答", [], "all")


def test_char_f1_by_hand() -> None:
    # response 5 chars "约2000亿" vs answer "2000亿元": common = 2,0,0,0,亿 = 5; p = 5/6, r = 5/6
    assert metrics.char_f1("约2000亿", "2000亿元") == pytest.approx(5 / 6)
    assert metrics.char_f1("朱梦琪。", "朱梦琪") == 1.0  # punctuation does not count
    assert metrics.char_f1("何晓丹", "朱梦琪") == 0.0
    # "五十八条" vs "58条": one common char of 4 and 3 -> p 1/4, r 1/3, f1 = 2/7
    assert metrics.best_f1("五十八条", ["58条", "五十八条"]) == 1.0
    assert metrics.char_f1("五十八条", "58条") == pytest.approx(2 / 7)
    assert metrics.best_f1("什么", []) is None


def test_refusals() -> None:
    assert metrics.looks_like_refusal("文档信息不足，因此我无法基于提供的文档回答该问题。")
    assert metrics.looks_like_refusal("Insufficient information in the documents.")
    assert not metrics.looks_like_refusal("条例共九章、五十八条。")
    rates = metrics.refusal_rates([False, False, False, True, True], [True, True, False, True, False])
    assert rates == {"refusal_rate": pytest.approx(2 / 3), "false_refusal_rate": pytest.approx(1 / 2)}
    assert metrics.refusal_rates([True], [False]) == {"refusal_rate": None, "false_refusal_rate": 0.0}


def _cit(chunk_id: int, article_id: str, title: str, verified: bool, sentence: str, passage: str = "") -> dict:
    return {
        "n": 1,
        "chunk_id": chunk_id,
        "article_id": article_id,
        "title": title,
        "quote": passage[:4],
        "passage": passage,
        "verified": verified,
        "sentence": sentence,
    }


def test_citation_metrics_by_hand() -> None:
    records = [
        {  # two citations: one gold by title, one not gold but holding the answer; sentences s1 ok, s2 not
            "citations": [
                _cit(1, "a", "垃圾分类管理条例", True, "s1"),
                _cit(2, "b", "别的", False, "s2", passage="条例共九章、五十八条"),
            ],
            "unverified": ["s3"],
            "gold_titles": ["垃圾分类"],
            "answers": ["五十八条"],
        },
        {  # one citation, neither gold nor holding the answer; its sentence verifies
            "citations": [_cit(3, "c", "烟花", True, "t1", passage="燃放管控")],
            "unverified": [],
            "gold_titles": ["垃圾分类"],
            "answers": ["五十八条"],
        },
        {"citations": [], "unverified": ["u1"], "gold_titles": ["x"], "answers": ["y"]},  # answer without citation
        {"citations": [_cit(4, "d", "x", True, "r")], "refused": True},  # refusals do not count
        {"citations": [_cit(5, "e", "x", True, "r")], "error": "boom"},  # nor do failures
    ]
    result = metrics.citation_metrics(records)
    assert result["answers_with_citation"] == pytest.approx(2 / 3)
    assert result["precision"] == pytest.approx(2 / 3)  # 2 good of 3 judged
    # sentences: s1 yes, s2 no, s3 no | t1 yes | u1 no -> 2 of 5
    assert result["verified_sentences"] == pytest.approx(2 / 5)


def test_citation_precision_is_none_without_gold_or_answers() -> None:
    records = [{"citations": [_cit(1, "a", "t", True, "s")], "unverified": []}]
    assert metrics.citation_metrics(records) == {
        "answers_with_citation": 1.0,
        "precision": None,
        "verified_sentences": 1.0,
    }
    assert metrics.citation_metrics([]) == {
        "answers_with_citation": None,
        "precision": None,
        "verified_sentences": None,
    }


def test_percentile_matches_numpy_linear() -> None:
    values = [100.0, 200.0, 300.0, 400.0]
    assert metrics.percentile(values, 50) == 250.0
    assert metrics.percentile(values, 95) == pytest.approx(385.0)  # pos 2.85 -> 300 + 0.85*100
    assert metrics.percentile([7.0], 95) == 7.0
    assert metrics.percentile([], 50) is None


def test_latency_metrics() -> None:
    out = metrics.latency_metrics([100.0, 300.0], [50.0], wall_s=30.0, n_questions=3)
    assert out == {
        "p50_ms": 200.0,
        "p95_ms": pytest.approx(290.0),
        "ttft_p50_ms": 50.0,
        "questions_per_min": pytest.approx(6.0),
    }
    assert metrics.latency_metrics([], [], None) == {
        "p50_ms": None,
        "p95_ms": None,
        "ttft_p50_ms": None,
        "questions_per_min": None,
    }


def test_mean_skips_none() -> None:
    assert metrics.mean([1.0, None, 0.0]) == 0.5
    assert metrics.mean([None]) is None
