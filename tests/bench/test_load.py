from __future__ import annotations

from bench.load import Record, by_asking


def test_questions_asked_again_are_told_apart_from_first_askings() -> None:
    records = [
        Record(0, "垃圾分类条例什么时候施行？", 0.0, latency=9.0, outcome="answer"),
        Record(1, "武高新规上工业总产值是多少？", 1.0, latency=12.0, outcome="answer"),
        Record(2, "垃圾分类条例什么时候施行？", 5.0, latency=0.1, outcome="answer"),  # by another resident
        Record(0, "垃圾分类条例什么时候施行？", 20.0, latency=None, outcome="error:timeout"),
        Record(1, "今年有几场演出？", 21.0, latency=3.0, outcome="refusal"),
    ]
    split = by_asking(list(reversed(records)))  # in the order they were sent, not the order they ended
    assert split["first_asked"] == {"questions": 3, "latency_p50_s": 9.0, "under_1_s": 0}
    assert split["asked_again"] == {"questions": 2, "latency_p50_s": 0.1, "under_1_s": 1}


def test_a_run_without_repeats_says_so() -> None:
    split = by_asking([Record(0, "问题一？", 0.0, latency=2.0, outcome="answer")])
    assert split["asked_again"] == {"questions": 0, "latency_p50_s": None, "under_1_s": 0}
