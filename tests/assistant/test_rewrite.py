"""Follow-up questions become standalone queries, with and without a model."""

from __future__ import annotations

from assistant.prompts import refusal_text
from assistant.rewrite import (
    ellipsis_rewrite,
    needs_model_rewrite,
    needs_rewrite,
    ordinal_rewrite,
    rewrite,
    rule_rewrite,
    salient_phrase,
)
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
    good = FakeGenerator(["《常州市生活垃圾分类管理条例》一共有几条？"])
    assert rewrite("它一共有多少条？", HISTORY, good) == "《常州市生活垃圾分类管理条例》一共有几条？"


def test_he_or_she_is_the_person_last_named_without_asking_the_model() -> None:
    """The local model, given "他去哪里调研了？" after "乔俊杰是谁？", wrote "武高新2023年度调研了哪里？"."""
    generator = FakeGenerator(["武高新2023年度调研了哪里？"])
    history = [("乔俊杰是谁？", "乔俊杰充分肯定了武高新2023年度的整体工作[1]。")]
    assert rewrite("他去哪里调研了？", history, generator) == "乔俊杰去哪里调研了？"
    assert generator.calls == [] and not needs_model_rewrite("他去哪里调研了？", history)
    assert needs_model_rewrite("他去哪里调研了？", [("条例什么时候施行？", "9月1日起施行[1]。")])  # nobody named
    # seen in the web chat: after a refusal "他" became 原文中, which jieba reads as a name in its last sentence
    refused = [("乔俊杰是谁？", refusal_text("judge", quoted=True))]
    assert rewrite("他去哪里调研了？", refused, generator) == "乔俊杰去哪里调研了？"


def test_a_model_rewrite_that_gives_the_question_back_falls_back_to_the_rules() -> None:
    """Seen in the web chat: after three turns the model returned "那税收收入呢？" as it was, and search and judgement
    then had no subject; the rules name the topic of the last question."""
    history = [("介绍一下2023年武高新规上工业总产值。", "2023年武高新规上工业总产值首次踏上2000亿元台阶[1]。")]
    for echo in ("那税收收入呢？", "那税收收入呢"):
        generator = FakeGenerator([echo])
        query = rewrite("那税收收入呢？", history, generator)
        assert generator.calls and query == rule_rewrite("那税收收入呢？", history) and "武高新" in query


def test_the_rules_take_a_question_word_out_of_the_topic_whole() -> None:
    """ "什么" was taken out one character short: the topic read "2023年武高新规上工业总产值达到什水平"."""
    history = [("2023年武高新规上工业总产值达到什么水平？", "2023年武高新规上工业总产值首次踏上2000亿元台阶[1]。")]
    assert salient_phrase(history) == "2023年武高新规上工业总产值达到水平"


def test_an_elliptical_follow_up_asks_the_last_question_about_its_topic() -> None:
    """ "那X呢？" asks the last question again about X. These conversations were written for the test."""
    cases = [
        ("2023年某市地区生产总值是多少？", "那财政收入呢？", "2023年某市财政收入是多少？"),
        ("星河公司去年的营业收入是多少？", "那净利润呢？", "星河公司去年的净利润是多少？"),  # jieba: 收入 is v
        ("星河公司去年的净利润是多少？", "那营业收入呢？", "星河公司去年的营业收入是多少？"),
        ("2023年某市工业总产值达到什么水平？", "那税收收入呢？", "2023年某市税收收入达到什么水平？"),
        ("马拉松比赛的男子冠军是谁？", "那女子冠军呢？", "马拉松比赛的女子冠军是谁？"),
        ("2024年全市共种植多少亩水稻？", "那小麦呢？", "2024年全市共种植多少亩小麦？"),
        ("今年一季度南湖区新增就业多少人？", "那二季度呢？", "今年二季度南湖区新增就业多少人？"),
        ("金牌榜第一名是哪个国家？", "那第二名呢？", "金牌榜第二名是哪个国家？"),
        ("新北区今年新开工多少个重大项目？", "那武进区呢？", "武进区今年新开工多少个重大项目？"),
        ("滨江新城的学校什么时候建成？", "医院呢？", "滨江新城的医院什么时候建成？"),
    ]
    for asked, follow_up, expected in cases:
        assert rule_rewrite(follow_up, [(asked, "……[1]。")]) == expected, follow_up
    # an earlier elliptical question is not the one asked again
    chain = [("2023年某市地区生产总值是多少？", "……[1]。"), ("那财政收入呢？", "……[1]。")]
    assert rule_rewrite("那税收收入呢？", chain) == "2023年某市税收收入是多少？"
    # the last question leaned on the one before it: its pronoun is resolved first
    chain = [("《某市养犬管理条例》什么时候起施行？", "……[1]。"), ("它的罚款标准是什么？", "……[1]。")]
    assert rule_rewrite("那处罚程序呢？", chain) == "《某市养犬管理条例》的处罚程序是什么？"


