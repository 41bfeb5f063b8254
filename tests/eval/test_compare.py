"""Comparing two runs: metric deltas and the questions that flipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report import record

from eval.compare import compare, compare_dirs, format_comparison
from eval.report import write_run
from eval.summary import summarize
from eval.target import EvalError


def test_compare_finds_flips_and_deltas(tmp_path: Path) -> None:
    a = [
        record("q1", correct=True, relevant=[True]),
        record("q2", correct=False, relevant=[False]),
        record("q3", correct=True, relevant=[True]),
        record("q4", correct=None, relevant=[False]),
        record("only-a", correct=True, relevant=None),
    ]
    b = [
        record("q1", correct=False, relevant=[True]),
        record("q2", correct=True, relevant=[True]),
        record("q3", correct=True, relevant=[False]),
        record("q4", correct=None, relevant=[True]),
        record("only-b", correct=False, relevant=None),
    ]
    write_run(tmp_path / "a", summarize(a, 1.0), a)
    write_run(tmp_path / "b", summarize(b, 2.0), b)
    result = compare_dirs(tmp_path / "a", tmp_path / "b")
    assert [e["id"] for e in result["fixed"]] == ["q2", "q4"]  # q4: retrieval-only outcome flipped
    assert [e["id"] for e in result["broken"]] == ["q1"]
    assert result["only_in_a"] == ["only-a"] and result["only_in_b"] == ["only-b"]
    acc = result["metrics"]["answer.accuracy"]
    assert acc["a"] == pytest.approx(3 / 4) and acc["b"] == pytest.approx(2 / 4)
    assert acc["delta"] == pytest.approx(-0.25)
    assert result["metrics"]["retrieval.recall@1"]["delta"] == pytest.approx(3 / 4 - 2 / 4)
    assert result["metrics"]["latency.questions_per_min"]["delta"] == pytest.approx(150 - 300)
    text = format_comparison(result)
    assert "错→对 2 题" in text and "对→错 1 题" in text and "-0.250" in text
    json.dumps(result)  # --json prints it


def test_missing_metric_gives_no_delta() -> None:
    a = ({"n": 1, "answer": {"accuracy": None}}, [])
    b = ({"n": 1, "answer": {"accuracy": 0.5}}, [])
    assert compare(a, b)["metrics"]["answer.accuracy"] == {"a": None, "b": 0.5, "delta": None}


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="summary.json: not found"):
        compare_dirs(tmp_path, tmp_path)
