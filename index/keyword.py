"""Keyword index: BM25 (SQLite FTS5) over jieba-segmented chunk text, in the store's database, updated in place."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from core import lexicon
from core.files import write_atomic
from core.sqlite import connect, in_batches, transaction
from core.types import Article, Chunk

# Question words and particles: in a question they carry no topic, and on a large corpus they match nearly every
# chunk, which makes an OR query slow.
_STOPWORD_TEXT = (
    "的 了 是 在 和 与 及 或 等 也 都 就 被 把 对 从 为 以 于 而 之 其 这 那 这个 那个 有 吗 呢 吧 啊 呀 么 "
    "什么 哪些 哪个 哪 多少 怎么 怎样 如何 为什么 为何 是否 是不是 谁 哪里 何时 几 请问 一下 一个 我 你 他 她 它 "
    "我们 你们 他们 中 上 下 个 年 月 日 会 能 要 说 将 还 又 并 但 已 已经 哪一 哪年 哪天 多 the a an of to in "
    "is are was what which who when where how"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORDY = re.compile(r"[\w\u4e00-\u9fff]")
_QUOTED = re.compile(r"[《“「『\"']([^》”」』\"']{2,12})[》”」』\"']")
USER_WORD_FREQ = 50_000  # high enough that jieba keeps a user word whole
SYNC_BATCH = 1000  # chunks segmented and committed per transaction


def salient_terms(article: Article) -> set[str]:
    """Words jieba should keep whole for this article: reporters, photographers, source, quoted title terms."""
    terms = {n.strip() for n in (*article.reporters, *article.photographers, article.source) if n.strip()}
    terms.update(m.strip() for m in _QUOTED.findall(article.title) if m.strip())
    return {t for t in terms if 2 <= len(t) <= 12 and not any(c.isspace() for c in t)}


def indexed_text(chunk: Chunk, article: Article | None) -> str:
    """The title goes in with every chunk: it names the topic the chunk text often only alludes to."""
    title = article.title if article else ""
    return f"{title}\n{chunk.text}" if title else chunk.text


class Segmenter:
    """A private jieba tokenizer (never the global one) with the corpus's user dictionary, loaded on first use."""

    def __init__(self, user_dict: Path | None = None) -> None:
        self.user_dict = Path(user_dict) if user_dict else None
        self._jieba: Any = None
        self._words: set[str] = set()

    def _load(self) -> Any:
        if self._jieba is None:
            tokenizer = lexicon.tokenizer()
            if self.user_dict and self.user_dict.is_file():
                for line in self.user_dict.read_text(encoding="utf-8").splitlines():
                    word = line.split(" ")[0].strip()
                    if word:
                        self._words.add(word)
                        tokenizer.add_word(word, USER_WORD_FREQ)
            self._jieba = tokenizer
        return self._jieba

    def add_words(self, words: Iterable[str]) -> int:
        """Teach the tokenizer new words and keep them in the user dictionary file; returns how many were new."""
        tokenizer = self._load()
        new = sorted(set(words) - self._words)
        if not new:
            return 0
        for word in new:
            tokenizer.add_word(word, USER_WORD_FREQ)
        self._words.update(new)
        if self.user_dict:
            lines = "".join(f"{w} {USER_WORD_FREQ}\n" for w in sorted(self._words))
            write_atomic(self.user_dict, lines.encode("utf-8"))
        return len(new)

    def tokens(self, text: str) -> list[str]:
        """Search-mode segmentation (whole words plus their dictionary sub-words), lower-cased, punctuation out."""
        return [t.lower() for t in self._load().cut_for_search(text) if _WORDY.search(t)]

    def query_terms(self, text: str) -> list[str]:
        seen: dict[str, None] = {}
        for t in self.tokens(text):
            if t not in STOPWORDS:
                seen.setdefault(t, None)
        return list(seen)


def fts_query(terms: Iterable[str], *, every: bool = False) -> str:
    """FTS5 MATCH expression: an OR of the terms (an AND with `every`), each quoted so no token is read as syntax."""
    return (" AND " if every else " OR ").join('"' + t.replace('"', '""') + '"' for t in terms)


