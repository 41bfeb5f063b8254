"""Compare two evaluation runs (their --out directories): metric deltas A→B and questions that flipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.report import RESULTS_FILE, SUMMARY_FILE, fmt
from eval.runner import read_records
from eval.target import EvalError

METRICS = [
    ("retrieval", "recall@1"),
    ("retrieval", "recall@5"),
    ("retrieval", "recall@10"),
    ("retrieval", "mrr@10"),
    ("retrieval", "ndcg@10"),
    ("retrieval", "context_recall"),
    ("answer", "accuracy"),
    ("answer", "f1"),
    ("refusal", "refusal_rate"),
    ("refusal", "false_refusal_rate"),
    ("citation", "answers_with_citation"),
    ("citation", "precision"),
    ("citation", "verified_sentences"),
    ("latency", "p50_ms"),
    ("latency", "p95_ms"),
    ("latency", "ttft_p50_ms"),
    ("latency", "questions_per_min"),
]


def load_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    run_dir = Path(run_dir)
    summary_path, results_path = run_dir / SUMMARY_FILE, run_dir / RESULTS_FILE
    for path in (summary_path, results_path):
        if not path.is_file():
            raise EvalError(f"{path}: not found; is {run_dir} the --out directory of `newsqa eval`?")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvalError(f"{summary_path}: not valid JSON: {exc.msg} (line {exc.lineno})") from exc
    return summary, list(read_records(results_path))


def _passed(record: dict[str, Any]) -> bool | None:
    """Right answer (or right refusal); for retrieval-only runs, a relevant passage in the top 10."""
    if record.get("error"):
        return False
    if record.get("correct") is not None:
        return bool(record["correct"])
    relevant = record.get("relevant")
    return None if relevant is None else any(relevant)


def compare(
    a: tuple[dict[str, Any], list[dict[str, Any]]], b: tuple[dict[str, Any], list[dict[str, Any]]]
) -> dict[str, Any]:
    """Deltas of every metric (None where either side has none) and the questions whose outcome flipped."""
    (sa, ra), (sb, rb) = a, b
    deltas = {}
    for group, key in METRICS:
        va, vb = (sa.get(group) or {}).get(key), (sb.get(group) or {}).get(key)
        deltas[f"{group}.{key}"] = {"a": va, "b": vb, "delta": None if va is None or vb is None else vb - va}
    by_id_b = {r["id"]: r for r in rb}
    fixed, broken = [], []
    for r in ra:
        other = by_id_b.get(r["id"])
        if other is None:
            continue
        pa, pb = _passed(r), _passed(other)
        if pa is None or pb is None or pa == pb:
            continue
        entry = {
            "id": r["id"],
            "question": r.get("question", ""),
            "answer_a": r.get("answer", ""),
            "answer_b": other.get("answer", ""),
        }
        (fixed if pb else broken).append(entry)
    ids_a, ids_b = {r["id"] for r in ra}, set(by_id_b)
    return {
        "n_a": sa.get("n"),
        "n_b": sb.get("n"),
        "metrics": deltas,
        "fixed": fixed,
        "broken": broken,
        "only_in_a": sorted(ids_a - ids_b),
        "only_in_b": sorted(ids_b - ids_a),
    }


def compare_dirs(dir_a: Path, dir_b: Path) -> dict[str, Any]:
    return compare(load_run(dir_a), load_run(dir_b))


def format_comparison(result: dict[str, Any]) -> str:
    """Plain-text table of the deltas and the flipped questions, for the terminal."""
    lines = [f"{'metric':<34}{'A':>12}{'B':>12}{'Δ (B−A)':>12}"]
    for name, d in result["metrics"].items():
        kind = "ms" if name.endswith("_ms") else "rate" if name.endswith("per_min") else "ratio"
        delta = "—" if d["delta"] is None else f"{d['delta']:+.3f}" if kind == "ratio" else f"{d['delta']:+.1f}"
        lines.append(f"{name:<34}{fmt(d['a'], kind):>12}{fmt(d['b'], kind):>12}{delta:>12}")
    lines.append("")
    lines.append(f"错→对 {len(result['fixed'])} 题：")
    lines += [f"  + {e['id']}  {e['question']}" for e in result["fixed"]]
    lines.append(f"对→错 {len(result['broken'])} 题：")
    lines += [f"  - {e['id']}  {e['question']}" for e in result["broken"]]
    if result["only_in_a"] or result["only_in_b"]:
        lines.append(f"只在 A 中：{len(result['only_in_a'])} 题；只在 B 中：{len(result['only_in_b'])} 题")
    return "\n".join(lines)
