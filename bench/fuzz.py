"""Coverage-guided fuzzing (atheris/libFuzzer) of the code that reads untrusted text, for a bounded time.

    .venv/bin/pip install atheris          # test-only; not a runtime dependency
    .venv/bin/python bench/fuzz.py TARGET [--seconds 60] [--out /tmp/newsqa-fuzz]

Targets: `decode` (bytes -> text), `page` (newspaper page parser + chunker), `jsonl` (one JSON Lines file through
the reader), `citations` (the citation parser and checker over a reply). An input may only produce the documented
result or raise the documented error (InputError / ValueError); anything else, an article that cannot be chunked,
a citation of a source that was not given, or one input taking over 10 s is a crash, saved under --out with the
input that caused it. The hypothesis tests in tests/reliability/test_fuzz.py cover the same properties quickly;
this run looks deeper for what they miss. The corpus/sample files seed the search.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGETS = ("decode", "page", "jsonl", "citations")


def _whole(article) -> None:
    from corpus.chunker import chunk_article

    if not article.text.strip():
        raise AssertionError(f"article {article.title!r} has no text")
    chunks = chunk_article(article)
    if not chunks or any(article.text[c.start : c.end] != c.text for c in chunks):
        raise AssertionError(f"article {article.title!r}: chunks do not match the text")


def fuzz_evidence() -> list:
    """Two numbered passages for fuzzing the citation checker (also used by tests/reliability/test_fuzz.py)."""
    from assistant.attribution import Evidence
    from core.types import Chunk, Hit, chunk_id

    texts = ["3月5日，武进区召开安全生产工作会议，部署全年安全生产重点任务。", "湖塘镇举办迎春文艺演出，吸引市民观看。"]
    evidence = []
    for n, text in enumerate(texts, 1):
        chunk = Chunk(
            id=chunk_id(f"a{n}", 0, len(text), text),
            article_id=f"a{n}",
            index=0,
            paragraph=0,
            start=0,
            end=len(text),
            text=text,
        )
        evidence.append(Evidence(n, Hit(chunk=chunk, score=1.0, title=f"标题{n}", date="2024-03-05"), text))
    return evidence


def make_target(name: str, scratch: Path):
    """The one-input function for libFuzzer; imports happen under atheris's instrumentation."""
    import atheris

    with atheris.instrument_imports():
        from assistant.attribution import Attributor
        from corpus.page import parse_page
        from corpus.readers import InputError, decode_bytes, iter_jsonl

    if name == "decode":

        def one(data: bytes) -> None:
            with contextlib.suppress(InputError):
                decode_bytes(data, "fuzz")
    elif name == "page":

        def one(data: bytes) -> None:
            text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
            for article in parse_page(text, date="2024-02-02"):
                _whole(article)
    elif name == "jsonl":
        path = scratch / "fuzz.jsonl"

        def one(data: bytes) -> None:
            path.write_bytes(data)
            try:
                for article in iter_jsonl(path):
                    _whole(article)
            except InputError:
                pass
    else:
        evidence = fuzz_evidence()
        attributor = Attributor(evidence)

        def one(data: bytes) -> None:
            reply = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
            for c in attributor.attribute(reply).citations:
                if c.n not in (1, 2) or evidence[c.n - 1].shown[c.start : c.end] != c.quote:
                    raise AssertionError(f"citation {c} does not point into a given passage")

    return one


def seeds(name: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sample = ROOT / "corpus" / "sample"
    texts = {
        "page": [sample / "wujin_daily_page.txt"],
        "decode": [sample / "wujin_daily_page.txt"],
        "jsonl": [sample / "questions.jsonl"],
        "citations": [],
    }[name]
    for i, path in enumerate(texts):
        (folder / f"seed{i}").write_bytes(path.read_bytes()[:4096])
    if name == "decode":
        text = (sample / "wujin_daily_page.txt").read_text(encoding="utf-8")[:1000]
        (folder / "gbk").write_bytes(text.encode("gb18030"))
        (folder / "utf16").write_bytes(text.encode("utf-16"))
    if name == "citations":
        (folder / "reply").write_bytes("武进区于3月5日召开安全生产工作会议[1]。湖塘镇举办演出【2】[1-2]。".encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=TARGETS)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "newsqa-fuzz")
    args = parser.parse_args(argv)
    try:
        import atheris
    except ImportError:
        raise SystemExit("fuzz: atheris is not installed (.venv/bin/pip install atheris)") from None
    out = args.out / args.target
    corpus = out / "corpus"
    seeds(args.target, corpus)
    crashes = out / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    one = make_target(args.target, out)
    libfuzzer_args = [
        sys.argv[0],
        str(corpus),
        f"-max_total_time={args.seconds}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-max_len=8192",
        f"-artifact_prefix={crashes}{os.sep}",
        "-print_final_stats=1",
    ]
    atheris.Setup(libfuzzer_args, one)
    atheris.Fuzz()  # exits the process: 0 when the time ran out without a crash
    return 0


if __name__ == "__main__":
    sys.exit(main())
