"""Evaluation metrics as plain functions over lists and dicts; a metric with nothing to measure is None, not 0.

Retrieval is scored from per-question relevance lists (True where the hit at that rank is relevant), built by
`relevance` from hit records and the question's gold passage ids or titles, sentence-transformers style.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# RGB's rejection check (`'信息不足' in prediction`) plus its English counterpart
REFUSAL_MARKERS = ("信息不足", "insufficient information")


# -- retrieval -------------------------------------------------------------------------------------------------


def hit_is_gold(hit: Mapping[str, Any], gold_ids: Iterable[str], gold_titles: Iterable[str]) -> str | None:
    """The gold item a hit matches: its article id or chunk id is a gold id, or its title contains a gold title."""
    ids = {str(hit.get("article_id", "")), str(hit.get("id", ""))} - {""}
    for gold in gold_ids:
        if gold in ids:
            return "id:" + gold
    title = str(hit.get("title", ""))
    for gold in gold_titles:
        if gold and gold in title:
            return "title:" + gold
    return None


def relevance(
    hits: Sequence[Mapping[str, Any]], gold_ids: Sequence[str], gold_titles: Sequence[str]
) -> tuple[list[bool], int]:
    """Relevance of each ranked hit and the number of gold items.

    A gold item (an id or a title) counts once: later chunks of an already found gold article are not relevant
    again, as in document-level evaluation. The number of gold items is that of the ids, else of the titles.
    """
    found: set[str] = set()
    flags = []
    for hit in hits:
        item = hit_is_gold(hit, gold_ids, gold_titles)
        flags.append(item is not None and item not in found)
        if item is not None:
            found.add(item)
    return flags, len(set(gold_ids)) or len(set(gold_titles))


def recall_at_k(flags: Sequence[Sequence[bool]], k: int) -> float | None:
    """Share of questions with a relevant hit in the top k (top-k retrieval accuracy, as in DPR).

    With one gold article per question this is the usual recall@k.
    """
    if not flags:
        return None
    return sum(any(f[:k]) for f in flags) / len(flags)


def mrr_at_k(flags: Sequence[Sequence[bool]], k: int = 10) -> float | None:
    """Mean reciprocal rank of the first relevant hit within the top k (0 for a question with none)."""
    if not flags:
        return None
    total = 0.0
    for f in flags:
        rank = next((i for i, rel in enumerate(f[:k]) if rel), None)
        total += 0.0 if rank is None else 1.0 / (rank + 1)
    return total / len(flags)


def ndcg_at_k(flags: Sequence[Sequence[bool]], n_gold: Sequence[int], k: int = 10) -> float | None:
    """Mean binary nDCG@k; the ideal ranking puts min(k, number of gold items) relevant hits first."""
    if not flags:
        return None
    total = 0.0
    for f, n in zip(flags, n_gold, strict=True):
        dcg = sum(1.0 / math.log2(i + 2) for i, rel in enumerate(f[:k]) if rel)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, max(n, 1))))
        total += dcg / ideal
    return total / len(flags)


def retrieval_metrics(flags: Sequence[Sequence[bool]], n_gold: Sequence[int]) -> dict[str, float | None]:
    return {
        "recall@1": recall_at_k(flags, 1),
        "recall@5": recall_at_k(flags, 5),
        "recall@10": recall_at_k(flags, 10),
        "mrr@10": mrr_at_k(flags, 10),
        "ndcg@10": ndcg_at_k(flags, n_gold, 10),
    }


def recall_curve(flags: Sequence[Sequence[bool]], max_k: int = 10) -> list[float | None]:
    """recall@k for k = 1..max_k, for the report's curve."""
    return [recall_at_k(flags, k) for k in range(1, max_k + 1)]


# -- answers ---------------------------------------------------------------------------------------------------


def answer_correct(
    response: str, answers: Sequence[str], match: str = "any", parts: Sequence[Sequence[str]] = ()
) -> bool:
    """RGB's rule: a lower-cased answer is a substring of the lower-cased response; "all": every part matches."""
    text = response.lower()
    if match == "all":
        groups = parts or [[a] for a in answers]
        return bool(groups) and all(any(alt.lower() in text for alt in group) for group in groups)
    return any(a.lower() in text for a in answers)


