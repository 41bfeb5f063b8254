"""Per-question eval records built by hand, with markup in their texts, for the report and comparison tests."""

from __future__ import annotations

EVIL = '<script>alert("x")</script>&'


def record(
    qid: str,
    *,
    correct: bool | None,
    relevant: list[bool] | None,
    question: str = "问题",
    answer: str = "回答",
    category: str = "fact",
    total_ms: float = 100.0,
    error: str = "",
) -> dict:
    hits = [
        {
            "id": i,
            "article_id": f"a{i}",
            "title": f"标题{i}{EVIL}",
            "date": "2024-02-02",
            "source": "武进日报",
            "score": 0.5,
            "text": f"段落{EVIL}",
            "relevant": flag,
        }
        for i, flag in enumerate(relevant or [])
    ]
    return {
        "id": qid,
        "retrieval_only": False,
        "question": question,
        "category": category,
        "answerable": True,
        "answers": ["答案"],
        "answer_match": "any",
        "answer_parts": [],
        "gold_ids": [],
        "gold_titles": ["标题"],
        "history": [],
        "answer": answer,
        "refused": False,
        "citations": [],
        "unverified": [],
        "hits": hits,
        "relevant": relevant,
        "n_gold": 1,
        "correct": correct,
        "f1": 0.5 if correct is not None else None,
        "rewritten_query": "",
        "generator": "fake",
        "timing": {"total_ms": total_ms, "ttft_ms": 10.0, "retrieval_ms": 5.0},
        "error": error,
        "retrieval_error": "",
    }
