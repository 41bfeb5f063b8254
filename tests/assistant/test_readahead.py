"""Reading ahead: the newest passages are read by the model while no one asks, as the start of their prompts."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from itertools import permutations
from pathlib import Path

import pytest

from assistant import readahead
from assistant.chat import Assistant
from assistant.generation import GeneratorError, ModelCrashed
from assistant.prompts import rewrite_lead_messages, rewrite_messages
from assistant.readahead import ReadAhead, available_memory, hit_of, reading_plan
from assistant.turns import TurnLine
from core.config import Settings
from corpus.store import Store
from corpus.timeexpr import annotate
from tests.support.generators import FakeGenerator, FakeJudgingGenerator
from tests.support.news import FakeStore, make_article, sample_corpus
from tests.support.searchers import FakeSearcher

LAW_Q = "《常州市生活垃圾分类管理条例》什么时候施行？"
LAW_REPLY = "《常州市生活垃圾分类管理条例》将于2024年9月1日起施行[1]。"


class ReadingGenerator(FakeJudgingGenerator):
    """A judging fake that also reads ahead: records each prompt it is given (the answer prompts' starts in `read`,
    the follow-up rewrite's in `rules_read`), or raises what `fail` holds."""

    reads_ahead = True

    def __init__(self, *args, fail: dict[int, Exception] | None = None, **options) -> None:
        super().__init__(*args, **options)
        self.read: list[list[dict[str, str]]] = []
        self.rules_read: list[list[dict[str, str]]] = []
        self.kept: list[str] = []  # where each state read was to be kept
        self.fail = dict(fail or {})
        self.stopped_at: dict[int, bool] = {}  # reads (by number) that a question stops, once each
        self.during: dict[int, Callable[[], None]] = {}  # what happens while a read (by number) is under way

    def read_ahead(self, messages: list[dict[str, str]], keep: str = "ahead") -> dict:
        if len(self.read) in self.during:
            self.during.pop(len(self.read))()
        if len(self.read) in self.fail:
            raise self.fail.pop(len(self.read))
        if self.stopped_at.pop(len(self.read), False):  # a question came while this was read: nothing kept
            return {"prompt_tokens": 64, "prompt_tokens_details": {"cached_tokens": 40}, "stopped": True}
        (self.rules_read if messages == rewrite_lead_messages() else self.read).append([dict(m) for m in messages])
        self.kept.append(keep)
        return {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 40}}


def _store(path: Path, *articles) -> Path:
    with Store(path) as store:
        store.put(articles)
    return path


OLD = make_article("old", "旧闻", ["一月的第一段。", "一月的第二段。"], date="2024-01-05")
NEW = make_article("new", "新闻", ["二月的第一段。", "二月的第二段。"], date="2024-02-02")
UNDATED = make_article("undated", "无日期", ["不知哪天的一段。"])


def _reader(tmp_path: Path, generator, limit: int = 3, **options) -> ReadAhead:
    articles = [OLD[0], NEW[0], UNDATED[0]]
    chunks = OLD[1] + NEW[1] + UNDATED[1]
    assistant = Assistant(Settings(), FakeStore(articles), FakeSearcher(articles, chunks), generator)
    return ReadAhead(assistant, _store(tmp_path / "newsqa.db", OLD, UNDATED, NEW), limit, **options)


def test_a_pass_reads_the_newest_chunks_first_each_as_the_first_passage_of_a_prompt(tmp_path: Path) -> None:
    generator = ReadingGenerator()
    reader = _reader(tmp_path, generator, limit=4)
    done = reader.run_once()
    firsts = [m[1]["content"].split("正文：")[1].split("\n")[0] for m in generator.read]
    assert firsts == ["二月的第一段。", "二月的第二段。", "一月的第一段。", "一月的第二段。"]
    assert generator.read[0][1]["content"].startswith("<资料 编号=1>\n标题：新闻\n发布日期：2024年2月2日\n")
    assert generator.rules_read == [rewrite_lead_messages()]  # the follow-up rewrite's rules
    assert done["passages"] == 4 and done["rewrite"] == 1 and done["tokens_read"] == 5 * 60 and reader.last == done
    everything = _reader(tmp_path / "all", ReadingGenerator(), limit=99).newest()
    assert [h.chunk.text for h in everything][-1] == "不知哪天的一段。"  # undated last


