"""A deterministic hash-based embedder that counts what it embeds, in place of a real model."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


class HashEmbedder:
    """Bag of hashed character bigrams: texts sharing words get similar vectors, with no model and no randomness."""

    def __init__(self, dim: int = 64, name: str = "hash-bigrams") -> None:
        self.name = name
        self.dim = dim
        self.documents_embedded: list[str] = []
        self.queries_embedded: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in zip(text, text[1:] + " ", strict=True):
            h = int.from_bytes(hashlib.sha256((a + b).encode()).digest()[:4], "big")
            v[h % self.dim] += 1.0 if h & (1 << 31) else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.queries_embedded.extend(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.documents_embedded.extend(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
