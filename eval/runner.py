"""Run a question set through search (and the assistant) and score it: one JSON record per question.

Records are plain dicts so that a run written to disk (results.jsonl) can be re-scored, reported and compared
without the models.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from assistant.events import Final, Quote, Token
from assistant.rewrite import rule_rewrite
from core.config import Settings
from core.types import Answer, Hit, hit_json
from eval import metrics
from eval.questions import Question, load_questions
from eval.summary import summarize
from eval.target import EvalError, open_target

RETRIEVAL_K = 10  # hits scored per question: enough for recall@10 and nDCG@10


class SearcherLike(Protocol):
    def search(self, query: str, *, k: int) -> list[Hit]: ...


ContextLoader = Callable[[Sequence[str]], list[Hit]]


# -- records ---------------------------------------------------------------------------------------------------


def hit_record(hit: Hit) -> dict[str, Any]:
    """A hit as results.jsonl keeps it: the chunk id under "id" (what metrics and older runs read), and the source."""
    record = hit_json(hit)
    return {"id": record.pop("chunk_id"), **record, "source": hit.source}


def citation_record(citation: Any, hits: Sequence[Hit]) -> dict[str, Any]:
    record = dataclasses.asdict(citation)
    # the whole cited passage, so that citation precision can check whether it holds the answer
    record["passage"] = next((h.chunk.text for h in hits if h.chunk.id == citation.chunk_id), citation.quote)
    return record


def _empty_record(q: Question, retrieval_only: bool) -> dict[str, Any]:
    return {
        "id": q.id,
        "retrieval_only": retrieval_only,
        "question": q.question,
        "category": q.category,
        "answerable": q.answerable,
        "answers": list(q.answers),
        "answer_match": q.answer_match,
        "answer_parts": [list(p) for p in q.answer_parts],
        "gold_ids": list(q.gold_passage_ids),
        "gold_titles": list(q.gold_titles),
        "history": [list(t) for t in q.history],
        "answer": "",
        "reply": "",  # the generator's raw reply: what a refusal after generation withheld
        "refused": False,
        "citations": [],
        "unverified": [],
        "refusal_reason": "",
        "answerable_p": None,
        "confirmed_p": None,
        "sources_read": 0,
        "sources_found": 0,
        "remembered": False,
        "hits": [],
        "relevant": None,
        "n_gold": 0,
        # the passages the answer was generated from (the assistant's own search, with its period filter)
        "context": [],
        "context_relevant": None,
        "correct": None,
        "f1": None,
        "rewritten_query": "",
        "generator": "",
        "notice": "",
        "quotation": "",
        "prompt_tokens": None,
        "completion_tokens": None,
        "timing": {"total_ms": None, "ttft_ms": None, "quote_ms": None, "first_content_ms": None, "retrieval_ms": None},
        "error": "",
        "retrieval_error": "",
    }


def score_answer(record: dict[str, Any], q: Question) -> None:
    """Fill `correct` and `f1`: right answer for answerable questions, a refusal for unanswerable ones."""
    if not q.answerable:
        record["correct"] = bool(record["refused"]) and not record["error"]
    elif q.has_answers:
        # a refusal repeats the question's topic, which must not count as giving the answer
        text = "" if record["error"] or record["refused"] else record["answer"]
        record["correct"] = metrics.answer_correct(text, q.answers, q.answer_match, q.answer_parts)
        record["f1"] = metrics.best_f1(text, q.answers)


def score_retrieval(record: dict[str, Any], q: Question) -> None:
    if q.has_gold and not q.context_passage_ids:
        flags, n_gold = metrics.relevance(record["hits"], q.gold_passage_ids, q.gold_titles)
        record["relevant"], record["n_gold"] = flags, n_gold
        for hit, flag in zip(record["hits"], flags, strict=True):
            hit["relevant"] = flag
        if record.get("context"):
            context_flags, _ = metrics.relevance(record["context"], q.gold_passage_ids, q.gold_titles)
            record["context_relevant"] = any(context_flags)


# -- running ---------------------------------------------------------------------------------------------------


def _follow_up_query(q: Question) -> str:
    """Search text for a follow-up when no answer was generated: the assistant's rule-based rewrite."""
    return rule_rewrite(q.question, list(q.history))


def _ask(
    assistant: Any, q: Question, context: list[Hit] | None, clock: Callable[[], float]
) -> tuple[Answer, dict[str, float | None], str]:
    """Ask through `stream` when the assistant has it, to time the quotation, the first token and the answer.

    Also returns the reply as the generator streamed it, before citation checks (and any refusal) replaced it.
    """
    kwargs = {"question_date": q.question_date or None, "context": context}
    history = list(q.history)
    timing: dict[str, float | None] = {"ttft_ms": None, "quote_ms": None, "first_content_ms": None}
    if not hasattr(assistant, "stream"):
        return assistant.ask(q.question, history, **kwargs), timing, ""
    start, answer, pieces = clock(), None, []
    for event in assistant.stream(q.question, history, **kwargs):
        if isinstance(event, Token):
            if timing["ttft_ms"] is None:
                timing["ttft_ms"] = (clock() - start) * 1000
            pieces.append(event.text)
        elif isinstance(event, Quote) and timing["quote_ms"] is None:  # a later one replaces what was on screen
            timing["quote_ms"] = (clock() - start) * 1000
        elif isinstance(event, Final):
            answer = event.answer
            done = (clock() - start) * 1000
    if answer is None:
        raise RuntimeError("the assistant's stream ended without an answer")
    # the first thing a reader can rely on: the verified quotation, else the checked answer (or refusal)
    timing["first_content_ms"] = timing["quote_ms"] if timing["quote_ms"] is not None else done
    return answer, timing, "".join(pieces)


