"""bench/latency.py: the share of a run's CPU time stolen by the hypervisor (/proc/stat), and the model's work."""

from __future__ import annotations

import time
from pathlib import Path

from bench.latency import cpu_ticks, model_speeds, stolen_share, tokens_read


def _stat(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "stat"
    path.write_text(line + "\ncpu0 1 2 3 4 5 6 7 8 0 0\n", encoding="ascii")
    return path


def test_the_steal_column_is_read_against_all_ticks(tmp_path: Path) -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice: guests are already counted in user
    assert cpu_ticks(_stat(tmp_path, "cpu  600 0 100 200 0 0 0 100 50 0")) == (100, 1000)


def test_a_kernel_that_does_not_say_gives_none(tmp_path: Path) -> None:
    assert cpu_ticks(_stat(tmp_path, "intr 1 2 3")) is None
    assert cpu_ticks(tmp_path / "missing") is None
    assert cpu_ticks(_stat(tmp_path, "cpu  1 2 x 4 5 6 7 8")) is None


def test_the_share_is_of_the_time_between_readings() -> None:
    assert stolen_share((100, 1000), (150, 1200)) == 0.25
    assert stolen_share((100, 1000), (100, 1000)) is None
    assert stolen_share(None, (100, 1000)) is None


def test_the_tokens_read_are_the_prompt_tokens_not_taken_from_a_cache() -> None:
    before = {"requests": 4, "prompt": 1000, "cached": 600, "completion": 50}
    after = {"requests": 10, "prompt": 4000, "cached": 2100, "completion": 150}
    assert tokens_read(before, after) == {"requests": 6, "read": 1500}


def test_a_restarted_or_silent_server_gives_no_token_count() -> None:
    counts = {"requests": 9, "prompt": 900, "cached": 100}
    assert tokens_read(counts, {"requests": 2, "prompt": 50, "cached": 0}) is None  # counting began again
    assert tokens_read({}, counts) is None


def test_the_speeds_of_a_run_are_its_tokens_over_the_time_the_model_took() -> None:
    before = {"requests": 4, "prompt": 1000, "cached": 600, "read_ms": 8000.0, "writes": 40, "write_ms": 2600.0}
    after = {"requests": 10, "prompt": 4000, "cached": 2100, "read_ms": 38000.0, "writes": 140, "write_ms": 9600.0}
    work = tokens_read(before, after)
    assert work == {"requests": 6, "read": 1500, "read_ms": 30000.0, "writes": 100, "write_ms": 7000.0}
    assert model_speeds(work) == {"reading": 50.0, "writing": 14.3}
    untimed = tokens_read({"requests": 1, "prompt": 10, "cached": 0}, {"requests": 2, "prompt": 30, "cached": 0})
    assert untimed == {"requests": 1, "read": 20}  # a server that does not time its work gives no speeds
    assert model_speeds(untimed) is None


def test_reading_a_question_as_typed_is_left_out_of_its_times() -> None:
    from bench.latency import TypedFirst

    class Reader:
        def __init__(self) -> None:
            self.typed: list[str] = []

        def read_typed(self, question, history, question_date=None) -> dict:
            self.typed.append(question)
            time.sleep(0.2)
            return {"prompts": 2, "tokens_read": 150}

    class Assistant:
        def stream(self, question, history=(), **options):
            return iter([question])

    reader = Reader()
    typed = TypedFirst(Assistant(), reader, 0.8)  # type: ignore[arg-type]
    start = typed.clock()
    question = "垃圾分类条例什么时候施行？"
    assert list(typed.stream(question, [], question_date="2024-02-02")) == [question]
    assert typed.clock() - start < 0.1  # the runner times the question from before `stream`
    assert reader.typed == ["垃圾分类条例什么时候施"]  # 80% of 13 characters, rounded up
    assert typed.read["questions"] == 1 and typed.read["prompts"] == 2 and typed.read["tokens_read"] == 150
