"""Read news files into articles: newspaper pages and single articles (.txt/.md), web pages (.html) and JSONL.

Every problem with the input raises InputError with a message naming the file (and line) and what is wrong, so
a caller can refuse the whole batch before storing anything.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.types import Article, article_id
from corpus.normalize import first_clause, normalize_line, normalize_text, repair_paragraphs
from corpus.page import looks_like_page, parse_page

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
JSONL_SUFFIXES = (".jsonl",)
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + JSONL_SUFFIXES
MAX_LINE_BYTES = 10 * 1024 * 1024  # one JSONL record
DEFAULT_MAX_FILE_MB = 256
_SNIFF_BYTES = 1 << 20


class InputError(ValueError):
    """Input that cannot be read as news; the message says what is wrong and where (file, line)."""


# ---------------------------------------------------------------- dates


def normalize_date(value: str) -> str:
    """ISO yyyy-mm-dd from "2023-07-01", "2023-07-01 10:00:00", "2023/7/1", "2023.07.01", "20230701", "2023年7月1日".

    Raises ValueError for anything else or for a day that does not exist.
    """
    value = value.strip()
    match = re.match(r"^(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})\s*日?(?=$|[\sT])", value)
    if not match:
        match = re.match(r"^(\d{4})(\d{2})(\d{2})(?=$|[\sT])", value)
    if not match:
        raise ValueError(f"unrecognised date {value!r} (expected e.g. 2023-07-01 or 2023年7月1日)")
    year, month, day = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError as exc:
        raise ValueError(f"no such date {value!r}: {exc}") from None


def validate_date(value: str) -> str:
    """The --date option: "" or a real ISO date YYYY-MM-DD."""
    if not value:
        return ""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise InputError(f"--date {value!r}: expected an ISO date YYYY-MM-DD, e.g. 2024-02-02")
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise InputError(f"--date {value!r}: {exc}") from None


# A line that only dates the article: "2024年2月2日 星期五", "发布时间：2024-02-02 10:30", "2024-02-02 来源：武进日报"
_DATE_LINE = re.compile(
    r"^[\[【（(]?\s*(?:(?:发布|发稿|出版|更新|刊发|见报)?(?:时间|日期)\s*[:：]?\s*)?"
    r"(?P<date>\d{4}\s*(?:年\s*\d{1,2}\s*月\s*\d{1,2}\s*日?|[-/.]\s*\d{1,2}\s*[-/.]\s*\d{1,2}))"
    r"(?:\s*(?:星期|周|礼拜)[一二三四五六日天])?(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?"
    r"(?:\s*(?:来源|作者|编辑|记者|稿源)\s*[:：]?\s*\S{0,30})*\s*[\]】）)]?$"
)
# /2024/02/02/, /20240202/, /2024/0202/, /2024-02/02/, /2024-02-02/ in a URL path (a bare /2024/ is not a day)
_URL_DATE = re.compile(
    r"(?<![0-9])(?P<y>(?:19|20)\d{2})(?:[-/_]?(?P<m>[01]\d)(?P<d>[0-3]\d)|[-/_](?P<m2>[01]?\d)[-/_](?P<d2>[0-3]?\d))"
    r"(?=[/_-]|$)"  # a day is a path segment of its own: "/2024/1201.html" is more likely an article number
)
_DATE_LINE_SCAN = 3  # a date line is looked for among the first few lines only


def date_line(line: str) -> str:
    """The ISO date of a line that only dates an article ("2024年2月2日 星期五", "发布时间：2024-02-02"), else ""."""
    match = _DATE_LINE.match(line.strip())
    if not match:
        return ""
    try:
        return normalize_date(match["date"].replace(" ", ""))
    except ValueError:
        return ""


def date_from_url(url: str) -> str:
    """The ISO day a URL's path names (/2024/02/02/, /20240202/, /2024/0202/, /2024-02/02/), else ""."""
    path = re.sub(r"^[a-z]+://[^/]*", "", url.strip(), flags=re.IGNORECASE)
    for match in _URL_DATE.finditer(path):
        month, day = match["m"] or match["m2"], match["d"] or match["d2"]
        try:
            return dt.date(int(match["y"]), int(month), int(day)).isoformat()
        except ValueError:
            continue
    return ""


# ---------------------------------------------------------------- bytes to text

