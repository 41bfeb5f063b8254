"""Which llama.cpp CPU kernels this machine can really run, chosen by running them, not by reading cpuinfo.

A CPU may advertise instructions its hypervisor traps (AMX in some VMs), and a wheel built on one machine may be
installed on another. So the choice is made by starting the model with each candidate plan in a child process,
fastest first, and keeping the first that answers; it is cached per machine, llama.cpp build and model file.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import platform
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from core.files import write_atomic

# ggml's CPU variants that execute AMX tile instructions (through the AMX extra buffer type)
AMX_VARIANTS = frozenset({"sapphirerapids"})
BUILTIN = "builtin"  # a build with one CPU backend linked in (no GGML_BACKEND_DL): only extra buffers can vary

# x86-64 arch_prctl codes (asm/prctl.h) and XSAVE feature bits (asm/fpu/types.h)
_SYS_ARCH_PRCTL = 158
_ARCH_GET_XCOMP_SUPP = 0x1021
_ARCH_REQ_XCOMP_PERM = 0x1023
_XSTATE_AVX = 1 << 2
_XSTATE_AVX512 = (1 << 5) | (1 << 6) | (1 << 7)
_XFEATURE_XTILEDATA = 18
_XSTATE_AMX = (1 << 17) | (1 << 18)

# the cpuinfo flags shown to users: what the kernels are built from
SHOWN_FLAGS = (
    "sse4_2",
    "avx",
    "f16c",
    "fma",
    "avx2",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512vbmi",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)


@dataclass(frozen=True)
class KernelPlan:
    """How the model server loads llama.cpp: which CPU backend variant, and whether extra buffer types are on.

    Extra buffer types repack weights for faster matrix kernels and, in AMX variants, run them on AMX tiles.
    """

    variant: str  # a ggml CPU variant ("haswell", "zen4", "sapphirerapids") or BUILTIN
    library: str = ""  # path of libggml-cpu-<variant>.so; "" for BUILTIN
    extra_buffers: bool = True

    @property
    def uses_amx(self) -> bool:
        return self.variant in AMX_VARIANTS and self.extra_buffers

    @property
    def label(self) -> str:
        return self.variant + ("" if self.extra_buffers else "，extra buffers off")


@dataclass(frozen=True)
class Trial:
    """What happened when the model server was started with `plan`: ok with its speed, or how it died."""

    plan: KernelPlan
    ok: bool
    outcome: str  # "ok", "died: SIGILL", "failed: <message>"
    prompt_tps: float = 0.0  # prompt tokens read per second in the warm-up
    gen_tps: float = 0.0  # tokens generated per second in the warm-up


@dataclass(frozen=True)
class KernelChoice:
    """The plan the model server runs with, why, and every plan tried to get there."""

    plan: KernelPlan
    reason: str
    trials: tuple[Trial, ...] = ()
    key: str = ""


@dataclass(frozen=True)
class CpuReport:
    """The CPU as the OS lets programs use it."""

    model: str
    flags: frozenset[str] = field(default_factory=frozenset)
    os_avx512: bool | None = None  # None: the OS could not be asked (not Linux on x86-64)
    os_amx: bool | None = None  # the kernel saves AMX tile state and grants this process permission to use it
    # vendor, family, model number and stepping: a VM's model name ("AMD EPYC") does not tell a Zen 3 from a Zen 4
    ident: str = ""

    def shown_flags(self) -> list[str]:
        return [f for f in SHOWN_FLAGS if f in self.flags]


# -- the CPU -------------------------------------------------------------------------------------------------------


_IDENT_FIELDS = {"vendor_id": "", "cpu family": "family", "model": "model", "stepping": "stepping"}


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> tuple[str, frozenset[str], str]:
    """The model name, the flags and the ident ("AuthenticAMD family 25 model 17 stepping 1") of the first CPU."""
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return model, flags, ""
    ident: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        name = name.strip()
        if name == "model name" and value.strip():
            model = value.strip()
        elif name == "flags" and not flags:
            flags = frozenset(value.split())
        elif name in _IDENT_FIELDS and name not in ident and value.strip():
            ident[name] = f"{_IDENT_FIELDS[name]} {value.strip()}".strip()
    return model, flags, " ".join(ident[name] for name in _IDENT_FIELDS if name in ident)


def _arch_prctl(code: int, arg: int | ctypes.c_uint64) -> int | None:
    """The raw syscall's result, or None where there is no x86-64 Linux arch_prctl."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        value = ctypes.byref(arg) if isinstance(arg, ctypes.c_uint64) else ctypes.c_ulong(arg)
        return int(libc.syscall(_SYS_ARCH_PRCTL, code, value))
    except (OSError, AttributeError):
        return None


