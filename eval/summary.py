"""A run's records summed up: overall metrics, the same per category, and the keys outside checks read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eval import metrics


def _section_metrics(records: Sequence[dict[str, Any]], wall_s: float | None) -> dict[str, Any]:
    scored = [r for r in records if r.get("relevant") is not None]
    answer_scored = [r for r in records if r.get("answerable") and r.get("correct") is not None]
    ok = [r for r in records if not r.get("error")]
    generated = [r for r in ok if not r.get("retrieval_only")]
    return {
        "n": len(records),
        "errors": sum(bool(r.get("error") or r.get("retrieval_error")) for r in records),
        "retrieval": {
            **metrics.retrieval_metrics([r["relevant"] for r in scored], [r["n_gold"] for r in scored]),
            # share of answered questions whose generator saw a gold passage: tells retrieval misses from
            # generation errors, and catches an answer path that searches differently from the scored search
            "context_recall": metrics.mean(
                float(r["context_relevant"]) for r in records if r.get("context_relevant") is not None
            ),
        },
        "answer": {
            "accuracy": metrics.mean(float(r["correct"]) for r in answer_scored),
            "f1": metrics.mean(r.get("f1") for r in answer_scored),
        },
        "refusal": metrics.refusal_rates([r["answerable"] for r in generated], [r["refused"] for r in generated]),
        "citation": metrics.citation_metrics([_citation_view(r) for r in generated]),
        "latency": metrics.latency_metrics(
            [r["timing"]["total_ms"] for r in ok if r["timing"].get("total_ms") is not None],
            [r["timing"]["ttft_ms"] for r in ok if r["timing"].get("ttft_ms") is not None],
            wall_s,
            n_questions=len(records),
        ),
    }


def _citation_view(r: dict[str, Any]) -> dict[str, Any]:
    gold = r["answerable"]  # an unanswerable question has no passage that could be right to cite
    return {
        "refused": r["refused"],
        "error": r["error"],
        "citations": r["citations"],
        "unverified": r["unverified"],
        "gold_ids": r["gold_ids"] if gold else [],
        "gold_titles": r["gold_titles"] if gold else [],
        "answers": r["answers"] if gold else [],
    }


def summarize(
    records: Sequence[dict[str, Any]], wall_s: float | None = None, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The summary JSON: overall metrics, the same per category, and what was run (meta)."""
    summary = _section_metrics(records, wall_s)
    categories = sorted({r.get("category") or "" for r in records})
    summary["by_category"] = {
        c or "(none)": _section_metrics([r for r in records if (r.get("category") or "") == c], None)
        for c in categories
    }
    summary["recall_curve"] = metrics.recall_curve([r["relevant"] for r in records if r.get("relevant") is not None])
    summary["wall_s"] = wall_s
    summary["meta"] = dict(meta or {})
    return summary


def public_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The keys outside checks read, without the per-category breakdown and run details."""
    return {key: summary[key] for key in ("n", "retrieval", "answer", "refusal", "citation", "latency")}