def run_question(
    q: Question,
    *,
    searcher: SearcherLike,
    assistant: Any = None,
    load_context: ContextLoader | None = None,
    retrieval_only: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Run one question; exceptions are recorded, not raised ("error" for the answer, "retrieval_error").

    Retrieval is scored with its own search of RETRIEVAL_K hits (the answer's own hits are fewer), using the
    assistant's rewritten query for follow-ups, so a failed answer does not hide how search did, nor the reverse.
    """
    record = _empty_record(q, retrieval_only)
    context = None
    try:
        if q.context_passage_ids:  # closed-context protocol: the generator sees exactly these passages
            if load_context is None:
                raise EvalError("question gives context_passage_ids but no store to load them from")
            context = load_context(q.context_passage_ids)
            record["hits"] = [hit_record(h) for h in context]
        if not retrieval_only:
            if assistant is None:
                raise EvalError("no assistant to answer with (use --retrieval-only to score search alone)")
            start = clock()
            answer, timing, record["reply"] = _ask(assistant, q, context, clock)
            record["timing"]["total_ms"] = (clock() - start) * 1000
            record["timing"].update(timing)
            record["answer"] = answer.text
            record["refused"] = bool(answer.refused) or metrics.looks_like_refusal(answer.text)
            record["citations"] = [citation_record(c, answer.hits) for c in answer.citations]
            record["unverified"] = list(answer.unverified)
            # why the assistant refused ("judge", "question_facts", "retrieval", ...) and the generator's own
            # answerability judgement, so an evaluator can tell which check turned an answerable question away
            record["refusal_reason"] = answer.refusal_reason
            record["answerable_p"] = answer.answerable_p
            record["confirmed_p"] = answer.confirmed_p  # both judgements combined, after the answer
            record["sources_read"] = answer.sources_read  # the passages the model read (answer.first_read)
            record["sources_found"] = answer.sources_found  # of those selected (answer.score_gap, ...)
            record["remembered"] = answer.remembered  # answered from an earlier question's prompt, without the model
            record["rewritten_query"] = answer.rewritten_query
            record["generator"] = answer.generator
            record["notice"] = answer.notice  # e.g. the model died and this answer came without it
            record["quotation"] = answer.quotation.text if answer.quotation else ""
            record["prompt_tokens"] = answer.usage.get("prompt_tokens")
            record["completion_tokens"] = answer.usage.get("completion_tokens")
            record["context"] = [{k: v for k, v in hit_record(h).items() if k != "text"} for h in answer.hits]
    except Exception as exc:  # one failing question must not end a run of hundreds
        record["error"] = f"{type(exc).__name__}: {exc}"
    if not q.context_passage_ids and (q.has_gold or retrieval_only):
        try:
            query = record["rewritten_query"] or (_follow_up_query(q) if q.history else q.question)
            start = clock()
            hits = searcher.search(query, k=RETRIEVAL_K)
            elapsed = (clock() - start) * 1000
            record["timing"]["retrieval_ms"] = elapsed
            if retrieval_only:
                record["timing"]["total_ms"] = elapsed
            record["hits"] = [hit_record(h) for h in hits]
        except Exception as exc:
            record["retrieval_error" if not retrieval_only else "error"] = f"{type(exc).__name__}: {exc}"
    score_retrieval(record, q)
    if not retrieval_only:
        score_answer(record, q)
    return record


def run(
    questions: Sequence[Question],
    *,
    searcher: SearcherLike,
    assistant: Any = None,
    load_context: ContextLoader | None = None,
    retrieval_only: bool = False,
    progress: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[dict[str, Any]], float]:
    """Run every question in order; returns the records and the wall time in seconds."""
    records = []
    start = clock()
    bar = tqdm(questions, desc="eval", unit="q", file=sys.stderr, disable=not progress, dynamic_ncols=True)
    for q in bar:
        records.append(
            run_question(
                q,
                searcher=searcher,
                assistant=assistant,
                load_context=load_context,
                retrieval_only=retrieval_only,
                clock=clock,
            )
        )
    bar.close()
    return records, clock() - start


def evaluate(
    settings: Settings,
    questions_path: Path,
    *,
    corpus: Path | None = None,
    corpus_date: str = "",
    corpus_source: str = "",
    retrieval_only: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Load the questions, open the target, run and summarise (what `newsqa eval` does before writing)."""
    questions = load_questions(questions_path)
    questions = questions[:limit] if limit else questions
    needs_search = retrieval_only or any(not q.context_passage_ids for q in questions)
    target = open_target(
        settings,
        corpus=corpus,
        corpus_date=corpus_date,
        corpus_source=corpus_source,
        retrieval_only=retrieval_only,
        needs_search=needs_search,
        progress=progress,
    )
    try:
        records, wall_s = run(
            questions,
            searcher=target.searcher,
            assistant=target.assistant,
            load_context=target.load_context,
            retrieval_only=retrieval_only,
            progress=progress,
        )
    finally:
        target.close()
    meta = {
        "questions": str(questions_path),
        "corpus": str(corpus) if corpus else "",
        "retrieval_only": retrieval_only,
        "generator": "" if retrieval_only else settings.generator.backend,
        "embedder": settings.embedder.backend,
        "retrieval_mode": settings.retrieval.mode,
        "k": RETRIEVAL_K,
        "data_dir": str(target.settings.home),
        "corpus_cached": target.cached,
        "index_sync": target.sync_report,
        "limit": limit,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - wall_s)),
    }
    return summarize(records, wall_s, meta), records


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EvalError(f"{path}:{line_no}: not valid JSON: {exc.msg}") from exc