def cpu_report() -> CpuReport:
    """Model, cpuinfo flags, and what the kernel's XSAVE support and AMX permission check say."""
    model, flags, ident = _cpuinfo()
    supported = ctypes.c_uint64(0)
    if _arch_prctl(_ARCH_GET_XCOMP_SUPP, supported) != 0:
        return CpuReport(model, flags, ident=ident)
    xstate = supported.value
    os_avx512 = bool(xstate & _XSTATE_AVX) and (xstate & _XSTATE_AVX512) == _XSTATE_AVX512
    os_amx = (xstate & _XSTATE_AMX) == _XSTATE_AMX and _arch_prctl(_ARCH_REQ_XCOMP_PERM, _XFEATURE_XTILEDATA) == 0
    return CpuReport(model, flags, os_avx512=os_avx512, os_amx=os_amx, ident=ident)


# -- the llama.cpp build ---------------------------------------------------------------------------------------------


def llama_lib_dir() -> Path | None:
    """llama-cpp-python's directory of shared libraries, found without importing (and so loading) it."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.origin:
        return None
    lib = Path(spec.origin).parent / "lib"
    return lib if lib.is_dir() else None


def _variant_dirs(lib_dir: Path) -> list[Path]:
    # llama-cpp-python installs ggml's dynamic backends into the prefix's bin/, i.e. site-packages/bin
    return [lib_dir, lib_dir.parent.parent / "bin"]


def cpu_variants(lib_dir: Path | None) -> dict[str, Path]:
    """The CPU backend variants of a GGML_BACKEND_DL build ({"haswell": .../libggml-cpu-haswell.so}); {} otherwise."""
    if lib_dir is None:
        return {}
    found: dict[str, Path] = {}
    for folder in _variant_dirs(lib_dir):
        for path in sorted(folder.glob("libggml-cpu-*.so")):
            found.setdefault(path.name[len("libggml-cpu-") : -len(".so")], path)
    return found


_SCORE_SCRIPT = """
import ctypes, json, sys
if sys.argv[2]:  # the variants link ggml-base by soname, without a path to find it
    ctypes.CDLL(sys.argv[2], mode=ctypes.RTLD_GLOBAL)
scores = {}
for name, path in json.loads(sys.argv[1]).items():
    lib = ctypes.CDLL(path)
    lib.ggml_backend_score.restype = ctypes.c_int
    scores[name] = lib.ggml_backend_score()
