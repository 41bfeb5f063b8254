"""Run a question set through search (and the assistant) and score it: one JSON record per question, one summary.

Records are plain dicts so that a run written to disk (results.jsonl) can be re-scored, reported and compared
without the models.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assistant.events import Final, Quote, Token
from assistant.factory import build_assistant, open_generator
from core.config import Settings
from core.files import write_atomic
from core.types import Answer, Hit, hit_json
from eval import metrics
from eval.questions import Question

RETRIEVAL_K = 10  # hits scored per question: enough for recall@10 and nDCG@10


class EvalError(RuntimeError):
    """The evaluation cannot start: no corpus, an empty store, a corpus file that cannot be read."""


class SearcherLike(Protocol):
    def search(self, query: str, *, k: int) -> list[Hit]: ...


class AssistantLike(Protocol):
    def ask(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        *,
        question_date: str | None = None,
        context: list[Hit] | None = None,
    ) -> Answer: ...


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
    try:
        from assistant.rewrite import rule_rewrite
    except ImportError:  # without the assistant package: earlier questions give the topic
        return " ".join([*(turn[0] for turn in q.history[-2:]), q.question])
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
        elif isinstance(event, Quote):
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
            record["rewritten_query"] = answer.rewritten_query
            record["generator"] = answer.generator
            record["notice"] = answer.notice  # e.g. the model died and this answer came without it
            record["quotation"] = answer.quotation.text if answer.quotation else ""
            record["prompt_tokens"] = answer.usage.get("prompt_tokens")
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
    from tqdm import tqdm

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


# -- summary ---------------------------------------------------------------------------------------------------


def _section_metrics(records: Sequence[dict[str, Any]], wall_s: float | None) -> dict[str, Any]:
    scored = [r for r in records if r.get("relevant") is not None]
    answer_scored = [r for r in records if r.get("answerable") and r.get("correct") is not None]
    ok = [r for r in records if not r.get("error")]
    generated = [r for r in ok if not r.get("retrieval_only")]
    return {
        "n": len(records),
        "errors": sum(bool(r.get("error") or r.get("retrieval_error")) for r in records),
        "retrieval": {
            **metrics.retrieval_metrics([r["relevant"] for r in scored], [r["n_gold"] for r in scored]),
            # share of answered questions whose generator saw a gold passage: tells retrieval misses from
            # generation errors, and catches an answer path that searches differently from the scored search
            "context_recall": metrics.mean(
                float(r["context_relevant"]) for r in records if r.get("context_relevant") is not None
            ),
        },
        "answer": {
            "accuracy": metrics.mean(float(r["correct"]) for r in answer_scored),
            "f1": metrics.mean(r.get("f1") for r in answer_scored),
        },
        "refusal": metrics.refusal_rates([r["answerable"] for r in generated], [r["refused"] for r in generated]),
        "citation": metrics.citation_metrics([_citation_view(r) for r in generated]),
        "latency": metrics.latency_metrics(
            [r["timing"]["total_ms"] for r in ok if r["timing"].get("total_ms") is not None],
            [r["timing"]["ttft_ms"] for r in ok if r["timing"].get("ttft_ms") is not None],
            wall_s,
            n_questions=len(records),
        ),
    }


def _citation_view(r: dict[str, Any]) -> dict[str, Any]:
    gold = r["answerable"]  # an unanswerable question has no passage that could be right to cite
    return {
        "refused": r["refused"],
        "error": r["error"],
        "citations": r["citations"],
        "unverified": r["unverified"],
        "gold_ids": r["gold_ids"] if gold else [],
        "gold_titles": r["gold_titles"] if gold else [],
        "answers": r["answers"] if gold else [],
    }


def summarize(
    records: Sequence[dict[str, Any]], wall_s: float | None = None, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The summary JSON: overall metrics, the same per category, and what was run (meta)."""
    summary = _section_metrics(records, wall_s)
    categories = sorted({r.get("category") or "" for r in records})
    summary["by_category"] = {
        c or "(none)": _section_metrics([r for r in records if (r.get("category") or "") == c], None)
        for c in categories
    }
    summary["recall_curve"] = metrics.recall_curve([r["relevant"] for r in records if r.get("relevant") is not None])
    summary["wall_s"] = wall_s
    summary["meta"] = dict(meta or {})
    return summary


# -- the data the questions run against ------------------------------------------------------------------------