def _chars(text: str) -> list[str]:
    """Characters that count for F1: lower-cased, without whitespace and punctuation."""
    return [
        c
        for c in unicodedata.normalize("NFKC", text).lower()
        if not c.isspace() and not unicodedata.category(c).startswith("P")
    ]


def char_f1(response: str, answer: str) -> float:
    """SQuAD-style F1 over characters (bag of characters), as usual for Chinese extractive QA."""
    pred, gold = _chars(response), _chars(answer)
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def best_f1(response: str, answers: Sequence[str]) -> float | None:
    """F1 against the best-matching acceptable answer; None when there is no answer to compare with."""
    if not answers:
        return None
    return max(char_f1(response, a) for a in answers)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


# -- refusals --------------------------------------------------------------------------------------------------


def looks_like_refusal(text: str) -> bool:
    """Whether a reply says the documents are insufficient (RGB's check), for generators that refuse in words."""
    lowered = text.lower()
    return any(marker in lowered for marker in REFUSAL_MARKERS)


def refusal_rates(answerable: Sequence[bool], refused: Sequence[bool]) -> dict[str, float | None]:
    """refusal_rate over unanswerable questions (higher is better), false_refusal_rate over answerable ones."""
    on_unanswerable = [r for a, r in zip(answerable, refused, strict=True) if not a]
    on_answerable = [r for a, r in zip(answerable, refused, strict=True) if a]
    return {
        "refusal_rate": sum(on_unanswerable) / len(on_unanswerable) if on_unanswerable else None,
        "false_refusal_rate": sum(on_answerable) / len(on_answerable) if on_answerable else None,
    }


# -- citations -------------------------------------------------------------------------------------------------


def citation_metrics(records: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Citation quality over the answers that were given (not refused, no error).

    Each record has "citations" (dicts with "chunk_id", "article_id", "title", "quote", "verified",
    "sentence" and optionally "passage", the whole cited passage), "unverified" (answer sentences without
    support) and, for precision, "gold_ids", "gold_titles" and "answers".
    - answers_with_citation: share of answers with at least one citation;
    - precision: share of citations (of questions with gold or answers) whose passage is gold or contains an
      acceptable answer;
    - verified_sentences: share of cited or unsupported answer sentences with at least one verified citation.
    """
    answered = [r for r in records if not r.get("refused") and not r.get("error")]
    with_citation = [bool(r.get("citations")) for r in answered]
    good = judged = 0
    verified = sentences = 0
    for r in answered:
        gold_ids, gold_titles = r.get("gold_ids", ()), r.get("gold_titles", ())
        answers = [a.lower() for a in r.get("answers", ())]
        if gold_ids or gold_titles or answers:
            for c in r.get("citations", ()):
                judged += 1
                hit = {"id": c.get("chunk_id"), "article_id": c.get("article_id"), "title": c.get("title", "")}
                text = str(c.get("passage") or c.get("quote", "")).lower()
                if hit_is_gold(hit, gold_ids, gold_titles) or any(a in text for a in answers):
                    good += 1
        support: dict[str, bool] = {}
        for c in r.get("citations", ()):
            sentence = c.get("sentence", "") or f"[{c.get('n')}]"
            support[sentence] = support.get(sentence, False) or bool(c.get("verified"))
        for sentence in r.get("unverified", ()):
            support.setdefault(sentence, False)
        sentences += len(support)
        verified += sum(support.values())
    return {
        "answers_with_citation": sum(with_citation) / len(with_citation) if with_citation else None,
        "precision": good / judged if judged else None,
        "verified_sentences": verified / sentences if sentences else None,
    }


# -- latency ---------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_metrics(
    total_ms: Sequence[float], ttft_ms: Sequence[float], wall_s: float | None, n_questions: int | None = None
) -> dict[str, float | None]:
    """p50/p95 of per-question time, p50 of time to first token, and questions per minute of wall time.

    `n_questions` (default: len(total_ms)) counts every question run in `wall_s`, failed ones included.
    """
    n = len(total_ms) if n_questions is None else n_questions
    return {
        "p50_ms": percentile(total_ms, 50),
        "p95_ms": percentile(total_ms, 95),
        "ttft_p50_ms": percentile(ttft_ms, 50),
        "questions_per_min": n / wall_s * 60 if n and wall_s else None,
    }
