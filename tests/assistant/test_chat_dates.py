"""Dates in the answering loop: relative dates spelled out for the model, questions searched in their period."""

from __future__ import annotations

from datetime import date
from typing import Any

from assistant.chat import Assistant
from assistant.periods import period_filter
from core.config import Settings
from core.types import Article, Chunk, Citation
from corpus.timeexpr import TimeScope, annotate
from newsqa.render import quoted_paragraph
from tests.support.generators import FakeGenerator
from tests.support.news import FakeStore
from tests.support.runtime import OpenOnlySearcher, OpenOnlyStore
from tests.support.searchers import FakeSearcher

MEETING = "昨天上午，武进区召开安全生产工作会议，部署春节期间安全生产工作。会议要求压实责任。"

# a note newsqa added to a quoted paragraph, as the web page shows it: apart from the article's own words
ADDED = '<span class="nq-added" title="newsqa 按发布日期推算补充，原文没有这几个字">（即2024年2月1日上午）</span>'


def _article(aid: str, title: str, text: str, day: str) -> tuple[Article, Chunk]:
    article = Article(id=aid, title=title, text=text, date=day, source="武进日报")
    chunk = Chunk(id=sum(map(ord, aid)), article_id=aid, index=0, paragraph=0, start=0, end=len(text), text=text)
    return article, chunk


def _settings(**answer: Any) -> Settings:
    return Settings().override({"answer": {"min_dense_score": 0.0, **answer}})


def _assistant(pairs, generator=None, settings=None, hook=annotate) -> tuple[Assistant, FakeSearcher]:
    articles = [a for a, _ in pairs]
    searcher = FakeSearcher(articles, [c for _, c in pairs], related_only=True)
    return Assistant(settings or _settings(), FakeStore(articles), searcher, generator, annotate=hook), searcher


# -- passages ----------------------------------------------------------------------------------------------------


def test_relative_dates_are_spelled_out_for_the_model_and_citations_quote_the_original() -> None:
    pair = _article("m", "武进区召开安全生产工作会议", MEETING, "2024-02-02")
    generator = FakeGenerator(["安全生产工作会议于2024年2月1日上午召开[1]。"])
    assistant, _ = _assistant([pair], generator)
    answer = assistant.ask("安全生产工作会议是哪天开的？", question_date="2024-02-02")
    user = generator.last_messages[1]["content"]
    assert "昨天上午（即2024年2月1日上午），武进区召开" in user
    assert "发布日期：2024年2月2日" in user
    assert not answer.refused and answer.citations and all(c.verified for c in answer.citations)
    article = pair[0]
    for c in answer.citations:
        assert article.text[c.start : c.end] == c.quote and "（即" not in c.quote
    assert "昨天上午" in answer.citations[0].quote


def test_undated_articles_are_left_as_written() -> None:
    pair = _article("m", "武进区召开安全生产工作会议", MEETING, "")
    generator = FakeGenerator(["会议部署春节期间安全生产工作[1]。"])
    assistant, _ = _assistant([pair], generator)
    assistant.ask("安全生产工作会议部署了什么？")
    assert "昨天上午，武进区" in generator.last_messages[1]["content"]
    assert "（即" not in generator.last_messages[1]["content"]


def test_without_the_hook_passages_are_not_annotated() -> None:
    pair = _article("m", "武进区召开安全生产工作会议", MEETING, "2024-02-02")
    generator = FakeGenerator(["会议部署春节期间安全生产工作[1]。"])
    assistant, _ = _assistant([pair], generator, hook=None)
    assistant.ask("安全生产工作会议部署了什么？")
    assert "（即" not in generator.last_messages[1]["content"]


def test_anchored_day_is_resolved_over_the_whole_chunk_before_trimming() -> None:
    filler = "。".join(f"第{i}项工作稳步推进" for i in range(30))
    text = f"1月30日，区里启动安全大检查。{filler}。当天下午，检查组发现隐患十二处。"
    pair = _article("c", "安全大检查", text, "2024-02-02")
    generator = FakeGenerator(["检查组发现隐患十二处[1]。"])
    assistant, _ = _assistant([pair], generator, settings=_settings(max_passage_chars=60))
    assistant.ask("检查组发现隐患多少处？")
    assert "当天下午（即2024年1月30日下午）" in generator.last_messages[1]["content"]


