"""Readers: encodings, file kinds, folders, metadata precedence and clear errors for bad input."""

from __future__ import annotations

import json
import shutil
from itertools import islice
from pathlib import Path

import pytest

from corpus.readers import (
    MAX_LINE_BYTES,
    InputError,
    date_from_url,
    date_line,
    iter_paths,
    list_files,
    normalize_date,
    read_path,
    read_paths,
    validate_date,
)
from tests.support.evaldata import EVALDATA, missing_reason

SAMPLE = Path(__file__).resolve().parents[2] / "corpus" / "sample" / "wujin_daily_page.txt"

ARTICLE = (
    "武进区召开安全生产会议\n\n本次会议部署了春节期间的安全生产工作, 要求各地\n\n压实责任。\n\n"
    "会议还通报了2023年度考核结果。\n"
)

HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>武进新闻网 - 果蔬口袋公园建成投用</title>
<meta property="og:title" content="果蔬口袋公园建成投用">
<meta name="date" content="2024-02-02">
<link rel="canonical" href="https://news.example.cn/2024/0202/park.html"></head>
<body>
<nav><ul><li><a href="/">网站首页</a></li><li><a href="/news">新闻中心</a></li>
<li><a href="/video">视频点播</a></li></ul></nav>
<article><h1>果蔬口袋公园建成投用</h1>
<p>果蔬艺术空间口袋公园位于武南路凤栖路西北角，紧邻湖塘镇大学新村二社区，目前已建成投用。公园面积约7200平方米，以瓜果蔬菜为设计元素。</p>
<p>公园布置休憩廊架、健身器材、果蔬趣味活动装置等，改善绿地整体环境，满足周边居民活动需求，促进社区邻里交流。</p>
</article>
<footer><p>版权所有 武进新闻网 苏ICP备12345678号</p><p>联系我们 | 广告服务 | 网站地图</p></footer>
</body></html>
"""


def _write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode(encoding)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- text files and encodings


def test_single_article_txt(tmp_path: Path) -> None:
    [article] = read_path(_write(tmp_path / "a.txt", ARTICLE), date="2024-02-02", source="武进日报")
    assert article.title == "武进区召开安全生产会议"
    assert article.text == ("本次会议部署了春节期间的安全生产工作，要求各地压实责任。\n会议还通报了2023年度考核结果。")
    assert (article.date, article.date_source, article.source) == ("2024-02-02", "option", "武进日报")


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-16"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    [article] = read_path(_write(tmp_path / f"{encoding}.txt", ARTICLE, encoding))
    assert article.title == "武进区召开安全生产会议"
    assert "压实责任" in article.text
    assert "\ufeff" not in article.title


def test_gbk_page_is_parsed_as_a_page(tmp_path: Path) -> None:
    path = _write(tmp_path / "page.txt", SAMPLE.read_text(encoding="utf-8"), "gbk")
    articles = read_path(path, date="2024-02-02")
    assert len(articles) == 5
    assert articles[0].title == "乔俊杰专题调研武高新安全生产工作及经济社会发展情况"
    assert articles[4].kind == "photo"


def test_markdown_headings_are_stripped(tmp_path: Path) -> None:
    text = (
        "# 武进区召开安全生产会议\n\n会议部署了安全生产工作，\n要求压实责任。\n\n## 工作要求\n\n要加强**值班值守**。\n"
    )
    [article] = read_path(_write(tmp_path / "a.md", text))
    assert article.title == "武进区召开安全生产会议"
    assert article.text == "会议部署了安全生产工作，要求压实责任。\n工作要求\n要加强值班值守。"


def test_one_long_line_becomes_text_with_a_clause_title(tmp_path: Path) -> None:
    line = "果蔬艺术空间口袋公园位于武南路凤栖路西北角，紧邻湖塘镇大学新村二社区，目前已建成投用，面积约7200平方米。"
    [article] = read_path(_write(tmp_path / "note.txt", line))
    assert article.title == "果蔬艺术空间口袋公园位于武南路凤栖路西北角"
    assert article.text == line


# ---------------------------------------------------------------- HTML


def test_html_body_survives_and_boilerplate_is_dropped(tmp_path: Path) -> None:
    [article] = read_path(_write(tmp_path / "park.html", HTML), source="武进新闻网", date="2024-01-01")
    assert article.title == "果蔬口袋公园建成投用"
    assert article.text.startswith("果蔬艺术空间口袋公园位于武南路凤栖路西北角")
    assert "促进社区邻里交流。" in article.text
    for boilerplate in ("网站首页", "新闻中心", "版权所有", "ICP", "联系我们"):
        assert boilerplate not in article.text
    assert (article.date, article.date_source) == ("2024-02-02", "metadata")  # the page's own date wins
    assert article.url == "https://news.example.cn/2024/0202/park.html"
    assert article.source == "武进新闻网"


def test_html_without_a_date_takes_the_day_its_url_names(tmp_path: Path) -> None:
    html = HTML.replace('<meta name="date" content="2024-02-02">', "")
    [article] = read_path(_write(tmp_path / "park.htm", html), date="2024-01-01")
    assert (article.date, article.date_source) == ("2024-02-02", "url")  # .../2024/0202/park.html


def test_html_without_a_date_or_dated_url_takes_the_option(tmp_path: Path) -> None:
    html = HTML.replace('<meta name="date" content="2024-02-02">', "").replace("/2024/0202/", "/news/")
    [article] = read_path(_write(tmp_path / "park.htm", html), date="2024-01-01")
    assert (article.date, article.date_source) == ("2024-01-01", "option")


def test_html_without_text_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty.html: no article text"):
        read_path(_write(tmp_path / "empty.html", "<html><body><nav></nav></body></html>"))


# ---------------------------------------------------------------- JSONL


def _jsonl(path: Path, records: list[object]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    return _write(path, "\n".join(lines) + "\n")


def test_jsonl_records_and_metadata_precedence(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "news.jsonl",
        [
            {"title": "标题一", "text": "正文一, 第一句。", "date": "2023-07-01 10:00:00", "source": "常州日报"},
            {"title": "标题二", "text": "正文二。", "date": "2023年7月2日", "url": "https://example.cn/2"},
            {"id": "p3", "text": "只有正文的段落。"},
            "",
        ],
    )
    a, b, c = read_path(path, date="2024-02-02", source="武进日报")
    assert (a.title, a.text, a.date, a.date_source, a.source) == (
        "标题一",
        "正文一，第一句。",
        "2023-07-01",
        "metadata",
        "常州日报",
    )
    assert (b.date, b.date_source, b.source, b.url) == ("2023-07-02", "metadata", "武进日报", "https://example.cn/2")
    assert (c.id, c.title, c.date, c.date_source) == ("p3", "", "2024-02-02", "option")
    assert len({a.id, b.id, c.id}) == 3


def test_jsonl_malformed_line_names_the_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "x.jsonl", [{"text": "一。"}, {"text": "二。"}, '{"text": "三。"', {"text": "四。"}])
    with pytest.raises(InputError, match=r"x\.jsonl line 3: malformed JSON"):
        read_path(path)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"title": "无正文"}, r'line 1: missing "text"'),
        ({"text": 42}, r'line 1: "text" must be a str, got int'),
        ({"text": "正文。", "title": ["列表"]}, r'line 1: "title" must be a str, got list'),
        ({"text": "正文。", "date": "明天"}, r'line 1: "date": unrecognised date'),
        ({"text": "正文。", "date": "2023-02-30"}, r'line 1: "date": no such date'),
        ({"text": "  "}, r'line 1: "text" is empty'),
        (["text", "正文"], r"line 1: expected a JSON object"),
    ],
)
def test_jsonl_bad_records(tmp_path: Path, record: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_path(_jsonl(tmp_path / "bad.jsonl", [record]))


def test_jsonl_line_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"text": "短。"}) + "\n")
        f.write('{"text": "' + "a" * (MAX_LINE_BYTES + 10) + '"}\n')
    with pytest.raises(InputError, match=r"big\.jsonl line 2: line longer than 10 MB"):
        read_path(path)


def test_jsonl_is_read_lazily(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "lazy.jsonl", [{"text": "一。"}, {"text": "二。"}, "{broken"])
    first_two = list(islice(iter_paths([path]), 2))  # the broken third line is never reached
    assert [a.text for a in first_two] == ["一。", "二。"]


def test_gbk_jsonl(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "gbk.jsonl", json.dumps({"title": "标题", "text": "武进新闻。"}, ensure_ascii=False), "gbk"
    )
    [article] = read_path(path)
    assert article.text == "武进新闻。"


# ---------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.txt: no such file"):
        read_path(tmp_path / "nope.txt")


@pytest.mark.parametrize("content", [b"", b"  \n\n \t\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(InputError, match="empty.txt: empty file"):
        read_path(_write(tmp_path / "empty.txt", content))


@pytest.mark.parametrize("content", [b"#", b"## \n\n#\n"])
def test_markdown_with_only_markup_is_an_error(tmp_path: Path, content: bytes) -> None:
    # found by tests/reliability/test_fuzz.py: "#" gave an article with no title and no text
    with pytest.raises(InputError, match="bare.md: no article text"):
        read_path(_write(tmp_path / "bare.md", content))


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), bytes(range(128, 256)) * 8],
)
def test_binary_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(InputError, match=r"photo.txt: (binary file|not text)"):
        read_path(_write(tmp_path / "photo.txt", content))


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.txt", "标题\n\n" + "正文。" * 400_000)  # 3.6 MB
    with pytest.raises(InputError, match=r"big.txt: 3.4 MB is over the 1 MB limit"):
        read_path(path, max_file_mb=1)


def test_unsupported_file_type(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"a.pdf: unsupported file type '.pdf'"):
        read_path(_write(tmp_path / "a.pdf", "x"))


@pytest.mark.parametrize("bad", ["2024/02/02", "2024-2-2", "2024-02-30", "yesterday"])
def test_bad_date_option(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InputError, match="--date"):
        read_path(_write(tmp_path / "a.txt", ARTICLE), date=bad)
    with pytest.raises(InputError):
        validate_date(bad)


@pytest.mark.parametrize(
    "value", ["2023-07-01", "2023-07-01 10:00:00", "2023-07-01T10:00:00+08:00", "2023年7月1日", "2023/7/1", "20230701"]
)
def test_normalize_date(value: str) -> None:
    assert normalize_date(value) == "2023-07-01"


# ---------------------------------------------------------------- folders


def test_folder_is_read_recursively_in_order_skipping_hidden_and_other_files(tmp_path: Path) -> None:
    _write(tmp_path / "b" / "page.txt", SAMPLE.read_text(encoding="utf-8"))
    _write(tmp_path / "a.txt", ARTICLE, "gbk")
    _jsonl(tmp_path / "b" / "c" / "items.jsonl", [{"text": "一。"}])
    _write(tmp_path / ".hidden.txt", ARTICLE)
    _write(tmp_path / ".git" / "x.txt", ARTICLE)
    _write(tmp_path / "notes.pdf", b"%PDF-1.4")
    files = list_files(tmp_path)
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a.txt", "b/c/items.jsonl", "b/page.txt"]
    articles = read_path(tmp_path, date="2024-02-02")
    assert len(articles) == 1 + 1 + 5
    assert articles[0].title == "武进区召开安全生产会议"


def test_read_paths_stops_at_the_first_bad_file(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.txt", ARTICLE)
    bad = _write(tmp_path / "bad.jsonl", "{oops\n")
    with pytest.raises(InputError, match="bad.jsonl line 1"):
        read_paths([good, bad])


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="folder has no"):
        read_path(tmp_path / "empty")


def test_bundled_sample_page(tmp_path: Path) -> None:
    copy = tmp_path / "wujin.txt"
    shutil.copy(SAMPLE, copy)
    assert [a.kind for a in read_path(copy)] == ["article"] * 4 + ["photo"]


# ---------------------------------------------------------------- external passage sets


def test_rgb_passages_load_with_their_ids(tmp_path: Path) -> None:
    corpus = EVALDATA / "rgb_zh" / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip(missing_reason("rgb_zh/corpus.jsonl"))
    head = tmp_path / "rgb_head.jsonl"
    with corpus.open(encoding="utf-8") as src:
        head.write_text("".join(islice(src, 100)), encoding="utf-8")
    records = [json.loads(line) for line in head.read_text(encoding="utf-8").splitlines()]
    articles = read_path(head, date="2024-02-02")
    assert len(articles) == 100
    assert [a.id for a in articles] == [r["id"] for r in records]
    for article, record in zip(articles, records, strict=True):
        assert article.title == ""
        assert article.text
        assert article.source == record["source"]
        if record.get("date"):
            assert (article.date, article.date_source) == (record["date"], "metadata")
        else:
            assert (article.date, article.date_source) == ("2024-02-02", "option")


# ---------------------------------------------------------------- dates in the text and the URL


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2024年2月2日 星期五", "2024-02-02"),
        ("2024年2月2日", "2024-02-02"),
        ("发布时间：2024-02-02 10:30", "2024-02-02"),
        ("发布日期: 2024/2/2", "2024-02-02"),
        ("【2024年2月2日】", "2024-02-02"),
        ("2024-02-02 来源：武进日报", "2024-02-02"),
        ("会议于2024年2月2日召开", ""),  # a sentence that mentions a date does not date the article
        ("2024年2月30日 星期五", ""),
        ("武进区召开安全生产会议", ""),
    ],
)
def test_date_line(line: str, expected: str) -> None:
    assert date_line(line) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example.cn/2024/02/02/park.html", "2024-02-02"),
        ("http://www.example.cn/content/20240202/123.shtml", "2024-02-02"),
        ("http://www.example.cn/2024-02/02/c_1130.htm", "2024-02-02"),
        ("http://paper.example.cn/n1/2024/0202/c1001-1.html", "2024-02-02"),
        ("http://www.example.cn/2024/index.html", ""),  # a bare year is no day
        ("http://www.example.cn/2024/1201.html", ""),  # an article number, not 1 December
        ("http://www.example.cn/20241399/a.html", ""),  # no such day
        ("", ""),
    ],
)
def test_date_from_url(url: str, expected: str) -> None:
    assert date_from_url(url) == expected


def test_single_article_date_line_beats_the_option_and_leaves_the_text(tmp_path: Path) -> None:
    text = "武进区召开安全生产会议\n2024年2月2日 星期五\n\n昨天上午，区里召开安全生产会议。\n"
    [article] = read_path(_write(tmp_path / "a.txt", text), date="2024-03-01")
    assert (article.date, article.date_source) == ("2024-02-02", "text")
    assert article.title == "武进区召开安全生产会议"
    assert article.text == "昨天上午，区里召开安全生产会议。"


def test_single_article_date_line_before_the_title(tmp_path: Path) -> None:
    text = "发布时间：2024-02-02 09:00\n武进区召开安全生产会议\n昨天上午，区里召开安全生产会议。\n"
    [article] = read_path(_write(tmp_path / "a.md", text))
    assert (article.date, article.date_source, article.title) == ("2024-02-02", "text", "武进区召开安全生产会议")


def test_single_article_without_a_date_line_takes_the_option(tmp_path: Path) -> None:
    [article] = read_path(_write(tmp_path / "a.txt", ARTICLE), date="2024-02-02")
    assert (article.date, article.date_source) == ("2024-02-02", "option")
    [undated] = read_path(_write(tmp_path / "b.txt", ARTICLE))
    assert (undated.date, undated.date_source) == ("", "")


def test_jsonl_without_a_date_takes_the_day_its_url_names(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "news.jsonl",
        [
            {"title": "甲", "text": "正文。", "url": "https://example.cn/2023/11/05/a.html"},
            {"title": "乙", "text": "正文。", "url": "https://example.cn/2023/11/05/b.html", "date": "2023-11-04"},
            {"title": "丙", "text": "正文。", "url": "https://example.cn/news/c.html"},
        ],
    )
    a, b, c = read_path(path, date="2024-02-02")
    assert (a.date, a.date_source) == ("2023-11-05", "url")
    assert (b.date, b.date_source) == ("2023-11-04", "metadata")
    assert (c.date, c.date_source) == ("2024-02-02", "option")


def test_a_file_of_invisible_characters_is_an_empty_file(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_bytes("\u200b\u200b \n\ufeff".encode())  # zero-width spaces, a stray BOM: nothing to read
    with pytest.raises(InputError, match=r"blank\.txt: empty file \(only whitespace or invisible characters\)"):
        read_path(path, date="2024-02-02")
