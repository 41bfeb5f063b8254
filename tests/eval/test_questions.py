"""Question files: JSON Lines and CSV with the same columns, the shared evaldata sets, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.questions import Question, QuestionError, load_questions
from tests.support.evaldata import EVALDATA, missing_reason

SAMPLE_QUESTIONS = Path(__file__).resolve().parents[2] / "corpus" / "sample" / "questions.jsonl"


def write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_jsonl_fields_are_read(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "q.jsonl",
        [
            {
                "id": "a",
                "question": "条例何时施行？",
                "answers": ["2024年9月1日"],
                "gold_titles": ["垃圾分类"],
                "category": "date",
                "question_date": "2024-02-02",
                "extra": "ignored",
            },
            {
                "id": "b",
                "question": "它一共有多少条？",
                "answers": ["五十八条", "58条"],
                "history": [["条例何时施行？", "2024年9月1日起施行。"]],
                "category": "followup",
            },
            {
                "id": "c",
                "question": "垃圾分为哪几类？",
                "answer_match": "all",
                "answer_parts": [["可回收物"], ["有害垃圾"], ["厨余垃圾"], ["其他垃圾"]],
            },
            {"id": "d", "question": "常州地铁3号线何时开通？", "answerable": False},
        ],
    )
    a, b, c, d = load_questions(path)
    assert a == Question(
        id="a",
        question="条例何时施行？",
        answers=("2024年9月1日",),
        gold_titles=("垃圾分类",),
        category="date",
        question_date="2024-02-02",
    )
    assert b.history == (("条例何时施行？", "2024年9月1日起施行。"),)
    assert c.answer_match == "all" and len(c.answer_parts) == 4
    assert c.answers == ("可回收物", "有害垃圾", "厨余垃圾", "其他垃圾")
    assert d.answerable is False and not d.has_answers and not d.has_gold


def test_all_without_parts_makes_each_answer_a_part(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "q.jsonl", [{"id": "x", "question": "哪些？", "answers": ["甲", "乙"], "answer_match": "all"}]
    )
    assert load_questions(path)[0].answer_parts == (("甲",), ("乙",))


def test_rgb_rejection_line_is_unanswerable(tmp_path: Path) -> None:
    line = {
        "id": "rgbzh_rej000",
        "question": "印控克什米尔地区寺庙踩踏事故死亡人数",
        "expected": "insufficient_information",
        "reference_response": "文档信息不足，因此我无法基于提供的文档回答该问题。",
        "context_passage_ids": ["rgbzh_p00006", "rgbzh_p00007"],
        "withheld_answer_parts": [["12人"]],
    }
    q = load_questions(write_jsonl(tmp_path / "rej.jsonl", [line]))[0]
    assert q.answerable is False
    assert q.context_passage_ids == ("rgbzh_p00006", "rgbzh_p00007")
    assert q.answers == ()  # the withheld answer must not become an acceptable one


def test_csv_with_json_and_pipe_lists(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        "id,question,answers,answer_match,answer_parts,gold_titles,history,answerable,category\n"
        "n1,规上工业总产值多少？,2000亿元|两千亿元,,,乔俊杰专题调研,,,number\n"
        'l1,四类垃圾是什么？,,all,"[[""可回收物""],[""有害垃圾""]]",垃圾分类,,true,list\n'
        'f1,它有多少条？,五十八条,,,垃圾分类,"[[""条例何时施行？"",""9月1日""]]",,followup\n'
        "u1,地铁何时开通？,,,,,,false,unanswerable\n",
        encoding="utf-8",
    )
    n1, l1, f1, u1 = load_questions(path)
    assert n1.answers == ("2000亿元", "两千亿元") and n1.gold_titles == ("乔俊杰专题调研",) and n1.category == "number"
    assert l1.answer_parts == (("可回收物",), ("有害垃圾",)) and l1.answer_match == "all"
    assert f1.history == (("条例何时施行？", "9月1日"),)
    assert u1.answerable is False


def test_csv_and_jsonl_give_equal_questions(tmp_path: Path) -> None:
    row = {
        "id": "q1",
        "question": "公园面积多大？",
        "answers": ["7200平方米"],
        "gold_titles": ["口袋公园"],
        "category": "number",
    }
    from_jsonl = load_questions(write_jsonl(tmp_path / "q.jsonl", [row]))
    csv_path = tmp_path / "q.csv"
    csv_path.write_text(
        "id,question,answers,gold_titles,category\nq1,公园面积多大？,7200平方米,口袋公园,number\n", encoding="utf-8"
    )
    assert load_questions(csv_path) == from_jsonl


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"id": "x", "answers": ["a"]}', "missing or empty 'question'"),
        ('{"id": "x", "question": "q", "answers": ["a"], "answer_match": "some"}', "answer_match"),
        ('{"id": "x", "question": "q"}', "needs 'answers'"),
        ('{"id": "x", "question": "q", "answers": "a", "question_date": "2024-13-01"}', "question_date"),
        ('{"id": "x", "question": "q", "answers": ["a"], "history": [["only one"]]}', "history"),
        ('{"id": "x", "question": "q", "answers": [{"a": 1}]}', "'answers' must hold strings"),
        ('{"id": "x", "question": "q", "answers": ["a"], "answerable": "maybe"}', "answerable"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    good = '{"id": "ok", "question": "好的问题", "answers": ["是"]}'
    path = write_jsonl(tmp_path / "bad.jsonl", [good, "", line])
    with pytest.raises(QuestionError, match=message) as info:
        load_questions(path)
    assert f"{path}:3:" in str(info.value)


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    row = {"id": "same", "question": "问题", "answers": ["答"]}
    with pytest.raises(QuestionError, match=r":2: duplicate question id 'same' \(first on line 1\)"):
        load_questions(write_jsonl(tmp_path / "q.jsonl", [row, row]))


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(QuestionError, match="cannot read"):
        load_questions(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(QuestionError, match="no questions"):
        load_questions(tmp_path / "empty.jsonl")


def test_csv_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,question,answers\nq1,好,是\nq2,坏,"[broken"\n', encoding="utf-8")
    with pytest.raises(QuestionError, match=rf"{path}:3: column 'answers' is not valid JSON"):
        load_questions(path)


@pytest.mark.parametrize(
    "name",
    [
        "rgb_zh/questions.jsonl",
        "rgb_zh/rejection_questions.jsonl",
        "rgb_zh_int/questions.jsonl",
        "crud/questions.jsonl",
    ],
)
def test_shared_evaldata_files_load_as_they_are(name: str) -> None:
    path = EVALDATA / name
    if not path.is_file():
        pytest.skip(missing_reason(name))
    questions = load_questions(path)
    assert len(questions) >= 100
    if "rejection" in name:
        assert all(not q.answerable and q.context_passage_ids for q in questions)
    else:
        assert all(q.answerable and q.has_answers and q.gold_passage_ids for q in questions)
    if name.startswith("rgb_zh_int"):
        assert all(q.answer_match == "all" and q.answer_parts for q in questions)


def test_project_sample_questions_are_well_formed() -> None:
    questions = load_questions(SAMPLE_QUESTIONS)
    assert 25 <= len(questions) <= 40
    unanswerable = [q for q in questions if not q.answerable]
    assert len(unanswerable) >= 6
    answerable = [q for q in questions if q.answerable]
    assert all(q.gold_titles and q.has_answers for q in answerable)
    categories = {q.category for q in questions}
    assert {"fact", "number", "name", "list", "date", "followup", "unanswerable"} <= categories
    assert any(q.history for q in questions)