def test_prompt_asks_to_prefer_the_newer_source_and_name_dates() -> None:
    old = _article("a", "武进区工业产值", "武进区规上工业产值为3000亿元。", "2023-06-01")
    new = _article("b", "武进区工业产值", "武进区规上工业产值为3200亿元。", "2024-01-20")
    generator = FakeGenerator(["据2024年1月20日的报道，武进区规上工业产值为3200亿元[2]。"])
    assistant, _ = _assistant([old, new], generator)
    answer = assistant.ask("武进区规上工业产值是多少？", question_date="2024-02-02")
    system, user = (m["content"] for m in generator.last_messages)
    assert "发布日期较新" in system and "绝对日期" in system
    assert "发布日期：2023年6月1日" in user and "发布日期：2024年1月20日" in user
    assert [c.verified for c in answer.citations] == [True]


# -- questions ---------------------------------------------------------------------------------------------------


def _output_pairs():
    return [
        _article("y23", "武进区2023年5月工业产值", "5月份，武进区规上工业产值增长8%。", "2023-06-02"),
        _article("y24", "武进区2024年1月工业产值", "1月份，武进区规上工业产值增长6%。", "2024-02-01"),
    ]


def test_question_period_filters_retrieval_with_a_reporting_lag() -> None:
    assistant, searcher = _assistant(_output_pairs(), FakeGenerator(["5月份规上工业产值增长8%[1]。"]))
    answer = assistant.ask("2023年5月武进区规上工业产值增长多少？", question_date="2024-02-02")
    call = searcher.calls[0]
    assert (call["date_from"], call["date_to"]) == ("2023-05-01", "2023-06-07")
    assert [h.chunk.article_id for h in answer.hits] == ["y23"]


def test_relative_question_is_rewritten_to_absolute_dates() -> None:
    pair = _article("m", "武进区召开安全生产工作会议", MEETING, "2024-02-02")
    assistant, searcher = _assistant([pair], FakeGenerator(["会议部署春节期间安全生产工作[1]。"]))
    answer = assistant.ask("昨天开的安全生产会议部署了什么？", question_date="2024-02-02")
    assert answer.rewritten_query == "2024年2月1日开的安全生产会议部署了什么？"
    assert searcher.calls[0]["query"] == answer.rewritten_query
    assert searcher.calls[0]["date_from"] == "2024-02-01"


def test_an_empty_period_falls_back_to_unfiltered_search_and_tells_the_model() -> None:
    generator = FakeGenerator(["1月份规上工业产值增长6%[1]。"])
    assistant, searcher = _assistant(_output_pairs(), generator)
    answer = assistant.ask("2022年武进区规上工业产值增长多少？", question_date="2024-02-02")
    assert len(searcher.calls) == 2 and "date_from" not in searcher.calls[1]
    assert answer.hits and not answer.refused and answer.period_fallback
    user = generator.last_messages[1]["content"]
    assert "问题：2022年武进区规上工业产值增长多少？\n（提示：没有找到2022年期间发布的相关资料" in user


def test_undated_passages_are_searched_within_a_period_and_get_no_period_note() -> None:
    # search snippets carry no publication dates: unknown, not outside the period, so the filter keeps them
    pairs = [_article(a.id, a.title, "2022年" + a.text, "") for a, _ in _output_pairs()]
    pairs.append(_article("y20", "武进区2020年工业产值", "2020年武进区规上工业产值增长9%。", "2021-01-20"))
    generator = FakeGenerator(["2022年1月份规上工业产值增长6%[1]。"])
    assistant, searcher = _assistant(pairs, generator)
    answer = assistant.ask("武进区2022年规上工业产值增长多少？", question_date="2024-02-02")
    assert len(searcher.calls) == 1 and searcher.calls[0]["undated"] is True
    assert not answer.period_fallback and answer.hits and not answer.refused
    assert {h.chunk.article_id for h in answer.hits} == {"y23", "y24"}  # y20, dated outside 2022, is not
    assert "提示" not in generator.last_messages[1]["content"] and "period_note" not in answer.timings
    # without the note the question's year must be in a passage, as for any question
    pairs = [_article(a.id, a.title, a.text, "") for a, _ in _output_pairs()]
    assistant, _ = _assistant(pairs, FakeGenerator())
    answer = assistant.ask("武进区2022年规上工业产值增长多少？", question_date="2024-02-02")
    assert answer.refused and answer.refusal_reason == "question_facts"


