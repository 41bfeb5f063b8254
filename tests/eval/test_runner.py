"""The runner with scripted fakes: per-question records and summary numbers computed by hand."""

from __future__ import annotations

import math

import pytest

from assistant.events import Final, Progress, Quote, Token
from core.types import Answer, Quotation
from eval.questions import Question
from eval.runner import run, run_question
from eval.summary import public_summary, summarize
from tests.support.assistants import ScriptedAssistant, citation
from tests.support.clock import ManualClock
from tests.support.searchers import FakeSearcher, make_hit

TIAO = make_hit("a-tiao", "《常州市生活垃圾分类管理条例》9月1日起施行", "该条例将于2024年9月1日起施行。")
YANHUA = make_hit("a-yanhua", "烟花爆竹燃放管控工作动员部署", "2024年是我区实施燃放管控政策的第六年。")
PARK = make_hit("a-park", "果蔬艺术空间口袋公园位于武南路凤栖路西北角", "公园面积约7200平方米。")
QIAO = make_hit("a-qiao", "乔俊杰专题调研武高新安全生产工作及经济社会发展情况", "本报讯 (记者 朱梦琪) 昨天上午。")

Q1 = Question(id="q1", question="条例何时施行？", answers=("9月1日",), gold_titles=("垃圾分类",), category="date")
Q2 = Question(id="q2", question="公园多大？", answers=("7200",), gold_titles=("口袋公园",), category="number")
Q3 = Question(id="q3", question="地铁何时开通？", answerable=False, category="unanswerable")
Q4 = Question(id="q4", question="谁是记者？", answers=("朱梦琪",), gold_titles=("乔俊杰",), category="name")


def scripted(clock: ManualClock) -> tuple[FakeSearcher, ScriptedAssistant]:
    searcher = FakeSearcher(
        scripted={"条例何时施行？": [TIAO, YANHUA], "公园多大？": [YANHUA, PARK], "谁是记者？": [QIAO]},
        clock=clock,
        seconds=0.02,
    )
    assistant = ScriptedAssistant(
        {
            "条例何时施行？": Answer(
                question="条例何时施行？",
                text="条例2024年9月1日起施行[1]。",
                hits=(TIAO,),
                citations=(citation(1, TIAO, verified=True, sentence="条例2024年9月1日起施行"),),
            ),
            "公园多大？": Answer(
                question="公园多大？",
                text="约5000平方米[1]。",
                hits=(YANHUA,),
                citations=(citation(1, YANHUA, verified=False, sentence="约5000平方米"),),
            ),
            "地铁何时开通？": Answer(
                question="地铁何时开通？", text="文档信息不足，因此我无法基于提供的文档回答该问题。", refused=True
            ),
            "谁是记者？": RuntimeError("model crashed"),
        },
        clock=clock,
        first_s=0.1,
        total_s=0.5,
    )
    return searcher, assistant


def test_full_run_summary_by_hand() -> None:
    clock = ManualClock()
    searcher, assistant = scripted(clock)
    records, wall_s = run([Q1, Q2, Q3, Q4], searcher=searcher, assistant=assistant, clock=clock)
    assert wall_s == pytest.approx(0.52 + 0.52 + 0.5 + 0.02)
    by_id = {r["id"]: r for r in records}
    assert by_id["q1"]["correct"] is True and by_id["q2"]["correct"] is False
    assert by_id["q3"]["correct"] is True and by_id["q3"]["refused"] is True and by_id["q3"]["hits"] == []
    assert by_id["q4"]["error"] == "RuntimeError: model crashed" and by_id["q4"]["correct"] is False
    assert by_id["q4"]["relevant"] == [True]  # retrieval is scored although the answer failed
    assert by_id["q1"]["timing"] == {
        "total_ms": pytest.approx(500),
        "ttft_ms": pytest.approx(100),
        "quote_ms": None,  # this assistant quotes nothing: the first content is the checked answer
        "first_content_ms": pytest.approx(500),
        "retrieval_ms": pytest.approx(20),
    }
    assert searcher.queries == ["条例何时施行？", "公园多大？", "谁是记者？"]  # no search without gold

    s = summarize(records, wall_s)
    assert s["n"] == 4 and s["errors"] == 1
    assert s["retrieval"] == {
        "recall@1": pytest.approx(2 / 3),
        "recall@5": 1.0,
        "recall@10": 1.0,
        "mrr@10": pytest.approx((1 + 0.5 + 1) / 3),
        "ndcg@10": pytest.approx((1 + 1 / math.log2(3) + 1) / 3),
        # q1 was answered from its gold article, q2 from YANHUA although the scored search found PARK second
        "context_recall": 0.5,
    }
    assert by_id["q2"]["context"][0]["article_id"] == "a-yanhua" and by_id["q2"]["context_relevant"] is False
    assert by_id["q4"]["context_relevant"] is None  # no answer, so no context
    assert s["answer"]["accuracy"] == pytest.approx(1 / 3)  # q1 right, q2 wrong, q4 failed
    # q1: 15 counted chars hold the 4 of "9月1日" -> 8/19; q2: "约5000平方米1" vs "7200" share "00" -> 4/13
    assert s["answer"]["f1"] == pytest.approx((8 / 19 + 4 / 13 + 0) / 3)
    assert s["refusal"] == {"refusal_rate": 1.0, "false_refusal_rate": 0.0}
    assert s["citation"] == {"answers_with_citation": 1.0, "precision": 0.5, "verified_sentences": 0.5}
    assert s["latency"] == {
        "p50_ms": pytest.approx(500),
        "p95_ms": pytest.approx(500),
        "ttft_p50_ms": pytest.approx(100),
        "questions_per_min": pytest.approx(4 / 1.56 * 60),
    }
    assert set(s["by_category"]) == {"date", "number", "unanswerable", "name"}
    assert s["by_category"]["number"]["answer"]["accuracy"] == 0.0
    assert s["by_category"]["unanswerable"]["retrieval"]["recall@1"] is None
    assert s["recall_curve"][:2] == [pytest.approx(2 / 3), 1.0]
    assert list(public_summary(s)) == ["n", "retrieval", "answer", "refusal", "citation", "latency"]


