"""bench/first_read.py: the threshold curve of answer.first_read from one run at the lowest threshold."""

from __future__ import annotations

from bench.first_read import disagreements, merged


def _record(qid: str, *, read: int, found: int = 4, p: float | None = 0.9, correct: bool = True) -> dict:
    return {
        "id": qid,
        "sources_read": read,
        "sources_found": found,
        "context": [{}] * 5,
        "answerable_p": p,
        "correct": correct,
    }


def test_a_higher_threshold_sends_the_less_sure_first_reads_back_to_the_full_run() -> None:
    first = [_record("a", read=1, p=0.99), _record("b", read=1, p=0.85, correct=False), _record("c", read=4)]
    full = [_record("a", read=4), _record("b", read=4), _record("c", read=4)]
    assert [r["sources_read"] for r in merged(first, full, 0.82)] == [1, 1, 4]
    high = merged(first, full, 0.9)
    assert [r["sources_read"] for r in high] == [1, 4, 4] and high[1]["correct"]


def test_disagreements_count_only_questions_both_runs_read_in_full() -> None:
    first = [_record("a", read=1, correct=False), _record("c", read=4, correct=False), _record("d", read=4)]
    full = [_record("a", read=4), _record("c", read=4), _record("d", read=4)]
    assert disagreements(first, full) == (1, 2)