def test_fallback_note_names_a_festival_period_once() -> None:
    generator = FakeGenerator(["1月份规上工业产值增长6%[1]。"])
    assistant, _ = _assistant(_output_pairs(), generator)
    assistant.ask("今年春节期间武进区规上工业产值增长多少？", question_date="2024-02-20")
    assert "没有找到2024年春节期间发布的相关资料" in generator.last_messages[1]["content"]


def test_a_period_with_news_gets_no_fallback_note() -> None:
    generator = FakeGenerator(["5月份规上工业产值增长8%[1]。"])
    assistant, _ = _assistant(_output_pairs(), generator)
    answer = assistant.ask("2023年5月武进区规上工业产值增长多少？", question_date="2024-02-02")
    assert "提示" not in generator.last_messages[1]["content"] and "date_fallback" not in answer.timings


def test_a_period_of_weak_hits_falls_back_to_unfiltered_search() -> None:
    pairs = [*_output_pairs(), _article("x", "春节文艺演出", "2022年春节，区文化馆举办文艺演出。", "2022-02-03")]
    assistant, searcher = _assistant(
        pairs, FakeGenerator(["1月份规上工业产值增长6%[1]。"]), settings=_settings(min_dense_score=0.5)
    )
    answer = assistant.ask("2022年武进区规上工业产值增长多少？", question_date="2024-02-02")
    assert len(searcher.calls) == 2  # 2022 holds only the weakly matching show
    assert {"y23", "y24"} <= {h.chunk.article_id for h in answer.hits}


def test_an_announcement_published_before_the_period_is_searched_within_it() -> None:
    hours = _article("lib", "图书馆春节开放时间", "图书馆春节期间每天9点开门。", "2024-02-03")
    assistant, searcher = _assistant([hours], FakeGenerator(["春节期间图书馆每天9点开门[1]。"]))
    answer = assistant.ask("今年春节期间图书馆几点开门？", question_date="2024-02-20")
    [call] = searcher.calls  # no fallback: the period's search found it
    assert call["about"] == [("2024-02-09", "2024-02-16")] and call["date_from"] == "2024-02-09"
    assert [h.chunk.article_id for h in answer.hits] == ["lib"] and not answer.period_fallback


def test_recent_questions_prefer_recent_news_without_a_filter() -> None:
    assistant, searcher = _assistant(_output_pairs(), FakeGenerator(["1月份规上工业产值增长6%[1]。"]))
    assistant.ask("武进区最新的规上工业产值增长多少？", question_date="2024-02-02")
    [call] = searcher.calls
    assert call["prefer_recent"] is True and "date_from" not in call


def test_question_date_defaults_to_today() -> None:
    assistant, searcher = _assistant(_output_pairs(), FakeGenerator(["1月份规上工业产值增长6%[1]。"]))
    assistant.ask("去年武进区规上工业产值增长多少？")
    year = date.today().year - 1
    assert searcher.calls[0]["date_from"] == f"{year}-01-01"
    assert searcher.calls[0]["query"].startswith(f"{year}年")


def test_resolve_dates_off_leaves_question_and_search_alone() -> None:
    settings = _settings(resolve_dates=False)
    assistant, searcher = _assistant(_output_pairs(), FakeGenerator(["5月份规上工业产值增长8%[1]。"]), settings)
    answer = assistant.ask("去年5月武进区规上工业产值增长多少？", question_date="2024-02-02")
    [call] = searcher.calls
    assert call["query"] == answer.rewritten_query == "去年5月武进区规上工业产值增长多少？"
    assert "date_from" not in call and call["prefer_recent"] is False


def test_period_filter() -> None:
    day = TimeScope(date(2024, 2, 1), date(2024, 2, 1), False, "昨天", "2024年2月1日")
    year = TimeScope(date(2023, 1, 1), date(2023, 12, 31), False, "去年", "2023年")
    since = TimeScope(date(2023, 1, 1), None, False, "", "")
    assert period_filter(day) == ("2024-02-01", "2024-02-04")
    assert period_filter(year) == ("2023-01-01", "2024-03-31")  # annual figures are reported in the next quarter
    assert period_filter(since) == ("2023-01-01", "")


# -- runtime -----------------------------------------------------------------------------------------------------


