"""Follow-ups and changes of topic in one chat: is each question searched as the conversation means it?

    .venv/bin/python bench/followups.py [--generator llama|none] [--no-corpus] [--home DIR] [--out F.json]

Reads `corpus/sample/conversations.jsonl`: a question after one turn of conversation about the sample page, and
what its search query must be. A follow-up ("面积多大？" after "口袋公园在哪里？") must name the conversation's topic
and keep the question's own words; a question on a topic of its own ("垃圾分为哪几类？" after "警物联盟是什么？")
must be searched as asked. The "dev" conversations were written with the rules that tell the two apart
(`assistant.rewrite.changes_topic`; the three of two turns with `salient_phrase`'s topic kept past a follow-up),
the "held_out" ones after the first of them, and were run once.

The same file is a question set for `newsqa eval` (answers, gold titles, one question to refuse; its extra fields
are ignored there), which scores the answers the chat gives, not only the search query.

Each question goes through `assistant.rewrite.rewrite` as the chat calls it: the local model when the rules do not
settle it (`--generator none`: the rules alone), and the corpus check unless `--no-corpus` (how it was before).
The data directory (`--home`, default a temporary one) gets the sample page when it is empty.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant import kernels  # noqa: E402
from assistant.models import default_model_path  # noqa: E402
from assistant.rewrite import rewrite  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.text import bigrams  # noqa: E402
from newsqa.runtime import open_runtime  # noqa: E402

CONVERSATIONS = ROOT / "corpus" / "sample" / "conversations.jsonl"


class _Counted:
    """The generator, counting the rewrites it is asked for."""

    def __init__(self, generator: Any) -> None:
        self.generator, self.calls = generator, 0

    def stream(self, messages: list[dict[str, str]], **options: Any) -> Iterator[str]:
        self.calls += 1
        return self.generator.stream(messages, **options)


def searched_right(conversation: dict[str, Any], query: str) -> bool:
    """A follow-up's query names the topic and keeps the question's words; another question's brings in nothing
    of the conversation (no two characters in a row that the conversation has and the question has not)."""
    if conversation["kind"] == "new_topic":
        said = "".join(q + a for q, a in conversation["history"])
        added = bigrams(query) - bigrams(conversation["question"])
        return not added & bigrams(said)
    return conversation["topic"] in query and all(word in query for word in conversation.get("keep", ()))


def run(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    base = load_settings()
    model = Path(base.generator.model_path) if base.generator.model_path else default_model_path(base.models_dir)
    backend = "llama" if args.generator == "llama" else "extractive"
    settings = base.override({"home": str(home), "generator": {"backend": backend, "model_path": str(model)}})
    conversations = [json.loads(line) for line in CONVERSATIONS.read_text(encoding="utf-8").splitlines() if line]
    runtime = open_runtime(settings, warm=True)
    rows = []
    try:
        generator = _Counted(runtime.assistant.generator) if args.generator == "llama" else None
        corpus = None if args.no_corpus else runtime.searcher
        if generator is not None:  # the model loaded and warm before the first rewrite is timed
            list(generator.generator.stream([{"role": "user", "content": "你好"}], max_tokens=1))
        for conversation in conversations:
            history = [tuple(turn) for turn in conversation["history"]]
            calls = generator.calls if generator else 0
            mark = time.perf_counter()
            query = rewrite(conversation["question"], history, generator, corpus=corpus)
            seconds = time.perf_counter() - mark
            rows.append(
                {
                    "id": conversation["id"],
                    "split": conversation["split"],
                    "kind": conversation["kind"],
                    "question": conversation["question"],
                    "query": query,
                    "right": searched_right(conversation, query),
                    "model_asked": bool(generator and generator.calls > calls),
                    "seconds": round(seconds, 3),
                }
            )
    finally:
        runtime.close()
    summary: dict[str, Any] = {}
    for split in ("dev", "held_out"):
        for kind in ("follow_up", "new_topic"):
            some = [r for r in rows if r["split"] == split and r["kind"] == kind]
            summary[f"{split}/{kind}"] = {
                "right": sum(r["right"] for r in some),
                "of": len(some),
                "model_asked": sum(r["model_asked"] for r in some),
                "seconds": round(sum(r["seconds"] for r in some), 1),
            }
    return {
        "cpu": kernels.cpu_report().model,
        "generator": args.generator,
        "corpus": not args.no_corpus,
        "summary": summary,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", choices=("llama", "none"), default="llama")
    parser.add_argument("--no-corpus", action="store_true", help="leave out the corpus check (as before it)")
    parser.add_argument("--home", type=Path, help="data directory (default: a temporary one with the sample page)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        home = args.home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newsqa-followups-")))
        result = run(args, home)
    for row in result["rows"]:
        mark = "ok " if row["right"] else "BAD"
        asked = "model" if row["model_asked"] else "rules"
        said = f"{row['question']} -> {row['query']}"
        print(f"{mark} {row['id']} {row['kind']:9} {asked:5} {row['seconds']:5.2f}s {said}")
    for name, s in result["summary"].items():
        print(f"{name:20} {s['right']}/{s['of']} right, model asked {s['model_asked']}, {s['seconds']} s")
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
