"""Dense index: FAISS inner product over chunk ids, kept in step with the store, with a resumable embedding cache."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.config import IndexSettings
from core.files import write_atomic
from core.sqlite import connect, in_batches, transaction
from core.types import Article, Chunk
from index.embedders import Embedder

INDEX_FILE = "dense.faiss"
MANIFEST_FILE = "dense.json"
EMBED_BATCH = 64  # texts embedded (and committed to the cache) at a time; an interruption loses at most this many


class DenseIndexError(RuntimeError):
    """The dense index cannot be built, saved or loaded."""


def document_text(chunk: Chunk, article: Article | None) -> str:
    """What gets embedded for a chunk: its article's title (context the chunk text often lacks), then the text."""
    title = article.title.strip() if article else ""
    return f"{title}\n{chunk.text}" if title else chunk.text


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def id_set_checksum(ids: Iterable[int]) -> str:
    """Order-independent checksum of a set of chunk ids."""
    h = hashlib.sha256()
    for i in sorted(ids):
        h.update(int(i).to_bytes(8, "big"))
    return h.hexdigest()[:16]


class EmbeddingCache:
    """Vectors by (model, chunk id) in the store's SQLite database, committed every batch so builds resume.

    Each row keeps a digest of the embedded text: a chunk whose title changed is embedded again, never reused.
    """

    def __init__(self, db_path: Path, *, timeout_s: float = 30.0) -> None:
        self.path = Path(db_path)
        self._db = connect(self.path, timeout_s=timeout_s)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, chunk_id INTEGER NOT NULL, "
            "digest TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, chunk_id)) WITHOUT ROWID"
        )
        with contextlib.suppress(sqlite3.OperationalError):  # a read-only store still answers, only slower
            self._db.execute("CREATE INDEX IF NOT EXISTS embeddings_by_digest ON embeddings (model, digest)")

    def close(self) -> None:
        self._db.close()

    def get(self, model: str, digests: dict[int, str], dim: int) -> dict[int, np.ndarray]:
        """Cached vectors for the chunk ids whose stored digest matches, else for any chunk with the same text.

        Chunk ids change whenever their article changes (they are salted with its content hash), so an article
        corrected in one paragraph would otherwise re-embed every chunk; a vector found by its text's digest is
        stored again under the new id.
        """
        found: dict[int, np.ndarray] = {}
        ids = list(digests)
        for marks, part in in_batches(ids):
            rows = self._db.execute(
                f"SELECT chunk_id, digest, vector FROM embeddings WHERE model = ? AND chunk_id IN ({marks})",
                [model, *part],
            )
            for cid, digest, blob in rows:
                if digest == digests[cid] and len(blob) == 4 * dim:
                    found[cid] = np.frombuffer(blob, dtype=np.float32)
        wanted: dict[str, list[int]] = {}
        for cid in ids:
            if cid not in found:
                wanted.setdefault(digests[cid], []).append(cid)
        adopted: dict[int, np.ndarray] = {}
        for marks, part in in_batches(list(wanted)):  # a copy: the loop pops from `wanted`
            rows = self._db.execute(
                f"SELECT digest, vector FROM embeddings WHERE model = ? AND digest IN ({marks})", [model, *part]
            )
            for digest, blob in rows:
                if len(blob) == 4 * dim:
                    for cid in wanted.pop(digest, ()):
                        adopted[cid] = np.frombuffer(blob, dtype=np.float32)
        if adopted:
            with contextlib.suppress(sqlite3.OperationalError):  # read-only: reuse now, store another time
                self.put(model, list(adopted), [digests[c] for c in adopted], np.stack(list(adopted.values())))
        return {**found, **adopted}

    def put(self, model: str, ids: Sequence[int], digests: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (model, int(i), d, np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for i, d, v in zip(ids, digests, vectors, strict=True)
        ]
        with transaction(self._db) as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, chunk_id, digest, vector) VALUES (?, ?, ?, ?)", rows
            )

    def count(self, model: str) -> int:
        return self._db.execute("SELECT COUNT(*) FROM embeddings WHERE model = ?", (model,)).fetchone()[0]

    def prune(self, keep: set[int]) -> int:
        """Drop vectors (of every model) for chunks no longer in the store."""
        stale = [r[0] for r in self._db.execute("SELECT DISTINCT chunk_id FROM embeddings") if r[0] not in keep]
        if not stale:
            return 0
        with transaction(self._db) as db:
            for marks, part in in_batches(stale):
                db.execute(f"DELETE FROM embeddings WHERE chunk_id IN ({marks})", part)
        return len(stale)