def test_retrieval_only_run() -> None:
    clock = ManualClock()
    searcher, _ = scripted(clock)
    searcher.scripted["地铁何时开通？"] = [YANHUA]
    records, wall_s = run([Q1, Q2, Q3], searcher=searcher, retrieval_only=True, clock=clock)
    assert wall_s == pytest.approx(0.06)
    assert all(r["correct"] is None and r["f1"] is None for r in records)
    s = summarize(records, wall_s)
    assert s["retrieval"]["recall@1"] == 0.5 and s["retrieval"]["mrr@10"] == 0.75
    assert s["answer"] == {"accuracy": None, "f1": None}
    assert s["refusal"] == {"refusal_rate": None, "false_refusal_rate": None}
    assert s["citation"] == {"answers_with_citation": None, "precision": None, "verified_sentences": None}
    assert s["latency"]["p50_ms"] == pytest.approx(20) and s["latency"]["ttft_p50_ms"] is None
    assert s["latency"]["questions_per_min"] == pytest.approx(3 / 0.06 * 60)


def test_search_failure_is_recorded_not_raised() -> None:
    searcher = FakeSearcher(scripted={})  # every query raises KeyError
    record = run_question(Q1, searcher=searcher, retrieval_only=True)
    assert record["error"].startswith("KeyError") and record["relevant"] == []
    s = summarize([record], 1.0)
    assert s["errors"] == 1 and s["retrieval"]["recall@10"] == 0.0


def test_followup_searches_with_the_rewritten_query() -> None:
    q = Question(
        id="f",
        question="它一共有多少条？",
        answers=("五十八条",),
        gold_titles=("垃圾分类",),
        history=(("《常州市生活垃圾分类管理条例》什么时候施行？", "2024年9月1日。"),),
        question_date="2024-02-02",
    )
    rewritten = "《常州市生活垃圾分类管理条例》一共有多少条？"
    searcher = FakeSearcher(scripted={rewritten: [TIAO]})
    assistant = ScriptedAssistant(
        {q.question: Answer(question=q.question, text="共五十八条。", rewritten_query=rewritten)}
    )
    record = run_question(q, searcher=searcher, assistant=assistant)
    assert searcher.queries == [rewritten]
    assert assistant.calls[0]["history"] == [q.history[0]] and assistant.calls[0]["question_date"] == "2024-02-02"
    assert record["correct"] is True and record["relevant"] == [True]


def test_followup_without_assistant_uses_the_rule_rewrite() -> None:
    q = Question(
        id="f",
        question="它一共有多少条？",
        answers=("五十八条",),
        gold_titles=("垃圾分类",),
        history=(("《常州市生活垃圾分类管理条例》什么时候施行？", "2024年9月1日。"),),
    )
    searcher = FakeSearcher(scripted={})
    run_question(q, searcher=searcher, retrieval_only=True)
    assert len(searcher.queries) == 1 and "垃圾分类管理条例" in searcher.queries[0]


