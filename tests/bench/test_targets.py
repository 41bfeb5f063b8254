from __future__ import annotations

import json

import pytest

from bench import targets
from bench.targets import main, verdicts


def _result(variant: str, *, answer_ms=(5000, 9000), accuracy=0.88, refusal=6 / 7, set_name="sample", ask=None):
    row = {
        "first_content_ms": [30, 400],
        "answer_ms": list(answer_ms),
        "accuracy": accuracy,
        "refusal_rate": refusal,
        "false_refusal_rate": 0.08,
        "verified_sentences": 1.0,
    }
    return {
        "cpu": "AMD EPYC",
        "cpu_ident": "AuthenticAMD family 25 model 17 stepping 1",
        "flags": ["avx2", "avx512f"],
        "kernels": [{"variant": variant, "extra_buffers": False}],
        set_name: {"row": row},
        "ask": ask,
    }


def _table(results) -> dict[tuple[str, str], tuple[str, str]]:
    return {(target, run): (measured, verdict) for target, run, measured, verdict in verdicts(results)}


def test_each_run_is_held_to_the_target_of_its_kernels() -> None:
    table = _table(
        {
            "sample": _result("zen4", answer_ms=(5000, 9000), ask={"quote_s": [1.6, 2.0]}),
            "rgb_off": _result("zen4", answer_ms=(6300, 9100), set_name="rgb"),
            "rgb_typed": _result("haswell", answer_ms=(7200, 13000), set_name="rgb"),
        }
    )
    assert table["whole answer ≤ 6 s p50, ≤ 10 s p95 (AVX-512)", "sample"] == ("5.0 / 9.0 s", "met")
    assert table["whole answer ≤ 6 s p50, ≤ 10 s p95 (AVX-512)", "rgb_off"] == ("6.3 / 9.1 s", "**not met**")
    assert table["whole answer ≤ 10 s p50 (AVX2)", "rgb_typed"] == ("7.2 s (13.0 s p95)", "met")  # AVX2 kernels
    assert table["`newsqa ask` quotation ≤ 2 s p50", "sample"] == ("1.60 s", "met")
    assert table["first verified content ≤ 1 s p50", "rgb_off"] == ("30 ms", "met")


def test_the_sample_quality_must_hold_on_every_figure() -> None:
    quality = "sample quality ≥ 0.88 / ≥ 0.86 / ≤ 0.12 / ≥ 0.96 (accuracy, refusal, false refusal, verified)"
    assert _table({"sample": _result("zen4")})[quality, "sample"][1] == "met"  # 6 of 7 refused is the 0.86
    assert _table({"sample": _result("zen4", accuracy=0.84)})[quality, "sample"][1] == "**not met**"
    assert _table({"sample": _result("zen4", refusal=5 / 7)})[quality, "sample"][1] == "**not met**"


def test_a_set_without_its_data_is_reported_skipped() -> None:
    skipped = {"cpu": "x", "kernels": [], "rgb": {"skipped": "rgb_zh is missing"}}
    assert verdicts({"rgb_off": skipped}) == [("(all)", "rgb_off", "skipped: rgb_zh is missing", "")]


def test_the_report_reads_runs_kept_and_refuses_other_files(tmp_path, capsys) -> None:
    (tmp_path / "sample.json").write_text(json.dumps(_result("zen4")), encoding="utf-8")
    assert main(["--out", str(tmp_path), "--report", "--runs", "sample"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("CPU: AMD EPYC (AuthenticAMD family 25 model 17 stepping 1); flags: avx2 avx512f")
    assert "| first verified content ≤ 1 s p50 | sample | 30 ms | met |" in printed
    (tmp_path / "sample.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SystemExit, match="not a latency.py result"):
        main(["--out", str(tmp_path), "--report", "--runs", "sample"])
    with pytest.raises(SystemExit, match="no runs"):
        main(["--out", str(tmp_path / "empty"), "--report"])
    with pytest.raises(SystemExit, match="--typed must be"):
        main(["--typed", "0"])


def test_a_run_that_fails_stops_with_where_its_output_is(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(targets.RUNS, "sample", ["--sets", "no-such-set"])  # latency.py refuses it at once
    with pytest.raises(SystemExit, match=r"the sample run failed \(exit 2\); what it printed: .*sample\.log"):
        main(["--out", str(tmp_path), "--home", str(tmp_path / "home"), "--runs", "sample", "--ask", "0"])


def test_a_temporary_home_goes_when_the_runs_end_and_a_report_makes_none(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(targets.tempfile, "tempdir", str(tmp_path))  # where TemporaryDirectory and mkdtemp make theirs
    homes = []

    def fake_run(name, out, home, *rest):
        homes.append(home)
        (home / "index").mkdir(parents=True, exist_ok=True)  # as latency.py builds rgb_zh's index there
        (out / f"{name}.json").write_text(json.dumps(_result("zen4")), encoding="utf-8")

    monkeypatch.setattr(targets, "run_latency", fake_run)
    out = tmp_path / "out"
    assert main(["--out", str(out), "--runs", "sample", "rgb_off"]) == 0
    assert len(set(homes)) == 1 and homes[0].parent == tmp_path and not homes[0].exists()
    assert main(["--out", str(out), "--report"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
