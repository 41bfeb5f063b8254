"""Property tests and fuzzing of everything that reads untrusted text: readers, page parser, citation parser.

Each may only return its documented result or raise its documented error (InputError / ValueError); nothing may
hang (hypothesis deadline, explicit time bounds for pathological inputs) or hold a whole large file in memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from assistant.attribution import Attributor
from assistant.facts import facts_of
from assistant.markers import cited_numbers, split_answer, strip_markers
from bench.fuzz import fuzz_evidence
from core.text import sentence_spans
from core.types import Article
from corpus.chunker import chunk_article
from corpus.page import looks_like_page, parse_page
from corpus.readers import MAX_LINE_BYTES, InputError, decode_bytes, iter_jsonl, read_path
from tests.support.reliability import ROOT

DEADLINE_MS = 3000  # generous: the machine is shared; a hang or quadratic blow-up still exceeds it
FUZZ = settings(deadline=DEADLINE_MS, max_examples=150, suppress_health_check=[HealthCheck.too_slow])

# Characters that steer the parsers: CJK text, Chinese and ASCII punctuation, brackets of citation markers,
# full-width digits, page furniture (版, 记者, 摄, 下转), whitespace of every kind, and a few control characters.
NEWS_ALPHABET = (
    list("武进日报区召开会议湖塘镇记者通讯员摄本报讯下转第版（完）年月日号一二三十百")
    + list("。，、；：？！“”‘’《》（）【】〔〕")
    + list("[]()<>/-~,.;:!?\"'#*_")
    + list("0123456789０１２３")
    + ["\n", "\n\n", " ", "\u3000", "\t", "\r\n", "\u200b", "\x00", "\x07", "\ufeff", "\U0001f600"]
)
news_text = st.lists(st.sampled_from(NEWS_ALPHABET), max_size=400).map("".join)


def assert_whole(article: Article) -> None:
    """An article as the store needs it: text to chunk, and chunks that are exact spans of it."""
    assert isinstance(article.title, str) and isinstance(article.text, str)
    assert article.text.strip(), f"article {article.title!r} has no text"
    chunks = chunk_article(article)
    assert chunks, f"article {article.title!r} yields no chunk"
    for c in chunks:
        assert article.text[c.start : c.end] == c.text and c.text.strip()


# -- page parser ---------------------------------------------------------------------------------------------


@FUZZ
@given(news_text)
def test_parse_page_never_fails_and_yields_whole_articles(text):
    looks_like_page(text)
    for article in parse_page(text, date="2024-02-02", source="武进日报"):
        assert_whole(article)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                "武进区召开安全生产会议",
                "本报讯（记者 朱梦琪）昨天上午，我区召开会议。",
                "会议强调，要落实责任。",
                "（完）",
                "下转第2版",
                "朱梦琪 摄",
                "湖塘镇举办迎春文艺演出",
                "",
                "   ",
                "第3版",
                "记者　王晓明",
                "【图片新闻】",
                "市民在公园散步。",
                "1",
                "。",
                "2024年2月2日 星期五",
            ]
        ),
        max_size=40,
    )
)
def test_page_shaped_input_yields_whole_articles(lines):
    text = "\n".join(lines)
    for article in parse_page(text, date="2024-02-02"):
        assert_whole(article)


# -- bytes to text -------------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000))
def test_decode_random_bytes_gives_text_or_input_error(data):
    try:
        text = decode_bytes(data, "x.txt")
    except InputError as exc:
        assert "x.txt" in str(exc)
        return
    assert isinstance(text, str)


@FUZZ
@given(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=300),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "gb18030", "gbk", "big5", "shift_jis", "latin-1", "cp1252"]),
)
def test_text_in_any_encoding_decodes_or_is_refused_clearly(text, encoding):
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        assume(False)
    # UTF-8 text that opens with U+FEFF is, byte for byte, a file with a BOM: the mark is read as one and dropped
    assume(not (encoding == "utf-8" and text.startswith("\ufeff")))
    try:
        decoded = decode_bytes(data, "in.txt")
    except InputError as exc:
        assert str(exc).startswith("in.txt: ")
        assert encoding not in ("utf-8", "utf-8-sig", "utf-16"), f"{encoding} refused: {exc}"
        return
    if encoding in ("utf-8", "utf-8-sig", "utf-16"):
        assert decoded == text  # the encodings we promise to read come back exactly


@settings(deadline=DEADLINE_MS * 4, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=3000) | news_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([".txt", ".md", ".html", ".jsonl"]),
)
def test_read_path_on_arbitrary_files(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        try:
            articles = read_path(path, date="2024-02-02")
        except InputError as exc:
            assert str(path) in str(exc)
            return
    for article in articles:
        assert_whole(article)


# -- JSON lines ----------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | news_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
records = st.dictionaries(
    st.sampled_from(["id", "title", "text", "date", "url", "source", "extra"]), json_values, max_size=7
)
lines = st.one_of(
    records.map(lambda r: json.dumps(r, ensure_ascii=False)),
    json_values.map(json.dumps),
    news_text,
    st.just(""),
    st.just('{"text": "未完'),
)


@FUZZ
@given(st.lists(lines, min_size=1, max_size=8))
def test_jsonl_lines_give_articles_or_a_line_numbered_error(items):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.jsonl"
        path.write_text("\n".join(items).replace("\x00", ""), encoding="utf-8", errors="surrogatepass")
        try:
            articles = list(iter_jsonl(path))
        except InputError as exc:
            message = str(exc)
            assert message.startswith(str(path)), message
            assert " line " in message or "empty file" in message or "binary" in message or "not text" in message
            return
    for article in articles:
        assert_whole(article)


def test_single_ten_megabyte_line_is_refused_with_its_line_number(tmp_path):
    path = tmp_path / "long.jsonl"
    with path.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"title": "第一条", "text": "正常的一条新闻。"}, ensure_ascii=False) + "\n")
        f.write(json.dumps({"title": "超长", "text": "长" * (MAX_LINE_BYTES // 3 + 10)}, ensure_ascii=False) + "\n")
    reader = iter_jsonl(path)
    assert next(reader).title == "第一条"
    with pytest.raises(InputError, match=r"long\.jsonl line 2: line longer than 10 MB"):
        next(reader)


# Peak RSS from VmHWM: getrusage's ru_maxrss would do, except that Linux carries it over from the parent (pytest,
# a few hundred MB) across fork and exec, which would hide the growth being measured.
PEAK_RSS_SCRIPT = r"""
import json, re, sys
from pathlib import Path
from corpus.readers import iter_jsonl

