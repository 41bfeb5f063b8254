"""SIGKILL `newsqa ingest` at random moments: the store always opens, holds whole articles, and a re-run finishes."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

from reliability_helpers import (
    ROOT,
    article_records,
    changed,
    check_articles,
    child_env,
    expected_state,
    newsqa_argv,
    run_newsqa,
    stored_state,
    write_jsonl,
)

from corpus.store import Store

KILLS_PER_PHASE = 10
RERUN_EVERY = 3  # re-running to completion costs a whole ingest, so after every third kill (and the last)
SEED = 20261129


def run_and_kill(argv: list[str], env: dict[str, str], *, delay: float, wal: Path | None = None,
                 wal_bytes: int = 0) -> tuple[int, int]:
    """Run `argv`; SIGKILL it after `delay` s or once `wal` has grown to `wal_bytes` (mid-transaction), unless it
    finished first. Returns (exit code, -9 when killed; the largest WAL size seen)."""
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + delay
    seen = 0
    while proc.poll() is None:
        size = wal.stat().st_size if wal is not None and wal.exists() else 0
        seen = max(seen, size)
        if time.monotonic() >= deadline or (wal_bytes and size >= wal_bytes):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    return proc.wait(), seen


def state_of(home: Path) -> dict:
    db = home / "newsqa.db"
    if not db.exists():  # killed before the store was created
        return {}
    with Store(db) as store:  # the store opens (and recovers its WAL) after the kill
        store.count()
    return stored_state(db)


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
        code, wal_max = run_and_kill(newsqa_argv("ingest", "--no-index", str(path)), child_env(home), delay=300,
                                     wal=home / "newsqa.db-wal")
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
                trigger = {"delay": 2 * full, "wal": home / "newsqa.db-wal",
                           "wal_bytes": int(rng.uniform(0.05, 0.95) * wal_max)}
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

    print(f"calibration (s, WAL bytes) {calibration}; kills (trigger, exit code, articles old-only, articles new):",
          landed)
    killed = [entry for entry in landed if entry[1] == -signal.SIGKILL]
    assert len(killed) >= KILLS_PER_PHASE, f"most runs should have been killed before finishing: {landed}"
    # kills really interrupted the write: some during the store's transaction, in both phases
    assert any(entry[0] == "wal" and entry[1] == -signal.SIGKILL and entry[3] == 0
               for entry in landed[:KILLS_PER_PHASE])
    assert any(entry[0] == "wal" and entry[1] == -signal.SIGKILL and entry[2] == 1000
               for entry in landed[KILLS_PER_PHASE:])
