"""Attribution: sentences checked against the sources they cite, re-attributed, quoted at exact offsets."""

from __future__ import annotations

import zlib

import pytest

from assistant.attribution import Attributor, Evidence
from assistant.prompts import is_refusal
from core.types import Article, Chunk, Hit
from tests.support.news import sample_corpus
from tests.support.searchers import hit_for

LAW = (
    "本报讯 (记者 黄雅婷) 昨天上午, 市人大常委会召开《常州市生活垃圾分类管理条例》新闻发布会, "
    "该条例将于2024年9月1日起施行。\n条例共九章、五十八条, 明确了各级政府及相关部门的职责。"
)
FIREWORKS = "2024年是我区实施燃放管控政策的第六年。全区烟花爆竹违规燃放警情持续低发少发。"
INDUSTRY = "战略新兴产业产值占比达68%, 新能源产业产值近1,300亿元, 为全区经济社会发展提供了有力保障。"


def _hit(aid: str, text: str, title: str, date: str = "2024-02-02", offset: int = 0) -> Hit:
    chunk = Chunk(
        id=zlib.crc32(aid.encode()),
        article_id=aid,
        index=0,
        paragraph=0,
        start=offset,
        end=offset + len(text),
        text=text,
    )
    return Hit(chunk=chunk, score=1.0, title=title, date=date, scores={"dense": 0.8})


@pytest.fixture
def attributor() -> Attributor:
    return Attributor(
        [
            Evidence(1, _hit("law", LAW, "《常州市生活垃圾分类管理条例》9月1日起施行")),
            Evidence(2, _hit("fire", FIREWORKS, "烟花爆竹燃放管控工作动员部署")),
            Evidence(3, _hit("ind", INDUSTRY, "乔俊杰专题调研武高新")),
        ]
    )


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        ("根据资料[1]和[3]，条例共五十八条。", "条例共五十八条[1]。"),
        ("根据资料编号为1的资料，条例共五十八条。", "条例共五十八条[1]。"),
        ("根据资料，条例共五十八条[1]。", "根据资料，条例共五十八条[1]。"),
    ],
)
def test_a_leading_source_reference_becomes_the_marker(attributor: Attributor, reply: str, shown: str) -> None:
    assert attributor.attribute(reply).text == shown


def test_a_sentence_written_once_per_source_is_shown_once_with_the_sources_that_back_it(
    attributor: Attributor,
) -> None:
    reply = (
        "[1]根据资料编号为1的资料，新能源产业产值近1300亿元。\n[2]根据资料编号为2的资料，新能源产业产值近1300亿元。\n"
        "[3]根据资料编号为3的资料，新能源产业产值近1300亿元。"
    )
    result = attributor.attribute(reply)
    assert result.text == "新能源产业产值近1300亿元[3]。"
    assert [(c.n, c.verified) for c in result.citations] == [(3, True)]
    assert result.factual == result.verified == 1 and not result.unverified


def test_only_a_repeated_sentence_is_merged(attributor: Attributor) -> None:
    result = attributor.attribute("条例共五十八条[1]。新能源产业产值近1300亿元[3]。条例共五十八条[1]。")
    assert result.text == "条例共五十八条[1]。新能源产业产值近1300亿元[3]。"
    assert result.factual == 2


def test_a_marker_written_in_place_of_the_number_is_never_verified(attributor: Attributor) -> None:
    result = attributor.attribute("2024年全区烟花爆竹违规燃放警情共发生[2]起。")
    assert result.factual == 1 and result.verified == 0
    assert [(c.n, c.verified) for c in result.citations] == [(2, False)]
    assert attributor.attribute("全区烟花爆竹违规燃放警情持续低发少发[2]。").verified == 1


def test_numbers_of_missing_sources_are_dropped(attributor: Attributor) -> None:
    result = attributor.attribute("条例将于2024年9月1日起施行[1][7]。条例共五十八条【9】。")
    assert result.dropped == (7, 9)
    assert "[7]" not in result.text and "9】" not in result.text
    assert {c.n for c in result.citations} == {1}
    assert result.text.startswith("条例将于2024年9月1日起施行[1]。")


