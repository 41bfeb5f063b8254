"""A read-only data directory and a full disk: `newsqa` says so in one line, exits non-zero, changes nothing."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.reliability import (
    ROOT,
    article_records,
    changed,
    child_env,
    file_bytes,
    index_report,
    newsqa_argv,
    run_newsqa,
    stored_state,
    write_jsonl,
)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single `newsqa: error: ...` line of a failed run (no traceback)."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("newsqa: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    """A small first version and a larger second one (150 articles changed, 450 new)."""
    folder = tmp_path_factory.mktemp("corpus")
    os.chmod(folder, 0o755)
    small = article_records(150, seed=7)
    large = changed(small, every=1) + article_records(450, seed=8, prefix="b")
    v1, v2 = write_jsonl(folder / "v1.jsonl", small), write_jsonl(folder / "v2.jsonl", large)
    for f in (v1, v2):
        os.chmod(f, 0o644)
    return v1, v2


@pytest.fixture(scope="module")
def indexed_home(tmp_path_factory, corpus) -> Path:
    """A data directory holding the first version, with both indexes built (hash embedder)."""
    home = tmp_path_factory.mktemp("indexed") / "home"
    result = run_newsqa(home, "ingest", str(corpus[0]))
    assert result.returncode == 0, result.stderr
    report = index_report(home)
    assert all(report.values()), report
    return home


def snapshot(home: Path) -> tuple[dict, dict[str, bytes]]:
    return stored_state(home / "newsqa.db"), file_bytes(home / "index")


# -- read-only -------------------------------------------------------------------------------------------------

# Root ignores file modes; without these capabilities it is held to them like the files' owner.
NO_OVERRIDE = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
    "--",
]


def as_unprivileged(argv: list[str]) -> list[str]:
    return NO_OVERRIDE + argv if os.geteuid() == 0 else argv


@pytest.fixture
def readonly_probe(tmp_path):
    """Skip unless this process can run a child that file modes really apply to."""
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: file modes cannot be enforced")
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0o444)
    try:
        result = subprocess.run(as_unprivileged(["sh", "-c", f"echo y >> '{probe}'"]), capture_output=True)
    finally:
        probe.chmod(0o644)
    if result.returncode == 0:
        pytest.skip("file modes are not enforced for child processes here")


@pytest.mark.parametrize("directory_writable", [False, True], ids=["dir-and-db-readonly", "db-readonly"])
def test_ingest_into_read_only_store_fails_clearly_and_changes_nothing(
    tmp_path, corpus, indexed_home, readonly_probe, directory_writable
):
    home = tmp_path / "home"
    shutil.copytree(indexed_home, home)
    before = snapshot(home)
    modes = {home / "newsqa.db": 0o444, home / "index": 0o555, home: 0o755 if directory_writable else 0o555}
    for path, mode in modes.items():
        path.chmod(mode)
    try:
        result = subprocess.run(
            as_unprivileged(newsqa_argv("ingest", str(corpus[1]))),
            cwd=ROOT,
            env=child_env(home),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        for path in modes:
            path.chmod(0o755 if path.is_dir() else 0o644)
    line = one_line_error(result)
    assert "read-only" in line or "readonly" in line, line
    assert str(home / "newsqa.db") in line
    assert snapshot(home) == before
    # once writable again, the same command works
    assert run_newsqa(home, "ingest", str(corpus[1])).returncode == 0
    assert all(index_report(home).values())


def test_listing_articles_from_a_read_only_data_directory(tmp_path, indexed_home, readonly_probe):
    home = tmp_path / "home"
    shutil.copytree(indexed_home, home)
    (home / "newsqa.db").chmod(0o444)
    home.chmod(0o555)
    try:
        result = subprocess.run(
            as_unprivileged(newsqa_argv("articles", "--json")),
            cwd=ROOT,
            env=child_env(home),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        home.chmod(0o755)
        (home / "newsqa.db").chmod(0o644)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 150


# -- disk full -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_tmpfs() -> None:
    """Skip unless a small tmpfs can be mounted in a private mount namespace (root with unshare)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("mounting a small tmpfs needs root and unshare")
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr.decode(errors='replace').strip()}")


