"""LLM reranker with a scripted generator: grades reorder the head, bad replies change nothing."""

from __future__ import annotations

import pytest

from core.types import Hit
from index.rerank import LLMReranker, make_reranker
from tests.support.news import NEWS


def _hits() -> list[Hit]:
    chunks = [c for _, cs in NEWS for c in cs][:4]
    return [
        Hit(chunk=c, score=1.0 - n / 10, title=f"标题{n}", scores={"fused": 1.0 - n / 10}) for n, c in enumerate(chunks)
    ]


def test_grades_reorder_the_top_hits_and_keep_the_tail(fake_generator):
    hits = _hits()
    fake_generator.enqueue("1: 2\n2：9\n3: 5")
    out = LLMReranker(fake_generator, top=3).rerank("西太湖马拉松冠军成绩？", hits)
    assert [h.chunk.id for h in out] == [hits[1].chunk.id, hits[2].chunk.id, hits[0].chunk.id, hits[3].chunk.id]
    assert out[0].scores["rerank"] == 9.0 and out[0].scores["fused"] == pytest.approx(0.9)
    prompt = fake_generator.last_messages[-1]["content"]
    assert "西太湖马拉松冠军成绩？" in prompt and "[3] 标题2：" in prompt and "[4]" not in prompt


def test_unparseable_reply_keeps_the_search_order(fake_generator):
    hits = _hits()
    fake_generator.enqueue("我觉得都挺相关的。")
    assert LLMReranker(fake_generator).rerank("问题", hits) == hits


def test_ungraded_passages_go_after_graded_ones(fake_generator):
    hits = _hits()
    fake_generator.enqueue("3: 4\n9: 10")  # 9 is not a passage number and is ignored
    out = LLMReranker(fake_generator, top=4).rerank("问题", hits)
    assert out[0].chunk.id == hits[2].chunk.id
    assert [h.chunk.id for h in out[1:]] == [hits[0].chunk.id, hits[1].chunk.id, hits[3].chunk.id]


def test_make_reranker(fake_generator):
    assert make_reranker("none") is None
    assert isinstance(make_reranker("llm", fake_generator), LLMReranker)
    with pytest.raises(ValueError, match="generator"):
        make_reranker("llm")
    with pytest.raises(ValueError, match="unknown"):
        make_reranker("cross-encoder")