def test_open_runtime_resolves_dates_unless_switched_off(monkeypatch, tmp_path) -> None:
    import corpus.store
    import index.hybrid
    from newsqa.runtime import open_runtime

    monkeypatch.setattr(corpus.store, "Store", OpenOnlyStore)
    monkeypatch.setattr(index.hybrid, "Searcher", OpenOnlySearcher)
    settings = Settings(home=tmp_path).override({"generator": {"backend": "extractive"}})
    assert open_runtime(settings).assistant.annotate is annotate
    settings = settings.override({"answer": {"resolve_dates": False}})
    assert open_runtime(settings).assistant.annotate is None


# -- citations as shown ------------------------------------------------------------------------------------------


def _citation(article: Article, quote: str) -> Citation:
    start = article.text.index(quote)
    return Citation(
        n=1,
        chunk_id=1,
        article_id=article.id,
        title=article.title,
        date=article.date,
        paragraph=0,
        quote=quote,
        start=start,
        end=start + len(quote),
        verified=True,
    )


def test_shown_citation_spells_out_dates_and_keeps_original_offsets() -> None:
    article, _ = _article("m", "武进区召开安全生产工作会议", MEETING, "2024-02-02")
    citation = _citation(article, "昨天上午，武进区召开安全生产工作会议")
    shown = quoted_paragraph(article, citation)
    assert f"<mark>昨天上午{ADDED}，武进区召开安全生产工作会议</mark>" in shown  # styled as newsqa's words
    assert article.text[citation.start : citation.end] == citation.quote
    plain = quoted_paragraph(article, citation, resolve_dates=False)
    assert "<mark>昨天上午，武进区召开安全生产工作会议</mark>" in plain


def test_note_before_the_quote_stays_outside_the_mark() -> None:
    article, _ = _article("m", "武进区召开安全生产工作会议", MEETING, "2024-02-02")
    shown = quoted_paragraph(article, _citation(article, "武进区召开安全生产工作会议"))
    assert f"昨天上午{ADDED}，<mark>武进区召开安全生产工作会议</mark>" in shown


def test_shown_citation_of_an_undated_article_is_untouched() -> None:
    article, _ = _article("m", "武进区召开安全生产工作会议", MEETING, "")
    shown = quoted_paragraph(article, _citation(article, "昨天上午，武进区召开安全生产工作会议"))
    assert "（即" not in shown and "<mark>昨天上午，武进区召开安全生产工作会议</mark>" in shown


def test_cli_quote_spells_out_dates_unless_switched_off() -> None:
    from newsqa.cli import _shown_quote

    article, _ = _article("m", "武进区召开安全生产工作会议", MEETING, "2024-02-02")
    citation = _citation(article, "昨天上午，武进区召开安全生产工作会议")
    settings = Settings()
    assert _shown_quote(citation, settings) == "昨天上午（即2024年2月1日上午），武进区召开安全生产工作会议"
    settings = settings.override({"answer": {"resolve_dates": False}})
    assert _shown_quote(citation, settings) == citation.quote


def test_a_relative_day_is_checked_as_its_date_not_as_a_name() -> None:
    # "上周四" asked on 2024-02-06 is 2024-02-01, the day the article of 2 February reports as 昨天
    pair = _article("m", "武进区召开安全生产工作会议", MEETING, "2024-02-02")
    generator = FakeGenerator(["会议部署春节期间安全生产工作[1]。"])
    assistant, _ = _assistant([pair], generator)
    answer = assistant.ask("上周四，武进区召开的安全生产工作会议部署了什么？", question_date="2024-02-06")
    assert not answer.refused, (answer.refusal_reason, answer.text)
    assert answer.rewritten_query.startswith("2024年2月1日")


def test_a_reply_echoing_the_questions_day_says_which_day_and_is_checked_on_it() -> None:
    pair = _article("m", "武进区召开安全生产工作会议", MEETING, "2024-02-02")
    generator = FakeGenerator(["上周四，武进区召开的会议部署了春节期间安全生产工作[1]。"] * 2)
    assistant, _ = _assistant([pair], generator)
    answer = assistant.ask("上周四，武进区召开的安全生产工作会议部署了什么？", question_date="2024-02-06")
    assert not answer.refused, (answer.refusal_reason, answer.text)
    assert answer.text.startswith("上周四（即2024年2月1日），武进区")
    # asked a week later, "上周四" is 2024-02-08: the meeting of 2月1日 does not back the day the reply repeats
    answer = assistant.ask("上周四，武进区召开的安全生产工作会议部署了什么？", question_date="2024-02-13")
    assert answer.refused and answer.refusal_reason == "unverified", answer.refusal_reason