def test_list_numbering_is_not_a_fact_to_check(attributor: Attributor) -> None:
    result = attributor.attribute("3. 条例将于2024年9月1日起施行[1]。")
    assert result.verified == 1 and not result.unverified


def test_verified_citation_quotes_the_supporting_sentence(attributor: Attributor) -> None:
    result = attributor.attribute("该条例共九章、58条[1]。")
    (citation,) = result.citations
    assert citation.verified and not result.unverified
    assert citation.quote.startswith("条例共九章、五十八条")
    assert LAW[citation.start : citation.end] == citation.quote


def test_quote_offsets_index_the_article_text() -> None:
    articles, chunks = sample_corpus()
    law = next(a for a in articles if "生活垃圾分类管理条例" in a.title)
    later = [c for c in chunks if c.article_id == law.id and c.start > 0]
    assert later, "the 条例 article should have a chunk that does not start at offset 0"
    chunk = later[0]
    sentence = chunk.text.split("。")[0][-20:]
    result = Attributor([Evidence(1, hit_for(law, chunk))]).attribute(sentence + "[1]。")
    (citation,) = result.citations
    assert citation.article_id == law.id and citation.chunk_id == chunk.id
    assert law.text[citation.start : citation.end] == citation.quote
    assert citation.start >= chunk.start and sentence in citation.quote


def test_wrong_number_is_reattributed_to_the_passage_that_has_it(attributor: Attributor) -> None:
    result = attributor.attribute("新能源产业产值近1300亿元[1]。")
    (citation,) = result.citations
    assert citation.n == 3 and citation.verified and citation.article_id == "ind"
    assert result.text == "新能源产业产值近1300亿元[3]。"
    assert result.reattributed == 1


def test_number_found_nowhere_is_marked_unverified(attributor: Attributor) -> None:
    result = attributor.attribute("该条例共九章、六十条[1]。")
    (citation,) = result.citations
    assert not citation.verified
    assert result.unverified == ("该条例共九章、六十条。",)
    assert result.verified == 0 and result.factual == 1


def test_an_uncited_list_item_in_a_sources_own_words_is_cited_to_it(attributor: Attributor) -> None:
    # a list written without markers: each item that is most of one source's wording is checked like a cited one;
    # the line that introduces the list states nothing of its own
    result = attributor.attribute("条例规定：\n1. 条例共九章、五十八条。\n2. 全区烟花爆竹违规燃放警情持续低发少发。")
    assert result.text == "条例规定：\n1. 条例共九章、五十八条[1]。\n2. 全区烟花爆竹违规燃放警情持续低发少发[2]。"
    assert result.verified == result.factual == 2 and not result.unverified and result.reattributed == 2
    assert [c.n for c in result.citations] == [1, 2] and all(c.verified for c in result.citations)
    # an item with a fact no source holds, or in its own words, stays unverified
    made_up = attributor.attribute("1. 全区烟花爆竹违规燃放警情共3起。\n2. 《常州市生活垃圾分类管理条例》由市政府起草")
    assert len(made_up.unverified) == 2 and not made_up.citations


def test_the_markers_closing_a_paragraph_cover_its_sentences(attributor: Attributor) -> None:
    # "…。…。[1][3]": the model cited the paragraph once, at its end; each sentence is checked against those sources
    result = attributor.attribute("条例将于2024年9月1日起施行。条例共九章、五十八条。[1][3]")
    assert result.text == "条例将于2024年9月1日起施行[1]。条例共九章、五十八条[1]。"
    assert result.verified == result.factual == 2 and not result.unverified and result.reattributed == 0
    # a sentence those sources do not back stays unverified, and a line break ends the paragraph
    wrong = attributor.attribute("条例共十章。条例共九章、五十八条[1]。")
    assert wrong.unverified == ("条例共十章。",)
    broken = attributor.attribute("条例将于2024年9月1日起施行。\n条例共九章、五十八条[1]。")
    assert broken.unverified == ("条例将于2024年9月1日起施行。",)


