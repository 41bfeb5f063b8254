"""What is no question about the news (你好, 谢谢, 你是谁) gets a line of its own, with nothing searched."""

from __future__ import annotations

import pytest

from assistant.chat import Assistant
from assistant.rewrite import salient_phrase
from assistant.smalltalk import small_talk_reply
from core.config import Settings
from tests.support.generators import FakeGenerator
from tests.support.news import FakeStore, sample_corpus
from tests.support.searchers import FakeSearcher


@pytest.mark.parametrize("said", ["谢谢", "谢谢啦！", "你好呀", "您好，", "Hello", "再见~", "你是谁？", "你能做什么"])
def test_greetings_thanks_and_questions_about_the_assistant_are_small_talk(said: str) -> None:
    assert small_talk_reply(said)


@pytest.mark.parametrize(
    "said", ["谢谢你们的报道", "你好，垃圾分类条例什么时候施行？", "哈哈", "感谢信是谁写的？", "再见面是哪天？", ""]
)
def test_anything_more_is_a_question(said: str) -> None:
    assert small_talk_reply(said) == ""


def test_small_talk_is_answered_without_search_or_model_and_names_no_topic() -> None:
    """Searched, "谢谢" was refused as naming something no report mentions, with four articles "possibly related"."""
    articles, chunks = sample_corpus()
    searcher, generator = FakeSearcher(articles, chunks), FakeGenerator()  # a call to the model fails the test
    assistant = Assistant(Settings(), FakeStore(articles, chunks), searcher, generator)
    answer = assistant.ask("谢谢！", [("口袋公园在哪里？", "果蔬艺术空间口袋公园位于武南路凤栖路西北角[1]。")])
    assert answer.text == small_talk_reply("谢谢") and not answer.refused and not answer.citations
    assert answer.generator == "smalltalk" and searcher.calls == [] and generator.calls == []
    assert (
        salient_phrase([("你好", answer.text), ("面积多大？", "约7200平方米[1]。")]) == "面积"
    )  # the question word 多大 is no part of the topic
    assert salient_phrase([("口袋公园在哪里？", "…[1]。"), ("谢谢", answer.text)]) == "口袋公园"
