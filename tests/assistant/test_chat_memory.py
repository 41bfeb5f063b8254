"""A prompt the model has worked on before: the question asked again is answered from memory, without the model."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from assistant.chat import Assistant
from assistant.events import Final, Progress, Token
from assistant.memory import Remembered, ReplyMemory
from core.config import ConfigError, Settings
from tests.support.generators import FakeJudgingGenerator
from tests.support.news import FakeStore, sample_corpus
from tests.support.searchers import FakeSearcher

LAW_Q = "《常州市生活垃圾分类管理条例》什么时候施行？"
LAW_REPLY = "《常州市生活垃圾分类管理条例》将于2024年9月1日起施行[1]。"
COUNT_Q = "《常州市生活垃圾分类管理条例》一共有多少条？"
DAY = date(2024, 2, 2)


@pytest.fixture(scope="module")
def corpus():
    return sample_corpus()


def _assistant(corpus, generator, *, generator_settings=None, **answer) -> Assistant:
    # the fake searcher's bigram scores are not cosines
    settings = Settings().override(
        {"answer": {"min_dense_score": 0.0, "min_answerable": 0.5, **answer}, "generator": generator_settings or {}}
    )
    articles, chunks = corpus
    return Assistant(settings, FakeStore(articles), FakeSearcher(articles, chunks), generator)


def test_the_same_question_again_is_answered_from_memory_without_the_model(corpus) -> None:
    generator = FakeJudgingGenerator([LAW_REPLY], judgements=[0.9])  # one reply and one judgement: a second call fails
    assistant = _assistant(corpus, generator)
    first = assistant.ask(LAW_Q, question_date=DAY)
    events = list(assistant.stream(LAW_Q, question_date=DAY))
    again = events[-1].answer
    assert not first.remembered and again.remembered
    assert len(generator.calls) == 1 and len(generator.choose_calls) == 1
    assert again.text == first.text and again.citations == first.citations and not again.refused
    assert again.answerable_p == first.answerable_p == 0.9 and again.sources_read == first.sources_read
    # no wait for the model and nothing to read: the quotation, then the whole reply at once
    assert [e.stage for e in events if isinstance(e, Progress)] == ["searching"]
    assert "".join(e.text for e in events if isinstance(e, Token)) == LAW_REPLY
    assert again.timings["ttft"] <= again.timings["total"]


def test_a_judgement_that_refused_is_remembered_too(corpus) -> None:
    generator = FakeJudgingGenerator([], judgements=[0.1])
    assistant = _assistant(corpus, generator)
    first, again = (assistant.ask(LAW_Q, question_date=DAY) for _ in range(2))
    assert first.refusal_reason == again.refusal_reason == "judge"
    assert again.remembered and again.answerable_p == 0.1
    assert len(generator.choose_calls) == 1 and not generator.calls


@pytest.mark.parametrize(
    "second",
    [
        {"question": COUNT_Q, "question_date": DAY},  # another question
        {"question": LAW_Q, "question_date": date(2024, 2, 3)},  # another day: the prompt says which day it is
    ],
)
def test_another_prompt_goes_to_the_model(corpus, second) -> None:
    generator = FakeJudgingGenerator([LAW_REPLY, "该条例共五十八条[1]。"], judgements=[0.9, 0.9])
    assistant = _assistant(corpus, generator)
    assistant.ask(LAW_Q, question_date=DAY)
    answer = assistant.ask(second["question"], question_date=second["question_date"])
    assert not answer.remembered and len(generator.calls) == 2 and len(generator.choose_calls) == 2


@pytest.mark.parametrize(
    "settings",
    [
        {"remembered_replies": 0},
        {"min_confirmed": 0.5},  # the confirmation after the answer is the model's to give each time
        {"generator_settings": {"temperature": 0.7}},  # sampling: another reply each time
    ],
)
def test_nothing_is_remembered_when_it_is_off_or_the_reply_would_differ(corpus, settings) -> None:
    generator = FakeJudgingGenerator([LAW_REPLY, LAW_REPLY], judgements=[0.9, 0.9, 0.9, 0.9])
    assistant = _assistant(corpus, generator, **settings)
    answers = [assistant.ask(LAW_Q, question_date=DAY) for _ in range(2)]
    assert not any(a.remembered for a in answers) and len(generator.calls) == 2


def test_a_reply_cut_short_or_failed_is_not_remembered(corpus) -> None:
    generator = FakeJudgingGenerator([LAW_REPLY, RuntimeError("model died"), LAW_REPLY], judgements=[0.9] * 3)
    generator.piece_chars = 2
    assistant = _assistant(corpus, generator)
    stream = assistant.stream(LAW_Q, question_date=DAY)
    next(e for e in stream if isinstance(e, Token))
    stream.close()  # the reader left after the first piece
    failed = assistant.ask(LAW_Q, question_date=DAY)
    assert failed.generator == "extractive" and not failed.remembered
    answer = assistant.ask(LAW_Q, question_date=DAY)
    assert not answer.remembered and answer.text.startswith("《常州市生活垃圾分类管理条例》将于2024年9月1日起施行")
    assert len(generator.calls) == 3
    assert assistant.ask(LAW_Q, question_date=DAY).remembered  # that one reply was whole


class _HeldGenerator(FakeJudgingGenerator):
    """Its first reply waits until the test lets it go, so a second question queues behind it."""

    def __init__(self) -> None:
        super().__init__([LAW_REPLY], judgements=[0.9])
        self.writing = threading.Event()
        self.go = threading.Event()

    def _pieces(self, reply: str):
        self.writing.set()
        assert self.go.wait(10)
        yield from super()._pieces(reply)


def test_a_question_waiting_behind_the_same_question_gets_its_answer_from_memory(corpus) -> None:
    generator = _HeldGenerator()
    assistant = _assistant(corpus, generator)
    answers = {}
    first = threading.Thread(target=lambda: answers.update(first=assistant.ask(LAW_Q, question_date=DAY)))
    first.start()
    assert generator.writing.wait(10)
    events = []
    second = threading.Thread(target=lambda: events.extend(assistant.stream(LAW_Q, question_date=DAY)))
    second.start()
    while not any(isinstance(e, Progress) and e.stage == "queued" for e in list(events)):
        assert second.is_alive()
        threading.Event().wait(0.02)
    generator.go.set()
    first.join(10)
    second.join(10)
    final = events[-1]
    assert isinstance(final, Final) and final.answer.remembered and final.answer.text == answers["first"].text
    assert len(generator.calls) == 1 and len(generator.choose_calls) == 1


class _GatedGenerator(FakeJudgingGenerator):
    """Each reply waits until the test opens its gate: the model is busy for as long as the test wants."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies, judgements=[0.9] * len(replies))
        self.gates = [threading.Event() for _ in replies]
        self.started = [threading.Event() for _ in replies]

    def _pieces(self, reply: str):
        n = len(self.calls) - 1
        self.started[n].set()
        assert self.gates[n].wait(10)
        yield from super()._pieces(reply)


