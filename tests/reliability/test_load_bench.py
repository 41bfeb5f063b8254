"""bench/load.py against the real web app wiring (over the app tests' fake assistant), briefly."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.reliability import ROOT, child_env
from tests.support.servers import free_port


@pytest.fixture
def served_app(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.slow_app", str(port), str(tmp_path / "home"), "0.01"],
        cwd=ROOT,
        env=child_env(tmp_path / "home"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/config", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
            assert server.poll() is None, "the app did not start"
        else:
            pytest.fail("the app did not answer within 120 s")
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_load_bench_drives_the_chat_and_reports(served_app, tmp_path):
    url, pid = served_app
    out = tmp_path / "load.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "load.py"),
            "--url",
            url,
            "--residents",
            "3",
            "--duration",
            "6",
            "--think",
            "0.1",
            "0.3",
            "--timeout",
            "60",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["errors"] == {}
    assert summary["answers"] >= 3 and summary["answers_per_minute"] > 0
    assert 0 < summary["latency_s"]["p50"] <= summary["latency_s"]["p95"] <= summary["latency_s"]["max"]
    assert summary["server_pid"] == pid and summary["server_rss_mb"]["max"] > 50
    records = json.loads(out.read_text())["records"]
    assert {r["resident"] for r in records} == {0, 1, 2}


def test_load_bench_refuses_a_remote_url():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--url", "http://example.com:7860"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "loopback" in result.stderr
