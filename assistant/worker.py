"""The local model out of process: start the model server, choose its kernels, restart it when it dies.

The app talks to the server as to any OpenAI-compatible endpoint (`OpenAIGenerator`), so a crash in native model
code ends a child process, never the app, an evaluation or a test run. The question in flight is then answered
without the model, and the server is started again for the next one.

The web app names its running server in the run directory (`SharedServer`): a `newsqa ask` beside it asks that
server, warm and holding the passages it read ahead, instead of loading a second model on the same cores.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant import kernels
from assistant.backends.openai import OpenAIGenerator
from assistant.generation import GeneratorError, Messages, ModelCrashed, Reply
from assistant.kernels import KernelChoice, KernelPlan, Trial
from assistant.model_server import TOKEN_ENV
from core.files import write_atomic

log = logging.getLogger(__name__)

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the child imports `assistant` from here, installed or not
# a plan that dies this often within the window is given up for the next one (a kernel that traps now and then)
_MAX_DEATHS, _DEATH_WINDOW_S = 3, 600.0
_RESTART_DELAYS_S = (0.5, 2.0, 5.0, 15.0, 30.0)
SHARED_SERVER_FILE = "model-server.json"  # in the run directory: the web app's running server, for `newsqa ask`


@dataclass(frozen=True)
class WorkerSpec:
    """What the model server runs; `plan` None means: choose llama.cpp kernels by probing (llama engine only)."""

    engine: str  # "llama", "transformers", or "package.module:factory"
    model: str
    n_ctx: int = 4096
    threads: int = 0
    warmup: bool = True
    plan: KernelPlan | None = None
    nice: int = 0
    flash_attn: bool = False
    ahead_states: int = 0  # prompt states read ahead the server keeps (assistant.readahead)
    state_dir: str = ""  # where the llama engine keeps system messages' states across processes ("" nowhere)

    def serves_like(self, other: WorkerSpec, plan: KernelPlan | None) -> bool:
        """Would a server started from `other`, running `plan`, answer as one started from this spec would?

        The same engine, model file, context, threads and attention; the kernels too when this spec fixes them
        (with "auto" it would have chosen among what runs here). What it keeps ahead or on disk does not matter.
        """
        same = (self.engine, _resolved(self.model), self.n_ctx, self.threads, self.flash_attn) == (
            other.engine,
            _resolved(other.model),
            other.n_ctx,
            other.threads,
            other.flash_attn,
        )
        if self.plan is None:
            return same
        fixed = (self.plan.variant, self.plan.extra_buffers)
        return same and plan is not None and fixed == (plan.variant, plan.extra_buffers)

    def command(self, plan: KernelPlan | None) -> list[str]:
        cmd = [sys.executable, "-m", "assistant.model_server", "--engine", self.engine, "--model", self.model]
        cmd += ["--n-ctx", str(self.n_ctx), "--threads", str(self.threads)]
        if plan is not None:
            cmd += ["--cpu-variant", plan.variant, "--cpu-library", plan.library]
            if not plan.extra_buffers:
                cmd.append("--no-extra-buffers")
        if not self.warmup:
            cmd.append("--no-warmup")
        if self.flash_attn:
            cmd.append("--flash-attn")
        if self.ahead_states:
            cmd += ["--ahead-states", str(self.ahead_states)]
        if self.state_dir:
            cmd += ["--state-dir", self.state_dir]
        if self.nice:
            cmd += ["--nice", str(self.nice)]
        return cmd


def _resolved(model: str) -> str:
    """A model file or directory as an absolute path (two processes may name it from different directories); a
    name that is no path here (a hub name) as it is."""
    path = Path(model).expanduser()
    return str(path.resolve()) if model and path.exists() else model


def server_health(port: int, token: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """The /health reply of the model server on `port` (state, and the tokens it has read and written since it
    started); {} when none answers there, or it refuses `token`."""
    import httpx  # here, not on import: `newsqa ask` shows its quotation before it needs the model

    try:
        reply = httpx.get(
            f"http://127.0.0.1:{port}/health", headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s
        )
        return dict(reply.json()) if reply.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return {}


@dataclass(frozen=True)
class SharedServer:
    """A model server another process runs and names in its run directory (the web app's, for `newsqa ask`)."""

    port: int
    token: str
    pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process has that number now: not the server named
            return False
        return True

    @staticmethod
    def write(path: Path, spec: WorkerSpec, running: _Running, token: str) -> None:
        """Name `running` in `path` (readable by this user only: it holds the server's token), replacing it whole."""
        plan = running.plan
        record = {
            "version": 1,
            "owner": os.getpid(),
            "pid": running.process.pid,
            "port": running.port,
            "token": token,
            "spec": {
                "engine": spec.engine,
                "model": _resolved(spec.model),
                "n_ctx": spec.n_ctx,
                "threads": spec.threads,
                "flash_attn": spec.flash_attn,
            },
            "plan": None if plan is None else [plan.variant, plan.library, plan.extra_buffers],
        }
        write_atomic(path, json.dumps(record))  # its temp file, renamed over `path`, is made mode 0600 (mkstemp)

    @staticmethod
    def forget(path: Path) -> None:
        """Remove `path` if this process wrote it (a second app on the same data may have named its own since)."""
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("owner") == os.getpid():
                path.unlink()

    @classmethod
    def find(cls, path: Path, spec: WorkerSpec) -> SharedServer | None:
        """The server named in `path` if it runs, answers with its token and serves as `spec` would; else None."""
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            saved = record["spec"]
            plan = KernelPlan(*record["plan"]) if record["plan"] else None
            named = WorkerSpec(
                saved["engine"], saved["model"], saved["n_ctx"], saved["threads"], flash_attn=saved["flash_attn"]
            )
            server = cls(int(record["port"]), str(record["token"]), int(record["pid"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s does not name a model server (%s); starting one", path, exc)
            return None
        if record.get("version") != 1 or not spec.serves_like(named, plan) or not server.alive():
            return None
        return server if server_health(server.port, server.token) else None


@dataclass
class _Running:
    process: subprocess.Popen
    port: int
    info: dict[str, Any]
    plan: KernelPlan | None


@dataclass
class WorkerStatus:
    """What the server is doing, for `newsqa doctor`, the staff desk and the logs."""

    state: str = "stopped"  # "stopped", "starting", "ready", "restarting", "failed"
    pid: int | None = None
    plan: KernelPlan | None = None
    choice: KernelChoice | None = None
    warmup: dict[str, float] = field(default_factory=dict)
    restarts: int = 0
    last_exit: str = ""  # how the last server process ended, e.g. "died: SIGSEGV"
    error: str = ""  # why the server cannot run, in state "failed"
    started_at: float = 0.0


class ModelWorker:
    """Runs one model server child process and keeps it running.

    `start()` returns at once and loads the model in the background; `url()` waits until the server answers.
    With the llama engine and no fixed plan, the first start tries the candidate kernel plans (fastest first)
    and caches the one that runs in `choice_path`; a cached plan that stops running is probed again.
    """

    def __init__(
        self,
        spec: WorkerSpec,
        *,
        log_path: Path,
        choice_path: Path | None = None,
        start_timeout_s: float = 600.0,
        env: dict[str, str] | None = None,
        candidates: Sequence[KernelPlan] | None = None,
        shared_path: Path | None = None,
    ) -> None:
        self.spec = spec
        # where to name the running server for other processes on the same data (SharedServer); None: nowhere
        self.shared_path = shared_path
        # the plans to probe; None: this machine's llama.cpp build decides (llama engine without a fixed plan)
        self.candidates = None if candidates is None else list(candidates)
        self.log_path = Path(log_path)
        self.choice_path = choice_path
        self.start_timeout_s = start_timeout_s
        self.token = secrets.token_hex(16)
        self._env = dict(os.environ if env is None else env)
        self._cond = threading.Condition()
        self._running: _Running | None = None
        self._status = WorkerStatus()
        self._deaths: list[float] = []
        self._served: dict[str, subprocess.Popen] = {}  # base URL -> the server process that answered there
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._choice_key = ""
        _WORKERS.add(self)

    # -- public ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server in the background unless it is running or starting."""
        with self._cond:
            if self._stopping or self._status.state in ("starting", "ready", "restarting"):
                return
            self._begin("starting", self._first_start)

    def url(self, timeout_s: float | None = None) -> str:
        """The server's base URL (…/v1), starting it if needed and waiting while it loads."""
        self.start()
        deadline = time.monotonic() + (self.start_timeout_s if timeout_s is None else timeout_s)
        with self._cond:
            while True:
                state = self._status.state
                if state == "ready" and self._running is not None:
                    return f"http://127.0.0.1:{self._running.port}/v1"
                if state == "failed":
                    raise GeneratorError(f"the local model cannot run: {self._status.error}")
                if state == "stopped":
                    raise GeneratorError("the local model server was stopped")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GeneratorError(f"the local model server did not start within {self.start_timeout_s:g} s")
                self._cond.wait(min(left, 1.0))

    def exit_of(self, url: str, wait_s: float = 1.0) -> str:
        """How the server that answered at `url` ended ("died: SIGSEGV"), or "" while it runs. Waits a moment: a
        client sees the connection drop just before the process is reaped."""
        with self._cond:
            process = self._served.get(url)
        if process is None:
            return ""
        try:
            return kernels.describe_exit(process.wait(wait_s))
        except subprocess.TimeoutExpired:
            return ""

    def health(self) -> dict[str, Any]:
        """The running server's /health reply (state, and the tokens it has read and written since it started);
        {} when no server is running or it does not answer."""
        with self._cond:
            running = self._running
        return {} if running is None else server_health(running.port, self.token)

    def alive(self) -> bool:
        with self._cond:
            running = self._running
        return running is not None and running.process.poll() is None

    def status(self) -> WorkerStatus:
        with self._cond:
            return replace(self._status, warmup=dict(self._status.warmup))

    def stop(self) -> None:
        """Stop the server (and any start in progress); it is not restarted."""
        with self._cond:
            self._stopping = True
            running, self._running = self._running, None
            self._status.state = "stopped"
            self._cond.notify_all()
        if running is not None:
            stop_process(running.process)
        if self.shared_path is not None:
            SharedServer.forget(self.shared_path)

    # -- starting ----------------------------------------------------------------------------------------------

    def _begin(self, state: str, target: Any) -> None:
        self._status.state = state
        self._thread = threading.Thread(target=self._run_start, args=(target,), name="model-worker", daemon=True)
        self._thread.start()

    def _run_start(self, target: Any) -> None:
        try:
            running, choice = target()
        except Exception as exc:  # every failure to start becomes the "failed" state, with the reason shown
            log.error("the local model cannot run: %s", exc)
            with self._cond:
                if not self._stopping:
                    self._status.state = "failed"
                    self._status.error = str(exc)
                self._cond.notify_all()
            return
        with self._cond:
            if self._stopping:
                stop_process(running.process)
                return
            self._running = running
            self._served[f"http://127.0.0.1:{running.port}/v1"] = running.process
            self._status.state = "ready"
            self._status.pid = running.process.pid
            self._status.plan = running.plan
            self._status.warmup = dict(running.info.get("warmup") or {})
            self._status.started_at = time.time()
            self._status.error = ""
            if choice is not None:
                self._status.choice = choice
            if self.shared_path is not None:
                try:
                    SharedServer.write(self.shared_path, self.spec, running, self.token)
                except OSError as exc:  # `newsqa ask` then starts its own server, as it did before
                    log.warning("cannot name the model server in %s: %s", self.shared_path, exc)
            self._cond.notify_all()
        # `newsqa serve` prints the ready state itself; `newsqa doctor` shows why these kernels
        log.debug("local model ready (pid %s, %s)", running.process.pid, running.plan.label if running.plan else "")
        threading.Thread(target=self._watch, args=(running,), name="model-worker-watch", daemon=True).start()

    def _first_start(self) -> tuple[_Running, KernelChoice | None]:
        if self.spec.engine == "llama" and not Path(self.spec.model).is_file():
            raise GeneratorError(
                f"model file {self.spec.model} not found; run `newsqa models pull` to provision "
                "the default model, or set generator.model_path to a GGUF file"
            )
        if not self._probes:
            return self._launch(self.spec.plan), None
        return self._choose_and_launch()

    @property
    def _probes(self) -> bool:
        return self.spec.plan is None and (self.candidates is not None or self.spec.engine == "llama")

    def _choose_and_launch(self, skip: Sequence[KernelPlan] = ()) -> tuple[_Running, KernelChoice]:
        """Start with the cached plan, or probe the candidates; the winner's process is kept running."""
        cpu = kernels.cpu_report()
        lib_dir = kernels.llama_lib_dir()
        self._choice_key = kernels.choice_key(cpu, lib_dir, Path(self.spec.model))
        if self.choice_path is not None and not skip:
            cached = kernels.load_choice(self.choice_path, self._choice_key)
            if cached is not None:
                try:
                    return self._launch(cached.plan), cached
                except _StartFailed as failed:
                    log.warning("cached kernel plan %s no longer runs (%s); probing again", cached.plan.label, failed)
                    kernels.forget_choice(self.choice_path, self._choice_key)
                    skip = [cached.plan]
        if self.candidates is not None:
            plans = self.candidates
        else:
            variants = kernels.cpu_variants(lib_dir)
            plans = kernels.candidate_plans(variants, kernels.variant_scores(variants))
        started: dict[KernelPlan, _Running] = {}

        def trial(plan: KernelPlan) -> Trial:
            try:
                running = self._launch(plan)
            except _StartFailed as failed:
                return Trial(plan, False, failed.outcome)
            started[plan] = running
            warm = running.info.get("warmup") or {}
            return Trial(plan, True, "ok", float(warm.get("prompt_tps", 0.0)), float(warm.get("gen_tps", 0.0)))

        choice = replace(kernels.choose_plan(plans, trial, skip=skip), key=self._choice_key)
        keep = started.pop(choice.plan)
        for loser in started.values():
            stop_process(loser.process)
        if self.choice_path is not None:
            kernels.save_choice(self.choice_path, choice)
        log.debug("llama.cpp kernels: %s", choice.reason)
        return keep, choice

    def _launch(self, plan: KernelPlan | None) -> _Running:
        """Start one server process and wait for its READY line; raises _StartFailed if it dies or hangs."""
        env = dict(self._env)
        env[TOKEN_ENV] = self.token
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            log_file.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start {plan.label if plan else ''}\n".encode())
            log_file.flush()
            process = subprocess.Popen(
                self.spec.command(plan),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env=env,
                start_new_session=True,  # Ctrl-C in the terminal reaches the app, which then stops its server
            )
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert process.stdout is not None
            for raw in process.stdout:
                lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
            lines.put(None)

        threading.Thread(target=read, name="model-worker-stdout", daemon=True).start()
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if self._stopping:
                stop_process(process)
                raise _StartFailed("stopped")
            try:
                line = lines.get(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() > deadline:
                    stop_process(process)
                    raise _StartFailed(f"failed: no answer within {self.start_timeout_s:g} s") from None
                continue
            if line is None:
                code = process.wait()
                # a signal names itself; an exit status is explained by the error the server logged last
                raise _StartFailed(kernels.describe_exit(code) + (self._last_logged() if code > 0 else ""))
            if line.startswith("READY "):
                info = json.loads(line[len("READY ") :])
                return _Running(process, int(info["port"]), info, plan)

    def _last_logged(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return ""
        last = lines[-1].strip() if lines and not lines[-1].startswith("---") else ""
        return f" ({last[-300:]})" if last else ""

    # -- watching ----------------------------------------------------------------------------------------------

    def _watch(self, running: _Running) -> None:
        code = running.process.wait()
        with self._cond:
            if self._stopping or self._running is not running:
                return
            outcome = kernels.describe_exit(code)
            log.error("the local model server (pid %s) %s; restarting it", running.process.pid, outcome)
            self._running = None
            if self.shared_path is not None:
                SharedServer.forget(self.shared_path)
            self._status.last_exit = outcome
            self._status.restarts += 1
            now = time.monotonic()
            self._deaths = [t for t in self._deaths if now - t < _DEATH_WINDOW_S] + [now]
            give_up_plan = len(self._deaths) >= _MAX_DEATHS and self._probes
            delay = _RESTART_DELAYS_S[min(len(self._deaths) - 1, len(_RESTART_DELAYS_S) - 1)]
            self._begin("restarting", lambda: self._restart(running.plan, delay, give_up_plan))
            self._cond.notify_all()

    def _restart(
        self, plan: KernelPlan | None, delay_s: float, give_up_plan: bool
    ) -> tuple[_Running, KernelChoice | None]:
        time.sleep(delay_s)
        if give_up_plan and plan is not None:
            log.error(
                "kernel plan %s died %d times in %.0f s; trying the next one", plan.label, _MAX_DEATHS, _DEATH_WINDOW_S
            )
            if self.choice_path is not None:
                kernels.forget_choice(self.choice_path, self._choice_key)
            self._deaths.clear()
            return self._choose_and_launch(skip=[plan])
        return self._launch(plan), None


class _StartFailed(RuntimeError):
    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


def stop_process(process: subprocess.Popen, grace_s: float = 5.0) -> None:
    """Ask `process` to end (SIGTERM), and kill it if it has not within `grace_s`; returns once it has ended."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_WORKERS: weakref.WeakSet[ModelWorker] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for worker in list(_WORKERS):
        worker.stop()


class WorkerGenerator:
    """A Generator backed by a `ModelWorker`: OpenAI-compatible calls to the child, which is restarted if it dies.

    A failure while the child is gone raises ModelCrashed, so the caller can answer without the model and say why.
    """

    def __init__(
        self, worker: ModelWorker, name: str, *, timeout_s: float = 120.0, shared_path: Path | None = None
    ) -> None:
        self.worker = worker
        self.name = name
        self.timeout_s = timeout_s
        # where another process (the web app) may name a running server to ask instead of starting one; looked up
        # once, on the first request
        self.shared_path = shared_path
        self._shared: SharedServer | None = None
        self._looked = shared_path is None
        self._clients: dict[str, OpenAIGenerator] = {}
        self._lock = threading.Lock()

    @property
    def shared(self) -> SharedServer | None:
        """The other process's server this generator asks, if it found one that serves as its own would."""
        with self._lock:
            if not self._looked:
                self._looked = True
                self._shared = SharedServer.find(self.shared_path, self.worker.spec)  # type: ignore[arg-type]
                if self._shared is not None:
                    log.debug("asking the model server of process %s at %s", self._shared.pid, self._shared.url)
            return self._shared

    def _client(self) -> OpenAIGenerator:
        shared = self.shared
        url, token = (shared.url, shared.token) if shared is not None else (self.worker.url(), self.worker.token)
        with self._lock:
            if url not in self._clients:
                self._clients = {url: OpenAIGenerator(url, timeout_s=self.timeout_s, api_key=token, report_usage=True)}
            return self._clients[url]

    def _crashed(self, exc: GeneratorError, url: str) -> GeneratorError:
        """ModelCrashed when the server at `url` died under this request; `exc` as it is for any other failure.

        A shared server that is gone is not asked again: the next request starts this process's own."""
        with self._lock:
            shared = self._shared
        if shared is not None and url == shared.url:
            if shared.alive():
                return exc
            with self._lock:
                self._shared = None
            return ModelCrashed(f"the web app's model server (pid {shared.pid}) ended while answering: {exc}")
        ended = self.worker.exit_of(url)
        return ModelCrashed(f"the local model server {ended} while answering: {exc}") if ended else exc

    def stream(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None
    ) -> Reply:
        client = self._client()
        reply = client.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop)
        return Reply(self._guard(reply, client.base_url), reply.usage)

    def _guard(self, pieces: Iterator[str], url: str) -> Iterator[str]:
        try:
            yield from pieces
        except GeneratorError as exc:
            raise self._crashed(exc, url) from exc

    def choose(self, messages: Messages, options: Sequence[str]) -> dict[str, float]:
        client = self._client()
        try:
            return client.choose(messages, options)
        except GeneratorError as exc:
            raise self._crashed(exc, client.base_url) from exc

    @property
    def reads_ahead(self) -> bool:
        """Does the server keep states read ahead (the llama engine with generator.read_ahead)?"""
        return self.worker.spec.ahead_states > 0

    def read_ahead(self, messages: Messages, keep: str = "ahead") -> dict[str, Any]:
        """Have the model server read the prompt of `messages` now and keep its state (assistant.readahead; `keep`
        as LlamaGenerator.read_ahead has it); the token counts it read."""
        client = self._client()
        try:
            reply = client.post("read_ahead", {"messages": messages, "keep": keep})
        except GeneratorError as exc:
            raise self._crashed(exc, client.base_url) from exc
        return dict(reply.get("usage") or {}) if isinstance(reply, dict) else {}

    def warm(self) -> None:
        """Start the model server now (in the background) instead of on the first question, unless another
        process's server is there to ask."""
        if self.shared is None:
            self.worker.start()