def peak_kb():
    return int(re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))

small, big = Path(sys.argv[1]), Path(sys.argv[2])
sum(1 for _ in iter_jsonl(small))  # imports and first use done: this is the baseline
before = peak_kb()
count = sum(len(a.text) > 0 for a in iter_jsonl(big))
print(json.dumps({"count": count, "before_kb": before, "after_kb": peak_kb()}))
"""


def test_reading_a_200_mb_jsonl_streams(tmp_path):
    """A crawl dump of 200 MB (bulky raw HTML per record) is read with a peak RSS growth far below its size."""
    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps({"title": "标题", "text": "正文。"}, ensure_ascii=False) + "\n", encoding="utf-8")
    big = tmp_path / "big.jsonl"
    raw_html = '<div class="content">' + "<p>武进新闻 wujin news</p>" * 2000 + "</div>"
    size, n = 0, 0
    with big.open("w", encoding="utf-8") as f:
        while size < 200 * 1024 * 1024:
            text = f"武进区召开第{n}次会议，部署今年重点工作。" * 20
            record = {"id": f"r{n}", "title": f"第{n}条新闻", "text": text, "raw_html": raw_html}
            line = json.dumps(record, ensure_ascii=False) + "\n"
            f.write(line)
            size += len(line.encode("utf-8"))
            n += 1
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_SCRIPT, str(small), str(big)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["count"] == n
    growth_mb = (data["after_kb"] - data["before_kb"]) / 1024
    print(f"200 MB JSONL ({n} records): peak RSS {data['before_kb'] / 1024:.0f} -> {data['after_kb'] / 1024:.0f} MB")
    assert growth_mb < 64, f"reading grew the peak RSS by {growth_mb:.0f} MB: the file is not streamed"


# -- citation parser -----------------------------------------------------------------------------------------

MARKER_ALPHABET = (
    list("[]【】［］0123456789０１２,，、;；-–－~ 资料来源文档编号参考")
    + list("。！？!?；\n”")
    + list("会议于2024年3月5日召开")
)
reply_text = st.text(alphabet=MARKER_ALPHABET, max_size=300)


@pytest.fixture(scope="module", autouse=True)
def warm_up_name_finder():
    facts_of("王晓明在武进区召开会议。")  # jieba's dictionary loads once (~1 s); not part of any example's time


@FUZZ
@given(reply_text)
def test_citation_parser_handles_any_reply(reply):
    numbers = cited_numbers(reply)
    assert all(isinstance(n, int) and n >= 0 for n in numbers)
    assert len(set(numbers)) == len(numbers)
    stripped = strip_markers(reply)
    assert cited_numbers(stripped) == []
    sentence_spans(reply)
    for s in split_answer(reply, valid=[1, 2]):
        assert set(s.cited) <= {1, 2}
    attribution = Attributor(fuzz_evidence()).attribute(reply)
    assert {c.n for c in attribution.citations} <= {1, 2}  # no citation of a source that was not given
    for c in attribution.citations:
        assert c.quote == fuzz_evidence()[c.n - 1].hit.chunk.text[c.start : c.end]


@pytest.mark.parametrize(
    "reply",
    [
        "[" + "1," * 20000,  # an unclosed marker list
        "[1" + "、资料" * 10000,
        "【" * 30000 + "1",
        "[1]" * 20000,
        "会议" * 20000 + "[1-999999]",
        "。" * 50000,
        ("武进区召开会议[1]。" * 3000),
    ],
)
def test_citation_parser_is_fast_on_pathological_replies(reply):
    start = time.perf_counter()
    cited_numbers(reply)
    split_answer(reply, valid=[1, 2])
    Attributor(fuzz_evidence()).attribute(reply[:20000])
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"{elapsed:.1f} s on a {len(reply)}-character reply"
