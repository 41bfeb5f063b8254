"""Chunker: exact offsets, bounded sizes, whole sentences, stable ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.types import Article, chunk_id
from corpus.chunker import chunk_article, sentence_spans
from corpus.page import parse_page

SAMPLE = Path(__file__).resolve().parents[2] / "corpus" / "sample" / "wujin_daily_page.txt"
SENTENCE_END = "。！？；…”』」"


def _article(text: str) -> Article:
    return Article(id="a1", title="测试", text=text)


@pytest.fixture(scope="module")
def sample_articles() -> list[Article]:
    return parse_page(SAMPLE.read_text(encoding="utf-8"), date="2024-02-02", source="武进日报")


@pytest.mark.parametrize("size", [80, 150, 300])
def test_sample_chunks_are_exact_bounded_and_cover_the_text(sample_articles, size: int) -> None:
    for article in sample_articles:
        chunks = chunk_article(article, size=size, min_size=30)
        assert chunks
        for i, chunk in enumerate(chunks):
            assert article.text[chunk.start : chunk.end] == chunk.text
            assert chunk.index == i
            assert chunk.article_id == article.id
            assert chunk.id == chunk_id(article.id, chunk.start, chunk.end, chunk.text, article.content_hash)
            assert len(chunk.text) <= size + 30
            assert chunk.text == chunk.text.strip()
        covered = "".join(c.text for c in chunks)
        assert covered.replace("\n", "") == article.text.replace("\n", "")


def test_sample_chunks_never_cut_a_sentence_when_avoidable(sample_articles) -> None:
    # every sentence of the sample is shorter than 300 characters, so every chunk ends a sentence
    for article in sample_articles[:4]:
        for chunk in chunk_article(article, size=300, min_size=60):
            assert chunk.text[-1] in SENTENCE_END, chunk.text


def test_chunks_do_not_cross_paragraphs(sample_articles) -> None:
    for article in sample_articles:
        spans = article.paragraphs
        for chunk in chunk_article(article, size=300, min_size=60):
            p_start, p_end = spans[chunk.paragraph]
            assert p_start <= chunk.start < p_end
            assert chunk.end <= p_end
            assert "\n" not in chunk.text


def test_chunk_ids_are_stable(sample_articles) -> None:
    first = [c.id for a in sample_articles for c in chunk_article(a)]
    again = [
        c.id
        for a in parse_page(SAMPLE.read_text(encoding="utf-8"), date="2024-02-02", source="武进日报")
        for c in chunk_article(a)
    ]
    assert first == again
    assert len(set(first)) == len(first)
    assert all(0 < i < 2**63 for i in first)


def test_sentences_are_packed_up_to_the_size() -> None:
    text = "第一句话有十个字。" * 10  # 10 sentences of 9 characters
    chunks = chunk_article(_article(text), size=30, min_size=5)
    assert [len(c.text) for c in chunks] == [27, 27, 27, 9]
    assert all(c.text.endswith("。") for c in chunks)


def test_short_tail_joins_the_chunk_before() -> None:
    text = "这是一个比较长的句子，用来填满第一个块。短句。"
    chunks = chunk_article(_article(text), size=20, min_size=5)
    assert [c.text for c in chunks] == [text]


def test_long_sentence_is_cut_at_commas_then_hard() -> None:
    text = "甲乙丙丁戊己庚辛壬癸，" * 4 + "子丑寅卯辰巳午未申酉戌亥" * 3 + "。"
    chunks = chunk_article(_article(text), size=25, min_size=0)
    assert chunks[0].text == "甲乙丙丁戊己庚辛壬癸，甲乙丙丁戊己庚辛壬癸，"
    assert all(len(c.text) <= 25 for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_closing_quote_stays_with_its_sentence() -> None:
    text = "他说：“要抓好安全生产。”会议要求落实责任。"
    assert [text[a:b] for a, b in sentence_spans(text)] == ["他说：“要抓好安全生产。”", "会议要求落实责任。"]


def test_latin_sentences_split_after_period_and_space() -> None:
    text = "The council met. It agreed on 3.5 million! Done"
    assert [text[a:b] for a, b in sentence_spans(text)] == ["The council met. ", "It agreed on 3.5 million! ", "Done"]


def test_a_short_paragraph_joins_the_next_one() -> None:
    text = "小标题\n" + "正文句子写得比较长一些。" * 3 + "\n" + "第二段也有内容。" * 3
    article = _article(text)
    chunks = chunk_article(article, size=60, min_size=10)
    assert chunks[0].text.startswith("小标题\n正文")
    assert chunks[0].paragraph == 0
    assert chunks[1].paragraph == 2
    assert article.text[chunks[0].start : chunks[0].end] == chunks[0].text


def test_empty_text_gives_no_chunks() -> None:
    assert chunk_article(_article("")) == []
    assert chunk_article(_article("\n \n")) == []


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        chunk_article(_article("文本。"), size=0)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.text(alphabet="武进日报新闻。！？；，、“”\n abc.", min_size=0, max_size=120), min_size=1, max_size=4),
    st.integers(min_value=5, max_value=60),
    st.integers(min_value=0, max_value=20),
)
def test_offsets_are_exact_for_any_text(parts: list[str], size: int, min_size: int) -> None:
    text = "\n".join(parts)
    article = _article(text)
    chunks = chunk_article(article, size=size, min_size=min_size)
    previous_end = 0
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip()
        assert chunk.start >= previous_end
        assert len(chunk.text) <= size + min_size
        previous_end = chunk.end
    assert "".join(text.split()) == "".join("".join(c.text for c in chunks).split())