def test_what_is_read_ahead_is_the_start_of_the_prompts_of_the_questions_about_it() -> None:
    """The whole point: the judgement and the answer of a question whose best passage is one read ahead begin with
    exactly what was read, relative dates spelled out the same way ("昨天上午" of the sample page)."""
    articles, chunks = sample_corpus()
    generator = ReadingGenerator([LAW_REPLY], judgements=[0.9])
    settings = Settings().override({"answer": {"min_dense_score": 0.0, "min_answerable": 0.5}})
    assistant = Assistant(settings, FakeStore(articles), FakeSearcher(articles, chunks), generator, annotate=annotate)
    answer = assistant.ask(LAW_Q, question_date=date(2024, 2, 2))
    assert not answer.refused
    first = answer.hits[0]
    lead = assistant.lead_messages(first)
    assert "昨天上午（即2024年2月1日上午）" in lead[1]["content"]  # annotated as the prompt is
    for messages in (generator.choose_calls[0], generator.last_messages):
        assert messages[0] == lead[0]
        assert messages[1]["content"].startswith(lead[1]["content"] + "\n\n")
    assert first.chunk.text[-20:] in lead[1]["content"]


def test_what_is_read_ahead_for_a_follow_up_is_the_start_of_its_rewrite_prompt(tmp_path: Path) -> None:
    history = [("垃圾分类条例什么时候施行？", LAW_REPLY)]
    lead, rewriting = rewrite_lead_messages(), rewrite_messages("它一共有多少条？", history)
    assert rewriting[0] == lead[0] and rewriting[1]["content"].startswith(lead[1]["content"] + "用户：垃圾分类")
    generator = ReadingGenerator()
    settings = Settings().override({"answer": {"rewrite_followups": False}})
    assistant = Assistant(settings, FakeStore([NEW[0]]), FakeSearcher([NEW[0]], NEW[1]), generator)
    done = ReadAhead(assistant, _store(tmp_path / "newsqa.db", NEW), 4).run_once()
    assert done["rewrite"] == 0 and generator.rules_read == []  # no rewrites, nothing to read for them


def test_groups_of_one_articles_passages_come_after_the_passages_closest_together_first() -> None:
    three = make_article("three", "三段", ["甲。", "乙。", "丙。"], date="2024-02-03")
    hits = [hit_of(c, article) for article, chunks in (three, NEW, UNDATED) for c in chunks]
    plan = [tuple(h.chunk.text for h in lead) for lead in reading_plan(hits, groups=99)]
    assert plan[:6] == [(h.chunk.text,) for h in hits]
    # never two articles in one group, never the undated passage with another
    assert plan[6:] == [
        ("甲。", "乙。"), ("乙。", "甲。"), ("乙。", "丙。"), ("丙。", "乙。"),  # neighbours, newest article first
        ("二月的第一段。", "二月的第二段。"), ("二月的第二段。", "二月的第一段。"),
        ("甲。", "丙。"), ("丙。", "甲。"),  # then two apart: the pairs before the three they span
        ("甲。", "乙。", "丙。"), ("甲。", "丙。", "乙。"), ("乙。", "甲。", "丙。"),
        ("乙。", "丙。", "甲。"), ("丙。", "甲。", "乙。"), ("丙。", "乙。", "甲。"),
    ]  # fmt: skip
    assert [tuple(h.chunk.text for h in lead) for lead in reading_plan(hits, groups=3)] == plan[:9]
    assert len(reading_plan(hits)) == 6  # no groups unless asked
    assert len(reading_plan(hits, groups=99, size=2)) == 6 + 8


def test_a_pass_reads_each_passage_with_its_nearest_passages_of_other_articles_last(tmp_path: Path) -> None:
    generator = ReadingGenerator()
    reader = _reader(tmp_path, generator, limit=2, groups=1, neighbours=2)
    done = reader.run_once()
    assert done["passages"] == 2 and done["groups"] == 1 and done["neighbours"] == 4
    texts = [m[1]["content"].split("\n") for m in generator.read[3:]]
    pairs = [[line.removeprefix("正文：") for line in lines if line.startswith("正文：")] for lines in texts]
    assert pairs == [
        ["二月的第一段。", "一月的第一段。"], ["二月的第二段。", "一月的第二段。"],  # every passage's nearest first
        ["二月的第一段。", "一月的第二段。"], ["二月的第二段。", "一月的第一段。"],  # never one of its own article
    ]  # fmt: skip
    assert generator.read[3] == reader.assistant.lead_messages(*reader.newest()[:1], hit_of(*_chunk(OLD, 0)))
    assert _reader(tmp_path / "none", ReadingGenerator(), limit=2).run_once()["neighbours"] == 0  # none unless asked