def test_an_ellipsis_with_no_slot_for_its_topic_keeps_the_older_rules() -> None:
    history = [("2023年某市地区生产总值是多少？", "……[1]。")]
    assert not ellipsis_rewrite("那个学校呢？", [("滨江新城的学校什么时候建成？", "……[1]。")])  # 那个 points back
    for follow_up in ("那还有呢？", "那什么时候呢？"):  # more of the same, or a question word: no topic to swap
        assert rule_rewrite(follow_up, history) == f"{salient_phrase(history)} {follow_up}"
    assert rule_rewrite("那它呢？", HISTORY) == "那《常州市生活垃圾分类管理条例》呢？"
    # the nouns before the question word are its whole subject: X may be a part of it, which only a model can tell
    history = [("垃圾分类条例什么时候施行？", "该条例将于2024年9月1日起施行[1]。")]
    assert not ellipsis_rewrite("那罚款呢？", history) and needs_model_rewrite("那罚款呢？", history)


def test_an_ellipsis_the_rules_settle_is_not_asked_of_the_model() -> None:
    """The bundled model dropped the place or the year ("那二季度呢？" → "二季度新增就业多少人？"); the rules keep the
    whole last question, at once."""
    history = [("今年一季度南湖区新增就业多少人？", "今年一季度南湖区新增就业3200人[1]。")]
    generator = FakeGenerator(["二季度新增就业多少人？"])
    assert rewrite("那二季度呢？", history, generator) == "今年二季度南湖区新增就业多少人？"
    assert not generator.calls
    assert not needs_model_rewrite("那二季度呢？", history) and needs_model_rewrite("它一共有多少条？", HISTORY)


def test_a_model_rewrite_that_keeps_the_ellipsis_falls_back_to_the_rules() -> None:
    """Seen with the bundled model: the last answer put before the follow-up, which still asks nothing by itself."""
    history = [("介绍一下某市的地区生产总值。", "2023年某市地区生产总值为5210亿元[1]。")]  # no slot to swap
    kept = FakeGenerator(["2023年某市地区生产总值为5210亿元，那财政收入呢？"])
    assert rewrite("那财政收入呢？", history, kept) == rule_rewrite("那财政收入呢？", history)
    good = FakeGenerator(["2023年某市的财政收入是多少？"])
    assert rewrite("那财政收入呢？", history, good) == "2023年某市的财政收入是多少？"


def test_a_model_rewrite_that_brings_in_a_determiner_or_drops_the_topic_falls_back_to_the_rules() -> None:
    """Seen with the bundled model: "那罚款呢？" after a question on 垃圾分类条例 became "该条例何时实施罚款？"."""
    history = [("垃圾分类条例什么时候施行？", "该条例将于2024年9月1日起施行[1]。")]
    query = rewrite("那罚款呢？", history, FakeGenerator(["该条例何时实施罚款？"]))
    assert query == rule_rewrite("那罚款呢？", history) and "垃圾分类条例" in query
    assert rewrite("那罚款呢？", history, FakeGenerator(["垃圾分类条例应该怎样罚款？"])) == "垃圾分类条例应该怎样罚款？"
    forgot = FakeGenerator(["垃圾分类条例何时实施？"])  # seen too: the topic left out
    assert rewrite("那罚款呢？", history, forgot) == rule_rewrite("那罚款呢？", history)


def test_the_topic_left_by_a_question_word_drops_the_word_that_led_to_it() -> None:
    assert salient_phrase([("口袋公园在哪里？", "公园位于武南路凤栖路西北角[1]。")]) == "口袋公园"
    assert rule_rewrite("面积多大？", [("口袋公园在哪里？", "")]) == "口袋公园 面积多大？"