def test_a_paragraph_later_in_the_article_is_checked_on_the_day_its_lead_gives() -> None:
    from tests.support.news import make_article

    article, chunks = make_article(
        "f",
        "烟花爆竹燃放管控工作动员部署",
        [
            "本报讯 昨天上午，我区召开烟花爆竹燃放管控工作动员部署会议，部署春节期间燃放管控工作任务。",
            "春节临近，会上，区燃放办解读了《烟花爆竹燃放管控工作实施方案》并部署相关工作。",
        ],
        date="2024-02-02",
    )
    reply = "上周四，区燃放办在会上解读了《烟花爆竹燃放管控工作实施方案》[1]。"
    generator = FakeGenerator([reply] * 2)
    searcher = FakeSearcher([article], chunks, related_only=True)
    assistant = Assistant(_settings(), FakeStore([article]), searcher, generator, annotate=annotate)
    question = "上周四的燃放管控会议上，区燃放办解读了哪个方案？"
    answer = assistant.ask(question, question_date="2024-02-06")
    assert not answer.refused, (answer.refusal_reason, answer.text)
    assert "上周四（即2024年2月1日）" in generator.calls[0]["messages"][1]["content"]  # the model reads the day
    answer = assistant.ask(question, question_date="2024-02-13")  # "上周四" is now 2月8日: not the meeting's day
    assert answer.refused


def test_a_bare_day_still_to_come_is_searched_in_both_years_and_left_as_asked() -> None:
    """Seen in a conversation: "垃圾分类条例是9月1日施行的吗？" asked on 2024-02-02 was searched and read as
    "2023年9月1日": the model was told nothing was published then and refused. The day may be the one to come,
    which the article announces; the question keeps the resident's words and finds it within the period."""
    law = _article("law", "垃圾分类条例9月1日起施行", "该条例将于2024年9月1日起施行。", "2024-02-02")
    generator = FakeGenerator(["是的，该条例将于2024年9月1日起施行[1]。"])
    assistant, searcher = _assistant([law], generator)
    answer = assistant.ask("垃圾分类条例是9月1日施行的吗？", question_date="2024-02-02")
    [call] = searcher.calls  # found within the period: no fallback, no note
    assert call["about"] == [("2023-09-01", "2023-09-01"), ("2024-09-01", "2024-09-01")]
    assert "9月1日施行" in call["query"] and "2023年" not in generator.last_messages[1]["content"]
    assert [h.chunk.article_id for h in answer.hits] == ["law"] and not answer.period_fallback


def test_a_bare_day_whose_guessed_year_holds_nothing_is_searched_as_asked_without_a_note() -> None:
    """On the real date the web chat read "9月1日" of the 2024 sample page as 2026's, told the model nothing was
    published then, and the model refused. The year was a guess: when it finds nothing, it is dropped."""
    law = _article("law", "垃圾分类条例9月1日起施行", "该条例将于2024年9月1日起施行。", "2024-02-02")
    generator = FakeGenerator(["是的，该条例将于2024年9月1日起施行[1]。"])
    assistant, searcher = _assistant([law], generator)
    answer = assistant.ask("垃圾分类条例是9月1日施行的吗？", question_date="2026-12-05")
    within, fallback = searcher.calls
    assert within["query"] == "垃圾分类条例是2026年9月1日施行的吗？" and within["date_from"] == "2026-09-01"
    assert fallback["query"] == "垃圾分类条例是9月1日施行的吗？" and answer.period_fallback
    assert answer.rewritten_query == "垃圾分类条例是9月1日施行的吗？"  # what was searched, not the guess
    read = generator.last_messages[1]["content"]
    assert "问题：垃圾分类条例是9月1日施行的吗？" in read and "没有找到" not in read
    assert [h.chunk.article_id for h in answer.hits] == ["law"]
    # a year the question gives is no guess: the note tells the model what the sources' dates are
    assistant.ask("垃圾分类条例是2026年9月1日施行的吗？", question_date="2026-12-05")
    assert "没有找到2026年9月1日" in generator.last_messages[1]["content"]
