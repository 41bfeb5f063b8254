"""Build a dated question set from the CRUD news docs: "when did it happen" questions whose answer needs the date.

Each question comes from a dated doc whose sentence says "昨天/今天/…" about an event whose day the doc never
writes out ("8月16日" does not occur in it), so the answer can only come from the publication date. A third of the
questions also name the month ("2023年8月，…"), which exercises the period filter. The docs are mixed with other
dated docs as distractors. The evaldata license forbids copying its texts into the repository, so this script
writes the corpus and the questions to a directory outside it:

    python bench/time_set.py --out /tmp/newsqa-time-set
    newsqa eval /tmp/newsqa-time-set/time_questions.jsonl --corpus /tmp/newsqa-time-set/corpus.jsonl \
        --generator extractive
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.files import write_atomic  # noqa: E402
from core.text import FULL_STOPS  # noqa: E402
from corpus.timeexpr import TimeMention, resolve_expressions  # noqa: E402

DEFAULT_CRUD = ROOT.parent / "shared" / "evaldata" / "crud"
_SENTENCE = re.compile(rf"[^{FULL_STOPS}]+[{FULL_STOPS}]?")  # one end mark; a semicolon or line break is inside
_LEAD_PUNCT = "，,、：:；;（）() "
_MIN_EVENT_CHARS = 14
_MAX_EVENT_CHARS = 48


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# day words an event sentence uses: the day before publication, the day itself, a weekday of this or last week
_DAY_WORD = re.compile(r"^(?:前天|昨天|昨日|今天|今日|昨晚|今晨|昨|今|(?:上|本)?(?:周|星期)[一二三四五六日天])")
_LEADS = re.compile(
    r"^(?:原标题：.*?(?=IT之家)|IT之家\s*\d+\s*月\s*\d+\s*日消息[，,]|本报讯[（(][^）)]*[）)]|本报讯[，,]?"
    r"|据[^，,。]{1,30}报道[，,]|央视网消息[：:]|新华社[^，,。]{0,20}电[，,]?|当地时间)"
)


_DATELINE = re.compile(r"\d+\s*月\s*\d+\s*日\s*[电讯]")
# a clause starting with a particle or conjunction has lost its subject; first and second person is chat, not news
_NOT_AN_EVENT = re.compile(r"^[的了是和与及并在而但还就也又]|[我你]|[“”\"]")


def _day_mention(text: str, published: date) -> tuple[TimeMention, str, int] | None:
    """The first relative day word about an event in the doc's opening sentences: (mention, sentence, offset)."""
    head = text[:300]
    for mention in resolve_expressions(head, published):
        if mention.first != mention.last or mention.approximate or not _DAY_WORD.match(mention.text):
            continue
        before, after = head[max(0, mention.start - 2) : mention.start], head[mention.end : mention.end + 1]
        if after in ("的", "就", "是") or before.endswith(("到", "至", "直到")):
            continue  # "今天的改革开放" is "nowadays", "直到今天" is no event
        for m in _SENTENCE.finditer(head):
            if m.start() <= mention.start < m.end():
                return mention, head[m.start() : m.end()], m.start()
    return None


def _event(sentence: str, mention: TimeMention, offset: int) -> str:
    """The clause holding the time word, without it (and a short clause's continuation): what happened."""
    start, end = mention.start - offset, mention.end - offset
    clauses = [(m.start(), m.end()) for m in re.finditer(r"[^，,；;。！？!?]+", sentence)]
    index = next(i for i, (a, b) in enumerate(clauses) if a <= start < b or start < a)
    if start == clauses[index][0] and sentence[end : end + 1] in "，,":
        index += 1  # "昨天，第八届全国学生军事训练营开营": the time word is a clause of its own
        if index == len(clauses):
            return ""
    a, b = clauses[index]
    while b - a < _MIN_EVENT_CHARS and index + 1 < len(clauses):
        index += 1
        b = clauses[index][1]
    event = sentence[a:b]
    if a <= start < b:
        cut_from = start - 1 if sentence[start - 1 : start] in ("于", "在") else start
        event = sentence[a:cut_from] + sentence[end:b]
    event = _LEADS.sub("", event.strip()).strip(_LEAD_PUNCT)
    event = re.sub(r"^[^，,]{1,6}\s*[，,]", "", event).strip(_LEAD_PUNCT)  # "记者了解到，", "早些时候，"
    if len(event) > _MAX_EVENT_CHARS:
        cut = max(event.rfind("，", 0, _MAX_EVENT_CHARS), event.rfind(",", 0, _MAX_EVENT_CHARS))
        event = event[:cut] if cut >= _MIN_EVENT_CHARS else ""
    return event


