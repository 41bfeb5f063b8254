"""The assistant as users get it, built from the settings: its generator, and relative dates spelled out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.backends.openai import OpenAIGenerator
from assistant.chat import Assistant, SearcherLike
from assistant.generation import Generator, GeneratorError
from assistant.kernels import BUILTIN, KernelPlan, cpu_variants, llama_lib_dir
from assistant.models import DEFAULT_MODEL
from assistant.worker import SHARED_SERVER_FILE, ModelWorker, WorkerGenerator, WorkerSpec
from core.config import GeneratorSettings, Settings
from corpus.timeexpr import annotate

BackendMaker = Callable[..., Generator]


def prompt_states_dir(run_dir: Path) -> Path:
    """Where the llama engine keeps the state after the answer prompt's rules (LlamaGenerator's PromptStarts)."""
    return Path(run_dir) / "prompt-states"


def shared_server_path(run_dir: Path) -> Path:
    """Where the web app names its running model server for `newsqa ask` (assistant.worker.SharedServer)."""
    return Path(run_dir) / SHARED_SERVER_FILE


def _worker_generator(
    settings: GeneratorSettings, engine: str, model: Path, run_dir: Path, name: str, *, role: str
) -> Generator:
    plan = None
    if engine == "llama" and settings.cpu_variant != "auto":
        library = ""
        if settings.cpu_variant != BUILTIN:
            found = cpu_variants(llama_lib_dir())
            if settings.cpu_variant not in found:
                known = ", ".join(["auto", BUILTIN, *found])
                raise GeneratorError(f"generator.cpu_variant {settings.cpu_variant!r} is not in this build ({known})")
            library = str(found[settings.cpu_variant])
        plan = KernelPlan(settings.cpu_variant, library, settings.extra_buffers)
    spec = WorkerSpec(
        engine,
        str(model),
        n_ctx=settings.n_ctx,
        threads=settings.n_threads,
        plan=plan,
        nice=settings.server_nice,
        flash_attn=settings.flash_attn,
        # the passages, groups and neighbours read ahead, and the start of the follow-up rewrite's prompt
        ahead_states=settings.read_ahead * (1 + settings.read_ahead_neighbours) + settings.read_ahead_groups + 1
        if engine == "llama" and settings.read_ahead
        else 0,
        # the answer prompt's rules, read once per machine (`newsqa ask` starts a model server for each question)
        state_dir=str(prompt_states_dir(run_dir)) if engine == "llama" and settings.rules_state_on_disk else "",
    )
    shared = shared_server_path(run_dir) if settings.share_server else None
    worker = ModelWorker(
        spec,
        log_path=run_dir / "model-server.log",
        choice_path=run_dir / "kernels.json",
        start_timeout_s=settings.start_timeout_s,
        shared_path=shared if role == "serve" else None,
    )
    return WorkerGenerator(worker, name, timeout_s=settings.timeout_s, shared_path=shared if role == "ask" else None)


def _make_llama(settings: GeneratorSettings, models_dir: Path, run_dir: Path, *, role: str) -> Generator:
    path = Path(settings.model_path).expanduser() if settings.model_path else Path(models_dir) / DEFAULT_MODEL.filename
    return _worker_generator(settings, "llama", path, run_dir, f"llama:{path.name}", role=role)


def _make_transformers(settings: GeneratorSettings, models_dir: Path, run_dir: Path, *, role: str) -> Generator:
    if not settings.model_path:
        raise GeneratorError("the transformers backend needs generator.model_path: a local model directory")
    path = Path(settings.model_path).expanduser()
    return _worker_generator(settings, "transformers", path, run_dir, f"transformers:{path.name}", role=role)


def _make_openai(settings: GeneratorSettings, models_dir: Path, run_dir: Path, *, role: str) -> Generator:
    if not settings.base_url:
        raise GeneratorError("the openai backend needs generator.base_url, e.g. http://127.0.0.1:8000/v1")
    return OpenAIGenerator(settings.base_url, settings.api_model, timeout_s=settings.timeout_s)


BACKENDS: dict[str, BackendMaker] = {
    "llama": _make_llama,
    "transformers": _make_transformers,
    "openai": _make_openai,
}


ROLES = ("own", "serve", "ask")


def make_generator(
    settings: GeneratorSettings, models_dir: Path, run_dir: Path | None = None, *, role: str = "own"
) -> Generator:
    """The generator `settings.backend` names; cheap, a local model starts in its own process on first use.

    Local models (llama, transformers) run in a model server child process whose log and kernel choice are kept in
    `run_dir` (default: beside `models_dir`). With `generator.share_server`, the web app (`role` "serve") names
    its server there, and `newsqa ask` ("ask") asks that one when it serves as its own would; "own": neither.
    "extractive" is not a Generator: it needs the question and passages, not a prompt; use ExtractiveAnswerer.
    """
    if settings.backend == "extractive":
        raise GeneratorError("the extractive backend is ExtractiveAnswerer, not a Generator")
    if role not in ROLES:
        raise ValueError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
    make = BACKENDS[settings.backend]  # the settings admit no other backend
    return make(settings, models_dir, Path(run_dir) if run_dir else Path(models_dir).parent / "run", role=role)


def open_generator(settings: Settings, *, role: str = "own") -> Generator | None:
    """The configured generator (its model starts on first use), or None for the extractive answerer."""
    if settings.generator.backend == "extractive":
        return None
    return make_generator(settings.generator, settings.models_dir, settings.run_dir, role=role)


def build_assistant(
    settings: Settings, store: Any, searcher: SearcherLike | None, generator: Generator | None
) -> Assistant:
    """An Assistant over `store` and `searcher` that spells out relative dates when answer.resolve_dates is on."""
    return Assistant(settings, store, searcher, generator, annotate=annotate if settings.answer.resolve_dates else None)