class KeywordIndex:
    """BM25 ranking by SQLite FTS5 over pre-segmented text, keyed by chunk id (the FTS rowid)."""

    def __init__(self, db_path: Path, user_dict: Path | None = None, *, timeout_s: float = 30.0) -> None:
        self.path = Path(db_path)
        self.segmenter = Segmenter(user_dict)
        self._db = connect(self.path, timeout_s=timeout_s)
        self._db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS keyword_fts USING fts5(tokens, "
            "tokenize = 'unicode61 remove_diacritics 0')"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS keyword_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def close(self) -> None:
        self._db.close()

    @property
    def store_version(self) -> int:
        row = self._db.execute("SELECT value FROM keyword_meta WHERE key = 'store_version'").fetchone()
        return int(row[0]) if row else -1

    def ids(self) -> set[int]:
        return {r[0] for r in self._db.execute("SELECT rowid FROM keyword_fts")}

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM keyword_fts").fetchone()[0]

    def reset(self) -> None:
        """Empty the index; the next sync segments every chunk again (with the current user dictionary)."""
        with transaction(self._db) as db:
            db.execute("DELETE FROM keyword_fts")
            db.execute("DELETE FROM keyword_meta")

    def sync(self, store: Any, *, progress: bool = True) -> dict[str, int]:
        """Index chunks new to the store and drop those gone from it; nothing to do when the version is unchanged."""
        version = store.version
        if version == self.store_version:
            return {"added": 0, "removed": 0}
        store_ids = store.chunk_ids()
        have = self.ids()
        missing = sorted(store_ids - have)
        gone = sorted(have - store_ids)
        bar = None
        if progress and len(missing) > 1000:
            from tqdm import tqdm

            bar = tqdm(total=len(missing), desc="keyword index", unit="chunk", file=sys.stderr)
        try:
            # one transaction per batch, so `newsqa ingest` is never locked out for long; an interrupted sync
            # resumes from the id diff, and the store version is recorded only once everything is in
            with transaction(self._db) as db:
                for marks, part in in_batches(gone):
                    db.execute(f"DELETE FROM keyword_fts WHERE rowid IN ({marks})", part)
            for i in range(0, len(missing), SYNC_BATCH):
                chunks = store.chunks_by_id(missing[i : i + SYNC_BATCH])
                articles = store.articles_by_id({c.article_id for c in chunks.values()})
                words = set()
                for article in articles.values():
                    words |= salient_terms(article)
                self.segmenter.add_words(words)
                rows = [
                    (cid, " ".join(self.segmenter.tokens(indexed_text(c, articles.get(c.article_id)))))
                    for cid, c in chunks.items()
                ]
                with transaction(self._db) as db:
                    # OR REPLACE: a concurrent sync (two `newsqa ingest` at once) may have indexed the same chunk
                    db.executemany("INSERT OR REPLACE INTO keyword_fts (rowid, tokens) VALUES (?, ?)", rows)
                if bar is not None:
                    bar.update(len(chunks))
            with transaction(self._db) as db:
                db.execute(
                    "INSERT OR REPLACE INTO keyword_meta (key, value) VALUES ('store_version', ?)", (str(version),)
                )
        finally:
            if bar is not None:
                bar.close()
        return {"added": len(missing), "removed": len(gone)}

    def holds(self, terms: Sequence[str]) -> bool:
        """Does one chunk (its title included) hold every one of `terms`?"""
        if not terms:
            return False
        sql = "SELECT 1 FROM keyword_fts WHERE keyword_fts MATCH ? LIMIT 1"
        return self._db.execute(sql, (fts_query(terms, every=True),)).fetchone() is not None

    def holding(self, terms: Sequence[str], limit: int) -> list[int]:
        """The ids of up to `limit` chunks (their titles included) that hold every one of `terms`."""
        if not terms:
            return []
        sql = "SELECT rowid FROM keyword_fts WHERE keyword_fts MATCH ? LIMIT ?"
        return [int(r[0]) for r in self._db.execute(sql, (fts_query(terms, every=True), limit))]

    def search(self, query: str, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, BM25 score; higher is better) for the query's terms, optionally only `allowed` ids."""
        terms = self.segmenter.query_terms(query)
        if not terms or k <= 0:
            return []
        sql = "SELECT rowid, bm25(keyword_fts) AS s FROM keyword_fts WHERE keyword_fts MATCH ? ORDER BY s"
        if allowed is None:
            rows = self._db.execute(sql + " LIMIT ?", (fts_query(terms), k)).fetchall()
            return [(int(r), -float(s)) for r, s in rows]
        if not allowed:
            return []
        hits = []
        for r, s in self._db.execute(sql, (fts_query(terms),)):
            if r in allowed:
                hits.append((int(r), -float(s)))
                if len(hits) == k:
                    break
        return hits