@dataclass
class Manifest:
    embedder: str
    dim: int
    kind: str
    count: int
    store_version: int
    id_checksum: str

    @classmethod
    def read(cls, path: Path) -> Manifest | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _faiss() -> Any:
    import faiss

    return faiss


class DenseIndex:
    """FAISS `IndexIDMap2` keyed by chunk id: flat (exact) by default, HNSW above a size threshold.

    Saved as `dense.faiss` plus a JSON manifest (embedder, dim, kind, count, store version, id-set checksum)
    in `directory`. Vectors come from an `EmbeddingCache`, so a rebuild never embeds a chunk twice.
    """

    def __init__(self, directory: Path, embedder: Embedder, cache: EmbeddingCache, settings: IndexSettings) -> None:
        self.directory = Path(directory)
        self.embedder = embedder
        self.cache = cache
        self.settings = settings
        self._index: Any = None
        self._kind = ""
        self.manifest: Manifest | None = None
        self._threads_set = False

    # -- building ----------------------------------------------------------------------------------------------

    def wanted_kind(self, n: int) -> str:
        kind = self.settings.kind
        if kind == "auto":
            return "hnsw" if n > self.settings.hnsw_threshold else "flat"
        if kind not in ("flat", "hnsw"):
            raise DenseIndexError(f"unknown index.kind {kind!r} (known: auto, flat, hnsw)")
        return kind

    def _new_index(self, kind: str, dim: int) -> Any:
        faiss = _faiss()
        if not self._threads_set:
            faiss.omp_set_num_threads(max(1, self.settings.faiss_threads))
            self._threads_set = True
        if kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dim, self.settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = max(40, 2 * self.settings.hnsw_m)
            inner.hnsw.efSearch = self.settings.hnsw_ef_search
        else:
            inner = faiss.IndexFlatIP(dim)
        return faiss.IndexIDMap2(inner)

    def ids(self) -> set[int]:
        if self._index is None or self._index.ntotal == 0:
            return set()
        return set(_faiss().vector_to_array(self._index.id_map).tolist())

    def __len__(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def load(self) -> bool:
        """Load the saved index; False (and an empty index) when absent, unreadable or for another embedder."""
        manifest = Manifest.read(self.directory / MANIFEST_FILE)
        path = self.directory / INDEX_FILE
        self._index, self.manifest = None, None
        if manifest is None or not path.is_file():
            return False
        if manifest.embedder != self.embedder.name or manifest.dim != self.embedder.dim:
            print(
                f"newsqa: the dense index was built with {manifest.embedder} ({manifest.dim}-d) but the "
                f"configured embedder is {self.embedder.name} ({self.embedder.dim}-d); re-embedding the corpus",
                file=sys.stderr,
            )
            return False
        try:
            index = _faiss().read_index(str(path))
        except RuntimeError as exc:
            print(f"newsqa: cannot read {path} ({exc}); rebuilding it", file=sys.stderr)
            return False
        if index.ntotal != manifest.count or index.d != manifest.dim:
            print(f"newsqa: {path} does not match its manifest; rebuilding it", file=sys.stderr)
            return False
        self._new_index(manifest.kind, manifest.dim)  # sets FAISS threads
        self._index, self._kind, self.manifest = index, manifest.kind, manifest
        return True

    def reset(self) -> None:
        """Forget the saved index (the embedding cache stays, so the next sync re-adds without re-embedding)."""
        for name in (MANIFEST_FILE, INDEX_FILE):
            (self.directory / name).unlink(missing_ok=True)
        self._index, self._kind, self.manifest = None, "", None

    def sync(self, store: Any, *, progress: bool = True) -> dict[str, int | bool]:
        """Bring the index in step with the store: embed and add new chunks, drop removed ones, save."""
        if self._index is None:
            self.load()
        version = store.version
        m = self.manifest
        if self._index is not None and m is not None and m.store_version == version:
            return {"added": 0, "removed": 0, "embedded": 0, "rebuilt": False}
        store_ids = store.chunk_ids()
        have = self.ids()
        missing = sorted(store_ids - have)
        gone = sorted(have - store_ids)
        kind = self.wanted_kind(len(store_ids))
        rebuilt = self._index is None or kind != self._kind or (gone and kind == "hnsw")
        embedded = 0
        if rebuilt:
            self._index, self._kind = self._new_index(kind, self.embedder.dim), kind
            missing = sorted(store_ids)
        elif gone:
            self._index.remove_ids(np.asarray(gone, dtype=np.int64))
        if missing:
            embedded = self._add(store, missing, progress)
        if not self.settings.keep_stale_embeddings:
            self.cache.prune(store_ids)
        self._save(version, store_ids)
        return {
            "added": len(missing),
            "removed": len(gone) if not rebuilt else 0,
            "embedded": embedded,
            "rebuilt": bool(rebuilt),
        }

    def _add(self, store: Any, ids: list[int], progress: bool) -> int:
        """Add chunks by id, embedding only those the cache lacks; returns how many were embedded."""
        model, dim = self.embedder.name, self.embedder.dim
        vectors: dict[int, np.ndarray] = {}
        todo: list[tuple[int, str, str]] = []  # (chunk id, digest, text) to embed
        for i in range(0, len(ids), 2000):
            chunks = store.chunks_by_id(ids[i : i + 2000])
            articles = store.articles_by_id({c.article_id for c in chunks.values()})
            texts = {cid: document_text(c, articles.get(c.article_id)) for cid, c in chunks.items()}
            digests = {cid: _digest(t) for cid, t in texts.items()}
            vectors.update(self.cache.get(model, digests, dim))
            todo.extend((cid, digests[cid], texts[cid]) for cid in chunks if cid not in vectors)
        bar = None
        if progress and len(todo) > 32:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc=f"embedding ({model})", unit="chunk", file=sys.stderr)
        try:
            for i in range(0, len(todo), EMBED_BATCH):
                batch = todo[i : i + EMBED_BATCH]
                vecs = self.embedder.encode_documents([t for _, _, t in batch])
                self.cache.put(model, [c for c, _, _ in batch], [d for _, d, _ in batch], vecs)
                vectors.update(zip((c for c, _, _ in batch), vecs, strict=True))
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()
        order = [cid for cid in ids if cid in vectors]
        if order:
            matrix = np.ascontiguousarray(np.stack([vectors[c] for c in order]), dtype=np.float32)
            self._index.add_with_ids(matrix, np.asarray(order, dtype=np.int64))
        return len(todo)

    def _save(self, version: int, ids: set[int]) -> None:
        faiss = _faiss()
        data = faiss.serialize_index(self._index).tobytes()
        write_atomic(self.directory / INDEX_FILE, data)
        self.manifest = Manifest(
            embedder=self.embedder.name,
            dim=self.embedder.dim,
            kind=self._kind,
            count=int(self._index.ntotal),
            store_version=version,
            id_checksum=id_set_checksum(ids),
        )
        write_atomic(self.directory / MANIFEST_FILE, json.dumps(self.manifest.__dict__, indent=1).encode("utf-8"))

    # -- searching ---------------------------------------------------------------------------------------------

    def search_vector(self, query: np.ndarray, k: int, allowed: Iterable[int] | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, cosine) for a normalised query vector, optionally only among `allowed` ids."""
        if self._index is None or self._index.ntotal == 0 or k <= 0:
            return []
        q = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        params = None
        if allowed is not None:
            allowed = np.fromiter(allowed, dtype=np.int64)
            if allowed.size == 0:
                return []
            faiss = _faiss()
            selector = faiss.IDSelectorBatch(allowed)
            params = (
                faiss.SearchParametersHNSW(sel=selector, efSearch=self.settings.hnsw_ef_search)
                if self._kind == "hnsw"
                else faiss.SearchParameters(sel=selector)
            )
        scores, ids = self._index.search(q, min(k, self._index.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def search(self, query: str, k: int, allowed: Iterable[int] | None = None) -> list[tuple[int, float]]:
        return self.search_vector(self.embedder.encode_queries([query])[0], k, allowed)

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Stored vectors of the given chunk ids (for scoring candidates another retriever found)."""
        out: dict[int, np.ndarray] = {}
        if self._index is None:
            return out
        for cid in ids:
            try:
                out[cid] = self._index.reconstruct(int(cid))
            except RuntimeError:
                continue
        return out