def test_uncited_sentence_with_facts_is_unverified(attributor: Attributor) -> None:
    result = attributor.attribute("条例将于2024年9月1日起施行[1]。条例共五十八条。")
    assert result.unverified == ("条例共五十八条。",)
    assert all(c.verified for c in result.citations)
    assert result.unsupported == ()  # 五十八 is in source [1]: the sentence only lacks its marker


@pytest.mark.parametrize(
    ("reply", "kinds"),
    [
        ("该条例共九章、六十条[1]。", ("数字",)),
        ("条例共五十八条[1]，共98条[1]。", ("数字",)),
        ("条例将于2025年3月1日起施行[1]。", ("日期",)),
        ("《南京市生活垃圾分类管理条例》共五十八条[1]。", ("名称",)),
        ("《南京市生活垃圾分类管理条例》将于2025年3月1日起施行[1]。条例共六十条[1]。", ("数字", "日期", "名称")),
        # each fact is in some source, but no source cited or not holds both
        ("条例共五十八条，新能源产业产值近1300亿元[1]。", ()),
    ],
)
def test_the_kinds_of_fact_no_source_holds_are_named(attributor: Attributor, reply: str, kinds: tuple) -> None:
    result = attributor.attribute(reply)
    assert result.unverified
    assert result.unsupported == kinds


def _asked(question: str) -> Attributor:
    evidence = [Evidence(1, _hit("law", LAW, "《常州市生活垃圾分类管理条例》9月1日起施行"))]
    return Attributor(evidence, asked=question)


@pytest.mark.parametrize(
    ("question", "reply", "verified"),
    [
        # all it adds to the question is a word no source holds
        ("违反了垃圾分类条例会怎么样？", "违反了垃圾分类条例将面临罚款[1]。", False),
        ("该条例哪天施行？", "该条例将于2024年9月1日起施行，违者将被处以罚款[1]。", False),
        # the question's own words are the reply's to use, whether a source has them or not
        ("垃圾分类条例几号开始实行？", "垃圾分类条例将于2024年9月1日开始实行[1]。", True),
        # a word of its own framing the source's wording is no claim of its own
        ("条例的内容是什么？", "条例共九章、五十八条，明确了各级政府及相关部门的职责等方面[1]。", True),
        # the prompt's words: the reply speaks of its sources
        ("条例共有多少条？", "根据资料提供的信息，条例共九章、五十八条[1]。", True),
    ],
)
def test_most_of_what_a_reply_adds_to_the_question_must_be_words_it_read(
    question: str, reply: str, verified: bool
) -> None:
    result = _asked(question).attribute(reply)
    assert (not result.unverified) is verified, result
    assert result.unsupported == (() if verified else ("说法",))


def test_most_of_the_things_a_reply_names_beyond_the_question_must_be_read_too() -> None:
    """ "有害垃圾怎么处理？" was answered "有害垃圾应投放到有害垃圾收集容器中[1]。": its verbs 投放 and 收集 are the
    source's, so most of its words were read, and the one thing it names, 容器, is in no passage."""
    text = (
        "加强生活垃圾分类投放、收集、运输和处理的全过程管理。"
        "条例明确将生活垃圾分为四类，即可回收物、有害垃圾、厨余垃圾和其他垃圾。"
    )
    evidence = [Evidence(1, _hit("law", text, "垃圾分类"))]
    made_up = Attributor(evidence, asked="有害垃圾怎么处理？").attribute("有害垃圾应投放到有害垃圾收集容器中[1]。")
    assert made_up.unverified and made_up.unsupported == ("说法",)
    named = Attributor(evidence, asked="垃圾怎么管理？").attribute("垃圾实行分类投放、收集和处理的全过程管理[1]。")
    assert not named.unverified  # what it names (管理, 过程) the source names


