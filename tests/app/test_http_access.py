"""Every event of the running app, called straight through Gradio's HTTP API without a login, leaves the stored
articles and the uploads folder as they were: the staff check lives in the handlers, not in the page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from corpus.store import Store
from tests.support.servers import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser  # starts the real app in a subprocess, like the browser tests


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("newsqa-http-home")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSQA_")}
    env.update(
        NEWSQA_HOME=str(home),
        NEWSQA_APP__PORT=str(port),
        NEWSQA_GENERATOR__BACKEND="extractive",
        NEWSQA_STAFF_USER="editor",
        NEWSQA_STAFF_PASSWORD="http-test-pass",
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONPATH=str(ROOT),
    )
    log = home / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsqa.cli", "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/config", proc, log, timeout_s=240)
        yield url, home
    finally:
        proc.terminate()
        proc.wait(20)


def _call(client: httpx.Client, url: str, dep: dict, data: list) -> str:
    """Call one event as a fresh, never-logged-in session; returns what the server said, in short."""
    session = uuid.uuid4().hex
    body = {"data": data, "fn_index": dep["id"], "session_hash": session, "event_data": None, "trigger_id": None}
    if not dep.get("queue", True):
        r = client.post(f"{url}/gradio_api/run/predict", json=body)
        return f"{r.status_code} {r.text[:200]}"
    r = client.post(f"{url}/gradio_api/queue/join", json=body)
    if r.status_code != 200:
        return f"{r.status_code} {r.text[:200]}"
    with client.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("msg") in {"process_completed", "close_stream"}:
                return line[:300]
    return "stream ended"


def test_no_event_changes_stored_data_without_a_login(app_url):
    url, home = app_url
    config = httpx.get(url + "/config", timeout=10).json()
    types = {c["id"]: c.get("type", "") for c in config["components"]}
    with Store(home / "newsqa.db") as store:
        before = {a.id for a in store.articles()}
    assert before, "the app loads the sample page into an empty data directory"
    target = sorted(before)[0]

    def value(component_id: int):
        kind = types.get(component_id, "")
        if kind in {"textbox", "dropdown"}:
            return target  # an article id wherever a handler takes text: remove/open would act on it
        if kind in {"checkbox", "state"}:
            return True  # "confirmed", and an attempt to forge the session's logged-in flag
        return None

    replies = []
    with httpx.Client(timeout=httpx.Timeout(60, connect=10)) as client:
        for dep in config["dependencies"]:
            replies.append(_call(client, url, dep, [value(i) for i in dep.get("inputs", [])]))
    assert replies, "the app exposes events"

    with Store(home / "newsqa.db") as store:
        after = {a.id for a in store.articles()}
    assert after == before, f"an unauthenticated API call changed the store: {replies}"
    # the staff handlers were reached and said why they refused (not merely failing on odd input)
    assert sum("请先登录" in r for r in replies) >= 2, replies
    # nor does the secret show up in what the server answered or logged
    assert not any("http-test-pass" in r for r in replies)
    assert "http-test-pass" not in (home / "app.log").read_text(errors="replace")
    uploads = home / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
