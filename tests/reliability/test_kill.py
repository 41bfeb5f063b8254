"""SIGKILL `newsqa ingest` at random moments: the store always opens, holds whole articles, and a re-run finishes."""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from corpus.store import Store
from tests.support.reliability import (
    ROOT,
    article_records,
    changed,
    check_articles,
    child_env,
    expected_state,
    index_report,
    newsqa_argv,
    run_newsqa,
    stored_state,
    write_jsonl,
)

KILLS_PER_PHASE = 10
RERUN_EVERY = 3  # re-running to completion costs a whole ingest, so after every third kill (and the last)
SEED = 20261129


def run_and_kill(
    argv: list[str],
    env: dict[str, str],
    *,
    delay: float,
    wal: Path | None = None,
    wal_bytes: int = 0,
    until: Callable[[], bool] | None = None,
) -> tuple[int, int]:
    """Run `argv`; SIGKILL it after `delay` s, once `wal` has grown to `wal_bytes` (mid-transaction) or once
    `until()` is true, unless it finished first. Returns (exit code, -9 when killed; the largest WAL size seen)."""
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + delay
    seen = 0
    while proc.poll() is None:
        stamp = file_stamp(wal) if wal is not None else None  # the WAL comes and goes (deleted on close)
        size = stamp[1] if stamp else 0
        seen = max(seen, size)
        if time.monotonic() >= deadline or (wal_bytes and size >= wal_bytes) or (until is not None and until()):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002 if until is None else 0.01)  # a predicate costs more; do not starve the child
    return proc.wait(), seen


def embedded_count(db_path: Path, among: set[int] | None = None) -> int:
    """Committed vectors in the embedding cache (0 before the cache exists), optionally only of `among` ids."""
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return 0
    try:
        if among is not None:
            return len(among & {r[0] for r in db.execute("SELECT chunk_id FROM embeddings")})
        return db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        db.close()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def state_of(home: Path) -> dict:
    db = home / "newsqa.db"
    if not db.exists():  # killed before the store was created
        return {}
    with Store(db) as store:  # the store opens (and recovers its WAL) after the kill
        store.count()
    return stored_state(db)


@pytest.mark.slow
def test_sigkill_during_ingest_and_reingest_keeps_articles_whole(tmp_path):
    v1 = write_jsonl(tmp_path / "v1.jsonl", article_records(2000, seed=1))
    v2 = write_jsonl(tmp_path / "v2.jsonl", changed(article_records(2000, seed=1)))
    old, new = expected_state(v1), expected_state(v2)
    assert len(old) == 2000 and sum(old[a][0].text != new[a][0].text for a in old) == 1000

    # calibrate on this machine: how long each phase takes and how large its write-ahead log grows while
    # committing; the first phase's result is also where every re-ingest starts from
    v1_home, calib_home = tmp_path / "v1-home", tmp_path / "calib"
    calibration = []
    for path, home in ((v1, v1_home), (v2, calib_home)):
        if path is v2:
            shutil.copytree(v1_home, home)
        start = time.perf_counter()
        code, wal_max = run_and_kill(
            newsqa_argv("ingest", "--no-index", str(path)), child_env(home), delay=300, wal=home / "newsqa.db-wal"
        )
        assert code == 0
        calibration.append((time.perf_counter() - start, wal_max))
    assert check_articles(state_of(calib_home), [new]) == {0: 2000}

    rng = random.Random(SEED)
    landed = []
    phases = ((v1, None, {}, old), (v2, v1_home, old, new))
    for (path, snapshot, before, after), (full, wal_max) in zip(phases, calibration, strict=True):
        for k in range(KILLS_PER_PHASE):
            home = tmp_path / f"run-{len(landed)}"
            if snapshot is not None:
                shutil.copytree(snapshot, home)
            # odd runs: killed at a random moment; even runs: while the store's transaction is writing (once the
            # WAL reaches a random size short of the largest seen), with a time limit in case it never gets there
            if k % 2:
                trigger = {"delay": rng.uniform(0.1, 0.9) * full}
            else:
                trigger = {
                    "delay": 2 * full,
                    "wal": home / "newsqa.db-wal",
                    "wal_bytes": int(rng.uniform(0.05, 0.95) * wal_max),
                }
            code, _ = run_and_kill(newsqa_argv("ingest", "--no-index", str(path)), child_env(home), **trigger)
            state = state_of(home)
            counts = check_articles(state, [before, after])
            if before:  # a re-ingest replaces articles; it never drops or adds one
                assert set(state) == set(before)
            else:
                assert set(state) <= set(after)
            # counts[0]: articles only the old version explains; counts[1]: those the new one does
            landed.append(("wal" if "wal" in trigger else round(trigger["delay"], 2), code, counts[0], counts[1]))

            if k % RERUN_EVERY == 0 or k == KILLS_PER_PHASE - 1:
                done = run_newsqa(home, "ingest", "--no-index", str(path))
                assert done.returncode == 0, done.stderr
                state = state_of(home)
                assert set(state) == set(after)
                assert check_articles(state, [after]) == {0: len(after)}
            shutil.rmtree(home, ignore_errors=True)

    print(
        f"calibration (s, WAL bytes) {calibration}; kills (trigger, exit code, articles old-only, articles new):",
        landed,
    )
    killed = [entry for entry in landed if entry[1] == -signal.SIGKILL]
    assert len(killed) >= KILLS_PER_PHASE, f"most runs should have been killed before finishing: {landed}"
    # kills really interrupted the write: some during the store's transaction, in both phases
    assert any(
        entry[0] == "wal" and entry[1] == -signal.SIGKILL and entry[3] == 0 for entry in landed[:KILLS_PER_PHASE]
    )
    assert any(
        entry[0] == "wal" and entry[1] == -signal.SIGKILL and entry[2] == 1000 for entry in landed[KILLS_PER_PHASE:]
    )


