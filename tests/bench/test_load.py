from __future__ import annotations

import json
import random

import pytest

from bench.load import (
    ChatEndpoints,
    Record,
    Run,
    by_asking,
    compare,
    find_endpoints,
    load_questions,
    type_question,
)


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


def test_the_typing_event_is_found_beside_the_chat_steps() -> None:
    config = {
        "components": [{"id": 1, "props": {"elem_id": "question"}}, {"id": 2, "props": {"elem_id": "chat"}}],
        "dependencies": [
            {"id": 10, "inputs": [1, 3], "queue": False, "targets": [[1, "submit"]]},
            {"id": 11, "inputs": [3, 2], "trigger_after": 10},
            {"id": 12, "inputs": [], "trigger_after": 11},
            {"id": 13, "inputs": [1, 2], "queue": False, "targets": [[1, "input"]]},
        ],
    }
    assert find_endpoints(config) == ChatEndpoints(take=10, respond=11, done=12, typing=13)
    config["dependencies"].pop()  # an app without it: questions are typed, no event is sent
    assert find_endpoints(config).typing is None


class _Posts:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def post(self, url: str, json: dict) -> _Posts:
        self.sent.append(json)
        return self

    def raise_for_status(self) -> None:
        pass


def test_a_resident_types_a_question_a_word_at_a_time(monkeypatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("bench.load.time.sleep", slept.append)
    run = Run("http://127.0.0.1:7860", ChatEndpoints(1, 2, 3, typing=4), 0.0, 10.0, 1, (2.0, 8.0), 0.0, typing_cps=2.0)
    client, history = _Posts(), [{"role": "user", "content": "前一个问题"}]
    type_question(client, run, "s1", "垃圾分类条例什么时候施行？", history, random.Random(0))  # 13 characters
    assert [p["data"][0] for p in client.sent] == [
        "垃圾",
        "垃圾分类",
        "垃圾分类条例",
        "垃圾分类条例什么",
        "垃圾分类条例什么时候",
        "垃圾分类条例什么时候施行",
        "垃圾分类条例什么时候施行？",
    ]
    assert {p["fn_index"] for p in client.sent} == {4} and all(p["data"][1] == history for p in client.sent)
    assert len(slept) == 7 and all(0.5 <= s <= 1.5 for s in slept)  # ~a second a word of two at 2 a second

    client = _Posts()
    type_question(client, Run(**{**vars(run), "typing_cps": 0.0}), "s1", "问题？", [], random.Random(0))
    assert client.sent == []  # not typed: sent at once


def _run_file(tmp_path, name: str, latencies: dict[int, list[tuple[str, float | None, str]]]):
    """A run as --out writes it: each resident's questions in order, (question, latency, outcome)."""
    records = [
        {"resident": r, "question": q, "started": 10.0 * k + r, "latency": s, "outcome": o}
        for r, asked in latencies.items()
        for k, (q, s, o) in enumerate(asked)
    ]
    path = tmp_path / name
    path.write_text(json.dumps({"summary": {}, "records": records}), encoding="utf-8")
    return path


BASE_RUN = {0: [("甲", 6.0, "answer"), ("乙", 8.0, "refusal")], 1: [("丙", 5.0, "answer")]}
NEW_RUN = {0: [("甲", 5.0, "answer"), ("乙", 9.0, "refusal")], 1: [("丙", 3.0, "answer")]}


def test_two_runs_of_one_seed_are_compared_question_by_question(tmp_path) -> None:
    base = _run_file(tmp_path, "a.json", BASE_RUN)
    new = _run_file(tmp_path, "b.json", NEW_RUN)
    result = compare([base, new])
    assert result["all"] == {
        "questions": 3,
        "base_p50_s": 6.0,
        "new_p50_s": 5.0,
        "new_minus_base_p50_s": -1.0,
        "new_minus_base_mean_s": -0.67,
        "new_sooner": 2,
    }
    assert compare([base, new, new, base])["all"]["questions"] == 6  # pairs of runs pooled


def test_only_questions_answered_in_both_runs_are_paired(tmp_path) -> None:
    base = _run_file(tmp_path, "a.json", {0: [("甲", 6.0, "answer"), ("乙", None, "timeout"), ("丙", 4.0, "answer")]})
    new = _run_file(tmp_path, "b.json", {0: [("甲", 5.0, "answer"), ("乙", 9.0, "answer")]})  # ended before 丙
    assert compare([base, new])["all"]["questions"] == 1


def test_runs_of_other_questions_or_not_runs_are_refused(tmp_path) -> None:
    base = _run_file(tmp_path, "a.json", {0: [("甲", 6.0, "answer")]})
    other = _run_file(tmp_path, "b.json", {0: [("乙", 6.0, "answer")]})
    with pytest.raises(SystemExit, match="resident 0's question 1: '甲' and '乙'"):
        compare([base, other])
    with pytest.raises(SystemExit, match="in pairs"):
        compare([base])
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe")
    with pytest.raises(SystemExit, match="cannot read the run .*bad.json"):
        compare([base, tmp_path / "bad.json"])
    (tmp_path / "summary.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SystemExit, match="summary.json is not a run"):
        compare([base, tmp_path / "summary.json"])


def test_a_bad_question_file_is_refused_with_its_line(tmp_path) -> None:
    good = tmp_path / "q.jsonl"
    good.write_text(
        '\ufeff{"question": " 垃圾分类条例什么时候施行？"}\n\n{"question": "它一共有多少条？"}\n', encoding="utf-8"
    )
    assert load_questions(good) == ["垃圾分类条例什么时候施行？", "它一共有多少条？"]
    for content, message in (
        (b'{"question": "a"}\nnot json\n', r"q\.jsonl:2: not valid JSON"),
        (b'{"question": "a"}\n["b"]\n', r"q\.jsonl:2: expected a JSON object"),
        (b'{"q": "a"}\n', r'q\.jsonl:1: expected a "question" string'),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"\n \n", "no questions"),
    ):
        good.write_bytes(content)
        with pytest.raises(SystemExit, match=message):
            load_questions(good)
    with pytest.raises(SystemExit, match="cannot read the questions"):
        load_questions(tmp_path / "missing.jsonl")
