"""Write an evaluation run to a directory: summary.json, results.jsonl and a self-contained report.html."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from core.files import write_atomic

SUMMARY_FILE = "summary.json"
RESULTS_FILE = "results.jsonl"
REPORT_FILE = "report.html"

_CSS = """
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;
vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#555;font-size:.9em}.fail{border:1px solid #e3c2c2;border-radius:4px;padding:.6em;margin:.8em 0}
.fail h3{font-size:1em;margin:0 0 .4em}.err{color:#a00}.rel{background:#eaf6ea}.passage{font-size:.85em;color:#333}
.charts{display:flex;gap:2em;flex-wrap:wrap}svg text{font-size:11px;fill:#333}
"""


def write_run(out_dir: Path, summary: dict[str, Any], records: Sequence[dict[str, Any]]) -> dict[str, Path]:
    """Write the three files, each atomically; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"summary": out_dir / SUMMARY_FILE, "results": out_dir / RESULTS_FILE, "report": out_dir / REPORT_FILE}
    write_atomic(paths["summary"], json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    write_atomic(paths["results"], "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    write_atomic(paths["report"], render_html(summary, records))
    return paths


def fmt(value: Any, kind: str = "ratio") -> str:
    """A metric for display: None is "—" (nothing to measure), ratios get three decimals, times whole ms."""
    if value is None:
        return "—"
    if kind == "ms":
        return f"{value:,.0f} ms"
    if kind == "rate":
        return f"{value:.1f}"
    if kind == "int":
        return str(value)
    return f"{value:.3f}"


_SUMMARY_ROWS = [
    ("retrieval", "recall@1", "ratio"),
    ("retrieval", "recall@5", "ratio"),
    ("retrieval", "recall@10", "ratio"),
    ("retrieval", "mrr@10", "ratio"),
    ("retrieval", "ndcg@10", "ratio"),
    ("retrieval", "context_recall", "ratio"),
    ("answer", "accuracy", "ratio"),
    ("answer", "f1", "ratio"),
    ("refusal", "refusal_rate", "ratio"),
    ("refusal", "false_refusal_rate", "ratio"),
    ("citation", "answers_with_citation", "ratio"),
    ("citation", "precision", "ratio"),
    ("citation", "verified_sentences", "ratio"),
    ("latency", "p50_ms", "ms"),
    ("latency", "p95_ms", "ms"),
    ("latency", "ttft_p50_ms", "ms"),
    ("latency", "questions_per_min", "rate"),
]

_CATEGORY_COLUMNS = [
    ("retrieval", "recall@5"),
    ("retrieval", "mrr@10"),
    ("answer", "accuracy"),
    ("answer", "f1"),
    ("refusal", "refusal_rate"),
    ("refusal", "false_refusal_rate"),
    ("citation", "precision"),
]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{escape(c)}</td>' if i >= numeric_from else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _summary_table(summary: dict[str, Any]) -> str:
    rows = [("questions", str(summary.get("n", 0))), ("errors", str(summary.get("errors", 0)))]
    rows += [(f"{group} · {key}", fmt(summary.get(group, {}).get(key), kind)) for group, key, kind in _SUMMARY_ROWS]
    return _table(["metric", "value"], rows)


def _category_table(summary: dict[str, Any]) -> str:
    cats = summary.get("by_category") or {}
    if not cats:
        return "<p>没有分类。</p>"
    rows = [
        [name, str(s.get("n", 0)), *(fmt(s.get(g, {}).get(k)) for g, k in _CATEGORY_COLUMNS)]
        for name, s in cats.items()
    ]
    return _table(["category", "n", *(k for _, k in _CATEGORY_COLUMNS)], rows)


def histogram_svg(values: Sequence[float], *, bins: int = 12, width: int = 460, height: int = 220) -> str:
    """Bar chart of how many questions took how long."""
    if not values:
        return "<p>没有可统计的耗时。</p>"
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / span * bins), bins - 1)] += 1
    left, bottom, top = 40, 30, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(counts)
    bar_w = plot_w / bins
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="latency histogram">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>',
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        x = left + i * bar_w
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
            f'fill="#4a7ab5"><title>{lo + i * span / bins:,.0f}–{lo + (i + 1) * span / bins:,.0f} ms: '
            f"{c}</title></rect>"
        )
    parts.append(f'<text x="{left}" y="{height - 12}">{lo:,.0f} ms</text>')
    parts.append(f'<text x="{left + plot_w}" y="{height - 12}" text-anchor="end">{hi:,.0f} ms</text>')
    parts.append("</svg>")
    return "".join(parts)


def recall_curve_svg(curve: Sequence[float | None], *, width: int = 460, height: int = 220) -> str:
    """recall@k against k = 1..len(curve) as a line with points."""
    points = [(k, v) for k, v in enumerate(curve, 1) if v is not None]
    if not points:
        return "<p>没有可评估检索的问题（缺少 gold_passage_ids / gold_titles）。</p>"
    left, bottom, top = 40, 30, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    n = max(len(curve), 2)

    def xy(k: int, v: float) -> tuple[float, float]:
        return left + (k - 1) * plot_w / (n - 1), top + plot_h * (1 - v)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="recall at k">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end">1.0</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    coords = [xy(k, v) for k, v in points]
    parts.append(
        '<polyline fill="none" stroke="#c0504d" stroke-width="2" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        + '"/>'
    )
    for (k, v), (x, y) in zip(points, coords, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#c0504d"><title>recall@{k} = {v:.3f}</title></circle>'
        )
        parts.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle">{k}</text>')
    parts.append("</svg>")
    return "".join(parts)