print(json.dumps(scores))
"""


def variant_scores(variants: dict[str, Path], *, base: Path | None = None, timeout_s: float = 60.0) -> dict[str, int]:
    """ggml's own score of each variant on this CPU (0: needs instructions the CPU lacks).

    Loading a library built for a newer CPU may run its instructions, so the scores are read in child
    processes: all at once, and one by one when that child dies, leaving out the variants that kill it.
    """
    if not variants:
        return {}
    if base is None:
        lib_dir = llama_lib_dir()
        found = lib_dir / "libggml-base.so.0" if lib_dir else None
        base = found if found and found.is_file() else None

    def run(subset: dict[str, Path]) -> dict[str, int] | None:
        arg = json.dumps({k: str(v) for k, v in subset.items()})
        try:
            done = subprocess.run(
                [sys.executable, "-c", _SCORE_SCRIPT, arg, str(base or "")],
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            return None
        if done.returncode != 0:
            return None
        try:
            return {k: int(v) for k, v in json.loads(done.stdout).items()}
        except (ValueError, AttributeError):
            return None

    together = run(variants)
    if together is not None:
        return together
    scores: dict[str, int] = {}
    for name, path in variants.items():
        alone = run({name: path})
        scores[name] = alone.get(name, 0) if alone else 0
    return scores


def candidate_plans(variants: dict[str, Path], scores: dict[str, int]) -> list[KernelPlan]:
    """Plans to try, fastest expected first; the last is the safest (no extra buffer types).

    A build without variants offers its one backend with and without extra buffers.
    """
    if not variants:
        return [KernelPlan(BUILTIN, "", True), KernelPlan(BUILTIN, "", False)]
    runnable = sorted((v for v in variants if scores.get(v, 0) > 0), key=lambda v: (-scores[v], v))
    plans = [KernelPlan(v, str(variants[v]), True) for v in runnable]
    safe = next((v for v in runnable if v not in AMX_VARIANTS), None)
    if safe is not None:
        plans.append(KernelPlan(safe, str(variants[safe]), False))
    return plans


# -- choosing --------------------------------------------------------------------------------------------------------

Starter = Callable[[KernelPlan], Trial]


def choose_plan(plans: Sequence[KernelPlan], start: Starter, *, skip: Iterable[KernelPlan] = ()) -> KernelChoice:
    """The first plan whose start succeeds, trying them in order; an AMX plan only if it also measures faster.
    The plan found then meets its twin with the other extra-buffer setting, and the faster of the two is kept:
    repacked weights do not read prompts faster on every CPU (on Zen 4 they read ~40% slower, docs/BENCHMARKS.md).

    `start` runs the model with a plan and reports a Trial (a child process that died is a failed Trial, never an
    exception here). `skip` holds plans known to fail. Raises RuntimeError when no plan runs.
    """
    skipped = set(skip)
    trials: list[Trial] = []
    winner: Trial | None = None
    for plan in plans:
        if plan in skipped or (winner is not None and plan.uses_amx):
            continue
        trial = start(plan)
        trials.append(trial)
        if not trial.ok:
            continue
        if winner is None:
            winner = trial
            if plan.uses_amx:
                continue  # an AMX plan that runs goes on to meet the best plan without AMX
        elif trial.prompt_tps > winner.prompt_tps:
            winner = trial
        break
    if winner is None:
        tried = "; ".join(f"{t.plan.label}: {t.outcome}" for t in trials) or "none runnable"
        raise RuntimeError(f"no llama.cpp CPU kernel runs on this machine ({tried})")
    twin = replace(winner.plan, extra_buffers=not winner.plan.extra_buffers)
    if twin not in skipped and not twin.uses_amx and all(t.plan != twin for t in trials):
        trial = start(twin)
        trials.append(trial)
        if trial.ok and trial.prompt_tps > winner.prompt_tps:
            winner = trial
    return KernelChoice(winner.plan, _reason(winner, trials), tuple(trials))


def _reason(winner: Trial, trials: Sequence[Trial]) -> str:
    failed = [t for t in trials if not t.ok]
    others = [t for t in trials if t.ok and t is not winner]
    parts = [f"{t.plan.label} {t.outcome}" for t in failed]
    parts += [f"{t.plan.label} read {t.prompt_tps:.0f} tokens/s" for t in others]
    head = f"{winner.plan.label}: the fastest plan that runs ({winner.prompt_tps:.0f} prompt tokens/s)"
    return head + (f"; {'; '.join(parts)}" if parts else "")


def describe_exit(returncode: int | None) -> str:
    """ "died: SIGILL" for a signal, "exited with status 3" otherwise."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"died: {signal.Signals(-returncode).name}"
        except ValueError:
            return f"died: signal {-returncode}"
    return f"exited with status {returncode}"


# -- the cache -----------------------------------------------------------------------------------------------------


def _file_stamp(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{st.st_size}:{int(st.st_mtime)}"


# the rule `choose_plan` follows; a new rule makes every cached choice again
CHOOSER = "twin-extra-buffers"


def choice_key(cpu: CpuReport, lib_dir: Path | None, model: Path, extra: str = "") -> str:
    """Changes when the CPU, the llama.cpp build, the model file or the choosing rule changes (a wheel moved between
    machines, a newer newsqa)."""
    libs = sorted(lib_dir.glob("*.so")) + sorted(cpu_variants(lib_dir).values()) if lib_dir else []
    parts = [cpu.model, " ".join(sorted(cpu.flags)), str(cpu.os_amx), *map(_file_stamp, libs), _file_stamp(model)]
    parts.append(CHOOSER)
    return hashlib.sha256("\n".join([*parts, extra]).encode("utf-8")).hexdigest()[:20]


def _plan_from(data: dict) -> KernelPlan:
    return KernelPlan(str(data["variant"]), str(data.get("library", "")), bool(data.get("extra_buffers", True)))


def load_choice(path: Path, key: str) -> KernelChoice | None:
    """The cached choice for `key`, if there is one whose library still exists."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entry = data[key]
        plan = _plan_from(entry["plan"])
        trials = tuple(
            Trial(
                _plan_from(t["plan"]), bool(t["ok"]), str(t["outcome"]), t.get("prompt_tps", 0.0), t.get("gen_tps", 0.0)
            )
            for t in entry.get("trials", [])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if plan.library and not Path(plan.library).is_file():
        return None
    return KernelChoice(plan, str(entry.get("reason", "")), trials, key)


def save_choice(path: Path, choice: KernelChoice) -> None:
    """Store `choice` under its key, keeping the entries of other machines that share the data directory."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[choice.key] = {
        "plan": asdict(choice.plan),
        "reason": choice.reason,
        "trials": [asdict(t) for t in choice.trials],
    }
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1))


def forget_choice(path: Path, key: str) -> None:
    """Drop the cached choice for `key` (its plan stopped running), so the next start probes again."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(data, dict) and data.pop(key, None) is not None:
        write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1))