INDEX_KILLS_PER_PHASE = 5


@pytest.mark.slow
def test_sigkill_during_index_build_never_leaves_a_mixed_or_falsely_fresh_index(tmp_path):
    v1 = write_jsonl(tmp_path / "v1.jsonl", article_records(200, seed=2))
    v2 = write_jsonl(tmp_path / "v2.jsonl", changed(article_records(200, seed=2)))
    stored_v1, stored_v2 = tmp_path / "stored-v1", tmp_path / "stored-v2"
    assert run_newsqa(stored_v1, "ingest", "--no-index", str(v1)).returncode == 0
    # the second phase starts from a v1 store with built indexes and the v2 articles stored but not indexed
    shutil.copytree(stored_v1, stored_v2)
    assert run_newsqa(stored_v2, "index").returncode == 0
    assert all(index_report(stored_v2).values())
    assert run_newsqa(stored_v2, "ingest", "--no-index", str(v2)).returncode == 0
    assert not index_report(stored_v2)["fresh"]

    # ~400 chunks in batches of 64: a pause per batch widens the embedding phase (after the keyword index's
    # transaction, before the dense index is saved)
    env = {"NEWSQA_TEST_EMBED_DELAY": "0.1"}
    rng = random.Random(SEED + 1)
    landed = []
    for snapshot in (stored_v1, stored_v2):
        with Store(snapshot / "newsqa.db") as store:  # chunks the build must embed: those without a cached vector
            to_embed = len(store.chunk_ids()) - embedded_count(snapshot / "newsqa.db", store.chunk_ids())
        assert to_embed >= 50
        for k in range(INDEX_KILLS_PER_PHASE):
            home = tmp_path / f"index-run-{len(landed)}"
            shutil.copytree(snapshot, home)
            db = home / "newsqa.db"
            if k == 0:  # early: loading, or the keyword index's transaction
                trigger, until = "early", None
                delay = rng.uniform(0.3, 2.0)
            elif k < INDEX_KILLS_PER_PHASE - 1:  # after a random share of the new vectors were embedded and cached
                want = embedded_count(db) + max(1, int(rng.uniform(0.05, 0.95) * to_embed))
                trigger, delay = f"{want} cached", 120

                def until(db=db, want=want) -> bool:
                    return embedded_count(db) >= want
            else:  # all embedded: while the dense index and its manifest are being saved
                trigger, delay = "saving", 120
                old = file_stamp(home / "index" / "dense.faiss")

                def until(home=home, old=old) -> bool:
                    return file_stamp(home / "index" / "dense.faiss") != old

            code, _ = run_and_kill(newsqa_argv("index"), child_env(home, **env), delay=delay, until=until)
            report = index_report(home)
            landed.append((trigger, code, report["fresh"]))
            assert report["vectors_match"], report  # never a vector of an old text or of another chunk
            if report["fresh"]:  # an index that claims the store's version really holds the store's chunks
                assert report["dense_ids_match"] and report["keyword_ids_match"], report
            if k in (1, INDEX_KILLS_PER_PHASE - 1):  # re-running costs a whole build: twice per phase
                done = run_newsqa(home, "index")
                assert done.returncode == 0, done.stderr
                assert all(index_report(home).values())
            shutil.rmtree(home)
    print("index kills (trigger, exit code, index fresh after):", landed)
    killed = [entry for entry in landed if entry[1] == -signal.SIGKILL]
    assert len(killed) >= INDEX_KILLS_PER_PHASE, landed
    assert any(not fresh for _, _, fresh in killed)


def test_ctrl_c_during_ingest_says_so_in_one_line_and_keeps_articles_whole(tmp_path):
    v1 = write_jsonl(tmp_path / "v1.jsonl", article_records(1000, seed=3))
    expected = expected_state(v1)
    rng = random.Random(SEED + 2)
    outcomes = []
    for k in range(3):
        home = tmp_path / f"int-{k}"
        proc = subprocess.Popen(
            newsqa_argv("ingest", "--no-index", str(v1)),
            cwd=ROOT,
            env=child_env(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # as from a terminal: a child inherits an ignored SIGINT, and Python then never raises KeyboardInterrupt
            preexec_fn=_default_sigint,
        )
        wal = home / "newsqa.db-wal"
        deadline = time.monotonic() + 60
        want = rng.randint(1, 400_000)  # bytes of WAL: interrupted while the store's transaction is writing
        while proc.poll() is None and time.monotonic() < deadline:
            stamp = file_stamp(wal)
            if stamp and stamp[1] >= want:
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.002)
        _, err = proc.communicate(timeout=60)
        outcomes.append(proc.returncode)
        if proc.returncode == 130:
            assert err.strip().splitlines()[-1].startswith("newsqa: interrupted"), err
            assert "Traceback" not in err
        else:
            assert proc.returncode == 0, err
        check_articles(state_of(home), [{}, expected])
    assert 130 in outcomes, outcomes