def test_a_list_the_source_gives_beside_a_thing_is_not_what_it_holds() -> None:
    """Seen with the local model: "可回收物包括哪些？" was answered "可回收物包括：厨余垃圾、有害垃圾、其他垃圾[1]。"
    and "九小场所指哪些地方？" "九小场所指学校、医院、…以及“九小场所”[1]。", both verified: every word is the
    source's."""
    kinds = "条例明确将生活垃圾分为四类，即可回收物、有害垃圾、厨余垃圾和其他垃圾。"
    places = "高度关注学校、医院、养老院、群租房、集贸市场等人员密集场所以及“九小场所”。"
    evidence = [Evidence(1, _hit("law", kinds, "垃圾分类")), Evidence(2, _hit("safety", places, "安全生产"))]
    wrong = {
        "可回收物包括哪些？": "可回收物包括：厨余垃圾、有害垃圾、其他垃圾[1]。",
        "九小场所指哪些地方？": "九小场所指学校、医院、养老院、群租房、集贸市场等人员密集场所以及“九小场所”[2]。",
    }
    for question, reply in wrong.items():
        result = Attributor(evidence, asked=question).attribute(reply)
        assert result.unverified and result.unsupported == ("说法",), question
        assert not Attributor(evidence).attribute(reply).unverified  # a quotation is not read so
    right = {
        "垃圾分为哪几类？": "生活垃圾分为可回收物、有害垃圾、厨余垃圾和其他垃圾[1]。",
        "要关注哪些场所？": "要高度关注学校、医院、养老院等人员密集场所以及“九小场所”[2]。",
    }
    for question, reply in right.items():
        assert not Attributor(evidence, asked=question).attribute(reply).unverified, question


def test_a_sentence_answering_for_a_named_subject_needs_a_source_from_an_article_naming_it() -> None:
    """ "乔俊杰提了哪些要求？" was answered with three of his requirements and, fourth, a sentence of the 垃圾分类
    article cited to it: every word of it was that source's, and it is no requirement of his."""
    lead = "昨天上午，区委书记乔俊杰专题调研武进国家高新区安全生产工作。"
    demands = "要全力推进粉尘涉爆专项整治“百日攻坚”行动，摸清底数，深入开展拉网式排查、闭环式整改。"
    evidence = [
        Evidence(1, _hit("visit", demands, "", offset=len(lead))),
        Evidence(2, _hit("law", LAW, "《常州市生活垃圾分类管理条例》9月1日起施行")),
        Evidence(3, _hit("visit", lead, "")),  # the article's lead: its later paragraph is his too
    ]
    reply = (
        "乔俊杰提了以下要求：\n1. 全力推进粉尘涉爆专项整治“百日攻坚”行动，深入开展拉网式排查、闭环式整改[1]。\n"
        "2. 条例共九章、五十八条，明确了各级政府及相关部门的职责[2]。"
    )
    result = Attributor(evidence, subjects=("乔俊杰",)).attribute(reply)
    assert result.unverified == ("2. 条例共九章、五十八条，明确了各级政府及相关部门的职责。",)
    assert [c.n for c in result.citations if c.verified] == [1]
    assert not Attributor(evidence).attribute(reply).unverified  # without the subject both items verify
    # without markers the item is cited to the source holding its wording: not that one either, and it is shown
    # as unverified, not as a bare line
    uncited = Attributor(evidence, subjects=("乔俊杰",)).attribute(reply.replace("[2]", ""))
    assert uncited.unverified == result.unverified and uncited.verified == 1


def test_a_quotation_is_not_checked_against_a_question() -> None:
    result = Attributor([Evidence(1, _hit("law", LAW, "《常州市生活垃圾分类管理条例》"))]).attribute(
        "违反了垃圾分类条例将面临罚款[1]。"
    )
    assert not result.unverified  # without `asked` only facts and wording count: the model's replies get both


def test_name_not_in_the_source_fails_verification(attributor: Attributor) -> None:
    result = attributor.attribute("《南京市生活垃圾分类管理条例》将于2024年9月1日起施行[1]。")
    assert result.unverified and not any(c.verified for c in result.citations)