def test_a_failing_search_for_neighbours_skips_them_and_reads_the_rest(tmp_path: Path, caplog) -> None:
    generator = ReadingGenerator()
    reader = _reader(tmp_path, generator, limit=2, neighbours=1)
    reader.assistant.searcher = FakeSearcher(scripted={})  # every search raises KeyError, as a broken index would
    with caplog.at_level(logging.WARNING):
        done = reader.run_once()
    assert done["passages"] == 2 and done["neighbours"] == 0 and "no neighbours of chunk" in caplog.text


def _chunk(article, index: int) -> tuple:
    return article[1][index], article[0]


def test_a_pass_reads_a_group_as_the_first_passages_of_a_prompt(tmp_path: Path) -> None:
    generator = ReadingGenerator()
    done = _reader(tmp_path, generator, limit=4, groups=1).run_once()
    assert done["passages"] == 4 and done["groups"] == 1 and len(generator.read) == 5
    pair = generator.read[4][1]["content"]
    assert pair.startswith(
        "<资料 编号=1>\n标题：新闻\n发布日期：2024年2月2日\n正文：二月的第一段。\n</资料>\n\n<资料 编号=2>"
    )
    assert pair.endswith("正文：二月的第二段。\n</资料>")


@pytest.mark.parametrize("n", [2, 3])
def test_a_group_read_ahead_is_the_start_of_the_prompts_of_the_questions_about_it(n: int) -> None:
    articles, chunks = sample_corpus()
    generator = ReadingGenerator([LAW_REPLY], judgements=[0.9])
    settings = Settings().override({"answer": {"min_dense_score": 0.0, "min_answerable": 0.5}})
    assistant = Assistant(settings, FakeStore(articles), FakeSearcher(articles, chunks), generator, annotate=annotate)
    answer = assistant.ask(LAW_Q, question_date=date(2024, 2, 2))
    assert not answer.refused and answer.sources_read >= 3
    leads = [assistant.lead_messages(*group) for group in permutations(answer.hits, n)]
    for messages in (generator.choose_calls[0], generator.last_messages):
        starts = [lead for lead in leads if messages[1]["content"].startswith(lead[1]["content"] + "\n\n")]
        assert len(starts) == 1 and starts[0][0] == messages[0]  # exactly one: the prompt's first n passages
        assert f"<资料 编号={n}>" in starts[0][1]["content"]


def test_a_pass_stops_while_the_machine_is_short_of_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    left = iter([3 << 30, 3 << 30, 1 << 30])  # the memory available before each prompt: the third finds too little
    monkeypatch.setattr(readahead, "available_memory", lambda: next(left))
    generator = ReadingGenerator()
    with caplog.at_level(logging.WARNING, logger="assistant.readahead"):
        done = _reader(tmp_path, generator, limit=4, groups=2).run_once()
    assert len(generator.read) == 2 and done["passages"] == 2 and done["stopped"] == "memory"
    assert "1024 MB of memory available, under 2048 MB" in caplog.text


def test_the_memory_available_is_read_where_the_machine_tells_it() -> None:
    available = available_memory()
    if Path("/proc/meminfo").is_file():
        assert available is not None and available > 0
    else:
        assert available is None


def test_a_pass_waits_while_a_question_has_the_model(tmp_path: Path) -> None:
    generator = ReadingGenerator()
    reader = _reader(tmp_path, generator, limit=2)
    ticket = reader.assistant.line.join()
    assert ticket.wait(1.0)
    thread = threading.Thread(target=reader.run_once)
    thread.start()
    time.sleep(0.3)
    assert generator.read == []  # the question holds the model: nothing is read
    ticket.release()
    thread.join(5.0)
    assert len(generator.read) == 2 and reader.assistant.line.idle


