"""What runs on this machine: CPU features the OS allows, the llama.cpp kernels chosen and why, measured speeds,
the model file, the embedder and the index sizes. `newsqa doctor` prints it; the staff desk shows it."""

from __future__ import annotations

import contextlib
import importlib.metadata
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assistant import kernels
from assistant.models import DEFAULT_MODEL, file_sha256
from core.config import Settings


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


def cpu_section() -> dict[str, Any]:
    cpu = kernels.cpu_report()
    return {
        "model": cpu.model,
        "ident": cpu.ident,
        "flags": cpu.shown_flags(),
        "os_avx512": cpu.os_avx512,
        "os_amx": cpu.os_amx,
    }


def build_section() -> dict[str, Any]:
    """llama-cpp-python's version and CPU backends, with ggml's score of each variant on this CPU."""
    lib_dir = kernels.llama_lib_dir()
    variants = kernels.cpu_variants(lib_dir)
    return {
        "llama_cpp_python": _version("llama_cpp_python") or _version("llama-cpp-python"),
        "lib_dir": str(lib_dir or ""),
        "variants": kernels.variant_scores(variants) if variants else {},
    }


_HASHES: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> sha256: the staff desk asks repeatedly


def _sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = file_sha256(path)
    return _HASHES[key]


def model_section(settings: Settings, *, hash_file: bool = True) -> dict[str, Any]:
    gen = settings.generator
    if gen.backend == "openai":
        return {"backend": "openai", "endpoint": gen.base_url, "model": gen.api_model}
    if gen.backend == "extractive":
        return {"backend": "extractive"}
    path = Path(gen.model_path).expanduser() if gen.model_path else settings.models_dir / DEFAULT_MODEL.filename
    info: dict[str, Any] = {"backend": gen.backend, "path": str(path), "exists": path.exists()}
    if gen.backend == "llama":
        info["rules_state"] = rules_state_section(settings)
    info["shared_server"] = shared_server_section(settings)
    if path.is_file():
        info["bytes"] = path.stat().st_size
        if hash_file:
            info["sha256"] = _sha256(path)
            if path.name == DEFAULT_MODEL.filename:
                info["sha256_ok"] = info["sha256"] == DEFAULT_MODEL.sha256
    return info


def rules_state_section(settings: Settings) -> dict[str, Any]:
    """Whether the state after the answer prompt's rules is kept on disk, and how many files of it there are."""
    from assistant.backends.llama import PromptStarts
    from assistant.factory import prompt_states_dir

    if not settings.generator.rules_state_on_disk:
        return {"on": False}
    files = []
    with contextlib.suppress(OSError):
        files = [p.stat().st_size for p in PromptStarts.files(prompt_states_dir(settings.run_dir))]
    return {"on": True, "files": len(files), "bytes": sum(files)}


def shared_server_section(settings: Settings) -> dict[str, Any]:
    """Whether `newsqa ask` would ask the web app's running model server (generator.share_server), and whose."""
    from assistant.factory import make_generator

    if not settings.generator.share_server:
        return {"on": False}
    shared = None
    with contextlib.suppress(Exception):  # a setting that cannot build a generator is reported elsewhere
        shared = make_generator(settings.generator, settings.models_dir, settings.run_dir, role="ask").shared
    return {"on": True, "pid": shared.pid if shared is not None else None}


def worker_section(generator: Any) -> dict[str, Any]:
    """The model server's state, kernel choice and warm-up speeds, when `generator` runs one."""
    worker = getattr(generator, "worker", None)
    if worker is None:
        return {}
    status = worker.status()
    section: dict[str, Any] = {
        "state": status.state,
        "pid": status.pid,
        "restarts": status.restarts,
        "last_exit": status.last_exit,
        "error": status.error,
        "warmup": status.warmup,
        "plan": asdict(status.plan) if status.plan else None,
    }
    if status.choice is not None:
        section["reason"] = status.choice.reason
        section["trials"] = [
            {"plan": t.plan.label, "outcome": t.outcome, "prompt_tps": t.prompt_tps, "gen_tps": t.gen_tps}
            for t in status.choice.trials
        ]
    return section


