"""Refusing before generating: question facts no passage mentions, and the generator's answerability judgement."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from assistant.chat import Assistant
from assistant.events import Final, Progress, Token
from assistant.facts import unmatched_question_facts
from assistant.generation import GeneratorError
from assistant.prompts import ANSWER_TASK, CONFIRM_TASK, JUDGE_TASK
from core.config import ConfigError, Settings
from tests.support.generators import FakeGenerator, FakeJudgingGenerator
from tests.support.news import FakeStore, sample_corpus
from tests.support.searchers import FakeSearcher

LAW_Q = "《常州市生活垃圾分类管理条例》什么时候施行？"
LAW_REPLY = "《常州市生活垃圾分类管理条例》将于2024年9月1日起施行[1]。"


@pytest.fixture(scope="module")
def corpus():
    return sample_corpus()


def _assistant(corpus, generator, **answer) -> Assistant:
    # the fake searcher's bigram scores are not cosines
    settings = Settings().override({"answer": {"min_dense_score": 0.0, **answer}})
    articles, chunks = corpus
    return Assistant(settings, FakeStore(articles), FakeSearcher(articles, chunks), generator)


# --- question facts ---------------------------------------------------------------------------------------------


def test_unmatched_question_facts_finds_a_year_no_passage_mentions() -> None:
    passages = [("2023年澳网男单冠军是德约科维奇。", "2023-01-30"), ("澳网是四大满贯赛事之一。", "")]
    assert unmatched_question_facts("2022年澳网男单冠军是谁", passages) == ["2022"]
    assert unmatched_question_facts("2023年澳网男单冠军是谁", passages) == []
    assert unmatched_question_facts("澳网男单冠军是谁", passages) == []  # nothing checkable in the question


def test_publication_dates_and_relative_days_count_for_the_question() -> None:
    assert unmatched_question_facts("2024年武进区工业产值是多少？", [("全年产值增长。", "2024-02-02")]) == []
    # "昨天" in a passage published 2024-02-02 is 2024-02-01
    assert unmatched_question_facts("2月1日的会议部署了什么？", [("昨天召开会议。", "2024-02-02")]) == []
    assert unmatched_question_facts("3月5日的会议部署了什么？", [("昨天召开会议。", "2024-02-02")]) == ["3", "5"]


def test_names_are_checked_only_when_asked_for() -> None:
    passages = [("常州市召开会议。", "")]
    assert unmatched_question_facts("无锡市召开了什么会议？", passages) == []
    assert unmatched_question_facts("无锡市召开了什么会议？", passages, names=True) == ["无锡市"]


def test_a_local_paper_names_its_own_area_by_we() -> None:
    # 武进日报 writes "我区" for 武进区; another paper's "我区" is some other district
    passages = [("昨天上午，我区召开群防群治工作部署会。", "2024-02-02", "武进日报")]
    assert unmatched_question_facts("武进区召开了什么会议？", passages, names=True) == []
    assert unmatched_question_facts("新北区召开了什么会议？", passages, names=True) == ["新北区"]
    elsewhere = [("昨天上午，我区召开群防群治工作部署会。", "2024-02-02", "新华社")]
    assert unmatched_question_facts("武进区召开了什么会议？", elsewhere, names=True) == ["武进区"]


def test_a_question_number_absent_from_every_passage_refuses_without_the_generator(corpus) -> None:
    generator = FakeGenerator()  # fails loudly if called
    # (a year the corpus lacks is searched without its period and put to the model with a note instead)
    answer = _assistant(corpus, generator).ask("常州市生活垃圾分类管理条例第72条规定了什么？")
    assert answer.refused and answer.refusal_reason == "question_facts"
    assert answer.hits and not generator.calls


def test_question_facts_off_leaves_it_to_the_generator(corpus) -> None:
    generator = FakeGenerator([LAW_REPLY])
    answer = _assistant(corpus, generator, question_facts="off").ask("2019年常州市生活垃圾分类管理条例什么时候施行？")
    assert generator.calls and answer.refusal_reason != "question_facts"


def test_unknown_question_facts_mode_is_an_error(corpus) -> None:
    with pytest.raises(ValueError, match="answer.question_facts"):
        _assistant(corpus, FakeGenerator([LAW_REPLY]), question_facts="all").ask(LAW_Q)


# --- answerability judgement ------------------------------------------------------------------------------------


def test_a_low_judgement_refuses_before_any_answer_is_generated(corpus) -> None:
    generator = FakeJudgingGenerator(judgements=[0.2])
    events = list(_assistant(corpus, generator, min_answerable=0.5).stream(LAW_Q))
    assert not any(isinstance(e, Token) for e in events)  # no token reached the reader
    answer = events[-1].answer
    assert answer.quotation is not None and "2024年9月1日" in answer.quotation.text  # the evidence stays
    assert answer.refused and answer.refusal_reason == "judge" and answer.answerable_p == 0.2
    assert not generator.calls and len(generator.choose_calls) == 1


def test_a_high_judgement_answers_from_a_prompt_sharing_the_judged_prefix(corpus) -> None:
    generator = FakeJudgingGenerator([LAW_REPLY], judgements=[0.9])
    answer = _assistant(corpus, generator, min_answerable=0.5, min_confirmed=0.0).ask(LAW_Q)
    assert not answer.refused and answer.answerable_p == 0.9
    (judged,) = generator.choose_calls
    answered = generator.last_messages
    assert judged[0] == answered[0]  # the same system prompt
    assert judged[1]["content"].endswith(JUDGE_TASK) and answered[1]["content"].endswith(ANSWER_TASK)
    assert judged[1]["content"].removesuffix(JUDGE_TASK) == answered[1]["content"].removesuffix(ANSWER_TASK)


def test_the_check_is_off_at_zero_and_for_generators_that_cannot_weigh(corpus) -> None:
    judging = FakeJudgingGenerator([LAW_REPLY])  # no judgement enqueued: a call would fail
    assert not _assistant(corpus, judging, min_answerable=0.0).ask(LAW_Q).refused
    plain = FakeGenerator([LAW_REPLY])
    answer = _assistant(corpus, plain, min_answerable=0.5).ask(LAW_Q)
    assert not answer.refused and "judge" not in answer.timings


def test_a_failing_judgement_is_logged_and_the_answer_goes_on(corpus, caplog) -> None:
    generator = FakeJudgingGenerator([LAW_REPLY], judgements=[GeneratorError("judge broke")])
    with caplog.at_level(logging.WARNING, logger="assistant.chat"):
        answer = _assistant(corpus, generator, min_answerable=0.5).ask(LAW_Q)
    assert not answer.refused and "judge" not in answer.timings
    assert "judge broke" in caplog.text


# --- the best passage read first ----------------------------------------------------------------------------------


def _sources_in(messages) -> int:
    return messages[1]["content"].count("</资料>")


def test_a_sure_first_read_answers_from_the_best_passage_alone(corpus) -> None:
    generator = FakeJudgingGenerator([LAW_REPLY], judgements=[0.95])
    events = list(_assistant(corpus, generator, min_answerable=0.5, first_read=1).stream(LAW_Q))
    answer = events[-1].answer
    assert not answer.refused and answer.sources_read == 1 and answer.answerable_p == 0.95
    (judged,) = generator.choose_calls
    assert _sources_in(judged) == 1 and _sources_in(generator.last_messages) == 1
    assert answer.sources_found > 1  # more passages were selected than the model needed to read
    assert [e.sources for e in events if isinstance(e, Progress) and e.stage == "reading"] == [1]


def test_an_unsure_first_read_reads_all_passages_after_the_first(corpus) -> None:
    generator = FakeJudgingGenerator([LAW_REPLY], judgements=[0.6, 0.9])
    events = list(
        _assistant(corpus, generator, min_answerable=0.5, first_read=1, first_read_answerable=0.9).stream(LAW_Q)
    )
    answer = events[-1].answer
    first, full = generator.choose_calls
    n = _sources_in(full)
    assert n > 1 and answer.sources_read == n == answer.sources_found and answer.answerable_p == 0.9
    assert not answer.refused
    assert [e.sources for e in events if isinstance(e, Progress) and e.stage == "reading"] == [1, n]
    # the second prompt continues the first up to the end of the best passage: the model's cache holds it
    shared = first[1]["content"].index("</资料>") + len("</资料>")
    assert full[0] == first[0] and full[1]["content"][:shared] == first[1]["content"][:shared]
    assert _sources_in(generator.last_messages) == n


def test_the_full_judgement_still_refuses_after_an_unsure_first_read(corpus) -> None:
    generator = FakeJudgingGenerator(judgements=[0.4, 0.2])
    answer = _assistant(corpus, generator, min_answerable=0.5, first_read=1).ask(LAW_Q)
    assert answer.refused and answer.refusal_reason == "judge" and answer.answerable_p == 0.2
    assert not generator.calls


def test_a_reply_from_the_first_read_cannot_cite_a_passage_the_model_did_not_read(corpus) -> None:
    question = (
        "《常州市生活垃圾分类管理条例》讲了哪些内容？"  # asks for no day or count the sentence would have to give
    )
    everything = FakeJudgingGenerator(["x"], judgements=[0.9])
    _assistant(corpus, everything, min_answerable=0.5).ask(question)
    prompt = everything.last_messages[1]["content"]
    second = prompt.split("<资料 编号=2>")[1].split("</资料>")[0].strip().splitlines()[-1]
    sentence = second.removeprefix("正文：").split("。")[0] + "[2]。"  # the second passage's, cited to it
    answer = _assistant(corpus, FakeJudgingGenerator([sentence], judgements=[0.9]), min_answerable=0.5).ask(question)
    assert not answer.refused and not answer.unverified  # read with all passages, [2] is checked against [2]
    first_read = FakeJudgingGenerator([sentence], judgements=[0.9])
    answer = _assistant(corpus, first_read, min_answerable=0.5, first_read=1).ask(question)
    assert answer.refused or answer.unverified  # the model read only [1]: its [2] is not its source


# --- confirmation after the answer -------------------------------------------------------------------------------


def test_an_answer_the_generator_does_not_confirm_is_retracted(corpus) -> None:
    generator = FakeJudgingGenerator([LAW_REPLY], judgements=[0.9, 0.01])
    events = list(_assistant(corpus, generator, min_answerable=0.5, min_confirmed=0.5).stream(LAW_Q))
    assert isinstance(events[-1], Final) and any(isinstance(e, Token) for e in events)
    answer = events[-1].answer
    assert answer.refused and answer.refusal_reason == "confirmation"
    # logit(0.9) + 0.5 * logit(0.01) = 2.197 - 2.298 < 0: below one half
    assert answer.confirmed_p == pytest.approx(0.475, abs=0.001)
    answered, confirming = generator.last_messages, generator.choose_calls[1]
    assert confirming[: len(answered)] == answered
    assert confirming[len(answered) :] == [
        {"role": "assistant", "content": LAW_REPLY},
        {"role": "user", "content": CONFIRM_TASK},
    ]


def test_a_reply_without_the_day_asked_for_is_withheld_and_says_so(corpus) -> None:
    # true and cited, and no answer to "什么时候": the reader is told the day is missing, not that it is made up
    dodge = "市人大常委会召开了《常州市生活垃圾分类管理条例》新闻发布会[1]。"
    answer = _assistant(corpus, FakeJudgingGenerator([dodge], judgements=[0.9]), min_answerable=0.5).ask(LAW_Q)
    assert answer.refused and answer.refusal_reason == "unanswered" and "日期" in answer.text
    dated = _assistant(corpus, FakeJudgingGenerator([LAW_REPLY], judgements=[0.9]), min_answerable=0.5).ask(LAW_Q)
    assert not dated.refused


def test_a_reply_that_echoes_its_question_is_withheld_naming_what_was_asked(corpus) -> None:
    def ask(question: str, reply: str):
        generator = FakeJudgingGenerator([reply], judgements=[0.9])
        return _assistant(corpus, generator, min_answerable=0.5).ask(question)

    echo = ask("《常州市生活垃圾分类管理条例》发布会由谁召开？", "《常州市生活垃圾分类管理条例》发布会召开[1]。")
    assert echo.refusal_reason == "unanswered" and "问题问的答案" in echo.text
    count = ask("《常州市生活垃圾分类管理条例》一共有多少条？", "《常州市生活垃圾分类管理条例》一共有条[1]。")
    assert count.refusal_reason == "unanswered" and "问题问的数字" in count.text  # the more telling of the two


def test_a_confirmed_answer_stands_and_records_the_combined_judgement(corpus) -> None:
    generator = FakeJudgingGenerator([LAW_REPLY], judgements=[0.9, 0.9])
    answer = _assistant(corpus, generator, min_answerable=0.5, min_confirmed=0.5).ask(LAW_Q)
    assert not answer.refused and answer.citations
    assert answer.confirmed_p == pytest.approx(0.964, abs=0.001)  # sigmoid(1.5 * logit(0.9))


def test_no_confirmation_is_asked_when_it_is_off_or_the_answer_is_already_refused(corpus) -> None:
    off = FakeJudgingGenerator([LAW_REPLY], judgements=[0.9])  # a second choose call would fail
    assert not _assistant(corpus, off, min_answerable=0.5, min_confirmed=0.0).ask(LAW_Q).refused
    declined = FakeJudgingGenerator(["资料中没有相关信息。"], judgements=[0.9])
    answer = _assistant(corpus, declined, min_answerable=0.5, min_confirmed=0.5).ask(LAW_Q)
    assert answer.refused and len(declined.choose_calls) == 1


def test_a_failing_confirmation_leaves_the_answer(corpus, caplog) -> None:
    generator = FakeJudgingGenerator([LAW_REPLY], judgements=[0.9, GeneratorError("judge broke")])
    with caplog.at_level(logging.WARNING, logger="assistant.chat"):
        answer = _assistant(corpus, generator, min_answerable=0.5, min_confirmed=0.5).ask(LAW_Q)
    assert not answer.refused and "confirmed" not in answer.timings and "judge broke" in caplog.text


class _FallingScores(FakeSearcher):
    """The fake ranking, scored 1, 1/2, 1/3, ... down the list (the fake's own scores tie here)."""

    def search(self, query, **options):
        hits = super().search(query, **options)
        return [dataclasses.replace(h, score=1.0 / rank) for rank, h in enumerate(hits, 1)]


def test_passages_far_below_the_best_are_not_read(corpus) -> None:
    articles, chunks = corpus
    for gap, read in ((0.0, 4), (0.6, 2), (0.4, 1)):
        generator = FakeJudgingGenerator([LAW_REPLY], judgements=[0.9])
        settings = Settings().override(
            {"answer": {"max_passages": 4, "min_dense_score": 0.0, "min_answerable": 0.5, "score_gap": gap}}
        )
        assistant = Assistant(settings, FakeStore(articles), _FallingScores(articles, chunks), generator)
        answer = assistant.ask(LAW_Q)
        assert answer.sources_found == answer.sources_read == _sources_in(generator.last_messages) == read
        assert not answer.refused and len(answer.hits) == 4


def test_in_article_order_the_prompt_and_the_citations_follow_the_articles(corpus) -> None:
    articles, chunks = corpus
    generator = FakeJudgingGenerator([LAW_REPLY], judgements=[0.9])
    settings = Settings().override(
        {
            "answer": {
                "max_passages": 4,
                "min_dense_score": 0.0,
                "min_answerable": 0.5,
                "score_gap": 0,
                "passage_order": "article",
            }
        }
    )
    answer = Assistant(settings, FakeStore(articles), _FallingScores(articles, chunks), generator).ask(LAW_Q)
    prompt = generator.last_messages[1]["content"]
    # the four hits are one article's chunks, ranked 0, 2, 3, 1: read in the article's order
    read = sorted(answer.hits, key=lambda h: prompt.index(h.chunk.text[5:20]))
    assert [h.chunk.index for h in answer.hits] != [h.chunk.index for h in read]
    assert [h.chunk.index for h in read] == [0, 1, 2, 3]
    assert not answer.refused and all(c.verified for c in answer.citations)
    assert answer.citations[0].article_id == next(a.id for a in articles if "生活垃圾分类管理条例" in a.title)


def test_first_read_needs_the_best_passages_first() -> None:
    with pytest.raises(ConfigError, match="passage_order"):
        Settings().override({"answer": {"first_read": 1, "passage_order": "article"}})


# --- the reply withheld ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "made_up", "kind", "claim"),
    [
        (
            "《常州市生活垃圾分类管理条例》一共有多少条？",
            "《常州市生活垃圾分类管理条例》共九章、五十八条，共98条[1]。",
            "数字",
            "98",
        ),
        # the sample page says nothing of fines: "罚款" is all the reply adds to the question
        (
            "违反《常州市生活垃圾分类管理条例》会怎么样？",
            "违反《常州市生活垃圾分类管理条例》将面临罚款[1]。",
            "说法",
            "罚款",
        ),
    ],
)
def test_a_withheld_reply_says_what_kind_of_claim_it_made_up_without_repeating_it(
    corpus, question: str, made_up: str, kind: str, claim: str
) -> None:
    answer = _assistant(corpus, FakeGenerator([made_up])).ask(question)
    assert answer.refused and answer.refusal_reason == "unverified", answer.refusal_reason
    assert answer.text.startswith(f"模型写出的回答里有原文中没有的{kind}，所以没有显示。"), answer.text
    assert claim not in answer.text


def test_a_reply_in_the_sources_words_is_shown_whatever_the_question_asks(corpus) -> None:
    stated = "《常州市生活垃圾分类管理条例》将于2024年9月1日起施行[1]。"
    answer = _assistant(corpus, FakeGenerator([stated])).ask("违反《常州市生活垃圾分类管理条例》会怎么样？")
    assert not answer.refused and answer.text == stated


def test_the_refusal_names_the_kinds_it_is_given_or_keeps_its_general_reason() -> None:
    from assistant.prompts import REFUSALS, refusal_text

    made_up = refusal_text("unverified", unsupported=("数字", "日期"))
    assert made_up.startswith("模型写出的回答里有原文中没有的数字和日期")
    assert refusal_text("unverified") == REFUSALS["unverified"]  # its sentences failed on their wording or sources
    assert refusal_text("judge", unsupported=("数字",)) == REFUSALS["judge"]  # only a made-up reply names them