@pytest.mark.parametrize("failure", [GeneratorError("HTTP 500"), ModelCrashed("died: SIGSEGV")])
def test_a_model_that_fails_stops_the_pass_and_the_log_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, failure: Exception
) -> None:
    generator = ReadingGenerator(fail={1: failure})
    with caplog.at_level(logging.WARNING, logger="assistant.readahead"):
        done = _reader(tmp_path, generator, limit=3).run_once()
    assert done["passages"] == 1 and len(generator.read) == 1
    assert str(failure) in caplog.text


def test_the_app_reads_ahead_at_start_and_again_when_articles_are_added(tmp_path: Path) -> None:
    generator = ReadingGenerator()
    reader = _reader(tmp_path, generator, limit=1, poll_s=0.05)
    reader.start()
    try:
        _wait_for(lambda: len(generator.read) == 1)
        assert "二月的第一段。" in generator.read[0][1]["content"]
        time.sleep(0.3)
        assert len(generator.read) == 1  # nothing changed: nothing read again
        _store(reader.db_path, make_article("newer", "更新", ["三月的一段。"], date="2024-03-01"))
        _wait_for(lambda: len(generator.read) == 2)
        assert "三月的一段。" in generator.read[1][1]["content"]
    finally:
        reader.stop()


def test_a_generator_that_cannot_read_ahead_is_refused(tmp_path: Path) -> None:
    assistant = Assistant(Settings(), FakeStore([]), FakeSearcher([], []), FakeGenerator())
    with pytest.raises(ValueError, match="cannot read ahead"):
        ReadAhead(assistant, tmp_path / "newsqa.db", 4)


def _wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_app_reads_ahead_once_warm_and_stops_with_it(tmp_path: Path) -> None:
    from newsqa.runtime import Runtime

    class Searcher(FakeSearcher):
        def query_vector(self, text: str) -> list[float]:
            return [0.0]

    settings = Settings().override({"home": str(tmp_path)})
    db = _store(settings.db_path, NEW)
    store, generator = Store(db), ReadingGenerator()
    assistant = Assistant(settings, store, Searcher([NEW[0]], NEW[1]), generator)
    runtime = Runtime(settings, store, assistant.searcher, assistant)
    runtime.warm()
    assert runtime.read_ahead is not None and runtime.read_ahead.limit == settings.generator.read_ahead
    assert runtime.read_ahead.groups == settings.generator.read_ahead_groups
    assert runtime.read_ahead.neighbours == settings.generator.read_ahead_neighbours
    _wait_for(lambda: len(generator.read) == 4)  # the article's 2 passages, then both pairs of them
    runtime.close()
    assert not runtime.read_ahead._thread.is_alive()
    off = Runtime(settings.override({"generator": {"read_ahead": 0}}), Store(db), assistant.searcher, assistant)
    off.warm()
    assert off.read_ahead is None
    off.close()


def test_a_question_behind_a_passage_being_read_ahead_is_not_told_someone_else_is_answered() -> None:
    articles, chunks = sample_corpus()
    started, go = threading.Event(), threading.Event()

    class Slow(ReadingGenerator):
        def read_ahead(self, messages):
            started.set()
            go.wait(5.0)
            return super().read_ahead(messages)

    generator = Slow([LAW_REPLY], judgements=[0.9])
    settings = Settings().override({"answer": {"min_dense_score": 0.0, "min_answerable": 0.5}})
    assistant = Assistant(settings, FakeStore(articles), FakeSearcher(articles, chunks), generator)
    reader = ReadAhead(assistant, Path("unused.db"), 1)
    hit = assistant.searcher.search(LAW_Q)[0]
    thread = threading.Thread(target=reader.run_once, args=([hit],))
    thread.start()
    assert started.wait(5.0)
    events = []
    asking = threading.Thread(target=lambda: events.extend(assistant.stream(LAW_Q, question_date=date(2024, 2, 2))))
    asking.start()
    time.sleep(0.6)  # the question waits: the model is reading ahead
    assert not asking.is_alive() or generator.choose_calls == []
    go.set()
    thread.join(5.0)
    asking.join(5.0)
    assert not [e for e in events if getattr(e, "stage", "") == "queued"]
    assert events[-1].answer.text.startswith("《常州市生活垃圾分类管理条例》") and len(generator.read) == 1


def test_background_work_at_the_model_is_not_counted_as_a_question_ahead() -> None:
    line = TurnLine()
    reading = line.join(background=True)
    first, second = line.join(), line.join()
    assert reading.position == 0 and first.position == 0  # only the reading ahead is before it
    assert second.position == 1  # a question ahead counts
    reading.release()
    assert first.position == 0 and second.position == 1
    first.release()
    assert second.position == 0


