"""The corpus commands end to end through `newsqa.cli.main`, with indexing left out (--no-index)."""

import json

import pytest

from core.types import Answer, Chunk, Hit
from newsqa.cli import answer_record, main

SAMPLE = "corpus/sample/wujin_daily_page.txt"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSQA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def articles(capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["articles", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ingest_sample_page_then_list_and_remove(home, capsys):
    assert main(["ingest", SAMPLE, "--date", "2024-02-02", "--source", "武进日报", "--no-index", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert len(first["added"]) == 5
    listed = articles(capsys)
    assert {"id", "title", "subtitle", "date", "source", "reporters", "photographers", "n_chunks", "text"} <= set(
        listed[0]
    )
    titles = [a["title"] for a in listed]
    assert "《常州市生活垃圾分类管理条例》9月1日起施行" in titles
    assert all(a["date"] == "2024-02-02" and a["source"] == "武进日报" and a["n_chunks"] > 0 for a in listed)

    # the same file again changes nothing
    assert main(["ingest", SAMPLE, "--date", "2024-02-02", "--source", "武进日报", "--no-index", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["added"] == [] and again["replaced"] == [] and len(again["unchanged"]) == 5

    assert main(["remove", listed[0]["id"]]) == 0
    assert len(articles(capsys)) == 4
    assert main(["remove", "no-such-id"]) == 1


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (None, "missing.txt", "missing.txt"),
        (b"", "empty.txt", "empty"),
        (b"\x00\x01\x02\xff" * 100, "blob.txt", "binary"),
        (b'{"title": "a", "text": "b"}\n{"title": "c", "text": \n', "bad.jsonl", "line 2"),
    ],
)
def test_bad_input_is_one_clear_error_and_changes_nothing(home, tmp_path, capsys, content, name, message):
    assert main(["ingest", SAMPLE, "--no-index"]) == 0
    before = articles(capsys)
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    # a good file next to the bad one is not stored either: one ingest is one transaction
    good = tmp_path / "good.txt"
    good.write_text("一篇新文章\n这是正文。它有两个句子。\n", encoding="utf-8")
    assert main(["ingest", str(good), str(path), "--no-index"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsqa: error:") and message in err and "Traceback" not in err
    assert articles(capsys) == before


def test_bad_date_option_is_rejected(home, capsys):
    assert main(["ingest", SAMPLE, "--date", "2024-13-45", "--no-index"]) == 2
    assert "2024-13-45" in capsys.readouterr().err


def test_answer_json_keeps_each_hit_with_its_retriever_scores():
    chunk = Chunk(id=7, article_id="a1", index=0, paragraph=0, start=0, end=4, text="公园开放")
    hit = Hit(
        chunk=chunk,
        score=0.1234567,
        title="口袋公园",
        date="2024-02-02",
        source="武进日报",
        scores={"bm25": 1.23456789},
    )
    record = answer_record(Answer(question="公园开放了吗？", text="开放了。", hits=(hit,)))
    assert record["hits"] == [
        {
            "chunk_id": 7,
            "article_id": "a1",
            "title": "口袋公园",
            "date": "2024-02-02",
            "score": 0.123457,
            "scores": {"bm25": 1.234568},
            "text": "公园开放",
        }
    ]


def test_ask_starts_the_model_only_when_a_question_needs_it(monkeypatch, tmp_path, capsys):
    # a model loading beside the search takes the cores `ask`'s quotation needs
    import newsqa.runtime
    from core.config import Settings
    from tests.support.generators import FakeGenerator
    from tests.support.runtime import OpenOnlySearcher, OpenOnlyStore

    class Warmable(FakeGenerator):
        warmed = 0

        def warm(self) -> None:
            Warmable.warmed += 1

    monkeypatch.setattr(newsqa.runtime, "Store", OpenOnlyStore)
    monkeypatch.setattr(newsqa.runtime, "Searcher", OpenOnlySearcher)
    monkeypatch.setattr(newsqa.runtime, "open_generator", lambda settings, **kw: Warmable(default="好"))
    settings = Settings(home=tmp_path)
    newsqa.runtime.open_runtime(settings)  # the web app: the model loads while the indexes are synced
    assert Warmable.warmed == 1
    newsqa.runtime.open_runtime(settings, warm=False)
    assert Warmable.warmed == 1

    opened = []
    real = newsqa.runtime.open_runtime
    monkeypatch.setattr(newsqa.runtime, "open_runtime", lambda *a, **kw: opened.append(kw) or real(*a, **kw))
    monkeypatch.setenv("NEWSQA_HOME", str(tmp_path))
    main(["ask", "垃圾分类条例什么时候施行？", "--generator", "extractive"])
    assert opened and opened[0]["warm"] is False and opened[0]["model_role"] == "ask"
