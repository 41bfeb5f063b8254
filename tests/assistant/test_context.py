"""What the model reads of each passage: windows around the question, near copies left out, a budget, the order."""

from __future__ import annotations

from assistant.context import in_article_order, select_passages, trim_passage
from core.types import Chunk, Hit

LAW = "该条例将于2024年9月1日起施行。"


def _hit(n: int, text: str, date: str = "2024-02-02") -> Hit:
    return Hit(Chunk(n, f"a{n}", 0, 0, 0, len(text), text), 1.0 / n, title=f"t{n}", date=date)


def test_trim_passage_keeps_the_best_matching_sentences() -> None:
    text = "甲" * 50 + "。" + LAW + "乙" * 50 + "。" + "丙" * 60 + "。"
    trimmed = trim_passage(text, "条例什么时候施行", 70)
    assert LAW in trimmed and len(trimmed) <= 72
    assert trim_passage("短文本。", "条例", 70) == "短文本。"


def test_a_sentence_window_keeps_only_the_sentences_around_the_best_one() -> None:
    text = "市人大召开新闻发布会。" + LAW + "条例共九章五十八条。" + "会议还通报了其他事项。"
    assert trim_passage(text, "条例什么时候施行", 300, max_sentences=1) == "…" + LAW + "…"
    window = trim_passage(text, "条例什么时候施行", 300, max_sentences=2)
    assert window.count("。") == 2 and LAW in window  # the best sentence and its better neighbour
    assert trim_passage(text, "条例什么时候施行", 300) == text  # no window: as much as fits


def test_near_copies_from_the_same_day_are_left_out_and_the_rest_numbered_in_order() -> None:
    hits = [
        _hit(1, "2023年武进区规上工业产值增长8%，创新高。"),
        _hit(2, "2023年武进区规上工业产值增长8%，创历史新高。"),  # a reprint the same day: nothing new
        _hit(3, "2023年武进区规上工业产值增长6%，创新高。"),  # the same words, another figure: kept
        _hit(4, "2023年武进区规上工业产值增长8%，创新高。", date="2024-03-01"),  # another day: it dates the figure
    ]
    kept = select_passages(hits, [h.chunk.text for h in hits], duplicate_overlap=0.8)
    assert [(e.n, e.hit.chunk.id) for e in kept] == [(1, 1), (2, 3), (3, 4)]


def test_the_budget_keeps_the_best_passages_that_fit() -> None:
    hits = [_hit(n, "字" * 100 + f"第{n}段。") for n in range(1, 5)]
    kept = select_passages(hits, [h.chunk.text for h in hits], budget_chars=250)
    assert [e.hit.chunk.id for e in kept] == [1, 2]
    only = select_passages(hits[:1], ["字" * 400], budget_chars=250)
    assert len(only) == 1  # the best passage is kept whatever its length


def test_passages_scored_far_below_the_best_are_left_out() -> None:
    hits = [_hit(n, f"第{n}段：" + "字" * 20) for n in range(1, 5)]  # scores 1, 0.5, 0.33, 0.25
    shown = [h.chunk.text for h in hits]
    assert [e.hit.chunk.id for e in select_passages(hits, shown, score_gap=0.6)] == [1, 2]
    assert [e.hit.chunk.id for e in select_passages(hits, shown, score_gap=0.4)] == [1]
    assert len(select_passages(hits, shown)) == 4  # no gap: every passage


def test_article_order_does_not_depend_on_the_question() -> None:
    def hit(article: str, index: int, date: str) -> Hit:
        text = f"{article}文第{index}段。"
        return Hit(Chunk(hash((article, index)), article, index, index, 0, len(text), text), 0.5, date=date)

    passages = [
        hit("b", 2, "2024-02-02"),
        hit("a", 0, "2024-02-01"),
        hit("b", 0, "2024-02-02"),
        hit("c", 0, ""),
        hit("d", 1, "2024-02-02"),
    ]
    best_first = select_passages(passages, [h.chunk.text for h in passages])
    ordered = in_article_order(best_first)
    # the newest day first, articles by id, each in its own order; undated last; numbered as read
    assert [(e.hit.chunk.article_id, e.hit.chunk.index) for e in ordered] == [
        ("b", 0),
        ("b", 2),
        ("d", 1),
        ("a", 0),
        ("c", 0),
    ]
    assert [e.n for e in ordered] == [1, 2, 3, 4, 5]
    assert in_article_order(best_first[::-1]) == ordered  # whichever scored best