def test_a_pass_waits_for_the_model_server_to_start_without_holding_the_model(tmp_path: Path) -> None:
    loaded = threading.Event()

    class Worker:
        def url(self) -> str:
            loaded.wait(5.0)
            return "http://127.0.0.1:1/v1"

    generator = ReadingGenerator()
    generator.worker = Worker()
    reader = _reader(tmp_path, generator, limit=1)
    thread = threading.Thread(target=reader.run_once)
    thread.start()
    time.sleep(0.3)
    assert reader.assistant.line.idle and generator.read == []  # a question asked now would have the model
    loaded.set()
    thread.join(5.0)
    assert len(generator.read) == 1


# -- a question being typed ----------------------------------------------------------------------------------------


def _typing_reader(judgements=(0.9,), **options) -> tuple[ReadAhead, ReadingGenerator, Assistant]:
    articles, chunks = sample_corpus()
    generator = ReadingGenerator([LAW_REPLY], judgements=list(judgements))
    settings = Settings().override({"answer": {"min_dense_score": 0.0, "min_answerable": 0.5}})
    assistant = Assistant(settings, FakeStore(articles), FakeSearcher(articles, chunks), generator, annotate=annotate)
    return ReadAhead(assistant, Path("/nonexistent/newsqa.db"), 0, **options), generator, assistant


def test_a_question_being_typed_is_read_as_the_start_of_its_prompt_one_passage_more_each_time() -> None:
    reader, generator, assistant = _typing_reader()
    sources = assistant.typed_sources(LAW_Q, question_date=date(2024, 2, 2))
    assert sources
    done = reader.read_typed(LAW_Q)
    assert done == {"prompts": len(sources), "tokens_read": 60 * len(sources)}
    assert [m[1]["content"].count("<资料 编号=") for m in generator.read] == list(range(1, len(sources) + 1))
    assert generator.kept == ["none"] * (len(sources) - 1) + ["recent"]  # only the whole start is kept
    answer = assistant.ask(LAW_Q)  # sent as typed: its judgement and answer start with what was read
    assert not answer.refused
    for messages in (generator.choose_calls[0], generator.last_messages):
        assert messages[0] == generator.read[-1][0]
        assert messages[1]["content"].startswith(generator.read[-1][1]["content"] + "\n\n")


def test_nothing_is_read_for_a_typed_question_the_model_would_not_read_first() -> None:
    reader, generator, assistant = _typing_reader()
    history = [("垃圾分类条例什么时候施行？", LAW_REPLY)]
    assert assistant.typed_sources("它一共有多少条？", history) == []  # the model rewrites it first
    assert assistant.typed_sources("   ") == []
    assert assistant.typed_sources("武高新新能源产业产值有9999亿吗？") == []  # a figure no passage holds
    # the store answers these: the news of a day, and what a listed article says
    assert assistant.typed_sources("今天有什么新闻？", question_date=date(2024, 2, 2)) == []
    listed = [("今天有什么新闻？", "2024年2月2日的报道共 1 篇：\n1. 烟花爆竹燃放管控工作动员部署[1]")]
    assert assistant.typed_sources("第一篇讲了什么？", listed) == []
    assert assistant.typed_sources("「烟花爆竹燃放管控工作动员部署」是谁写的？") == []
    assert reader.read_typed("它一共有多少条？", history) == {"prompts": 0, "tokens_read": 0}
    assert generator.read == []


def test_the_app_reads_the_latest_question_typed_after_a_pause_and_stops_when_it_is_sent(monkeypatch) -> None:
    monkeypatch.setattr(readahead, "TYPING_PAUSE_S", 0.2)
    reader, generator, _ = _typing_reader()
    monkeypatch.setattr(reader, "_version", lambda: None)  # no store: only what is typed is read
    reader.start()
    try:
        reader.typed("垃圾")  # too short to search
        reader.typed("《常州市生活垃圾分类")
        reader.typed(LAW_Q)  # within the pause: only this one is read
        time.sleep(0.1)
        assert generator.read == []  # the typing has not paused yet
        _wait_for(lambda: reader.typed_read["questions"] == 1)
        assert generator.read and all("<资料 编号=1>" in m[1]["content"] for m in generator.read)
        assert reader.typed_read["prompts"] == len(generator.read)
        reader.typed("x" * 201)  # longer than anyone types
        reader.typed("果蔬艺术空间口袋公园")
        reader.sent()  # sent before the pause ended: nothing more is read
        time.sleep(0.4)
        assert reader.typed_read["questions"] == 1
    finally:
        reader.stop()