NEWS_OF_THE_DAY = [
    (
        "今天有什么新闻？",
        "2024年2月2日的报道共 3 篇：\n1. 乔俊杰专题调研武高新[1]\n2. “阳湖N警·警物联盟”群防群治工作部署会召开[2]\n"
        "3. 烟花爆竹燃放管控工作动员部署[3]",
    )
]


def test_an_ordinal_names_the_item_of_the_list_in_the_last_answer_without_the_model() -> None:
    generator = FakeGenerator()  # nothing scripted: asking the model fails the test
    assert (
        rewrite("第二篇讲了什么？", NEWS_OF_THE_DAY, generator)
        == "「“阳湖N警·警物联盟”群防群治工作部署会召开」讲了什么？"
    )
    assert (
        rewrite("第3篇报道主要讲了什么内容？", NEWS_OF_THE_DAY, generator)
        == "「烟花爆竹燃放管控工作动员部署」主要讲了什么内容？"
    )
    assert generator.calls == [] and not needs_model_rewrite("第一条是谁写的？", NEWS_OF_THE_DAY)
    assert needs_rewrite("第3篇报道主要讲了什么内容？", NEWS_OF_THE_DAY)  # long, but it counts to an item


def test_an_ordinal_with_no_list_item_to_count_to_is_left_to_the_other_rules() -> None:
    assert ordinal_rewrite("第五篇讲了什么？", NEWS_OF_THE_DAY) == ""
    assert ordinal_rewrite("第二篇讲了什么？", [("问", "没有列表的回答。")]) == ""
    assert not needs_rewrite("2024年是我区实施燃放管控政策的第几年？", NEWS_OF_THE_DAY)


def test_an_ordinal_counts_in_the_last_list_and_then_ask_the_last_question_again() -> None:
    history = [*NEWS_OF_THE_DAY, ("第二篇讲了什么？", "昨天上午，我区召开“阳湖N警·警物联盟”群防群治工作部署会[1]。")]
    assert rewrite("第三篇是谁写的？", history, None) == "「烟花爆竹燃放管控工作动员部署」是谁写的？"
    assert rewrite("那第一篇呢？", history, None) == "「乔俊杰专题调研武高新」讲了什么？"
    assert not needs_model_rewrite("第三篇呢？", history)


PARK_Q, PARK_A = "口袋公园在哪里？", "果蔬艺术空间口袋公园位于武南路凤栖路西北角[1]。"
ALLIANCE = [("警物联盟是什么？", "警物联盟是以“警力+物业+网格”为主体的群防群治子品牌[1]。")]


def test_a_short_question_on_a_topic_of_its_own_is_not_rewritten() -> None:
    """Seen in the web chat: "垃圾分为哪几类？" after "警物联盟是什么？" was searched as "“警力+物业+网格” 垃圾分为
    哪几类？", and the model wrote "警物联盟垃圾分为四类". The sample page holds 垃圾 and 分为 together, never beside
    警物联盟; it holds 面积 beside 口袋公园, so "面积多大？" still asks about the park."""
    articles, chunks = sample_corpus()
    corpus = FakeSearcher(articles, chunks)
    generator = FakeGenerator(["警物联盟垃圾分为哪几类？"])
    assert rewrite("垃圾分为哪几类？", ALLIANCE, generator, corpus=corpus) == "垃圾分为哪几类？"
    assert generator.calls == []  # nothing to resolve: the model is not asked
    park = [(PARK_Q, PARK_A)]
    assert rule_rewrite("面积多大？", park, corpus) == "口袋公园 面积多大？"
    assert rule_rewrite("乔俊杰是谁？", park, corpus) == "乔俊杰是谁？"
    # none of its words is on the page: nothing tells, and it leans on the conversation as before
    assert needs_rewrite("有哪些设施？", park, corpus)
    assert needs_rewrite("它在哪里？", ALLIANCE, corpus)  # points back, whatever the corpus holds
    assert needs_rewrite("垃圾分为哪几类？", ALLIANCE)  # without a corpus, short is all that counts


