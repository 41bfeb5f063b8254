"""Report files: valid JSON and JSONL, a self-contained HTML page with every text escaped."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from eval.report import first_relevant_rank, histogram_svg, recall_curve_svg, render_html, write_run
from eval.summary import summarize
from tests.support.records import EVIL, record


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.srcs += [v or "" for k, v in attrs if k in ("src", "href")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_write_run_writes_three_valid_files(tmp_path: Path) -> None:
    records = [
        record("q1", correct=True, relevant=[True, False]),
        record(
            f"q2{EVIL}",
            correct=False,
            relevant=[False, True],
            question=f"坏问题{EVIL}",
            answer=f"坏回答{EVIL}",
            category=f"类{EVIL}",
            total_ms=300.0,
        ),
        record("q3", correct=False, relevant=None, error=f"RuntimeError: {EVIL}"),
    ]
    summary = summarize(records, 1.0, {"questions": f"q{EVIL}.jsonl"})
    paths = write_run(tmp_path / "run", summary, records)
    assert json.loads(paths["summary"].read_text(encoding="utf-8"))["n"] == 3
    lines = paths["results"].read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["q1", f"q2{EVIL}", "q3"]
    page = paths["report"].read_text(encoding="utf-8")
    assert "<script" not in page  # every piece of text went through html.escape
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    parser = _Collector()
    parser.feed(page)
    assert {"svg", "table", "style"} <= set(parser.tags) and "link" not in parser.tags
    assert parser.srcs == []  # nothing is loaded from anywhere
    text = "".join(parser.text)
    assert f"坏回答{EVIL}" in text and f"段落{EVIL}" in text and "RuntimeError" in text  # failures with passages
    assert "未通过的问题（2）" in text and "全部问题（3）" in text
    assert "✓" in text and "✗" in text and "错误" in text  # q1 right, q2 wrong, q3 failed
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_first_relevant_rank() -> None:
    assert first_relevant_rank(record("a", correct=None, relevant=[False, False, True])) == 3
    assert first_relevant_rank(record("b", correct=None, relevant=[False])) is None
    assert first_relevant_rank(record("c", correct=None, relevant=None)) is None


def test_charts() -> None:
    svg = histogram_svg([100.0, 100.0, 200.0, 1000.0], bins=3)
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 3 and heights[0] > heights[2] > 0 and heights[1] == 0  # 3 | 0 | 1
    assert "没有" in histogram_svg([])
    curve = recall_curve_svg([0.5, 0.75, 1.0])
    assert curve.count("<circle") == 3 and "recall@2 = 0.750" in curve
    assert "没有" in recall_curve_svg([None, None])


def test_render_html_without_records() -> None:
    page = render_html(summarize([], None), [])
    assert "全部通过" in page and "—" in page
