"""The generator's judgements of a question: whether the sources answer it, and whether they back its reply."""

from __future__ import annotations

import math

from assistant.prompts import CONFIRM_TASK

# The confirmation after the answer counts half as much as the judgement before it (in log-odds): the weight that
# separated answerable from unanswerable questions best (bench/judgements.py; the AUCs are in docs/BENCHMARKS.md).
CONFIRM_WEIGHT = 0.5


def combined_judgement(before: float, after: float) -> float:
    """sigmoid(logit(before) + CONFIRM_WEIGHT * logit(after)): the judgement before the answer, with the
    generator's confirmation of its own reply counting at CONFIRM_WEIGHT."""

    def logit(p: float) -> float:
        p = min(max(p, 1e-9), 1 - 1e-9)
        return math.log(p / (1 - p))

    return 1 / (1 + math.exp(-(logit(before) + CONFIRM_WEIGHT * logit(after))))


def confirmation_turns(reply: str) -> list[dict[str, str]]:
    """The turns that follow the answer prompt to ask the generator whether the sources back its reply."""
    return [{"role": "assistant", "content": reply}, {"role": "user", "content": CONFIRM_TASK}]
