"""Rerankers: reorder the top hits of a search. Off by default; one implementation asks the LLM to grade them."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Protocol

from core.types import Hit

RERANK_SYSTEM = "你是新闻检索助手，负责判断每段新闻资料与问题的相关程度。只输出评分，不要解释。"
RERANK_PROMPT = """问题：{query}

资料：
{passages}

请为每段资料打分，0 表示与问题无关，10 表示直接回答了问题。每行一段，格式为“编号: 分数”，例如：
1: 7
2: 0"""
_SCORE_LINE = re.compile(r"^\s*\[?(\d+)\]?\s*[:：．.、]\s*(\d+(?:\.\d+)?)", re.MULTILINE)


class Reranker(Protocol):
    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]: ...


class LLMReranker:
    """Asks a Generator to grade the first `top` hits 0–10 and sorts them by grade; the rest keep their place.

    Grades go into `Hit.scores["rerank"]`. A reply that grades no passage leaves the order unchanged: the
    search ranking is never thrown away on the word of an unparseable reply.
    """

    def __init__(self, generator: Any, *, top: int = 5, max_chars: int = 300, max_tokens: int = 64) -> None:
        self.generator = generator
        self.top = top
        self.max_chars = max_chars
        self.max_tokens = max_tokens

    def messages(self, query: str, hits: list[Hit]) -> list[dict[str, str]]:
        passages = "\n".join(
            f"[{n}] {h.title + '：' if h.title else ''}{h.chunk.text[: self.max_chars]}" for n, h in enumerate(hits, 1)
        )
        return [
            {"role": "system", "content": RERANK_SYSTEM},
            {"role": "user", "content": RERANK_PROMPT.format(query=query, passages=passages)},
        ]

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        head, tail = hits[: self.top], hits[self.top :]
        if len(head) < 2:
            return hits
        reply = "".join(self.generator.stream(self.messages(query, head), max_tokens=self.max_tokens, temperature=0.0))
        grades: dict[int, float] = {}
        for n, value in _SCORE_LINE.findall(reply):
            if 1 <= int(n) <= len(head) and int(n) - 1 not in grades:
                grades[int(n) - 1] = min(10.0, float(value))
        if not grades:
            return hits
        graded = [
            replace(h, scores={**h.scores, "rerank": grades[i]}) if i in grades else h for i, h in enumerate(head)
        ]
        order = sorted(range(len(head)), key=lambda i: (-grades.get(i, -1.0), i))
        return [graded[i] for i in order] + tail


def make_reranker(kind: str, generator: Any = None, *, top: int = 5) -> Reranker | None:
    """The reranker retrieval.reranker names: None for "none", an LLMReranker over `generator` for "llm"."""
    if kind == "none":
        return None
    if kind == "llm":
        if generator is None:
            raise ValueError('retrieval.reranker = "llm" needs a generator')
        return LLMReranker(generator, top=top)
    raise ValueError(f"unknown retrieval.reranker {kind!r} (known: none, llm)")
