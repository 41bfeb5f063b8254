"""Question sets for evaluation: JSON Lines or CSV files with the same columns, read into frozen Questions."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# RGB's negative-rejection lines say what the right behaviour is instead of giving answers
_REFUSAL_EXPECTATIONS = {"insufficient_information", "refuse", "refusal", "unanswerable"}
_LIST_FIELDS = ("answers", "gold_passage_ids", "gold_titles", "context_passage_ids")


class QuestionError(ValueError):
    """A question file cannot be read: the message names the file and line."""


@dataclass(frozen=True)
class Question:
    """One evaluation question with what counts as a right answer and which passages are relevant."""

    id: str
    question: str
    answers: tuple[str, ...] = ()  # acceptable answers (any one of them, unless answer_match is "all")
    answer_match: str = "any"  # "any" or "all": with "all" every part of answer_parts must appear
    answer_parts: tuple[tuple[str, ...], ...] = ()  # for "all": parts, each a tuple of alternatives
    answerable: bool = True  # False: the right behaviour is to refuse
    gold_passage_ids: tuple[str, ...] = ()  # article ids or chunk ids of relevant passages
    gold_titles: tuple[str, ...] = ()  # a hit is relevant if its article title contains one of these
    history: tuple[tuple[str, str], ...] = ()  # earlier (question, answer) turns of the conversation
    context_passage_ids: tuple[str, ...] = ()  # give the generator exactly these passages (no retrieval)
    question_date: str = ""  # ISO date the question is asked on, for "yesterday" and the like
    category: str = ""

    @property
    def has_gold(self) -> bool:
        """Whether retrieval can be scored for this question."""
        return bool(self.gold_passage_ids or self.gold_titles)

    @property
    def has_answers(self) -> bool:
        return bool(self.answers or self.answer_parts)


def load_questions(path: str | Path) -> list[Question]:
    """Read a question file; `.csv` is read as CSV, anything else as JSON Lines."""
    path = Path(path)
    try:
        rows = list(_csv_rows(path) if path.suffix.lower() == ".csv" else jsonl_rows(path))
    except OSError as exc:
        raise QuestionError(f"{path}: cannot read question file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise QuestionError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        where = f"{path}:{line}"
        question = question_from_dict(row, where=where, default_id=f"{path.stem}-{line}")
        if question.id in seen:
            raise QuestionError(f"{where}: duplicate question id {question.id!r} (first on line {seen[question.id]})")
        seen[question.id] = line
        questions.append(question)
    if not questions:
        raise QuestionError(f"{path}: no questions in file")
    return questions


def jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line of JSON Lines file `path`; a QuestionError naming the line of
    the first that is not a JSON object (OSError and UnicodeDecodeError as reading raises them)."""
    with path.open(encoding="utf-8-sig") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise QuestionError(f"{path}:{line_no}: not valid JSON: {exc.msg} (column {exc.colno})") from exc
            if not isinstance(row, dict):
                raise QuestionError(f"{path}:{line_no}: expected a JSON object, got {type(row).__name__}")
            yield line_no, row


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "question" not in reader.fieldnames:
            raise QuestionError(f"{path}:1: CSV header must name a 'question' column (got {reader.fieldnames})")
        for row in reader:
            if None in row:
                raise QuestionError(f"{path}:{reader.line_num}: more cells than header columns")
            cells = {k: v for k, v in row.items() if k and v is not None and v.strip() != ""}
            if not cells:
                continue
            yield reader.line_num, _decode_csv_cells(cells, f"{path}:{reader.line_num}")


def _decode_csv_cells(cells: dict[str, str], where: str) -> dict[str, Any]:
    """CSV cells are strings: list fields hold JSON or "|"-separated values, answer_parts and history JSON."""
    row: dict[str, Any] = dict(cells)
    for name in (*_LIST_FIELDS, "answer_parts", "history"):
        text = cells.get(name, "").strip()
        if not text:
            continue
        if text.startswith("["):
            try:
                row[name] = json.loads(text)
            except json.JSONDecodeError as exc:
                raise QuestionError(f"{where}: column {name!r} is not valid JSON: {exc.msg}") from exc
        elif name == "answer_parts":  # "a|b" means two parts, each with a single alternative
            row[name] = [[p.strip()] for p in text.split("|") if p.strip()]
        elif name == "history":
            raise QuestionError(f'{where}: column \'history\' must be JSON, e.g. [["问题", "回答"]]')
        else:
            row[name] = [p.strip() for p in text.split("|") if p.strip()]
    return row


