"""Questions about when events happened relative to each other: anchored ones, comparisons, and event days."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.chat import Assistant
from assistant.timeline import Anchored, Comparison, analyse, asked_event, compare_text, days_in, event_day
from core.config import Settings
from core.types import Article, Chunk, Hit
from tests.support.generators import FakeGenerator
from tests.support.news import FakeStore
from tests.support.searchers import FakeSearcher


def _pair(aid: str, title: str, text: str, published: str) -> tuple[Article, Chunk]:
    article = Article(id=aid, title=title, text=text, date=published, source="武进日报")
    return article, Chunk(abs(hash(aid)) % 10**9, aid, 0, 0, 0, len(text), text)


def _hit(article: Article, chunk: Chunk) -> Hit:
    return Hit(chunk, 1.0, title=article.title, date=article.date, source=article.source)


MEETING = _pair(
    "m", "安全生产会议", "本报讯 昨天上午，武进区召开安全生产工作会议，部署春节期间安全生产工作。", "2024-02-02"
)
LIBRARY = _pair("l", "图书馆春节开放", "2月5日，武进区图书馆推出春节阅读活动，现场发放春联。", "2024-02-03")
MARATHON = _pair("r", "马拉松开跑", "西太湖马拉松鸣枪开跑，两万名跑者参赛。", "2024-03-10")
OPENING = _pair("o", "图书馆新馆开放", "本报讯 昨天上午，武进区图书馆新馆正式对外开放，馆藏图书50万册。", "2024-02-02")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("西太湖马拉松开跑当天，图书馆推出了什么活动？", Anchored("西太湖马拉松开跑", "图书馆推出了什么活动？")),
        (
            "武进区召开安全生产工作会议的那天，图书馆新馆开放了吗？",
            Anchored("武进区召开安全生产工作会议", "图书馆新馆开放了吗？"),
        ),
        (
            "安全生产工作会议召开和西太湖马拉松开跑，哪个更早？",
            Comparison("安全生产工作会议召开", "西太湖马拉松开跑", "earlier"),
        ),
        (
            "西太湖马拉松开跑与图书馆推出春节阅读活动哪一个更晚？",
            Comparison("西太湖马拉松开跑", "图书馆推出春节阅读活动", "later"),
        ),
        (
            "安全生产工作会议召开和西太湖马拉松开跑相隔多少天？",
            Comparison("安全生产工作会议召开", "西太湖马拉松开跑", "gap"),
        ),
        (
            "《关于烟花和爆竹的规定》发布和马拉松开跑相隔几天？",
            Comparison("《关于烟花和爆竹的规定》发布", "马拉松开跑", "gap"),
        ),
        ("武进区图书馆春节期间几点开门？", None),
        ("2023年武高新规上工业总产值和增速是多少？", None),
    ],
)
def test_the_kind_of_time_question_and_its_events(question, expected) -> None:
    assert analyse(question) == expected


def test_a_day_is_what_the_sentence_establishes_else_the_publication_date() -> None:
    meeting = event_day("武进区召开安全生产工作会议", [_hit(*MEETING)])
    assert meeting is not None and meeting.day == date(2024, 2, 1) and not meeting.by_publication  # 昨天
    library = event_day("图书馆推出春节阅读活动", [_hit(*LIBRARY)])
    assert library is not None and library.day == date(2024, 2, 5)  # written out, after publication
    marathon = event_day("西太湖马拉松开跑", [_hit(*MARATHON)])
    assert marathon is not None and marathon.day == date(2024, 3, 10) and marathon.by_publication
    assert event_day("北京冬奥会闭幕", [_hit(*MARATHON)]) is None  # nothing in the passages names that event
    citation = meeting.citation(1)
    assert citation.quote in MEETING[0].text and "昨天上午，武进区召开安全生产工作会议" in citation.quote


LAW = _pair(
    "g",
    "条例9月1日起施行",
    "本报讯（记者 黄雅婷）昨天上午，市人大常委会召开《常州市生活垃圾分类管理条例》新闻发布会，"
    "该条例将于2024年9月1日起施行。",
    "2024-02-02",
)


def test_of_several_days_in_a_sentence_the_event_gets_the_day_of_its_own_clause() -> None:
    # the question's event is the law taking effect, not the press conference that announced it
    law = event_day(asked_event("《常州市生活垃圾分类管理条例》从什么时候开始施行？"), [_hit(*LAW)])
    assert law is not None and law.day == date(2024, 9, 1)
    conference = event_day("市人大常委会召开新闻发布会", [_hit(*LAW)])
    assert conference is not None and conference.day == date(2024, 2, 1)  # 昨天
    # words both parts hold decide nothing: the first day stands
    assert event_day("条例", [_hit(*LAW)]).day == date(2024, 2, 1)
    # a day inside a name ("春节阅读活动") dates nothing: the sentence's own day is kept
    assert event_day("图书馆推出春节阅读活动", [_hit(*LIBRARY)]).day == date(2024, 2, 5)


def test_days_in_reads_written_and_relative_days() -> None:
    assert [d for _, d in days_in("昨天上午开会，28日闭幕，2023年7月1日起施行。", date(2024, 2, 2))] == [
        date(2024, 2, 1),
        date(2024, 2, 28),
        date(2023, 7, 1),
    ]


def test_comparisons_are_worded_with_both_days_cited() -> None:
    plan = Comparison("会议召开", "马拉松开跑", "earlier")
    text = compare_text(plan, date(2024, 2, 1), date(2024, 3, 10))
    assert text == "会议召开在2024年2月1日[1]，马拉松开跑在2024年3月10日[2]，会议召开更早（相隔38天）。"
    later = compare_text(Comparison("会议召开", "马拉松开跑", "later"), date(2024, 2, 1), date(2024, 3, 10))
    assert later.endswith("马拉松开跑更晚（相隔38天）。")
    gap = compare_text(Comparison("会议召开", "马拉松开跑", "gap"), date(2024, 3, 10), date(2024, 2, 1))
    assert gap.endswith("两者相隔38天。")


def _assistant(generator=None) -> Assistant:
    pairs = [MEETING, LIBRARY, MARATHON, OPENING]
    articles = [a for a, _ in pairs]
    settings = Settings().override({"answer": {"min_dense_score": 0.0}})
    return Assistant(settings, FakeStore(articles), FakeSearcher(articles, [c for _, c in pairs]), generator)


def test_a_comparison_is_answered_in_code_with_both_sources() -> None:
    answer = _assistant().ask("武进区召开安全生产工作会议和西太湖马拉松开跑相隔多少天？", question_date="2024-03-20")
    assert not answer.refused and answer.generator == "timeline"
    assert answer.text.endswith("两者相隔38天。")
    assert [(c.n, c.article_id) for c in answer.citations] == [(1, "m"), (2, "r")]
    assert all(c.verified for c in answer.citations)


def test_a_comparison_with_an_unknown_event_says_which() -> None:
    answer = _assistant().ask("北京冬奥会闭幕和西太湖马拉松开跑哪个更早？", question_date="2024-03-20")
    assert answer.refused and answer.refusal_reason == "event_missing"
    assert "北京冬奥会闭幕" in answer.text


def test_an_anchored_question_is_asked_of_the_anchors_day() -> None:
    generator = FakeGenerator(["2024年2月1日，武进区图书馆新馆正式对外开放[1]。"])
    assistant = _assistant(generator)
    answer = assistant.ask("武进区召开安全生产工作会议当天，什么场馆正式对外开放？", question_date="2024-02-10")
    assert not answer.refused, answer.text
    user = generator.last_messages[1]["content"]
    assert "2024年2月1日（武进区召开安全生产工作会议当天），什么场馆正式对外开放？" in user
    assert {c.article_id for c in answer.citations} == {"o"}  # the asked part's source, found within that day


@pytest.mark.parametrize(
    ("question", "event"),
    [
        ("武进区图书馆新馆是哪天正式对外开放的？", "武进区图书馆新馆正式对外开放的"),
        ("安全生产工作会议什么时候召开？", "安全生产工作会议召开"),
        ("图书馆馆藏图书有多少册？", None),  # not a question for a day
        ("哪天？", None),  # no event left to look for
    ],
)
def test_the_event_whose_day_is_asked(question, event) -> None:
    assert asked_event(question) == event


def test_a_question_for_a_day_is_told_the_day_a_sentence_establishes() -> None:
    # OPENING reports the opening as 昨天 in the paper of 2 February: the day the sentence establishes is 1 February
    generator = FakeGenerator(["武进区图书馆新馆于2024年2月1日正式对外开放[1]。"])
    answer = _assistant(generator).ask("武进区图书馆新馆是哪天正式对外开放的？", question_date="2024-02-10")
    assert not answer.refused, answer.text
    user = generator.last_messages[1]["content"]
    assert "（提示：资料[1]中，这件事的日期是2024年2月1日。）" in user


def test_no_day_note_when_only_the_publication_date_stands_for_the_day() -> None:
    # MARATHON names no day: the model reads the publication date that every passage already shows
    generator = FakeGenerator(["西太湖马拉松于2024年3月10日鸣枪开跑[1]。"])
    _assistant(generator).ask("西太湖马拉松是哪天鸣枪开跑的？", question_date="2024-03-20")
    assert "提示：" not in generator.last_messages[1]["content"]


def test_an_anchored_reply_that_echoes_the_anchor_is_checked_on_the_asked_part() -> None:
    # the anchor's names (安全生产工作会议) are in its own article, not in the opening's: the echo is not checked
    generator = FakeGenerator(["2024年2月1日（武进区召开安全生产工作会议当天），武进区图书馆新馆正式对外开放[1]。"])
    answer = _assistant(generator).ask(
        "武进区召开安全生产工作会议当天，什么场馆正式对外开放？", question_date="2024-02-10"
    )
    assert not answer.refused, (answer.refusal_reason, answer.text)
    assert "安全生产" not in answer.text and "武进区图书馆新馆正式对外开放" in answer.text
    assert all(c.verified for c in answer.citations)
