"""SQLite as every database here uses it: one way to connect, one transaction, one way to batch ids for `IN (…)`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# ids bound per `IN (…)` query: well below the 999 variables older SQLite builds allow in one statement
IN_BATCH = 500


def connect(path: Path, *, timeout_s: float = 30.0) -> sqlite3.Connection:
    """A connection in WAL mode (readers go on while one process writes) that waits `timeout_s` for a lock.

    Autocommit (`isolation_level=None`): nothing is written in a transaction unless `transaction` opens one.
    Shared between threads; its users serialise their own access.
    """
    db = sqlite3.connect(path, timeout=timeout_s, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    return db


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to a database in a folder nobody may write to.

    WAL mode needs to create a -shm file beside the database, which a read-only folder forbids; an immutable
    connection needs none, and a write through it fails with a read-only error.
    """
    return sqlite3.connect(
        f"{Path(path).resolve().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False, isolation_level=None
    )


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT; any exception, KeyboardInterrupt included, rolls back and is raised again.

    IMMEDIATE takes the write lock at the start, so a busy database fails here and not half way through.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        # after a full disk or an I/O error SQLite has already rolled back; a second ROLLBACK would raise and hide
        # the real error
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def in_batches(ids: Iterable[T], size: int = IN_BATCH) -> Iterator[tuple[str, list[T]]]:
    """(placeholders, ids) for each slice of `ids` small enough for one `… IN ({placeholders})` query."""
    items = list(ids)
    for i in range(0, len(items), size):
        part = items[i : i + size]
        yield ",".join("?" * len(part)), part