def corpus_cache_key(corpus: Path, settings: Settings, *, date: str = "", source: str = "") -> str:
    """Content hash of the corpus file plus everything that changes its chunks or vectors."""
    digest = hashlib.sha256()
    with corpus.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    e, c = settings.embedder, settings.corpus
    options = [e.backend, e.model, e.prompts, c.chunk_size, c.chunk_min, date, source]
    digest.update(json.dumps(options, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:20]


@dataclass
class EvalTarget:
    """What the questions run against: the settings (home = the data directory), store, searcher, assistant."""

    settings: Settings
    store: Any
    searcher: Any
    assistant: Any
    cache_dir: Path | None = None
    cached: bool = False
    sync_report: dict[str, Any] = dataclasses.field(default_factory=dict)  # what syncing the indexes did

    def load_context(self, ids: Sequence[str]) -> list[Hit]:
        """Hits for the given article ids (all their chunks) or chunk ids, in the given order.

        At most `answer.max_passages` of them, as many as the assistant puts in a prompt after retrieval (5 by
        default, which is also RGB's number of passages per question).
        """
        articles = self.store.articles_by_id(ids)
        numeric = [int(i) for i in ids if i.isdigit()]
        chunks = self.store.chunks_by_id(numeric) if numeric else {}
        hits: list[Hit] = []
        missing = []
        for pid in ids:
            if pid in articles:
                a = articles[pid]
                hits += [
                    Hit(chunk=c, score=0.0, title=a.title, date=a.date, source=a.source)
                    for c in self.store.chunks_of(pid)
                ]
            elif pid.isdigit() and int(pid) in chunks:
                c = chunks[int(pid)]
                a = self.store.get(c.article_id)
                hits.append(
                    Hit(
                        chunk=c,
                        score=0.0,
                        title=a.title if a else "",
                        date=a.date if a else "",
                        source=a.source if a else "",
                    )
                )
            else:
                missing.append(pid)
        if missing:
            raise EvalError(f"context passages not in the corpus: {', '.join(missing[:5])}")
        return hits[: self.settings.answer.max_passages]

    def close(self) -> None:
        worker = getattr(getattr(self.assistant, "generator", None), "worker", None)
        if worker is not None:
            worker.stop()
        if self.searcher is not None and hasattr(self.searcher, "close"):
            self.searcher.close()
        self.store.close()


def open_target(
    settings: Settings,
    *,
    corpus: Path | None = None,
    corpus_date: str = "",
    corpus_source: str = "",
    retrieval_only: bool = False,
    needs_search: bool = True,
    progress: bool = False,
) -> EvalTarget:
    """Open the user's own store (read only), or a throwaway one built from `corpus` and cached by content hash.

    `needs_search=False` (every question brings its own context passages) skips building the search indexes.
    """
    from filelock import FileLock

    from corpus.store import Store

    cache_dir = None
    cached = False
    lock = None
    if corpus is not None:
        corpus = Path(corpus)
        if not corpus.is_file():
            raise EvalError(f"{corpus}: corpus file not found")
        key = corpus_cache_key(corpus, settings, date=corpus_date, source=corpus_source)
        cache_dir = settings.home / "eval-cache" / key
        target_settings = settings.override({"home": cache_dir})
        ready = cache_dir / "ready.json"  # written once the corpus is completely in the store
        cache_dir.mkdir(parents=True, exist_ok=True)
        # two runs starting at once on the same corpus: the second waits instead of ingesting and embedding again
        lock = FileLock(str(cache_dir / ".lock"))
        lock.acquire()
        try:
            cached = ready.is_file()
            store = Store(target_settings.db_path)
            if not cached:
                from corpus.ingest import ingest_paths

                ingest_paths(target_settings, store, [corpus], date=corpus_date, source=corpus_source)
                done = {
                    "corpus": str(corpus.resolve()),
                    "articles": store.count(),
                    "embedder": settings.embedder.backend,
                    "model": settings.embedder.model,
                    "chunk_size": settings.corpus.chunk_size,
                    "date": corpus_date,
                    "source": corpus_source,
                }
                write_atomic(ready, json.dumps(done, ensure_ascii=False, indent=2))
        except BaseException:
            lock.release()
            raise
    else:
        target_settings = settings
        if not settings.db_path.is_file():
            raise EvalError(f"no article store at {settings.db_path}: ingest articles first, or pass --corpus")
        store = Store(settings.db_path)
        if store.count() == 0:
            store.close()
            raise EvalError(f"the article store {settings.db_path} is empty: ingest articles first, or pass --corpus")
    searcher = None
    sync_report: dict[str, Any] = {}
    try:
        if needs_search:
            from index.hybrid import Searcher

            searcher = Searcher(target_settings, store)
            sync_report = searcher.sync(progress=progress)  # embeds nothing when the index is up to date
    finally:
        if lock is not None:
            lock.release()
    assistant = None
    if not retrieval_only:
        # the model files stay in the user's data directory (settings), not in the throwaway one
        assistant = build_assistant(target_settings, store, searcher, open_generator(settings))
    return EvalTarget(
        settings=target_settings,
        store=store,
        searcher=searcher,
        assistant=assistant,
        cache_dir=cache_dir,
        cached=cached,
        sync_report=sync_report,
    )


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
    from eval.questions import load_questions

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


def public_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The keys outside checks read, without the per-category breakdown and run details."""
    return {key: summary[key] for key in ("n", "retrieval", "answer", "refusal", "citation", "latency")}


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EvalError(f"{path}:{line_no}: not valid JSON: {exc.msg}") from exc
