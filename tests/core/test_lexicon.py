import logging
import sqlite3
from pathlib import Path

import jieba
import pytest

from core import lexicon

SMALL_DICT = "".join(
    f"{line}\n"
    for line in (
        "垃圾 300 n",
        "垃圾分类 80 n",
        "分类 500 v",
        "条例 200 n",
        "施行 150 v",
        "常州 400 ns",
        "常州市 90 ns",
        "什么 900 r",
        "时候 700 n",
    )
)
PAGE = Path(__file__).parents[2] / "corpus" / "sample" / "wujin_daily_page.txt"


@pytest.fixture
def small(tmp_path):
    source = tmp_path / "dict.txt"
    source.write_text(SMALL_DICT, encoding="utf-8")
    lexicon.build(source, tmp_path / "lexicon.sqlite")
    return source, lexicon.Lexicon(tmp_path / "lexicon.sqlite")


def test_entries_are_jiebas_own_frequencies_with_their_tags(small):
    source, lex = small
    with open(source, "rb") as f:
        freq, total = jieba.Tokenizer.gen_pfdict(f)
    assert lex.total == total
    for word, n in freq.items():
        assert lex.entry(word)[0] == n
    assert lex.entry("垃圾分类") == (80, "n")
    assert lex.entry("垃圾分") == (0, None)  # a prefix, as jieba keeps them
    assert lex.entry("条例书") is None


def test_a_tokenizer_over_the_lexicon_segments_as_jieba_over_the_dictionary(small):
    source, lex = small
    reference = jieba.Tokenizer(str(source))
    reference.check_initialized()
    text = "常州市垃圾分类条例什么时候施行？常州的分类条例"
    ours = lexicon.tokenizer(lex)
    assert ours.lcut_for_search(text) == reference.lcut_for_search(text)
    assert ours.lcut(text) == reference.lcut(text)
    ours.add_word("分类条例", 5000)
    reference.add_word("分类条例", 5000)
    assert ours.lcut_for_search(text) == reference.lcut_for_search(text)
    assert "分类条例" in ours.lcut(text)
    assert ours.total == reference.total
    assert "分类条例" not in lexicon.tokenizer(lex).lcut(text)  # words added to one tokenizer stay with it


def test_the_installed_dictionary_gives_the_same_tokens_and_tags_on_the_sample_page():
    import jieba.posseg

    lines = [line for line in PAGE.read_text(encoding="utf-8").splitlines() if line.strip()]
    reference = jieba.Tokenizer()
    reference.check_initialized()
    reference_tagger = jieba.posseg.POSTokenizer(reference)
    ours, tagger = lexicon.tokenizer(), lexicon.pos_tagger()
    assert isinstance(ours.FREQ, lexicon.Frequencies)  # not the fallback to the whole dictionary
    for line in lines:
        assert ours.lcut_for_search(line) == reference.lcut_for_search(line)
        assert [tuple(p) for p in tagger.cut(line)] == [tuple(p) for p in reference_tagger.cut(line)]
    assert ("陈金虎", "nr") in [tuple(p) for p in jieba.posseg.cut("常州市委书记陈金虎")]


def test_a_malformed_dictionary_line_is_named_and_the_old_lexicon_stays(small, tmp_path):
    source, lex = small
    before = (tmp_path / "lexicon.sqlite").read_bytes()
    bad = tmp_path / "bad.txt"
    bad.write_text("垃圾 300 n\n条例 two hundred\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.txt.*[Ll]ine 2"):
        lexicon.build(bad, tmp_path / "lexicon.sqlite")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(ValueError, match="no words"):
        lexicon.build(tmp_path / "empty.txt", tmp_path / "lexicon.sqlite")
    assert (tmp_path / "lexicon.sqlite").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt", "dict.txt", "empty.txt", "lexicon.sqlite"]


@pytest.fixture
def fresh_shared(monkeypatch):
    def use(path):
        monkeypatch.setattr(lexicon, "default_path", lambda: path)
        lexicon.shared.cache_clear()

    yield use
    lexicon.shared.cache_clear()


def test_a_damaged_lexicon_file_is_built_again(tmp_path, fresh_shared):
    path = tmp_path / "lexicon.sqlite"
    path.write_bytes(b"not a database" * 100)
    fresh_shared(path)
    lex = lexicon.shared()
    assert lex is not None and lex.entry("垃圾")[0] > 0
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM words").fetchone()[0] > 300_000


def test_where_no_lexicon_can_be_written_jieba_loads_its_dictionary(tmp_path, fresh_shared, caplog):
    (tmp_path / "file").write_text("x")
    fresh_shared(tmp_path / "file" / "lexicon.sqlite")  # its folder is a file: nothing can be written there
    with caplog.at_level(logging.WARNING):
        tok = lexicon.tokenizer()
    assert "loading the whole dictionary" in caplog.text
    assert isinstance(tok.FREQ, dict) and tok.lcut("常州市委书记") == ["常州", "市委书记"]