_COMMON_CHARS = re.compile(r"[\s!-~\u00a0-\u00ff\u2000-\u206f\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _looks_binary(text: str) -> bool:
    sample = text[:20000]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return controls > len(sample) * 0.01


def decode_bytes(data: bytes, where: str) -> str:
    """Text of a file: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (covers GBK/GB2312).

    Binary data (NUL bytes, control characters, bytes that neither encoding accepts) is refused.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{where}: broken UTF-16 text ({exc.reason} at byte {exc.start})") from None
    else:
        if b"\x00" in data[:_SNIFF_BYTES]:
            raise InputError(f"{where}: binary file (contains NUL bytes), not text")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{where}: not text: neither UTF-8 nor GB18030/GBK (undecodable byte at offset {exc.start})"
                ) from None
            sample = text[:20000]
            if len(_COMMON_CHARS.findall(sample)) < 0.95 * len(sample):
                raise InputError(f"{where}: not text: unknown encoding or binary data (not UTF-8, not GBK)") from None
    if _looks_binary(text):
        raise InputError(f"{where}: binary file (control characters), not text")
    return text


def _check_size(path: Path, max_file_mb: int) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or folder") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size > max_file_mb * 1024 * 1024:
        raise InputError(f"{path}: {size / 1024 / 1024:.1f} MB is over the {max_file_mb} MB limit per file")
    if size == 0:
        raise InputError(f"{path}: empty file")
    return size


def _read_text(path: Path, max_file_mb: int) -> str:
    _check_size(path, max_file_mb)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    text = decode_bytes(data, str(path))
    if not normalize_text(text).strip():  # zero-width spaces and the like are nothing to read either
        raise InputError(f"{path}: empty file (only whitespace or invisible characters)")
    return text


# ---------------------------------------------------------------- plain text and markdown

_MD_HEADING = re.compile(r"^#{1,6}\s*")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


def _markdown_line(line: str) -> str:
    return _MD_EMPHASIS.sub(r"\2", _MD_LINK.sub(r"\1", line))


def _single_article(text: str, *, markdown: bool, date: str, source: str) -> Article:
    """First non-empty line is the title, the rest the text (paragraphs broken mid-sentence are joined)."""
    lines = normalize_text(text).split("\n")
    if markdown:
        lines = [_markdown_line(line) for line in lines]
    lines = [line for line in lines if line]
    date_source = "option" if date else ""
    for i, line in enumerate(lines[:_DATE_LINE_SCAN]):
        found = date_line(_MD_HEADING.sub("", line) if markdown else line)
        if found and len(lines) > 1:  # the article's own date line beats a --date given for a whole batch
            date, date_source = found, "text"
            del lines[i]
            break
    title_line = _MD_HEADING.sub("", lines[0]) if markdown else lines[0]
    body = lines[1:]
    if len(title_line) > 60 or not body:  # a long first line is text, not a title
        title, body = first_clause(title_line), lines
    else:
        title = title_line
    if markdown:
        # headings stay paragraphs of their own; the text between two headings is repaired as one run
        paragraphs: list[str] = []
        run: list[str] = []
        for line in body:
            if _MD_HEADING.match(line):
                paragraphs += repair_paragraphs(run) + [_MD_HEADING.sub("", line)]
                run = []
            else:
                run.append(line)
        paragraphs += repair_paragraphs(run)
    else:
        paragraphs = repair_paragraphs(body)
    paragraphs = [p for p in paragraphs if p]
    return Article(
        id=article_id(source=source, date=date, title=title),
        title=title,
        text="\n".join(paragraphs),
        date=date,
        date_source=date_source,
        source=source,
    )


def _read_text_file(path: Path, *, date: str, source: str, max_file_mb: int) -> list[Article]:
    text = _read_text(path, max_file_mb)
    if path.suffix.lower() == ".txt" and looks_like_page(text):
        articles = parse_page(text, date=date, source=source)
        if articles:
            return articles
    article = _single_article(text, markdown=path.suffix.lower() != ".txt", date=date, source=source)
    if not article.text.strip():  # e.g. a markdown file holding only "#"
        raise InputError(f"{path}: no article text (only markup)")
    return [article]


# ---------------------------------------------------------------- HTML


def _read_html(path: Path, *, date: str, source: str, max_file_mb: int) -> list[Article]:
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    html = _read_text(path, max_file_mb)
    # no extensive date search: it guesses days from a bare year in the URL ("/2024/" -> 2024-01-01)
    extracted = trafilatura.extract(
        html,
        output_format="json",
        with_metadata=True,
        include_comments=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    data = json.loads(extracted) if extracted else {}
    title = normalize_line(data.get("title") or "")
    paragraphs = [line for line in normalize_text(data.get("text") or "").split("\n") if line]
    if paragraphs and title and paragraphs[0] == title:  # the <h1> repeats the title
        paragraphs = paragraphs[1:]
    if not paragraphs:
        raise InputError(f"{path}: no article text found in the HTML page")
    if not title:
        title = first_clause(paragraphs[0])
    url = data.get("source") or ""
    page_date, date_source = "", ""
    if data.get("date"):
        try:
            page_date, date_source = normalize_date(str(data["date"])), "metadata"
        except ValueError:
            page_date = ""
    if not page_date and (from_url := date_from_url(url)):
        page_date, date_source = from_url, "url"
    if not page_date and date:
        page_date, date_source = date, "option"
    return [
        Article(
            id=article_id(url=url, source=source, date=page_date, title=title),
            title=title,
            text="\n".join(paragraphs),
            date=page_date,
            date_source=date_source,
            source=source,
            url=url,
        )
    ]


# ---------------------------------------------------------------- JSONL


def _jsonl_encoding(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
    if b"\x00" in head:
        raise InputError(f"{path}: binary file (contains NUL bytes), not JSON lines")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not text: neither UTF-8 nor GB18030 (undecodable byte at offset {exc.start})"
        ) from None


def _field(record: dict[str, Any], key: str, where: str, kinds: tuple[type, ...] = (str,)) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, kinds) or isinstance(value, bool):
        expected = " or ".join(k.__name__ for k in kinds)
        raise InputError(f'{where}: "{key}" must be a {expected}, got {type(value).__name__} {str(value)[:40]!r}')
    return str(value)


def _jsonl_article(record: Any, where: str, *, date: str, source: str) -> Article:
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object per line, got {type(record).__name__}")
    if "text" not in record:
        raise InputError(f'{where}: missing "text" (keys: {", ".join(sorted(record)) or "none"})')
    text = "\n".join(line for line in normalize_text(_field(record, "text", where)).split("\n") if line)
    if not text:
        raise InputError(f'{where}: "text" is empty')
    title = normalize_line(_field(record, "title", where))
    given = _field(record, "id", where, (str, int)).strip()
    url = _field(record, "url", where).strip()
    own_source = _field(record, "source", where).strip()
    raw_date = _field(record, "date", where).strip()
    if raw_date:
        try:
            day, date_source = normalize_date(raw_date), "metadata"
        except ValueError as exc:
            raise InputError(f'{where}: "date": {exc}') from None
    elif from_url := date_from_url(url):
        day, date_source = from_url, "url"
    else:
        day, date_source = date, "option" if date else ""
    use_source = own_source or source
    return Article(
        id=article_id(given=given, url=url, source=use_source, date=day, title=title, text=text),
        title=title,
        text=text,
        date=day,
        date_source=date_source,
        source=use_source,
        url=url,
    )


def iter_jsonl(
    path: Path, *, date: str = "", source: str = "", max_file_mb: int = DEFAULT_MAX_FILE_MB
) -> Iterator[Article]:
    """Articles of a JSON Lines file, one per non-blank line, read line by line (memory stays bounded)."""
    _check_size(path, max_file_mb)
    encoding = _jsonl_encoding(path)
    found = False
    with path.open("rb") as f:
        number = 0
        while raw := f.readline(MAX_LINE_BYTES + 1):
            number += 1
            where = f"{path} line {number}"
            if len(raw) > MAX_LINE_BYTES:
                raise InputError(f"{where}: line longer than {MAX_LINE_BYTES // (1024 * 1024)} MB")
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(f"{where}: cannot decode as {encoding} (byte {exc.start} of the line)") from None
            line = line.lstrip("\ufeff").strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: malformed JSON: {exc.msg} (column {exc.colno})") from None
            found = True
            yield _jsonl_article(record, where, date=date, source=source)
    if not found:
        raise InputError(f"{path}: empty file (no JSON lines)")


# ---------------------------------------------------------------- files and folders


def list_files(path: Path) -> list[Path]:
    """The readable files under a path: the file itself, or a folder's files (recursive, sorted, no hidden ones)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            supported = ", ".join(SUPPORTED_SUFFIXES)
            raise InputError(f"{path}: unsupported file type {path.suffix or '(none)'!r} (supported: {supported})")
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: not a regular file or folder")
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            file = Path(root) / name
            if not name.startswith(".") and file.suffix.lower() in SUPPORTED_SUFFIXES and file.is_file():
                found.append(file)
    if not found:
        raise InputError(f"{path}: folder has no {', '.join(SUPPORTED_SUFFIXES)} files")
    return sorted(found)


def _iter_file(path: Path, *, date: str, source: str, max_file_mb: int) -> Iterator[Article]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from iter_jsonl(path, date=date, source=source, max_file_mb=max_file_mb)
    elif suffix in HTML_SUFFIXES:
        yield from _read_html(path, date=date, source=source, max_file_mb=max_file_mb)
    else:
        yield from _read_text_file(path, date=date, source=source, max_file_mb=max_file_mb)


def iter_paths(
    paths: Iterable[str | os.PathLike[str]], *, date: str = "", source: str = "", max_file_mb: int = DEFAULT_MAX_FILE_MB
) -> Iterator[Article]:
    """Articles of files and folders in order; raises InputError at the first bad file or line.

    `date` (ISO) and `source` fill what a file does not say itself; a JSONL record's own date and source win.
    """
    date = validate_date(date)
    source = source.strip()
    for path in paths:
        for file in list_files(Path(path)):
            yield from _iter_file(file, date=date, source=source, max_file_mb=max_file_mb)


def read_paths(
    paths: Iterable[str | os.PathLike[str]], *, date: str = "", source: str = "", max_file_mb: int = DEFAULT_MAX_FILE_MB
) -> list[Article]:
    """All articles of files and folders, read completely before returning (all or nothing)."""
    return list(iter_paths(paths, date=date, source=source, max_file_mb=max_file_mb))


def read_path(
    path: str | os.PathLike[str], *, date: str = "", source: str = "", max_file_mb: int = DEFAULT_MAX_FILE_MB
) -> list[Article]:
    """All articles of one file or folder."""
    return read_paths([path], date=date, source=source, max_file_mb=max_file_mb)