def ahead_section(runtime: Any) -> dict[str, Any]:
    """How many of the newest passages the model has read ahead (assistant.readahead), when it reads ahead."""
    reader = getattr(runtime, "read_ahead", None)
    if reader is None:
        return {}
    limits = {"limit": reader.limit, "groups_limit": reader.groups, "neighbours_limit": reader.neighbours}
    return {**limits, **reader.last, "typed": dict(getattr(reader, "typed_read", {}))}


def index_section(runtime: Any) -> dict[str, Any]:
    store, searcher = runtime.store, runtime.searcher
    dates = sorted(a.date for a in store.articles() if a.date)
    return {
        "embedder": searcher.embedder.name,
        "articles": store.count(),
        "chunks": sum(store.chunk_counts().values()),
        "vectors": len(searcher.dense),
        "keyword_entries": len(searcher.keyword),
        "dates": [dates[0], dates[-1]] if dates else [],
    }


def collect(settings: Settings, runtime: Any, *, wait_s: float | None = None, hash_file: bool = True) -> dict:
    """Everything the report shows. With `wait_s`, waits that long for the model server to be ready (and so
    measured); the staff desk passes 0 and shows whatever state the server is in."""
    generator = getattr(runtime.assistant, "generator", None)
    worker = getattr(generator, "worker", None)
    if worker is not None and wait_s != 0:
        with contextlib.suppress(Exception):  # the report says why, in the server section
            worker.url(timeout_s=wait_s)
    return {
        "cpu": cpu_section(),
        "build": build_section(),
        "model": model_section(settings, hash_file=hash_file),
        "server": worker_section(generator),
        "ahead": ahead_section(runtime),
        "index": index_section(runtime),
    }


_STATES = {"ready": "已就绪", "starting": "启动中", "restarting": "重启中", "failed": "无法运行", "stopped": "已停止"}


def _yes(value: bool | None) -> str:
    return "未知" if value is None else ("是" if value else "否")