def _ask_in_thread(assistant: Assistant, question: str, out: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.extend(assistant.stream(question, question_date=DAY)), daemon=True)
    thread.start()
    return thread


def _queued(events: list) -> bool:
    return any(isinstance(e, Progress) and e.stage == "queued" for e in list(events))


def test_a_waiting_question_leaves_the_line_once_someone_ahead_got_its_answer(corpus) -> None:
    generator = _GatedGenerator([LAW_REPLY, "该条例共五十八条[1]。"])
    assistant = _assistant(corpus, generator)
    first, other, same = [], [], []
    threads = [_ask_in_thread(assistant, LAW_Q, first)]
    assert generator.started[0].wait(10)
    threads.append(_ask_in_thread(assistant, COUNT_Q, other))  # second in line
    while not _queued(other):
        threading.Event().wait(0.02)
    threads.append(_ask_in_thread(assistant, LAW_Q, same))  # third in line, the first one's question
    while not _queued(same):
        threading.Event().wait(0.02)
    generator.gates[0].set()  # the first is answered; the second now holds the model, and does not let go
    assert generator.started[1].wait(10)
    threads[2].join(10)
    assert not threads[2].is_alive(), "the question asked again still waited behind the other one"
    assert same[-1].answer.remembered and same[-1].answer.text == first[-1].answer.text
    generator.gates[1].set()
    threads[1].join(10)
    assert not other[-1].answer.remembered and len(generator.calls) == 2


def test_the_memory_forgets_the_least_recently_used_first() -> None:
    memory = ReplyMemory(2)
    entry = Remembered("", 0.9, 1, [], "回答[1]。", "fake")
    for key in "abc":
        memory.put(key, entry)
        memory.get("a")  # a is used after every put: b goes first
    assert memory.get("a") is entry and memory.get("b") is None and memory.get("c") is entry
    assert len(memory) == 2
    off = ReplyMemory(0)
    off.put("a", entry)
    assert off.get("a") is None


def test_a_negative_memory_size_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="remembered_replies"):
        Settings().override({"answer": {"remembered_replies": -1}})
