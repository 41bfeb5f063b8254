"""The facts of a sentence and what a passage vouches for: numbers, dates and names read alike in both."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.facts import (
    adds_nothing,
    evidence_facts,
    facts_of,
    home_area,
    members_are_siblings,
    missing_facts,
    named_entities,
    unstated_answer,
)


@pytest.mark.parametrize(
    ("sentence", "passage", "published", "ok"),
    [
        # a time of day before the date, separated by a space only (as in web copy)
        ("硅谷银行于2023年3月10日倒闭。", "发表时间： 20/03/2023 - 14:37 3月10日，硅谷银行倒闭。", "", True),
        ("硅谷银行于2023年3月7日倒闭。", "发表时间： 20/03/2023 - 14:37 3月10日，硅谷银行倒闭。", "", False),
        ("条例将于2024年9月1日起施行。", "条例将于2024-09-01起施行。", "", True),
        ("条例将于2024年9月1日起施行。", "条例将于9月1日起施行。", "2024-02-02", True),
        ("条例将于2024年9月2日起施行。", "条例将于9月1日起施行。", "2024-02-02", False),
        ("发布会于2024年2月1日召开。", "昨天上午召开发布会。", "2024-02-02", True),
        ("产值近1300亿元。", "产值近1,300亿元。", "", True),
        ("产值近1300亿元。", "产值近一千三百亿元。", "", True),
        ("占比达68%。", "占比达到百分之六十八。", "", True),
        ("共58条。", "共五十八条。", "", True),
        ("共57条。", "共五十八条。", "", False),
    ],
)
def test_fact_normalisation(sentence: str, passage: str, published: str, ok: bool) -> None:
    assert (not missing_facts(facts_of(sentence), evidence_facts(passage, published))) is ok


def test_publication_date_vouches_for_the_report_date_only() -> None:
    evidence = evidence_facts("昨天上午，市人大常委会召开新闻发布会。", "2024-02-02")
    # the event was the day before publication: the paper's own date does not back "the meeting was on 2月2日"
    assert missing_facts(facts_of("会议于2024年2月2日召开[1]。"), evidence)
    assert not missing_facts(facts_of("会议于2024年2月1日召开[1]。"), evidence)
    # but a sentence that dates the report itself may cite the publication date
    assert not missing_facts(facts_of("据2024年2月2日的报道，会议已经召开[1]。"), evidence)


@pytest.mark.parametrize("day", ["上周四", "上周五", "下周一", "本周日", "星期二", "周末"])
def test_a_day_of_the_week_is_no_name(day: str) -> None:
    # jieba tags "上周四" as a person's name; a passage could never "mention" it, so a reply echoing it never verified
    facts = facts_of(f"{day}，乔俊杰专题调研了武高新安全生产工作。")
    assert day not in facts.names
    assert "乔俊杰" in facts.names


@pytest.mark.parametrize(
    ("source", "area"), [("武进日报", "武进"), ("常州晚报", "常州"), ("新华社", ""), ("CRUD-RAG", ""), ("", "")]
)
def test_the_area_a_paper_is_named_after(source: str, area: str) -> None:
    assert home_area(source) == area


def test_we_in_a_local_paper_vouches_for_its_area_by_name() -> None:
    passage = "2024年是我区实施燃放管控政策的第六年。"
    facts = facts_of("武进区实施燃放管控政策已是第六年。")
    assert not missing_facts(facts, evidence_facts(passage, "2024-02-02", "武进日报"))
    assert missing_facts(facts, evidence_facts(passage, "2024-02-02", "常州日报")) == ["武进区"]
    assert missing_facts(facts, evidence_facts(passage, "2024-02-02")) == ["武进区"]


def test_a_later_paragraph_vouches_for_the_day_its_articles_lead_gives() -> None:
    # "会上，…" under a lead "昨天上午，我区召开…会议" is that meeting, on 2月1日; a day ahead (春节) is no event day
    passage = "春节（即2024年2月10日）临近。会上，区燃放办解读了实施方案。"
    facts = facts_of("2024年2月1日，区燃放办解读了实施方案。")
    assert not missing_facts(facts, evidence_facts(passage, "2024-02-02", lead_day=date(2024, 2, 1)))
    assert missing_facts(facts, evidence_facts(passage, "2024-02-02"))  # without the lead: no day for it
    assert missing_facts(facts, evidence_facts(passage, "2024-02-02", lead_day=date(2024, 1, 31)))
    # a paragraph that dates its own past event keeps its own day
    dated = "1月30日，区燃放办解读了实施方案。"
    assert missing_facts(facts, evidence_facts(dated, "2024-02-02", lead_day=date(2024, 2, 1)))
    # ...and under a lead the paper's day is not the meeting's: "会议于2024年2月2日召开" is the model dating it by
    # the paper; the report itself is of that day
    by_paper = facts_of("2024年2月2日，区燃放办解读了实施方案。")
    assert missing_facts(by_paper, evidence_facts(passage, "2024-02-02", lead_day=date(2024, 2, 1)))
    assert not missing_facts(by_paper, evidence_facts(passage, "2024-02-02"))  # no lead: news of the paper's day
    reported = facts_of("据2024年2月2日的报道，区燃放办解读了实施方案。")
    assert not missing_facts(reported, evidence_facts(passage, "2024-02-02", lead_day=date(2024, 2, 1)))


def test_the_day_a_note_spells_out_is_checked_once() -> None:
    # the reply repeats the question's "上个月1日" with its note: the 1 is the note's day, not a number of its own
    facts = facts_of("上个月1日（即2024年2月1日），区燃放办解读了实施方案。")
    assert facts.dates == ((2024, 2, 1),) and not facts.numbers
    assert facts_of("8月16日（即周三）开幕。").dates == ((None, 8, 16),)  # only a dated note replaces the day


def test_a_verb_jieba_calls_a_place_is_no_name() -> None:
    # jieba knows "新建" as a district of 南昌 only; with 了 after it, it is what was done. 到南京了: a place still
    assert "新建" not in named_entities("凤栖路那边新建了个公园吗？")
    assert "南京" in named_entities("他们到南京了吗？")
    assert "新建" in named_entities("新建区在哪里？")


@pytest.mark.parametrize(
    ("question", "reply", "unstated"),
    [
        ("警物联盟有多少物业公司参加？", "据2024年2月2日的报道，警物联盟有物业公司参加[1]。", "数字"),
        ("警物联盟有多少物业公司参加？", "有120家物业公司参加[1]。", ""),
        ("管控政策实施几年了？", "今年是实施管控政策的第六年[1]。", ""),
        ("条例共有几章？", "条例共九章[1]。", ""),
        ("一般公共预算收入是多少？", "一般公共预算收入统一纳入管理[1]。", "数字"),  # 一 of 统一 is no count
        ("公园面积多大？", "公园面积约7200平方米[1]。", ""),
        ("条例几号施行？", "条例9月1日起施行[1]。", ""),
        ("会议什么时候召开？", "会议昨天上午召开[1]。", ""),
        ("会议什么时候召开？", "会议由区政府召开[1]。", "日期"),
        ("垃圾分为哪几类？", "分为可回收物、有害垃圾、厨余垃圾和其他垃圾[1]。", ""),  # asks which, not how many
        ("谁主持了会议？", "盛世麟主持了会议[1]。", ""),
    ],
)
def test_a_reply_states_the_day_or_count_asked_for(question: str, reply: str, unstated: str) -> None:
    assert unstated_answer(question, reply) == unstated


def test_a_change_asked_for_must_be_a_change_the_sources_state() -> None:
    # the level "首次踏上2000亿元台阶" is no answer to "增长了多少", however the reply words it
    question = "武高新的规上工业总产值比去年增长了多少？"
    level = ["2023年，规上工业总产值首次踏上2000亿元台阶。"]
    assert unstated_answer(question, "规上工业总产值比去年增长了2000亿元[1]。", level) == "增减幅度"
    growth = ["2023年，规上工业总产值同比增长12.5%。"]
    assert unstated_answer(question, "规上工业总产值同比增长12.5%[1]。", growth) == ""
    assert unstated_answer("规上工业总产值是多少？", "首次踏上2000亿元台阶[1]。", level) == ""  # a level asked


def test_a_reply_that_only_echoes_the_question_adds_nothing() -> None:
    assert adds_nothing("消失的她原型事件是什么", "消失的她原型事件是[1]。")
    assert adds_nothing("警物联盟有多少物业公司参加？", "据2024年2月2日的报道，警物联盟有物业公司参加[1]。")
    assert not adds_nothing("卡塔尔世界杯德国队在哪个组", "卡塔尔世界杯德国队在E组[1]。")  # one new character answers
    assert not adds_nothing("动员谁参与？", "警力、物业、网格[1]")
    assert not adds_nothing("什么？", "")  # an empty reply is refused as empty, not here


def test_a_yes_that_restates_a_yes_or_no_question_answers_it() -> None:
    """Seen with the local model: "垃圾分类条例是9月1日施行的吗？" — "是的，垃圾分类条例是9月1日施行的。[1]" was
    withheld as no answer, every character of it being the question's."""
    assert not adds_nothing("垃圾分类条例是9月1日施行的吗？", "是的，垃圾分类条例是9月1日施行的[1]。")
    assert not adds_nothing("条例是否9月1日施行？", "是，条例9月1日施行[1]。")
    assert adds_nothing("垃圾分类条例是9月1日施行的吗？", "垃圾分类条例是9月1日施行的[1]。")  # no yes said
    assert adds_nothing("垃圾分类条例是什么时候施行的？", "是的，垃圾分类条例是施行的[1]。")  # asks no yes or no


def test_members_given_are_siblings_only_where_a_passage_lists_them_beside_the_thing() -> None:
    passages = ["条例明确将生活垃圾分为四类，即可回收物、有害垃圾、厨余垃圾和其他垃圾。", "布置休憩廊架、健身器材等。"]
    assert members_are_siblings("有害垃圾包括厨余垃圾和其他垃圾[1]。", passages)
    assert members_are_siblings("图书馆包括阅览室、图书馆[1]。", [])  # its own term among its members
    assert not members_are_siblings("垃圾分为四类，即可回收物、有害垃圾、厨余垃圾和其他垃圾[1]。", passages)
    assert not members_are_siblings("口袋公园有休憩廊架、健身器材等设施[1]。", passages)
    assert not members_are_siblings("可回收物包括厨余垃圾[1]。", passages)  # one item is no list to tell by