def run_on_full_disk(home: Path, spare_kb: int, *args: str) -> subprocess.CompletedProcess[str]:
    """Run newsqa on a copy of `home` in a tmpfs with only `spare_kb` KB free, then copy the result back.

    The mount lives in a private mount namespace, so it disappears with the child whatever happens.
    """
    used_kb = sum(p.stat().st_size for p in home.rglob("*") if p.is_file()) // 1024
    size_kb = used_kb + 64 + spare_kb  # tmpfs rounds to pages; the directories need a few too
    mount, saved = home.parent / "mnt", home.parent / "after"
    mount.mkdir()
    saved.mkdir()
    script = (
        'mount -t tmpfs -o size="$1"k tmpfs "$2" || exit 99; cp -a "$3"/. "$2"/; shift 4; '
        '"$@"; code=$?; cp -a "$0"/. "$SAVED"/; exit $code'
    )
    argv = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        str(mount),
        str(size_kb),
        str(mount),
        str(home),
        "-",
        *newsqa_argv(*args),
    ]
    env = child_env(mount, SAVED=str(saved))
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 99, result.stderr
    shutil.rmtree(home)
    saved.rename(home)
    mount.rmdir()
    return result


def test_ingest_on_full_disk_fails_clearly_and_leaves_store_and_index(tmp_path, corpus, indexed_home, private_tmpfs):
    home = tmp_path / "home"
    shutil.copytree(indexed_home, home)
    before = snapshot(home)
    result = run_on_full_disk(home, 256, "ingest", str(corpus[1]))
    line = one_line_error(result)
    assert re.search(r"disk holding \S+ is full", line), line
    assert snapshot(home) == before
    assert all(index_report(home).values())
    # with space again, the same command completes and the indexes follow
    assert run_newsqa(home, "ingest", str(corpus[1])).returncode == 0
    assert len(stored_state(home / "newsqa.db")) == 600
    assert all(index_report(home).values())


# 512 KB: the embedding cache or keyword rows (SQLite) run out of room; 2,500 KB: writing the FAISS file does
@pytest.mark.parametrize("spare_kb", [512, 2500], ids=["database-full", "index-file-full"])
def test_index_build_on_full_disk_fails_clearly_and_is_rebuilt_later(
    tmp_path, corpus, indexed_home, private_tmpfs, spare_kb
):
    home = tmp_path / "home"
    shutil.copytree(indexed_home, home)
    assert run_newsqa(home, "ingest", "--no-index", str(corpus[1])).returncode == 0
    before = snapshot(home)
    result = run_on_full_disk(home, spare_kb, "index")
    line = one_line_error(result)
    assert re.search(r"the disk holding \S+ is full", line), line
    assert snapshot(home)[0] == before[0]  # the articles are untouched
    report = index_report(home)
    assert not report["fresh"]  # the old index does not pass for the new store ...
    assert report["vectors_match"]  # ... and holds no vector of a chunk's old text
    assert run_newsqa(home, "index").returncode == 0  # ... and the next run brings it in step
    assert all(index_report(home).values())


def test_file_size_limit_mid_ingest_fails_clearly(tmp_path, corpus, indexed_home):
    """RLIMIT_FSIZE (works without root): a write past the limit fails; the store is as before."""
    home = tmp_path / "home"
    shutil.copytree(indexed_home, home)
    before = snapshot(home)
    limit = (home / "newsqa.db").stat().st_size + 256 * 1024

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write() instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run_newsqa(home, "ingest", str(corpus[1]), preexec_fn=limit_file_size)
    line = one_line_error(result)
    assert "nothing was changed" in line and str(home / "newsqa.db") in line, line
    assert snapshot(home) == before


def test_read_only_probe_really_denies(tmp_path):
    """The setpriv wrapper used above does hold root to file modes (else the read-only tests prove nothing)."""
    if os.geteuid() != 0:
        pytest.skip("only root needs the wrapper")
    target = tmp_path / "f"
    target.write_text("x")
    target.chmod(stat.S_IRUSR)
    result = subprocess.run(as_unprivileged(["sh", "-c", f"echo y >> '{target}'"]), capture_output=True)
    target.chmod(0o644)
    assert result.returncode != 0 and target.read_text() == "x"
