"""jieba's main dictionary as a read-only SQLite file, looked up word by word.

jieba keeps its 500k words and prefixes in a dict it unmarshals whole (~1.2 s) before it segments anything, and its
part-of-speech tagger parses the 350k-line dictionary file again for the tags (~1.2 s). A `newsqa ask` segments
one question and tags a sentence or two, so it looked up a few hundred words for 2.4 s of loading. Here the words,
frequencies and tags are written once to a database in the temp directory (as jieba keeps its own cache there);
each process then opens it in a millisecond and looks up only the words its text meets. jieba's own algorithms
segment and tag as before, over the same numbers, so tokens and tags are the same.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.sqlite import connect_read_only

FORMAT = 1  # bump when the table changes, so old files are not read as new ones

log = logging.getLogger(__name__)


def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def dictionary_file() -> Path:
    """The main dictionary of the installed jieba."""
    return Path(_jieba().__file__).parent / "dict.txt"


def default_path() -> Path:
    """Where the lexicon of the installed jieba lives: the temp directory, named for jieba's version and dictionary."""
    jieba = _jieba()
    source = dictionary_file()
    stat = source.stat()
    key = f"{FORMAT}:{jieba.__version__}:{source}:{stat.st_size}:{stat.st_mtime_ns}"
    return Path(tempfile.gettempdir()) / f"newsqa-lexicon-{hashlib.sha1(key.encode()).hexdigest()[:12]}.sqlite"


def build(source: Path, path: Path) -> None:
    """Write the lexicon of jieba dictionary `source` ("word freq [tag]" lines) to `path`, atomically.

    Frequencies are jieba's own (`Tokenizer.gen_pfdict`: every prefix of a word is present with frequency 0).
    """
    with open(source, "rb") as f:
        freq, total = _jieba().Tokenizer.gen_pfdict(f)  # a malformed line: ValueError with the file and line
    if not total:
        raise ValueError(f"{source}: no words with a frequency")
    tags: dict[str, str] = {}
    with open(source, "rb") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.strip().decode("utf-8").split(" ")
            if len(parts) == 3:
                tags[parts[0]] = parts[2]
            elif parts != [""] and len(parts) != 2:
                raise ValueError(f"{source}, line {lineno}: expected 'word freq [tag]', got {line[:80]!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    work = Path(name)
    try:
        db = sqlite3.connect(work)
        with db:
            db.execute("CREATE TABLE words (word TEXT PRIMARY KEY, freq INTEGER NOT NULL, tag TEXT) WITHOUT ROWID")
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.executemany("INSERT INTO words VALUES (?, ?, ?)", ((w, n, tags.get(w)) for w, n in freq.items()))
            db.executemany("INSERT INTO meta VALUES (?, ?)", [("format", str(FORMAT)), ("total", str(total))])
        db.close()
        os.chmod(work, 0o644)  # mkstemp's 0600 would keep other users of the temp directory out
        os.replace(work, path)  # a reader opens the old file or the whole new one
    finally:
        work.unlink(missing_ok=True)


class Lexicon:
    """Frequencies and tags of a built lexicon, each word read from disk once and then remembered."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = connect_read_only(self.path)
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        if meta.get("format") != str(FORMAT):
            raise ValueError(f"{self.path}: lexicon format {meta.get('format')!r}, this code reads {FORMAT}")
        self.total = int(meta["total"])
        self._seen: dict[str, tuple[int, str | None] | None] = {}
        self._lock = threading.Lock()

    def entry(self, word: str) -> tuple[int, str | None] | None:
        """(frequency, tag or None) of `word`, or None when jieba's dictionary has neither it nor a word it begins."""
        try:
            return self._seen[word]
        except KeyError:
            pass
        with self._lock:
            row = self._db.execute("SELECT freq, tag FROM words WHERE word = ?", (word,)).fetchone()
        found = (row[0], row[1]) if row else None
        self._seen[word] = found
        return found


class Frequencies(Mapping[str, int]):
    """A tokenizer's `FREQ`: the lexicon's words, plus the words this tokenizer was taught (`add_word`)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.added: dict[str, int] = {}

    def __getitem__(self, word: str) -> int:
        if word in self.added:
            return self.added[word]
        found = self.lexicon.entry(word)
        if found is None:
            raise KeyError(word)
        return found[0]

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and (word in self.added or self.lexicon.entry(word) is not None)

    def get(self, word: str, default: Any = None) -> Any:
        if word in self.added:
            return self.added[word]
        found = self.lexicon.entry(word)
        return default if found is None else found[0]

    def __setitem__(self, word: str, freq: int) -> None:
        self.added[word] = freq

    def __iter__(self) -> Iterator[str]:
        raise TypeError("the lexicon is looked up word by word, not listed")

    def __len__(self) -> int:
        raise TypeError("the lexicon is looked up word by word, not counted")


class Tags:
    """A tagger's `word_tag_tab`: the lexicon's part-of-speech tags, plus tags given to added words."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.added: dict[str, str] = {}

    def get(self, word: str, default: str | None = None) -> str | None:
        if word in self.added:
            return self.added[word]
        found = self.lexicon.entry(word)
        return default if found is None or found[1] is None else found[1]

    def update(self, tags: Mapping[str, str]) -> None:
        self.added.update(tags)


@lru_cache(maxsize=1)
def shared() -> Lexicon | None:
    """The installed jieba's lexicon, built on first use; None where it can be neither read nor written (a read-only
    temp directory), and jieba then loads its dictionary the usual way."""
    path = default_path()
    try:
        return Lexicon(path)
    except (sqlite3.Error, ValueError, KeyError):
        pass  # not written yet on this machine, or damaged: written again
    try:
        build(dictionary_file(), path)
    except OSError as error:
        log.warning("cannot write the jieba lexicon %s (%s); loading the whole dictionary instead", path, error)
        return None
    try:
        return Lexicon(path)
    except (sqlite3.Error, ValueError, KeyError) as error:
        log.warning("jieba lexicon %s unusable (%s); loading the whole dictionary instead", path, error)
        return None


def tokenizer(lex: Lexicon | None = None) -> Any:
    """A new `jieba.Tokenizer` over `lex` (default: the shared lexicon), with words of its own, nothing loaded yet."""
    jieba = _jieba()
    lex = lex or shared()
    tok = jieba.Tokenizer()
    if lex is None:
        tok.check_initialized()
        return tok
    tok.FREQ, tok.total, tok.initialized = Frequencies(lex), lex.total, True
    return tok


@lru_cache(maxsize=4)
def pos_tagger(lex: Lexicon | None = None) -> Any:
    """jieba's part-of-speech tagger over `lex` (default: the shared lexicon); `.cut(text)` gives (word, flag)."""
    jieba = _jieba()
    lex = lex or shared()
    if lex is None:
        import jieba.posseg

        return jieba.posseg.dt
    if "jieba.posseg" not in sys.modules:
        # importing jieba.posseg builds a tagger over the whole dictionary file (1.2 s); it gets an empty file, and
        # then the lexicon, so that jieba.posseg.cut still tags as it should
        jieba.dt.get_dict_file = lambda: io.BytesIO()
        try:
            import jieba.posseg
        finally:
            del jieba.dt.get_dict_file
        jieba.posseg.dt.word_tag_tab = Tags(lex)
    from jieba.posseg import POSTokenizer

    tagger = POSTokenizer.__new__(POSTokenizer)
    tagger.tokenizer, tagger.word_tag_tab = tokenizer(lex), Tags(lex)
    return tagger
