"""Choosing llama.cpp CPU kernels: the order of the candidates, the fall-back when a probe dies, the cache."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from assistant import kernels
from assistant.kernels import BUILTIN, CpuReport, KernelChoice, KernelPlan, Trial

AMX = KernelPlan("sapphirerapids", "/lib/libggml-cpu-sapphirerapids.so", True)
ZEN4 = KernelPlan("zen4", "/lib/libggml-cpu-zen4.so", True)
HASWELL = KernelPlan("haswell", "/lib/libggml-cpu-haswell.so", True)
ZEN4_SAFE = KernelPlan("zen4", "/lib/libggml-cpu-zen4.so", False)


class Probe:
    """Stands in for starting the model server: plans in `dies` die with SIGILL, the rest read at `speeds`."""

    def __init__(self, dies: set[KernelPlan] = frozenset(), speeds: dict[KernelPlan, float] | None = None) -> None:
        self.dies = dies
        self.speeds = speeds or {}
        self.started: list[KernelPlan] = []

    def __call__(self, plan: KernelPlan) -> Trial:
        self.started.append(plan)
        if plan in self.dies:
            return Trial(plan, False, kernels.describe_exit(-4))
        return Trial(plan, True, "ok", self.speeds.get(plan, 50.0), 10.0)


def test_a_probe_that_dies_falls_back_to_the_next_plan() -> None:
    probe = Probe(dies={AMX})
    choice = kernels.choose_plan([AMX, ZEN4, ZEN4_SAFE], probe)
    assert choice.plan == ZEN4
    assert probe.started == [AMX, ZEN4, ZEN4_SAFE]  # then ZEN4 meets its twin without extra buffers
    assert [(t.plan, t.ok, t.outcome) for t in choice.trials] == [
        (AMX, False, "died: SIGILL"),
        (ZEN4, True, "ok"),
        (ZEN4_SAFE, True, "ok"),
    ]
    assert "sapphirerapids died: SIGILL" in choice.reason


def test_the_safe_plan_is_the_last_resort() -> None:
    probe = Probe(dies={AMX, ZEN4, HASWELL})
    choice = kernels.choose_plan([AMX, ZEN4, HASWELL, ZEN4_SAFE], probe)
    assert choice.plan == ZEN4_SAFE and not choice.plan.extra_buffers
    assert len(choice.trials) == 4


def test_a_plan_without_amx_that_runs_ends_the_search_but_for_its_twin() -> None:
    probe = Probe()
    assert kernels.choose_plan([ZEN4, HASWELL, ZEN4_SAFE], probe).plan == ZEN4  # a tie keeps the repacked plan
    assert probe.started == [ZEN4, ZEN4_SAFE]


def test_extra_buffers_stay_off_where_they_read_slower() -> None:
    # as measured on Zen 4: the same kernels read prompts ~40% faster without llama.cpp's repacked weights
    probe = Probe(speeds={ZEN4: 79.0, ZEN4_SAFE: 132.0})
    choice = kernels.choose_plan([ZEN4, HASWELL, ZEN4_SAFE], probe)
    assert choice.plan == ZEN4_SAFE
    assert "zen4 read 79 tokens/s" in choice.reason


@pytest.mark.parametrize(("amx_speed", "chosen"), [(180.0, AMX), (60.0, ZEN4)])
def test_amx_is_used_only_when_it_measures_faster(amx_speed: float, chosen: KernelPlan) -> None:
    probe = Probe(speeds={AMX: amx_speed, ZEN4: 95.0})
    choice = kernels.choose_plan([AMX, ZEN4, HASWELL, ZEN4_SAFE], probe)
    assert choice.plan == chosen
    # the best plan without AMX is measured too, then the winner's twin with the other extra-buffer setting
    assert probe.started == [AMX, ZEN4, replace(chosen, extra_buffers=False)]


def test_known_bad_plans_are_skipped_and_nothing_runnable_is_an_error() -> None:
    probe = Probe(dies={ZEN4_SAFE})
    with pytest.raises(RuntimeError, match=r"no llama.cpp CPU kernel runs.*extra buffers off: died: SIGILL"):
        kernels.choose_plan([AMX, ZEN4, ZEN4_SAFE], probe, skip=[AMX, ZEN4])
    assert probe.started == [ZEN4_SAFE]


def test_candidates_follow_ggml_scores_and_end_with_a_safe_plan(tmp_path: Path) -> None:
    variants = {v: tmp_path / f"libggml-cpu-{v}.so" for v in ("x64", "haswell", "zen4", "sapphirerapids", "alderlake")}
    scores = {"x64": 1, "haswell": 10, "zen4": 90, "sapphirerapids": 200, "alderlake": 0}
    plans = kernels.candidate_plans(variants, scores)
    assert [(p.variant, p.extra_buffers) for p in plans] == [
        ("sapphirerapids", True),
        ("zen4", True),
        ("haswell", True),
        ("x64", True),
        ("zen4", False),  # the best variant without AMX, extra buffer types off
    ]
    assert plans[0].uses_amx and not plans[-1].uses_amx


def test_a_build_without_variants_varies_only_its_extra_buffers() -> None:
    assert kernels.candidate_plans({}, {}) == [KernelPlan(BUILTIN, "", True), KernelPlan(BUILTIN, "", False)]


def test_describe_exit_names_signals() -> None:
    assert kernels.describe_exit(-11) == "died: SIGSEGV"
    assert kernels.describe_exit(-9) == "died: SIGKILL"
    assert kernels.describe_exit(1) == "exited with status 1"


def test_choice_cache_round_trip_and_invalidation(tmp_path: Path) -> None:
    library = tmp_path / "libggml-cpu-zen4.so"
    library.write_bytes(b"\x7fELF")
    plan = KernelPlan("zen4", str(library), True)
    choice = KernelChoice(plan, "zen4: the fastest plan that runs", (Trial(AMX, False, "died: SIGILL"),), "k1")
    path = tmp_path / "run" / "kernels.json"
    kernels.save_choice(path, choice)
    kernels.save_choice(path, KernelChoice(HASWELL, "other machine", (), "k2"))
    loaded = kernels.load_choice(path, "k1")
    assert loaded == choice
    assert kernels.load_choice(path, "k3") is None
    kernels.forget_choice(path, "k1")
    assert kernels.load_choice(path, "k1") is None and kernels.load_choice(path, "k2") is None  # haswell lib missing
    kernels.save_choice(path, choice)
    library.unlink()  # a cached plan whose library is gone is no choice at all
    assert kernels.load_choice(path, "k1") is None


def test_choice_key_changes_with_the_cpu_build_and_model(tmp_path: Path) -> None:
    lib_dir = tmp_path / "lib"
    lib_dir.mkdir()
    (lib_dir / "libllama.so").write_bytes(b"a")
    model = tmp_path / "m.gguf"
    model.write_bytes(b"gguf")
    cpu = CpuReport("Xeon", frozenset({"avx2", "amx_int8"}), True, True)
    key = kernels.choice_key(cpu, lib_dir, model)
    assert key == kernels.choice_key(cpu, lib_dir, model)
    assert key != kernels.choice_key(CpuReport("EPYC", frozenset({"avx2"}), True, False), lib_dir, model)
    (lib_dir / "libllama.so").write_bytes(b"rebuilt")
    assert key != kernels.choice_key(cpu, lib_dir, model)
    key = kernels.choice_key(cpu, lib_dir, model)
    model.write_bytes(b"another model")
    assert key != kernels.choice_key(cpu, lib_dir, model)


def test_cpu_report_reads_what_the_os_allows() -> None:
    report = kernels.cpu_report()
    assert report.model
    if report.os_avx512 is not None and "avx512f" not in report.flags:
        assert report.os_avx512 is False or report.flags == frozenset()  # cpuinfo hides what the OS cannot save
    if report.os_amx:
        assert "amx_tile" in report.flags


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build two tiny shared libraries")
def test_variant_scores_survive_a_library_that_kills_its_loader(tmp_path: Path) -> None:
    sources = {
        "good": "int ggml_backend_score(void) { return 7; }",
        "trap": "int ggml_backend_score(void) { __builtin_trap(); return 1; }",  # SIGILL, as a trapped instruction
    }
    variants = {}
    for name, code in sources.items():
        (tmp_path / f"{name}.c").write_text(code)
        library = tmp_path / f"libggml-cpu-{name}.so"
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", library, tmp_path / f"{name}.c"], check=True)
        variants[name] = library
    assert kernels.cpu_variants(tmp_path) == variants
    assert kernels.variant_scores(variants) == {"good": 7, "trap": 0}


def test_cpuinfo_names_the_first_cpu_by_vendor_family_model_and_stepping(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    block = (
        "processor\t: {n}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: {model}\n"
        "model name\t: AMD EPYC\nstepping\t: 1\nflags\t\t: fpu avx2 avx512f\n\n"
    )
    cpuinfo.write_text(block.format(n=0, model=17) + block.format(n=1, model=99), encoding="utf-8")
    model, flags, ident = kernels._cpuinfo(cpuinfo)
    assert (model, ident) == ("AMD EPYC", "AuthenticAMD family 25 model 17 stepping 1")
    assert {"avx2", "avx512f"} <= flags
    assert kernels._cpuinfo(tmp_path / "missing")[2] == ""