def test_a_short_question_of_the_same_article_keeps_its_topic() -> None:
    """Seen in a conversation: "谁参加了会议？" after "燃放管控政策实施几年了？" was taken for a question of its own,
    as no one passage holds 会议 beside 政策 and 实施, and the model named the guests of another meeting with this
    one's. The article holds them all, and the topic drops the count asked ("几年了")."""
    articles, chunks = sample_corpus()
    corpus = FakeSearcher(articles, chunks)
    fireworks = [("燃放管控政策实施几年了？", "燃放管控政策实施了6年[1]。")]
    assert not corpus.held_together(["参加", "会议", "政策", "实施"])
    assert salient_phrase(fireworks, corpus) == "燃放管控政策实施"
    assert rule_rewrite("谁参加了会议？", fireworks, corpus) == "燃放管控政策实施 谁参加了会议？"
    assert rule_rewrite("垃圾分为哪几类？", fireworks, corpus) == "垃圾分为哪几类？"  # another article's words


def test_the_topic_of_a_question_asking_what_something_has_is_that_thing() -> None:
    """Seen in a conversation: "它离哪个社区近？" after "口袋公园有什么设施？" was rewritten "口袋公园有设施离哪个社区
    近？", and the model answered in those words."""
    parks = [("口袋公园有什么设施？", "口袋公园有休憩廊架、健身器材等设施[1]。")]
    assert salient_phrase(parks) == "口袋公园"
    assert rule_rewrite("它离哪个社区近？", parks) == "口袋公园离哪个社区近？"
    assert salient_phrase([("乔俊杰提了哪些要求？", "要全力推进…[1]。")]) == "乔俊杰"  # a name, as before


def test_a_model_rewrite_that_still_names_nothing_falls_back_to_the_rules() -> None:
    """Seen with the local model: "是9月1日吗？" after a question on the 条例 came back "是2024年9月1日吗？", its topic
    dropped, and was judged 0.815 and refused."""
    history = [("垃圾分类条例什么时候施行？", "垃圾分类条例将于2024年9月1日起施行[1]。")]
    query = rewrite("是9月1日吗？", history, FakeGenerator(["是2024年9月1日吗？"]))
    assert query == rule_rewrite("是9月1日吗？", history) == "垃圾分类条例施行 是9月1日吗？"
    named = rewrite("是9月1日吗？", history, FakeGenerator(["垃圾分类条例是9月1日施行的吗？"]))
    assert named == "垃圾分类条例是9月1日施行的吗？"


def test_an_answers_quoted_phrase_is_not_the_topic_but_its_title_is() -> None:
    assert salient_phrase(ALLIANCE) == "警物联盟"
    assert salient_phrase([("条例什么时候施行？", "《常州市生活垃圾分类管理条例》将于9月1日施行[1]。")]) == (
        "《常州市生活垃圾分类管理条例》"
    )


def test_a_model_rewrite_that_drops_a_noun_of_the_question_is_not_taken() -> None:
    """Seen with the local model: "税收多少？" after a question about the 总产值 came back as that question."""
    history = [("武高新去年规上工业总产值多少？", "武高新规上工业总产值首次踏上2000亿元台阶[1]。")]
    query = rewrite("税收多少？", history, FakeGenerator(["武高新去年规上工业总产值多少？"]))
    assert "税收" in query and query == rule_rewrite("税收多少？", history)


def test_a_follow_up_keeps_the_topic_it_followed_for_the_next_one() -> None:
    """Seen in the web chat after a test article on a library: "一次能借几本书？" after "图书馆新馆什么时候开放？"
    and "周一开吗？" was searched as "周一开 一次能借几本书？", the last question's words as its topic."""
    articles, chunks = sample_corpus()
    corpus = FakeSearcher(articles, chunks)
    park = [(PARK_Q, PARK_A), ("面积多大？", "公园面积约7200平方米[1]。")]
    assert salient_phrase(park, corpus) == salient_phrase(park) == "口袋公园"
    assert rule_rewrite("有哪些设施？", park, corpus) == "口袋公园 有哪些设施？"
    # a short question on a topic of its own is the topic from then on, where the corpus tells it apart
    switched = [*ALLIANCE, ("垃圾分为哪几类？", "生活垃圾分为四类[1]。")]
    assert salient_phrase(switched, corpus) == "垃圾分为哪类" and salient_phrase(switched) == "警物联盟"