def test_a_newer_question_typed_stops_the_reading_of_the_older(monkeypatch) -> None:
    monkeypatch.setattr(readahead, "TYPING_PAUSE_S", 0.0)
    reader, generator, assistant = _typing_reader()
    assert len(assistant.typed_sources(LAW_Q)) >= 3
    reader.typed(LAW_Q)
    generator.during = {1: lambda: reader.typed("果蔬艺术空间口袋公园的面积有多大？")}  # typed on, as it was read
    reader._serve_typed()
    read = [m[1]["content"] for m in generator.read]
    assert ["垃圾分类" in m for m in read[:3]] == [True, True, False]  # the prompt being read ends, then it stops
    assert all("口袋公园" in m for m in read[2:]) and reader.typed_read["questions"] == 2


def test_each_resident_typing_is_read_and_one_sending_stops_only_their_own(monkeypatch) -> None:
    monkeypatch.setattr(readahead, "TYPING_PAUSE_S", 0.2)
    reader, generator, assistant = _typing_reader()
    reader.typed(LAW_Q, session="a")
    reader.typed("果蔬艺术空间口袋公园的面积有多大？", session="b")
    reader.sent("c")  # another resident sends a question: what a and b type is still read
    reader._serve_typed()
    assert reader.typed_read["questions"] == 2
    read = [m[1]["content"] for m in generator.read]
    assert any("垃圾分类" in m for m in read) and any("口袋公园" in m for m in read)
    first_b = next(i for i, m in enumerate(read) if "口袋公园" in m)
    assert all("垃圾分类" in m for m in read[:first_b])  # a paused first: read first

    generator.read.clear()
    whole = len(assistant.typed_sources(LAW_Q))  # the prompts of a's question, read to the end
    assert whole >= 3
    reader.typed(LAW_Q, session="a")
    generator.during = {1: lambda: reader.typed("果蔬艺术空间口袋公园的面积有多大？", session="b")}
    reader._serve_typed()  # b typing does not stop a's read
    read = [m[1]["content"] for m in generator.read]
    assert sum("垃圾分类" in m for m in read) == whole and "口袋公园" in read[-1]

    generator.read.clear()
    reader.typed(LAW_Q, session="a")
    reader.typed("果蔬艺术空间口袋公园的面积有多大？", session="b")
    monkeypatch.setattr(readahead, "TYPING_PAUSE_S", 0.0)
    generator.during = {1: lambda: reader.sent("a")}  # a sends as its question is read: b's is read all the same
    reader._serve_typed()
    read = [m[1]["content"] for m in generator.read]
    assert ["垃圾分类" in m for m in read[:3]] == [True, True, False] and all("口袋公园" in m for m in read[2:])


def test_the_residents_typing_are_remembered_up_to_a_bound(monkeypatch) -> None:
    monkeypatch.setattr(readahead, "TYPING_SESSIONS", 3)
    reader, _, _ = _typing_reader()
    for session in "abcde":
        reader.typed(LAW_Q, session=session)
    assert list(reader._typed) == ["c", "d", "e"]  # the oldest forgotten, not read


def test_a_prompt_a_question_stopped_is_read_again_after_it() -> None:
    reader, generator, assistant = _typing_reader()
    hits = assistant.searcher.search(LAW_Q)[:2]
    generator.stopped_at = {0: True}  # the first passage's read, stopped by a question
    done = ReadAhead(assistant, Path("unused.db"), 2, groups=0).run_once(hits)
    assert done["passages"] == 2 and len(generator.read) == 2  # each kept once, the first read twice
    assert done["tokens_read"] == 24 + 60 * (done["passages"] + done["rewrite"])  # and what the stopped one read
    generator.read.clear()
    generator.stopped_at = {1: True}  # a typed question's second step
    typed = reader.read_typed(LAW_Q)
    assert typed["prompts"] == len(generator.read) and typed["tokens_read"] == 24 + 60 * typed["prompts"]
