"""bench/time_dev_set.py: the wording of moved question dates, the reading of event clauses, the answers, the set."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bench.time_dev_set import (
    DEFAULT_CRUD,
    KINDS,
    answer_alternatives,
    build,
    chinese_number,
    day_phrase,
    days_answers,
    month_phrase,
    period_phrase,
    read_clause,
    similarity,
)
from corpus.timeexpr import parse_question_time
from tests.support.evaldata import missing_reason

D = date


@pytest.mark.parametrize(
    ("n", "written"), [(1, "一"), (2, "两"), (10, "十"), (12, "十二"), (20, "二十"), (35, "三十五")]
)
def test_chinese_number(n, written):
    assert chinese_number(n) == written


def test_days_answers_in_digits_and_words():
    assert days_answers(15) == ["15天", "十五天"]


# event month, its last day, question date, variant, wording
MONTHS = [
    (2023, 8, 31, D(2023, 8, 31), 0, "这个月"),
    (2023, 8, 31, D(2023, 9, 10), 0, "上个月"),
    (2023, 12, 31, D(2024, 1, 3), 0, "上个月"),  # across the year end
    (2023, 8, 31, D(2023, 10, 15), 1, "两个月前"),
    (2023, 8, 31, D(2023, 10, 15), 0, "今年8月"),
    (2023, 8, 31, D(2023, 12, 20), 2, "今年八月"),
    (2024, 2, 29, D(2025, 3, 1), 0, "去年2月"),
    (2023, 8, 31, D(2025, 3, 8), 1, "前年8月"),
    (2023, 8, 31, D(2025, 3, 8), 0, "两年前8月"),
    (2023, 8, 31, D(2026, 2, 12), 0, "三年前8月"),
    (2023, 7, 31, D(2026, 2, 12), 1, "三年前的7月"),
]


@pytest.mark.parametrize(("year", "month", "last_day", "asked", "variant", "wording"), MONTHS)
def test_month_phrase_names_the_month_as_the_product_reads_it(year, month, last_day, asked, variant, wording):
    assert month_phrase(year, month, asked, variant) == wording
    scope = parse_question_time(f"{wording}，武进区召开了什么会议？", asked)
    assert scope is not None and (scope.first, scope.last) == (D(year, month, 1), D(year, month, last_day))


def test_month_phrase_has_no_wording_for_a_month_to_come():
    assert month_phrase(2023, 9, D(2023, 8, 31)) is None


# event day, question date, wording; 2024-02-01 is a Thursday, 2024-02-04 the Sunday of its week
DAYS = [
    (D(2024, 2, 1), D(2024, 2, 2), "昨天"),
    (D(2024, 2, 1), D(2024, 2, 3), "前天"),
    (D(2024, 2, 1), D(2024, 2, 4), "本周四"),
    (D(2024, 2, 1), D(2024, 2, 8), "上周四"),
    (D(2024, 2, 1), D(2024, 2, 11), "上周四"),
    (D(2023, 12, 29), D(2024, 1, 3), "上周五"),
    (D(2024, 1, 26), D(2024, 2, 5), "十天前"),
    (D(2024, 2, 1), D(2024, 3, 12), "上个月1日"),
    (D(2024, 2, 1), D(2025, 2, 1), "去年2月1日"),
    (D(2024, 2, 1), D(2027, 2, 5), "三年前的2月1日"),
]


@pytest.mark.parametrize(("day", "asked", "wording"), DAYS)
def test_day_phrase_names_the_day_as_the_product_reads_it(day, asked, wording):
    assert day_phrase(day, asked) == wording
    scope = parse_question_time(f"{wording}，武进区召开了什么会议？", asked)
    assert scope is not None and scope.first == scope.last == day


@pytest.mark.parametrize(
    ("day", "asked"),
    [
        (D(2024, 2, 2), D(2024, 2, 2)),  # not before the question
        (D(2024, 2, 1), D(2024, 2, 12)),  # eleven days back in the same month: no plain wording
    ],
)
def test_day_phrase_gives_none_without_a_plain_wording(day, asked):
    assert day_phrase(day, asked) is None


@pytest.mark.parametrize(
    ("first", "last", "asked", "wording"),
    [
        (D(2023, 8, 16), D(2023, 8, 22), D(2023, 8, 17), "本周"),  # asked during it
        (D(2023, 8, 14), D(2023, 8, 20), D(2023, 8, 24), "上周"),
        (D(2023, 8, 16), D(2023, 8, 22), D(2023, 8, 25), "这个月"),  # across two weeks
        (D(2023, 7, 27), D(2023, 7, 28), D(2023, 8, 10), "上个月"),
        (D(2023, 8, 18), D(2023, 8, 18), D(2023, 8, 19), "昨天"),
        (D(2023, 7, 29), D(2023, 8, 6), D(2023, 8, 30), None),  # two months, not last week
        (D(2023, 9, 1), D(2023, 9, 3), D(2023, 8, 30), None),  # still to come
    ],
)
def test_period_phrase(first, last, asked, wording):
    assert period_phrase(first, last, asked) == wording


@pytest.mark.parametrize(
    ("text", "question", "answer"),
    [
        (
            "第八届全国学生军事训练营在战略支援部队航天工程大学开营",
            "第八届全国学生军事训练营在哪里开营？",
            "战略支援部队航天工程大学",
        ),
        ("2023上海书展在上海展览中心正式开幕", "2023上海书展在哪里开幕？", "上海展览中心"),
        ("公安部发布公安机关服务保障高质量发展若干措施", "谁发布了公安机关服务保障高质量发展若干措施？", "公安部"),
        ("2023上海书展正式开幕", "", "2023上海书展"),  # happened, but asks nothing
    ],
)
def test_read_clause_finds_what_happened_and_the_question_it_answers(text, question, answer):
    clause = read_clause(text)
    assert clause is not None and (clause.question, clause.answer) == (question, answer)


@pytest.mark.parametrize(
    "text",
    [
        "衡阳县公安局对此事发布警情通报",  # 对此事: the subject points elsewhere
        "李女士发布视频实名举报称",  # a bare person, and a report
        "美日韩三国领导人将在戴维营召开峰会",  # still to come
        "门诊从早上8点看到11:30",  # no event shape
        "迪哲医药发布向特定对象发行股票募集说明书(申报稿",  # cut inside a bracket
        "国家统计局发布数据显示增长5%",  # a figure, not an event
    ],
)
def test_read_clause_rejects_what_makes_no_question(text):
    assert read_clause(text) is None


def test_answer_alternatives_shorten_but_never_repeat_the_question():
    assert answer_alternatives("国家药监局网站", "谁发布了通告？") == ["国家药监局网站", "国家药监局"]
    place = answer_alternatives("北京经济技术开发区亦创国际会展中心", "2023世界机器人大会在哪里举行？", place=True)
    assert place == ["北京经济技术开发区亦创国际会展中心", "亦创国际会展中心"]
    assert answer_alternatives("福建厦门", "第十四届海峡两岸(厦门)文博会在哪里举行？", place=True) == ["福建厦门"]
    assert answer_alternatives("厦门", "厦门文博会在哪里举行？") == []


def test_similarity_tells_one_story_told_twice_from_two_stories():
    same = similarity("成都第31届世界大学生夏季运动会开幕", "万众期盼的第三十一届世界大学生夏季运动会开幕")
    assert same >= 0.35
    assert similarity("公安部发布若干措施", "2023上海书展开幕") < 0.35


@pytest.mark.skipif(
    not (DEFAULT_CRUD / "corpus.jsonl").is_file(),
    reason=missing_reason("crud/corpus.jsonl"),
)
def test_built_set_is_deterministic_dated_and_answerable():
    corpus, questions = build(DEFAULT_CRUD, 0, 10)
    assert (corpus, questions) == build(DEFAULT_CRUD, 0, 10)
    texts = {d["id"]: d["text"] for d in corpus}
    assert len({q["id"] for q in questions}) == len(questions)
    for q in questions:
        assert q["category"] in KINDS and date.fromisoformat(q["question_date"])
        assert all(g in texts for g in q.get("gold_passage_ids", ()))
        if q["category"] in ("relative", "absolute", "anchored") and q.get("gold_passage_ids"):
            gold = " ".join(texts[g] for g in q["gold_passage_ids"]).lower()
            assert any(a.lower() in gold for a in q["answers"]), q
    json.dumps(questions, ensure_ascii=False)  # the lines are plain JSON
