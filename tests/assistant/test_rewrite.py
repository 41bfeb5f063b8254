"""Follow-up questions become standalone queries, with and without a model."""

from __future__ import annotations

from assistant.rewrite import needs_rewrite, rewrite, rule_rewrite, salient_phrase
from tests.support.generators import FakeGenerator
from tests.support.news import sample_corpus
from tests.support.searchers import FakeSearcher

LAW_Q = "《常州市生活垃圾分类管理条例》什么时候施行？"
LAW_A = "该条例将于2024年9月1日起施行[1]。"
HISTORY = [(LAW_Q, LAW_A)]


def test_pronoun_follow_up_takes_the_quoted_title() -> None:
    assert rule_rewrite("它一共有多少条？", HISTORY) == "《常州市生活垃圾分类管理条例》一共有多少条？"


def test_determiner_with_matching_head_noun_is_replaced() -> None:
    assert rule_rewrite("该条例由哪个部门起草？", HISTORY) == "《常州市生活垃圾分类管理条例》由哪个部门起草？"


def test_elliptical_follow_up_gets_the_topic_prepended() -> None:
    query = rule_rewrite("罚款多少？", HISTORY)
    assert "常州市生活垃圾分类管理条例" in query and query.endswith("罚款多少？")


def test_words_that_merely_contain_pronoun_characters_are_left_alone() -> None:
    query = rule_rewrite("其他垃圾包括哪些东西，分别怎么处理？", HISTORY)
    assert "其他垃圾" in query


def test_salient_phrase_falls_back_to_named_entities() -> None:
    phrase = salient_phrase([("乔俊杰调研了哪个园区？", "武进国家高新区[1]。")])
    assert "乔俊杰" in phrase


def test_standalone_questions_are_not_rewritten() -> None:
    assert not needs_rewrite("《常州市生活垃圾分类管理条例》共有多少条？", HISTORY)
    assert not needs_rewrite("它一共有多少条？", [])
    generator = FakeGenerator()
    assert (
        rewrite("武进区烟花爆竹燃放管控工作有哪些要求？", HISTORY, generator)
        == "武进区烟花爆竹燃放管控工作有哪些要求？"
    )
    assert generator.calls == []  # no model call when nothing needs resolving


def test_model_rewrite_is_used_and_cleaned() -> None:
    generator = FakeGenerator(["改写后的问题：“《常州市生活垃圾分类管理条例》一共有多少条？”\n多余的解释"])
    assert rewrite("它一共有多少条？", HISTORY, generator) == "《常州市生活垃圾分类管理条例》一共有多少条？"
    prompt = generator.last_messages[-1]["content"]
    assert LAW_Q in prompt and "[1]" not in prompt and "它一共有多少条？" in prompt


def test_failing_or_rambling_model_falls_back_to_the_rules() -> None:
    expected = "《常州市生活垃圾分类管理条例》一共有多少条？"
    assert rewrite("它一共有多少条？", HISTORY, FakeGenerator([RuntimeError("model gone")])) == expected
    assert rewrite("它一共有多少条？", HISTORY, FakeGenerator(["好的" * 200])) == expected
    assert rewrite("它一共有多少条？", HISTORY, FakeGenerator([""])) == expected


def test_rewritten_follow_up_retrieves_the_law_article_from_the_sample_page() -> None:
    articles, chunks = sample_corpus()
    searcher = FakeSearcher(articles, chunks)
    query = rewrite("它一共有多少条？", HISTORY, None)
    top = searcher.search(query, k=3)[0]
    assert "生活垃圾分类管理条例" in top.title
    assert "五十八条" in " ".join(
        h.chunk.text for h in searcher.search(query, k=3) if h.chunk.article_id == top.chunk.article_id
    )


def test_personal_pronoun_takes_the_person_named_in_the_answer() -> None:
    history = [("“阳湖N警·警物联盟”群防群治工作部署会的报道记者是谁？", "记者是何晓丹[1]。")]
    assert rule_rewrite("她还报道了哪场会议？", history) == "何晓丹还报道了哪场会议？"


def test_a_model_rewrite_that_keeps_the_pronoun_or_answers_falls_back_to_the_rules() -> None:
    history = [("“阳湖N警·警物联盟”群防群治工作部署会的报道记者是谁？", "记者是何晓丹[1]。")]
    kept = FakeGenerator(["她还报道了阳湖N警·警物联盟群防群治工作部署会。"])
    assert rewrite("她还报道了哪场会议？", history, kept) == "何晓丹还报道了哪场会议？"
    answered = FakeGenerator(["《常州市生活垃圾分类管理条例》共有五十八条。"])
    assert rewrite("它一共有多少条？", HISTORY, answered) == "《常州市生活垃圾分类管理条例》一共有多少条？"
    good = FakeGenerator(["何晓丹还报道了哪些会议？"])
    assert rewrite("她还报道了哪场会议？", history, good) == "何晓丹还报道了哪些会议？"


def test_a_model_rewrite_that_gives_the_question_back_falls_back_to_the_rules() -> None:
    """Seen in the web chat: after three turns the model returned "那税收收入呢？" as it was, and search and judgement
    then had no subject; the rules name the topic of the last question."""
    history = [("2023年武高新规上工业总产值达到什么水平？", "2023年武高新规上工业总产值首次踏上2000亿元台阶[1]。")]
    for echo in ("那税收收入呢？", "那税收收入呢"):
        query = rewrite("那税收收入呢？", history, FakeGenerator([echo]))
        assert query == rule_rewrite("那税收收入呢？", history) and "武高新" in query


def test_the_rules_take_a_question_word_out_of_the_topic_whole() -> None:
    """ "什么" was taken out one character short: the topic read "2023年武高新规上工业总产值达到什水平"."""
    history = [("2023年武高新规上工业总产值达到什么水平？", "2023年武高新规上工业总产值首次踏上2000亿元台阶[1]。")]
    query = rule_rewrite("那税收收入呢？", history)
    assert "什" not in query and query.startswith("2023年武高新规上工业总产值达到水平")