def _names_the_day(text: str, day: date) -> bool:
    """Whether the doc writes the day out ("8月16日", "8 月 16 日", "16日"), so no date resolution is needed."""
    flat = re.sub(r"\s+", "", text)
    return (
        f"{day.month}月{day.day}日" in flat
        or f"{day.month}月{day.day}号" in flat
        or bool(re.search(rf"(?<![0-9]){day.day}[日号]", flat))
    )


def build(crud: Path, n_docs: int, n_questions: int) -> tuple[list[dict], list[dict]]:
    docs = [json.loads(line) for line in (crud / "corpus.jsonl").open(encoding="utf-8") if line.strip()]
    dated = sorted((d for d in docs if d.get("date")), key=lambda d: _key(d["id"]))
    questions: list[dict] = []
    chosen: list[dict] = []
    events: set[str] = set()
    for doc in dated:
        if len(questions) == n_questions:
            break
        published = date.fromisoformat(doc["date"][:10])
        found = _day_mention(doc["text"], published)
        if found is None or _names_the_day(doc["text"], found[0].first) or _DATELINE.search(doc["text"][:300]):
            continue  # a dateline ("7月24日电") may disagree with the doc's date: which day is meant is unclear
        mention, sentence, offset = found
        event = _event(sentence, mention, offset)
        if len(event) < _MIN_EVENT_CHARS or event in events or _NOT_AN_EVENT.search(event):
            continue
        events.add(event)
        day = mention.first
        scoped = len(questions) % 3 == 2
        question = f"{event}是在哪一天？"
        questions.append(
            {
                "id": f"crud-time-{len(questions) + 1:02d}",
                "question": f"{day.year}年{day.month}月，{question}" if scoped else question,
                "answers": [f"{day.month}月{day.day}日"],
                "answer_match": "any",
                "gold_passage_ids": [doc["id"]],
                "question_date": (published + timedelta(days=7)).isoformat(),
                "category": "scoped-day" if scoped else "event-day",
            }
        )
        chosen.append(doc)
    taken = {d["id"] for d in chosen}
    distractors = [d for d in dated if d["id"] not in taken][: max(0, n_docs - len(chosen))]
    corpus = [
        {"id": d["id"], "text": d["text"], "date": d["date"], "source": d.get("source", "")}
        for d in sorted(chosen + distractors, key=lambda d: d["id"])
    ]
    return corpus, questions


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    write_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crud", type=Path, default=DEFAULT_CRUD, help="folder with CRUD corpus.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="output folder (outside the repository)")
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--questions", type=int, default=30)
    args = parser.parse_args(argv)
    if args.out.resolve().is_relative_to(ROOT):
        parser.error("--out must be outside the repository: the evaldata license forbids copying its texts into it")
    if not (args.crud / "corpus.jsonl").is_file():
        parser.error(f"{args.crud}/corpus.jsonl not found")
    corpus, questions = build(args.crud, args.docs, args.questions)
    _write_jsonl(args.out / "corpus.jsonl", corpus)
    _write_jsonl(args.out / "time_questions.jsonl", questions)
    print(f"{len(corpus)} docs, {len(questions)} questions -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