def format_report(report: dict[str, Any]) -> str:
    """The report as plain text, one fact a line."""
    cpu, build, model, server, index = (report[k] for k in ("cpu", "build", "model", "server", "index"))
    lines = [
        f"CPU：{cpu['model']}" + (f"（{cpu['ident']}）" if cpu.get("ident") else ""),
        f"  指令集：{' '.join(cpu['flags']) or '—'}",
        f"  操作系统允许 AVX-512：{_yes(cpu['os_avx512'])}；允许 AMX：{_yes(cpu['os_amx'])}",
        f"llama-cpp-python：{build['llama_cpp_python'] or '未安装'}",
    ]
    if build["variants"]:
        runnable = [f"{v}({s})" for v, s in sorted(build["variants"].items(), key=lambda kv: -kv[1]) if s > 0]
        lines.append(f"  可用的 CPU 内核变体（ggml 评分）：{', '.join(runnable) or '无'}")
    elif build["llama_cpp_python"]:
        lines.append("  CPU 内核：编译时内置的单一版本")
    if model.get("backend") == "openai":
        lines.append(f"生成模型：OpenAI 兼容接口 {model['endpoint']}（{model.get('model') or '默认模型'}）")
    elif model.get("backend") == "extractive":
        lines.append("生成模型：不用模型，直接摘录原文")
    else:
        lines.append(f"模型文件：{model['path']}")
        if model.get("exists"):
            size = f"{model['bytes'] / 1e9:.2f} GB" if "bytes" in model else ""
            check = {True: "（与发布的哈希一致）", False: "（与发布的哈希不一致！请运行 newsqa models pull --verify）"}
            digest = model.get("sha256", "未计算")
            lines.append(f"  大小 {size}，sha256 {digest}{check.get(model.get('sha256_ok'), '')}")
        else:
            lines.append("  不存在：运行 newsqa models pull")
        rules = model.get("rules_state")
        if rules and not rules["on"]:
            lines.append("  提示规则的状态：不存盘（generator.rules_state_on_disk 关），每个新的模型进程重读规则")
        elif rules and rules["files"]:
            size = f"{rules['bytes'] / 1e6:.1f} MB"
            lines.append(f"  提示规则的状态：已存盘（{rules['files']} 份，{size}），新的模型进程载入它，不必重读规则")
        elif rules:
            lines.append("  提示规则的状态：尚未存盘，模型第一次读过规则后存盘")
        shared = model.get("shared_server")
        if shared and not shared["on"]:
            lines.append("  newsqa ask：每次启动自己的模型进程（generator.share_server 关）")
        elif shared and shared["pid"]:
            lines.append(f"  newsqa ask：用正在运行的网页应用的模型进程（pid {shared['pid']}），不另载模型")
        elif shared:
            lines.append("  newsqa ask：没有正在运行的网页应用可共用模型，每次启动自己的模型进程")
    if server:
        state = _STATES.get(server["state"], server["state"])
        lines.append(f"模型进程：{state}（pid {server['pid'] or '—'}）")
        if server.get("plan"):
            plan = server["plan"]
            extra = "开" if plan["extra_buffers"] else "关"
            lines.append(f"  使用的内核：{plan['variant']}，extra buffer types {extra}")
        trials = server.get("trials", [])
        if trials:
            lines.append("  选择依据：按预期速度从快到慢逐个在子进程里试运行，取能运行且实测最快的方案")
        for trial in trials:
            ok = trial["outcome"] == "ok"
            result = f"可以运行，读提示 {trial['prompt_tps']:.0f} 词元/秒" if ok else trial["outcome"]
            lines.append(f"    {trial['plan']}：{result}")
        warm = server.get("warmup") or {}
        if "prompt_tps" in warm:
            lines.append(
                f"  实测速度：读提示 {warm['prompt_tps']:.1f} 词元/秒，生成 {warm['gen_tps']:.1f} 词元/秒"
                f"（预热时测得，{warm.get('prompt_tokens', 0):.0f} 个提示词元）"
            )
        ahead = report.get("ahead") or {}
        if "passages" in ahead:
            groups = f"、同篇文章的 {ahead.get('groups', 0)} 组段落" if ahead.get("groups_limit") else ""
            most = f"、{ahead['groups_limit']} 组" if ahead.get("groups_limit") else ""
            if ahead.get("neighbours_limit"):
                groups += f"、与其他文章相近段落的 {ahead.get('neighbours', 0)} 对"
                most += f"、每段 {ahead['neighbours_limit']} 对"
            lines.append(
                f"  预读：最新文章的 {ahead['passages']} 段{groups}已读入（最多 {ahead['limit']} 段{most}，"
                f"用时 {ahead['seconds']:.0f} 秒），问到它们的问题只需读其余部分"
                + ("；追问改写的规则也已读入" if ahead.get("rewrite") else "")
                + ("；本机可用内存不足，其余的没有读" if ahead.get("stopped") == "memory" else "")
            )
        elif ahead:
            groups = f"及同篇文章的 {ahead['groups_limit']} 组段落" if ahead.get("groups_limit") else ""
            if ahead.get("neighbours_limit"):
                groups += f"、每段与其他文章 {ahead['neighbours_limit']} 个相近段落的组合"
            lines.append(f"  预读：最新文章的前 {ahead['limit']} 段{groups}，模型空闲时读入")
        typed = ahead.get("typed") or {}
        if typed.get("questions"):
            lines.append(
                f"  输入时预读：居民输入停顿时已读入 {typed['questions']} 个问题的资料"
                f"（{typed['prompts']} 次，{typed['tokens_read']} 个词元），发出的问题若找到同样的资料只需读其余部分"
            )
        if server.get("restarts"):
            lines.append(f"  已重启 {server['restarts']} 次，上次退出：{server['last_exit']}")
        if server.get("error"):
            lines.append(f"  错误：{server['error']}")
    dates = "～".join(index["dates"]) if index["dates"] else "无日期"
    lines += [
        f"向量模型：{index['embedder']}",
        f"文章 {index['articles']} 篇（{dates}），片段 {index['chunks']} 个；"
        f"向量索引 {index['vectors']} 条，关键词索引 {index['keyword_entries']} 条",
    ]
    return "\n".join(lines)
