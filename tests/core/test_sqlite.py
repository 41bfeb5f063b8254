import sqlite3

import pytest

from core.sqlite import connect, in_batches, transaction


@pytest.fixture
def db(tmp_path):
    db = connect(tmp_path / "t.db")
    db.execute("CREATE TABLE t (x INTEGER)")
    yield db
    db.close()


def rows(path) -> list[int]:
    """What another connection sees: only committed rows."""
    other = sqlite3.connect(path)
    try:
        return [r[0] for r in other.execute("SELECT x FROM t ORDER BY x")]
    finally:
        other.close()


def test_connect_uses_wal(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_transaction_commits_on_success(db, tmp_path):
    with transaction(db) as t:
        t.execute("INSERT INTO t VALUES (1)")
        t.execute("INSERT INTO t VALUES (2)")
    assert not db.in_transaction
    assert rows(tmp_path / "t.db") == [1, 2]


@pytest.mark.parametrize("error", [RuntimeError("reader failed"), KeyboardInterrupt()], ids=type)
def test_transaction_rolls_back_on_any_exception(db, tmp_path, error):
    with transaction(db) as t:
        t.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(type(error)), transaction(db) as t:
        t.execute("INSERT INTO t VALUES (2)")
        raise error
    assert not db.in_transaction
    assert rows(tmp_path / "t.db") == [1]
    with transaction(db) as t:  # the connection is usable again
        t.execute("INSERT INTO t VALUES (3)")
    assert rows(tmp_path / "t.db") == [1, 3]


def test_transaction_raises_the_real_error_when_sqlite_already_rolled_back(db, tmp_path):
    """A full disk ends the transaction inside SQLite; the helper must not hide that error behind a failed ROLLBACK."""
    with pytest.raises(sqlite3.OperationalError, match="no such table"), transaction(db) as t:
        t.execute("INSERT INTO t VALUES (1)")
        t.execute("ROLLBACK")  # what SQLite does by itself after SQLITE_FULL ...
        t.execute("INSERT INTO missing VALUES (1)")  # ... and the error the caller must see
    assert not db.in_transaction
    assert rows(tmp_path / "t.db") == []


def test_a_failed_commit_rolls_back_and_leaves_the_connection_usable(db, tmp_path):
    """A deferred constraint fails at COMMIT, which leaves SQLite's transaction open unless the helper rolls back."""
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), transaction(db) as t:
        t.execute("INSERT INTO t VALUES (1)")
        t.execute("INSERT INTO child VALUES (42)")  # no parent 42: checked only at COMMIT
    assert not db.in_transaction
    assert rows(tmp_path / "t.db") == []
    with transaction(db) as t:
        t.execute("INSERT INTO t VALUES (2)")
    assert rows(tmp_path / "t.db") == [2]


def test_in_batches_covers_every_id_once_within_the_limit():
    ids = list(range(1234))
    batches = list(in_batches(iter(ids), size=500))
    assert [len(part) for _, part in batches] == [500, 500, 234]
    assert [i for _, part in batches for i in part] == ids
    assert all(marks == ",".join("?" * len(part)) for marks, part in batches)
    assert list(in_batches([])) == []


def test_in_batches_queries_more_ids_than_sqlite_binds_at_once(db):
    with transaction(db) as t:
        t.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(2000)])
    found = [
        r[0]
        for marks, part in in_batches(range(0, 4000, 2))
        for r in db.execute(f"SELECT x FROM t WHERE x IN ({marks})", part)
    ]
    assert sorted(found) == list(range(0, 2000, 2))
