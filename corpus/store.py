"""The article store: articles and their chunks in one SQLite database; every write is one transaction."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from core.sqlite import connect, connect_read_only, in_batches, transaction
from core.types import Article, Chunk, parse_day
from corpus.timeexpr import spoken_periods

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    subtitle TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    date TEXT NOT NULL DEFAULT '',
    date_source TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    page TEXT NOT NULL DEFAULT '',
    reporters TEXT NOT NULL DEFAULT '[]',
    photographers TEXT NOT NULL DEFAULT '[]',
    kind TEXT NOT NULL DEFAULT 'article',
    content_hash TEXT NOT NULL,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    paragraph INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id, idx);
-- the days and periods an article speaks about (corpus.timeexpr.spoken_periods), upcoming ones included
CREATE TABLE IF NOT EXISTS periods (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    first TEXT NOT NULL,
    last TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS periods_by_span ON periods(first, last);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_ARTICLE_COLUMNS = "id, title, subtitle, text, date, date_source, source, url, page, reporters, photographers, kind"


class StoreError(RuntimeError):
    """The store cannot be opened or written (locked, read-only, disk full, corrupt)."""


@dataclass
class IngestResult:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)


def _article(row: sqlite3.Row) -> Article:
    return Article(
        id=row["id"],
        title=row["title"],
        subtitle=row["subtitle"],
        text=row["text"],
        date=row["date"],
        date_source=row["date_source"],
        source=row["source"],
        url=row["url"],
        page=row["page"],
        reporters=tuple(json.loads(row["reporters"])),
        photographers=tuple(json.loads(row["photographers"])),
        kind=row["kind"],
    )


def _chunk(row: sqlite3.Row) -> Chunk:
    return Chunk(
        id=row["id"],
        article_id=row["article_id"],
        index=row["idx"],
        paragraph=row["paragraph"],
        start=row["start"],
        end=row["end"],
        text=row["text"],
    )


class Store:
    """SQLite store in WAL mode so the web app can read while `newsqa ingest` writes."""

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.read_only = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = connect(self.path, timeout_s=timeout_s)
            self._db.execute("PRAGMA foreign_keys = ON")  # deleting an article deletes its chunks
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(SCHEMA)
            self._db.row_factory = sqlite3.Row
            self._fill_periods()
        except (OSError, sqlite3.Error) as exc:
            if not (self.path.is_file() and _is_read_only_error(exc)):
                raise StoreError(f"cannot open the article store {self.path}: {exc}") from exc
            # a read-only data directory still serves reads; writes get a clear read-only error
            self._db = connect_read_only(self.path)
            self.read_only = True
        self._db.row_factory = sqlite3.Row
        # a read-only store written before articles had periods has no table for them
        self._has_periods = bool(
            self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'periods'").fetchone()
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction, with SQLite's errors (busy, read-only, disk full) said as a StoreError."""
        if self.read_only:
            raise StoreError(f"the article store {self.path} is read-only; nothing was changed")
        try:
            with transaction(self._db) as db:
                yield db
        except sqlite3.Error as exc:
            raise StoreError(_explain(exc, self.path)) from exc

    def put(self, items: Iterable[tuple[Article, Sequence[Chunk]]]) -> IngestResult:
        """Add or replace articles with their chunks, all in one transaction; unchanged articles are skipped."""
        result = IngestResult()
        with self._write() as db:
            for article, chunks in items:
                row = db.execute("SELECT content_hash FROM articles WHERE id = ?", (article.id,)).fetchone()
                if row is not None and row["content_hash"] == article.content_hash:
                    result.unchanged.append(article.id)
                    continue
                if row is not None:
                    db.execute("DELETE FROM articles WHERE id = ?", (article.id,))
                    result.replaced.append(article.id)
                else:
                    result.added.append(article.id)
                db.execute(
                    f"INSERT INTO articles ({_ARTICLE_COLUMNS}, content_hash, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article.id,
                        article.title,
                        article.subtitle,
                        article.text,
                        article.date,
                        article.date_source,
                        article.source,
                        article.url,
                        article.page,
                        json.dumps(list(article.reporters), ensure_ascii=False),
                        json.dumps(list(article.photographers), ensure_ascii=False),
                        article.kind,
                        article.content_hash,
                        time.time(),
                    ),
                )
                db.executemany(
                    "INSERT OR REPLACE INTO chunks (id, article_id, idx, paragraph, start, end, text) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(c.id, c.article_id, c.index, c.paragraph, c.start, c.end, c.text) for c in chunks],
                )
                _put_periods(db, article)
            if result.changed:
                _bump_version(db)
        return result

    def remove(self, article_ids: Iterable[str]) -> list[str]:
        """Delete articles (and their chunks); returns the ids that existed."""
        removed = []
        with self._write() as db:
            for aid in article_ids:
                if db.execute("DELETE FROM articles WHERE id = ?", (aid,)).rowcount:
                    removed.append(aid)
            if removed:
                _bump_version(db)
        return removed

    # -- reading -----------------------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Counter bumped by every write that changed something; indexes record it to detect staleness."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return int(row["value"]) if row else 0

    def get(self, article_id: str) -> Article | None:
        row = self._db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
        return _article(row) if row else None

    def articles(self) -> list[Article]:
        """All articles, newest date first, then in the order they were added."""
        rows = self._db.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY date DESC, added_at, rowid"
        ).fetchall()
        return [_article(r) for r in rows]

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def titled(self, title: str) -> list[Article]:
        """The articles with exactly this title, newest date first."""
        rows = self._db.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE title = ? ORDER BY date DESC, added_at, rowid", (title,)
        ).fetchall()
        return [_article(r) for r in rows]

    def credited(self, name: str, limit: int = 10) -> tuple[int, list[Article]]:
        """How many articles credit `name` as a reporter or photographer, and `limit` of them, newest date first."""
        # the name as an element of the JSON lists, its LIKE wildcards taken literally
        element = json.dumps(name, ensure_ascii=False).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where = "(reporters LIKE ? ESCAPE '\\' OR photographers LIKE ? ESCAPE '\\')"
        bound = (f"%{element}%",) * 2
        total = self._db.execute(f"SELECT COUNT(*) FROM articles WHERE {where}", bound).fetchone()[0]
        rows = self._db.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE {where} ORDER BY date DESC, added_at, rowid LIMIT ?",
            (*bound, max(limit, 0)),
        ).fetchall()
        return total, [_article(r) for r in rows]

    def dated(self, first: str = "", last: str = "", limit: int = 10, offset: int = 0) -> tuple[int, list[Article]]:
        """How many articles are dated from `first` to `last` (ISO dates, both included; "" leaves that end open),
        and `limit` of them from `offset` on in the order of `articles` (newest date first)."""
        where = "date != '' AND (? = '' OR date >= ?) AND (? = '' OR date <= ?)"
        bounds = (first, first, last, last)
        total = self._db.execute(f"SELECT COUNT(*) FROM articles WHERE {where}", bounds).fetchone()[0]
        order = "ORDER BY date DESC, added_at, rowid LIMIT ? OFFSET ?"
        rows = self._db.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE {where} {order}", (*bounds, max(limit, 0), max(offset, 0))
        ).fetchall()
        return total, [_article(r) for r in rows]

    def chunk_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT article_id, COUNT(*) AS n FROM chunks GROUP BY article_id").fetchall()
        return {r["article_id"]: r["n"] for r in rows}

    def chunks_of(self, article_id: str) -> list[Chunk]:
        rows = self._db.execute("SELECT * FROM chunks WHERE article_id = ? ORDER BY idx", (article_id,)).fetchall()
        return [_chunk(r) for r in rows]

    def newest_chunks(self, limit: int) -> list[tuple[Chunk, Article]]:
        """The first `limit` chunks in the order of `articles` (newest date first, undated last), each article's
        chunks as they stand in it, with their articles."""
        rows = self._db.execute(
            "SELECT c.* FROM chunks c JOIN articles a ON a.id = c.article_id "
            "ORDER BY a.date = '', a.date DESC, a.added_at, a.rowid, c.idx LIMIT ?",
            (max(limit, 0),),
        ).fetchall()
        chunks = [_chunk(r) for r in rows]
        articles = self.articles_by_id(c.article_id for c in chunks)
        return [(c, articles[c.article_id]) for c in chunks]

    def chunk_ids(self) -> set[int]:
        return {r[0] for r in self._db.execute("SELECT id FROM chunks")}

    def chunks_by_id(self, ids: Iterable[int]) -> dict[int, Chunk]:
        """Chunks by id; ids not in the store are left out."""
        found: dict[int, Chunk] = {}
        for marks, part in in_batches(ids):
            for row in self._db.execute(f"SELECT * FROM chunks WHERE id IN ({marks})", part):
                found[row["id"]] = _chunk(row)
        return found

    def iter_chunks(self, batch: int = 1000) -> Iterator[Chunk]:
        """All chunks in a stable order (article, position), read in batches to bound memory."""
        last = ("", -1)
        while True:
            rows = self._db.execute(
                "SELECT * FROM chunks WHERE (article_id, idx) > (?, ?) ORDER BY article_id, idx LIMIT ?", (*last, batch)
            ).fetchall()
            if not rows:
                return
            yield from (_chunk(r) for r in rows)
            last = (rows[-1]["article_id"], rows[-1]["idx"])

    def chunk_ids_where(
        self,
        *,
        date_from: str = "",
        date_to: str = "",
        sources: Sequence[str] = (),
        undated: bool = False,
        about: Sequence[tuple[str, str]] = (),
    ) -> set[int]:
        """Ids of the chunks whose article is dated from `date_from` to `date_to` and comes from one of `sources`.

        Dates are yyyy, yyyy-mm or yyyy-mm-dd, both ends included; an empty bound or `sources` does not filter.
        Undated articles fail a date bound, unless `undated`: then their date counts as unknown, not as outside.
        With `about` (spans of first and last day), an article that speaks about a day or period overlapping one of
        them passes the date bounds whenever it was published: news announces what is to come.
        """
        sql = "SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE 1"
        params: list[str] = []
        dated = "a.date = '' OR " if undated else "a.date != '' AND "
        bounds, bound_params = "1", []
        if date_from:
            bounds += f" AND ({dated}a.date >= ?)"
            bound_params.append(date_from)
        if date_to:
            bounds += f" AND ({dated}a.date <= ?)"
            bound_params.append(date_to + "~")  # "~" sorts after digits and "-": "2024-05" includes all of May
        if about and self._has_periods:
            spans = " OR ".join(["(first <= ? AND last >= ?)"] * len(about))
            bounds = f"(({bounds}) OR a.id IN (SELECT article_id FROM periods WHERE {spans}))"
            bound_params += [day for first, last in about for day in (last, first)]
        sql += f" AND {bounds}"
        params += bound_params
        if sources:
            sql += f" AND a.source IN ({','.join('?' * len(sources))})"
            params.extend(sources)
        return {r[0] for r in self._db.execute(sql, params)}

    def _fill_periods(self) -> None:
        """Work out the periods of a store written before articles had them (once: a mark in meta says so)."""
        if self._db.execute("SELECT 1 FROM meta WHERE key = 'periods'").fetchone():
            return
        with transaction(self._db) as db:
            db.execute("DELETE FROM periods")
            for row in db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles").fetchall():
                _put_periods(db, _article(row))
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('periods', '1')")

    def article_periods(self, article_id: str) -> list[tuple[str, str]]:
        rows = self._db.execute("SELECT first, last FROM periods WHERE article_id = ? ORDER BY first", (article_id,))
        return [(r["first"], r["last"]) for r in rows]

    def article_dates(self, ids: Iterable[str]) -> dict[str, str]:
        """Publication dates ("" when unknown) by article id; ids not in the store are left out."""
        dates: dict[str, str] = {}
        for marks, part in in_batches(ids):
            for row in self._db.execute(f"SELECT id, date FROM articles WHERE id IN ({marks})", part):
                dates[row["id"]] = row["date"]
        return dates

    def articles_by_id(self, ids: Iterable[str]) -> dict[str, Article]:
        found: dict[str, Article] = {}
        for marks, part in in_batches(dict.fromkeys(ids)):
            for row in self._db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks})", part):
                found[row["id"]] = _article(row)
        return found


def _is_read_only_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, PermissionError) or "readonly" in text or "read-only" in text or "unable to open" in text


def _put_periods(db: sqlite3.Connection, article: Article) -> None:
    published = parse_day(article.date)
    if published is None:
        return  # an undated article's relative words cannot be resolved
    spans = spoken_periods(f"{article.title}\n{article.text}", published)
    db.executemany(
        "INSERT INTO periods (article_id, first, last) VALUES (?, ?, ?)",
        [(article.id, first.isoformat(), last.isoformat()) for first, last in spans],
    )


def _bump_version(db: sqlite3.Connection) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('version', '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
    )


def _explain(exc: sqlite3.Error, path: Path) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"the article store {path} is busy with another writer; try again when it has finished ({text})"
    if "readonly" in text or "read-only" in text:
        return f"the article store {path} is read-only; nothing was changed ({text})"
    if "full" in text:
        return f"the disk holding {path} is full; nothing was changed ({text})"
    return f"the article store {path} could not be written; nothing was changed ({text})"
