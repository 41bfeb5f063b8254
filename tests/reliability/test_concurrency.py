"""Two processes on one data directory: a reader while `newsqa ingest` writes, and two ingests at once."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from core.config import Settings
from corpus.store import Store
from index.hybrid import Searcher
from tests.support.embedders import HashEmbedder
from tests.support.reliability import (
    ROOT,
    article_records,
    check_articles,
    child_env,
    expected_state,
    index_report,
    newsqa_argv,
    run_newsqa,
    stored_state,
    write_jsonl,
)


def start(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        newsqa_argv(*args), cwd=ROOT, env=child_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_reader_keeps_answering_while_ingest_writes(tmp_path):
    """Like the app: a searcher over the store keeps working (no "database is locked") during an ingest."""
    first = write_jsonl(tmp_path / "first.jsonl", article_records(100, seed=11))
    more = write_jsonl(tmp_path / "more.jsonl", article_records(800, seed=12, prefix="m"))
    home = tmp_path / "home"
    assert run_newsqa(home, "ingest", str(first)).returncode == 0
    settings = Settings(home=home)
    with Store(settings.db_path) as store:
        searcher = Searcher(settings, store, HashEmbedder())
        searcher.sync(progress=False)
        writer = start(home, "ingest", str(more))
        searches, counts = 0, set()
        try:
            while writer.poll() is None and searches < 10_000:
                hits = searcher.search("湖塘镇迎春文艺演出", k=5)
                assert hits and all(h.title and h.chunk.text for h in hits)
                counts.add(store.count())
                searches += 1
        finally:
            out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        assert searches >= 5  # the reader really ran during the write
        assert counts <= {100, 900}  # a reader sees the store before or after the ingest, nothing between
        # after the writer is done, this process's searcher catches up with a sync
        searcher.sync(progress=False)
        assert searcher.search("新闻", k=1)
        searcher.close()
    assert all(index_report(home).values())


def test_two_ingests_at_once_both_complete_or_one_says_wait(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", article_records(400, seed=21, prefix="x"))
    b = write_jsonl(tmp_path / "b.jsonl", article_records(400, seed=22, prefix="y"))
    home = tmp_path / "home"
    assert (
        run_newsqa(
            home, "ingest", "--no-index", str(write_jsonl(tmp_path / "seed.jsonl", article_records(5, seed=1)))
        ).returncode
        == 0
    )
    runs = [start(home, "ingest", str(a)), start(home, "ingest", str(b))]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in runs]
    for p in runs:
        p.stdout.close()
        p.stderr.close()
    print("two ingests (exit code, last stderr line):", [(c, e.strip().splitlines()[-1:]) for c, _, e in results])
    expected = {**expected_state(a), **expected_state(b)}
    for (code, _, err), path in zip(results, (a, b), strict=True):
        if code != 0:  # allowed only as a clear "busy, try again", never a traceback
            assert "Traceback" not in err and "busy" in err, err
            time.sleep(0.5)
            assert run_newsqa(home, "ingest", str(path)).returncode == 0
    state = stored_state(home / "newsqa.db")
    assert set(expected) <= set(state)
    check_articles({k: v for k, v in state.items() if k in expected}, [expected])
    # whatever order the two index syncs finished in, the saved index agrees with the store or knows it is stale
    report = index_report(home)
    assert report["vectors_match"], report
    if not report["fresh"]:
        assert run_newsqa(home, "index").returncode == 0
        report = index_report(home)
    assert all(report.values()), report