def question_from_dict(row: dict[str, Any], *, where: str = "question", default_id: str = "") -> Question:
    """Build a Question from one parsed line; unknown fields are ignored (the shared sets carry extra ones)."""
    text = row.get("question")
    if not isinstance(text, str) or not text.strip():
        raise QuestionError(f"{where}: missing or empty 'question'")
    qid = row.get("id", default_id)
    if isinstance(qid, int) and not isinstance(qid, bool):
        qid = str(qid)
    if not isinstance(qid, str) or not qid.strip():
        raise QuestionError(f"{where}: 'id' must be a non-empty string, got {qid!r}")

    answers = _strings(row.get("answers"), "answers", where)
    match = row.get("answer_match") or "any"
    if match not in ("any", "all"):
        raise QuestionError(f'{where}: \'answer_match\' must be "any" or "all", got {match!r}')
    parts = _parts(row.get("answer_parts"), where)
    if match == "all" and not parts:
        parts = tuple((a,) for a in answers)  # without explicit parts every answer string is one part
    if not answers and parts:
        answers = tuple(p[0] for p in parts)

    answerable = _answerable(row, where)
    gold_ids = _strings(row.get("gold_passage_ids"), "gold_passage_ids", where)
    gold_titles = _strings(row.get("gold_titles"), "gold_titles", where)
    context_ids = _strings(row.get("context_passage_ids"), "context_passage_ids", where)
    if answerable and not answers and not gold_ids and not gold_titles:
        raise QuestionError(
            f"{where}: an answerable question needs 'answers', 'gold_passage_ids' or 'gold_titles'"
            ' (or set "answerable": false)'
        )

    return Question(
        id=qid.strip(),
        question=text.strip(),
        answers=answers,
        answer_match=match,
        answer_parts=parts,
        answerable=answerable,
        gold_passage_ids=gold_ids,
        gold_titles=gold_titles,
        history=_history(row.get("history"), where),
        context_passage_ids=context_ids,
        question_date=_date(row.get("question_date"), where),
        category=_category(row.get("category"), where),
    )


def _strings(value: Any, name: str, where: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise QuestionError(f"{where}: {name!r} must be a list of strings, got {type(value).__name__}")
    out = []
    for item in value:
        if isinstance(item, int | float) and not isinstance(item, bool):
            item = str(item)  # numeric answers and integer chunk ids
        if not isinstance(item, str):
            raise QuestionError(f"{where}: {name!r} must hold strings, got {item!r}")
        if item.strip():
            out.append(item.strip())
    return tuple(out)


def _parts(value: Any, where: str) -> tuple[tuple[str, ...], ...]:
    if value is None or value == "":
        return ()
    if not isinstance(value, list):
        raise QuestionError(f"{where}: 'answer_parts' must be a list of lists of alternatives")
    parts = []
    for part in value:
        alternatives = _strings(part, "answer_parts", where)
        if not alternatives:
            raise QuestionError(f"{where}: 'answer_parts' has an empty part")
        parts.append(alternatives)
    return tuple(parts)


def _answerable(row: dict[str, Any], where: str) -> bool:
    expected = row.get("expected")
    if isinstance(expected, str) and expected.strip().lower() in _REFUSAL_EXPECTATIONS:
        return False
    value = row.get("answerable", True)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "false", "0", "no"}:
        return value.strip().lower() in {"true", "1", "yes"}
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise QuestionError(f"{where}: 'answerable' must be true or false, got {value!r}")


def _history(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if value is None or value == "":
        return ()
    if not isinstance(value, list):
        raise QuestionError(f"{where}: 'history' must be a list of [question, answer] pairs")
    turns = []
    for turn in value:
        if isinstance(turn, dict) and isinstance(turn.get("question"), str) and isinstance(turn.get("answer"), str):
            turns.append((turn["question"], turn["answer"]))
        elif isinstance(turn, list | tuple) and len(turn) == 2 and all(isinstance(t, str) for t in turn):
            turns.append((turn[0], turn[1]))
        else:
            raise QuestionError(f"{where}: 'history' turn must be [question, answer], got {turn!r}")
    return tuple(turns)


def _date(value: Any, where: str) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise QuestionError(f"{where}: 'question_date' must be an ISO date string, got {value!r}")
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError as exc:
        raise QuestionError(f"{where}: 'question_date' is not an ISO date (yyyy-mm-dd): {value!r}") from exc


def _category(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise QuestionError(f"{where}: 'category' must be a string, got {value!r}")
    return value.strip()