def test_closed_context_gives_exactly_those_passages() -> None:
    q = Question(
        id="r", question="印控克什米尔地区寺庙踩踏事故死亡人数", answerable=False, context_passage_ids=("p6", "p7")
    )
    searcher = FakeSearcher(scripted={})
    assistant = ScriptedAssistant({q.question: Answer(question=q.question, text="死亡12人。")})
    loaded = []

    def load(ids):
        loaded.append(list(ids))
        return [YANHUA, PARK]

    record = run_question(q, searcher=searcher, assistant=assistant, load_context=load)
    assert loaded == [["p6", "p7"]] and assistant.calls[0]["context"] == [YANHUA, PARK]
    assert searcher.queries == []  # no retrieval in the closed-context protocol
    assert record["refused"] is False and record["correct"] is False  # it should have refused
    assert [h["article_id"] for h in record["hits"]] == ["a-yanhua", "a-park"]


def test_refusal_in_words_counts_as_refusal() -> None:
    assistant = ScriptedAssistant({Q3.question: Answer(question=Q3.question, text="抱歉，文档信息不足。")})
    record = run_question(Q3, searcher=FakeSearcher(scripted={}), assistant=assistant)
    assert record["refused"] is True and record["correct"] is True


def test_refusal_that_repeats_the_answer_is_still_wrong() -> None:
    q = Question(id="n", question="李皓和孙益锋参加了吗？", answers=("李皓",))
    reply = Answer(question=q.question, text="资料中没有找到关于李皓和孙益锋参加了吗的相关信息。", refused=True)
    record = run_question(q, searcher=FakeSearcher(scripted={}), assistant=ScriptedAssistant({q.question: reply}))
    assert record["correct"] is False and record["f1"] == 0.0


def test_a_refusal_records_which_check_refused_and_the_judgement() -> None:
    reply = Answer(
        question=Q3.question,
        text="资料中没有找到关于地铁何时开通的相关信息。",
        refused=True,
        refusal_reason="judge",
        answerable_p=0.42,
    )
    record = run_question(Q3, searcher=FakeSearcher(scripted={}), assistant=ScriptedAssistant({Q3.question: reply}))
    assert record["refusal_reason"] == "judge" and record["answerable_p"] == 0.42
    answered = Answer(question=Q3.question, text="地铁2025年开通[1]。")
    record = run_question(Q3, searcher=FakeSearcher(scripted={}), assistant=ScriptedAssistant({Q3.question: answered}))
    assert record["refusal_reason"] == "" and record["answerable_p"] is None


def test_a_refusal_after_generation_keeps_the_withheld_reply() -> None:
    refusal = Answer(
        question=Q3.question,
        text="资料中没有找到关于地铁何时开通的相关信息。",
        refused=True,
        refusal_reason="unverified",
    )
    assistant = ScriptedAssistant({Q3.question: refusal}, streamed={Q3.question: ["地铁", "2031年开通[1]。"]})
    record = run_question(Q3, searcher=FakeSearcher(scripted={}), assistant=assistant)
    assert record["refused"] is True and record["refusal_reason"] == "unverified"
    assert record["reply"] == "地铁2031年开通[1]。" and record["answer"] == refusal.text


def test_the_quotation_is_timed_as_the_first_content() -> None:
    clock = ManualClock()
    answer = Answer(
        question=Q1.question, text="条例于9月1日起施行[1]。", quotation=Quotation("该条例将于9月1日起施行[1]。")
    )

    class Quoting:
        def stream(self, question, history=(), **options):
            yield Progress("searching")
            clock.advance(0.3)
            yield Quote(answer.quotation)
            clock.advance(2.0)
            yield Token("条例")
            clock.advance(1.0)
            yield Final(answer)

    record = run_question(Q1, searcher=FakeSearcher(scripted={}), assistant=Quoting(), clock=clock)
    timing = record["timing"]
    assert timing["quote_ms"] == pytest.approx(300) and timing["first_content_ms"] == pytest.approx(300)
    assert timing["ttft_ms"] == pytest.approx(2300) and timing["total_ms"] == pytest.approx(3300)
    assert record["quotation"] == "该条例将于9月1日起施行[1]。"


def test_record_keeps_hits_in_the_shape_results_files_have() -> None:
    """results.jsonl written by earlier runs are re-scored and compared: the hit keys must stay as they are."""
    searcher, assistant = scripted(ManualClock())
    record = run_question(Q1, searcher=searcher, assistant=assistant)
    hit = record["hits"][0]
    assert set(hit) == {"id", "article_id", "title", "date", "source", "score", "text", "relevant"}
    assert (hit["id"], hit["source"], hit["text"]) == (TIAO.chunk.id, "武进日报", TIAO.chunk.text)
    assert set(record["context"][0]) == {"id", "article_id", "title", "date", "source", "score"}