def is_failure(record: dict[str, Any]) -> bool:
    """Wrong or failed answer, or (without answers) no relevant passage in the retrieved ones."""
    if record.get("error") or record.get("retrieval_error") or record.get("correct") is False:
        return True
    relevant = record.get("relevant")
    return record.get("correct") is None and relevant is not None and not any(relevant)


def _failure_html(r: dict[str, Any]) -> str:
    expected = " / ".join(r.get("answers") or []) if r.get("answerable", True) else "（应拒答）"
    lines = [f'<div class="fail"><h3>{escape(str(r.get("id", "")))} · {escape(r.get("question", ""))}</h3>']
    if r.get("history"):
        turns = " ⏎ ".join(f"问：{q} 答：{a}" for q, a in r["history"])
        lines.append(f'<p class="meta">对话历史：{escape(turns)}</p>')
    lines.append(f"<p>期望：{escape(expected or '—')}</p>")
    if not r.get("retrieval_only"):
        lines.append(f"<p>回答：{escape(r.get('answer') or '—')}" + ("（拒答）" if r.get("refused") else "") + "</p>")
    for key, label in (("error", "错误"), ("retrieval_error", "检索错误")):
        if r.get(key):
            lines.append(f'<p class="err">{label}：{escape(r[key])}</p>')
    hits = r.get("hits") or []
    if hits:
        lines.append("<ol>")
        for h in hits:
            cls = ' class="rel"' if h.get("relevant") else ""
            text = str(h.get("text", ""))
            snippet = text[:200] + ("…" if len(text) > 200 else "")
            lines.append(
                f"<li{cls}><b>{escape(str(h.get('title', '')))}</b> "
                f'<span class="meta">{escape(str(h.get("date", "")))} · score {float(h.get("score", 0)):.3f}'
                f'</span><div class="passage">{escape(snippet)}</div></li>'
            )
        lines.append("</ol>")
    lines.append("</div>")
    return "".join(lines)


def first_relevant_rank(record: dict[str, Any]) -> int | None:
    return next((i for i, rel in enumerate(record.get("relevant") or [], 1) if rel), None)


def _questions_table(records: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in records:
        outcome = "错误" if r.get("error") else {True: "✓", False: "✗", None: "—"}[r.get("correct")]
        rank = first_relevant_rank(r)
        scored = r.get("relevant") is not None
        ms = (r.get("timing") or {}).get("total_ms")
        rows.append(
            [
                str(r.get("id", "")),
                r.get("category") or "",
                r.get("question", ""),
                outcome,
                fmt(r.get("f1")),
                str(rank) if rank else (">10" if scored else "—"),
                fmt(ms, "ms"),
            ]
        )
    return _table(["id", "category", "question", "result", "f1", "first relevant", "time"], rows, numeric_from=4)


def render_html(summary: dict[str, Any], records: Sequence[dict[str, Any]]) -> str:
    """One HTML page with inline CSS and SVG: nothing is fetched from anywhere."""
    meta = summary.get("meta") or {}
    meta_line = " · ".join(
        f"{k}: {json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v}"
        for k, v in meta.items()
        if v not in ("", None, {}, [])
    )
    latencies = [
        r["timing"]["total_ms"]
        for r in records
        if not r.get("error") and (r.get("timing") or {}).get("total_ms") is not None
    ]
    failures = [r for r in records if is_failure(r)]
    body = [
        "<h1>newsqa 评测报告</h1>",
        f'<p class="meta">{escape(meta_line)}</p>',
        "<h2>总体指标</h2>",
        _summary_table(summary),
        "<h2>分类指标</h2>",
        _category_table(summary),
        '<h2>图表</h2><div class="charts"><figure>',
        histogram_svg(latencies),
        "<figcaption>每题耗时分布</figcaption></figure><figure>",
        recall_curve_svg(summary.get("recall_curve") or []),
        "<figcaption>recall@k（k = 1..10）</figcaption></figure></div>",
        f"<h2>未通过的问题（{len(failures)}）</h2>",
        *(_failure_html(r) for r in failures),
    ]
    if not failures:
        body.append("<p>全部通过。</p>")
    if records:
        body += [f"<h2>全部问题（{len(records)}）</h2>", _questions_table(records)]
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>newsqa 评测报告</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


def format_summary(summary: dict[str, Any]) -> str:
    """The overall metrics as aligned text lines, for the terminal."""
    lines = [f"questions: {summary.get('n', 0)}  errors: {summary.get('errors', 0)}"]
    for group, key, kind in _SUMMARY_ROWS:
        lines.append(f"  {group + '.' + key:<34}{fmt(summary.get(group, {}).get(key), kind):>12}")
    return "\n".join(lines)