def test_refusal_phrases() -> None:
    assert is_refusal("文档信息不足，因此我无法基于提供的文档回答该问题。")
    assert is_refusal("资料中没有找到关于条例条数的相关信息。")
    assert not is_refusal("条例共五十八条。")


def test_refusal_sentence_is_not_a_factual_claim(attributor: Attributor) -> None:
    result = attributor.attribute("资料中没有找到关于条例罚款金额的相关信息。")
    assert result.refusal_sentences == 1 and result.factual == 0 and not result.unverified


def test_single_article_with_two_chunks_quotes_within_the_cited_chunk() -> None:
    text = "第一段说明背景情况。\n条例共九章、五十八条。"
    article = Article(id="a", title="条例", text=text, date="2024-02-02")
    second = Chunk(id=2, article_id="a", index=1, paragraph=1, start=11, end=len(text), text=text[11:])
    result = Attributor([Evidence(1, hit_for(article, second))]).attribute("条例共58条[1]。")
    (citation,) = result.citations
    assert (
        citation.verified and article.text[citation.start : citation.end] == citation.quote == "条例共九章、五十八条。"
    )


def test_a_co_cited_source_that_supports_nothing_is_dropped(attributor: Attributor) -> None:
    result = attributor.attribute("新能源产业产值近1300亿元[2][3]。")
    assert [(c.n, c.verified) for c in result.citations] == [(3, True)]
    assert result.text == "新能源产业产值近1300亿元[3]。"


def test_sources_that_support_a_sentence_only_together_are_all_kept(attributor: Attributor) -> None:
    result = attributor.attribute("条例共五十八条，新能源产业产值近1300亿元[1][3]。")
    assert [(c.n, c.verified) for c in result.citations] == [(1, True), (3, True)]


def test_the_publication_date_stands_for_an_event_only_when_the_passage_gives_it_no_day() -> None:
    white_paper = _hit("wp", "日本政府发布2023版防卫白皮书，炒作所谓中国军事威胁。", "防卫白皮书", date="2023-07-28")
    meeting = _hit("mt", "昨天上午，武进区召开安全生产工作会议。", "安全生产会议", date="2024-02-02")
    attributor = Attributor([Evidence(1, white_paper), Evidence(2, meeting)])
    # news of the day: the paper's date is the white paper's day
    assert attributor.attribute("2023年7月28日，日本政府发布了2023版防卫白皮书[1]。").verified == 1
    # the passage says 昨天: the meeting was on 2月1日, and the paper's date is not the meeting's
    assert attributor.attribute("武进区于2024年2月1日召开安全生产工作会议[2]。").verified == 1
    assert attributor.attribute("武进区于2024年2月2日召开安全生产工作会议[2]。").verified == 0


@pytest.mark.parametrize(
    ("reply", "verified"),
    [
        ("发布日期：2024年2月2日，资料编号=1[1]。", False),  # the source's date line copied back
        ("发布日期：2024年2月2日[1]。", False),
        ("2024年2月2日[1]。", True),  # a day alone can answer "哪一天": it is checked as a day
        ("标题：《常州市生活垃圾分类管理条例》9月1日起施行[1]。", True),  # a copied label around a real claim
    ],
)
def test_a_copied_date_line_is_no_verified_answer(attributor: Attributor, reply: str, verified: bool) -> None:
    result = attributor.attribute(reply)
    assert result.factual == 1 and (result.verified == 1) is verified


@pytest.mark.parametrize("reply", ["条例共九章、五十八条，[1]", "条例共九章、五十八条[1]，", "条例共九章、五十八条，"])
def test_a_reply_that_stops_at_a_comma_is_shown_as_a_whole_sentence(attributor: Attributor, reply: str) -> None:
    expected = "条例共九章、五十八条[1]。" if "[1]" in reply else "条例共九章、五十八条。"
    assert attributor.attribute(reply).text == expected
