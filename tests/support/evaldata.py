"""The external evaluation sets in ../shared/evaldata: a test that needs one skips, naming it, when it is absent."""

from __future__ import annotations

from pathlib import Path

# outside the repository: the sets' licenses forbid copying them in (docs/BENCHMARKS.md, External evaluation data)
EVALDATA = Path(__file__).resolve().parents[3] / "shared" / "evaldata"


def missing_reason(relative: str) -> str:
    """Why a test skips without `relative` (e.g. "crud/corpus.jsonl"): the set, its file and where to get it."""
    name = relative.split("/", 1)[0]
    return (
        f"external evaluation set {name} is missing ({relative} under ../shared/evaldata); "
        "see docs/BENCHMARKS.md, External evaluation data"
    )
