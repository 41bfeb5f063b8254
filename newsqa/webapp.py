"""The web app's handlers on `NewsApp`: residents' chat, feedback, the staff desk and evaluations.

They take and return plain values, so they can be tested without a browser; `app.py` only wires them to Gradio
components.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.events import Final, Progress, Quote, Token
from assistant.feedback import FeedbackLog
from core.config import Settings
from corpus.ingest import SAMPLE_DATE, SAMPLE_PAGE
from corpus.page import parse_page
from newsqa.render import byline, is_error, read_rendered, render_answer, render_error, render_progress
from newsqa.staff import StaffCredentials, StaffRefused
from newsqa.uploads import UploadError, _original_name, check_inside, check_uploads, store_upload

log = logging.getLogger("newsqa.app")

MAX_QUESTION_CHARS = 500
BUNDLED_QUESTIONS = Path(__file__).parents[1] / "corpus" / "sample" / "questions.jsonl"
THINKING = "⏳ 正在查找相关报道……"

Messages = list[dict[str, Any]]


# -- index access ----------------------------------------------------------------------------------------------


class ReadWriteLock:
    """Many searches at once, or one index update alone; a waiting update goes before new searches.

    The FAISS and keyword indexes are not safe to search while `Searcher.sync` changes them. There is no lock
    owner, so a streaming handler may release it from another worker thread than the one that took it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0
        self._readers_waiting = 0

    @property
    def waiting(self) -> tuple[int, int]:
        """(searches, updates) waiting for the lock now."""
        with self._cond:
            return self._readers_waiting, self._writers_waiting

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            self._readers_waiting += 1
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers_waiting -= 1
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class LockedSearcher:
    """`searcher` with every search holding `lock` for reading, however far the answering has got: a follow-up is
    searched once to quote it at once and again after the model's rewrite, and an update between the two
    searches waits for neither the model nor the reader."""

    def __init__(self, searcher: Any, lock: ReadWriteLock) -> None:
        self.searcher = searcher
        self.lock = lock

    def search(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock.reading():
            return self.searcher.search(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.searcher, name)


# -- conversation history ----------------------------------------------------------------------------------------


def _content_text(content: Any) -> str:
    """Text of a Chatbot message: a string, or (as Gradio hands it back) a list of {"type": "text"} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list | tuple):
        return "".join(_content_text(c) for c in content)
    return ""


def plain_history(history: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(question, answer with [n] markers) pairs for the assistant, from the chat as displayed."""
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for message in history:
        text = _content_text(message.get("content", ""))
        if message.get("role") == "user":
            question = html.unescape(text)
        elif message.get("role") == "assistant" and question is not None:
            answer, _ = read_rendered(text)
            if answer and answer != THINKING and not is_error(text):
                pairs.append((question, answer))
            question = None
    return pairs


# -- the app -----------------------------------------------------------------------------------------------------


# the chat's examples where the store holds the bundled sample page: its news, then what it says, the model's part
SAMPLE_EXAMPLES = (
    "这期报纸有哪些新闻？",
    "垃圾分类条例什么时候施行？",
    "武高新2023年规上工业总产值是多少？",
    "乔俊杰调研了哪里的安全生产工作？",
    "武高新的战略新兴产业产值占比是多少？",
)
# the longest title an example question quotes: a button, not a paragraph
_EXAMPLE_TITLE_CHARS = 30


def example_questions(store: Any) -> list[str]:
    """The chat's example questions: the sample page's own where the store holds it, else questions any store of
    news answers about its newest articles: the news of the day, what the newest says, who wrote the next one."""
    if _holds_sample(store):
        return list(SAMPLE_EXAMPLES)
    examples = [SAMPLE_EXAMPLES[0]]
    newest = [a for a in store.dated("", "", 10)[1] if len(a.title) <= _EXAMPLE_TITLE_CHARS]
    if newest:
        examples.append(f"「{newest[0].title}」讲了什么？")
    credited = next((a for a in newest[1:] if a.reporters or a.photographers), None)
    if credited is not None:
        examples.append(f"「{credited.title}」是谁写的？" if credited.reporters else f"「{credited.title}」是谁拍的？")
    return examples


def _holds_sample(store: Any) -> bool:
    """Does the store hold every article of the bundled sample page (it is loaded into an empty store)?"""
    if not SAMPLE_PAGE.is_file():
        return False
    titles = [a.title for a in parse_page(SAMPLE_PAGE.read_text(encoding="utf-8"), date=SAMPLE_DATE)]
    return bool(titles) and all(store.titled(t) for t in titles)


def session_of(request: gr.Request | None) -> str:
    """The browser session a request came from ("" when there is none: called outside Gradio)."""
    return str(getattr(request, "session_hash", None) or "")


class NewsApp:
    """All handlers of the web app, over one runtime (store, searcher, assistant) opened once per process."""

    def __init__(
        self,
        settings: Settings,
        runtime: Any,
        *,
        staff: StaffCredentials | None = None,
        upload_roots: Sequence[Path] = (),
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.staff = staff
        self.feedback = FeedbackLog(settings.feedback_path)
        self.uploads_dir = settings.home / "uploads"
        self.reports_dir = settings.home / "reports"
        # where Gradio puts uploaded files before a handler sees them; nothing else may be read as an upload
        self.upload_roots = [Path(r) for r in upload_roots] or [Path(gr.utils.get_upload_folder())]
        self.index_lock = ReadWriteLock()
        # the assistant searches through the lock itself: the app never holds it while the model works
        self.searcher = LockedSearcher(runtime.searcher, self.index_lock)
        if getattr(runtime.assistant, "searcher", None) is not None:
            runtime.assistant.searcher = self.searcher

    # -- residents -------------------------------------------------------------------------------------------

    def _article(self, article_id: str):
        return self.runtime.store.get(article_id)

    def _typing_reader(self) -> Any:
        """The reader that reads a question being typed ahead (generator.read_while_typing), or None."""
        reader = getattr(self.runtime, "read_ahead", None)
        return reader if reader is not None and self.settings.generator.read_while_typing else None

    def typing(
        self, message: str, history: Sequence[Mapping[str, Any]] | None, request: gr.Request | None = None
    ) -> None:
        """A resident is typing `message`: the model may read its passages before it is sent (assistant.readahead);
        each browser session's latest question counts."""
        reader = self._typing_reader()
        if reader is not None and isinstance(message, str):
            reader.typed(message, plain_history([dict(m) for m in (history or [])]), session_of(request))

    def respond(
        self, message: str, history: Sequence[Mapping[str, Any]] | None, request: gr.Request | None = None
    ) -> Iterator[Messages]:
        """Stream the answer to `message`: the chat with the reply so far, then the final one with citations."""
        reader = self._typing_reader()
        if reader is not None:
            reader.sent(session_of(request))  # what was being typed in this session is asked now
        history = [dict(m) for m in (history or [])]
        question = (message or "").strip()
        if not question:
            yield history
            return
        shown: Messages = [*history, {"role": "user", "content": html.escape(question)}]
        if len(question) > MAX_QUESTION_CHARS:
            yield [
                *shown,
                {
                    "role": "assistant",
                    "content": render_error(
                        f"问题太长了（{len(question)} 字），请控制在 {MAX_QUESTION_CHARS} 字以内。"
                    ),
                },
            ]
            return
        yield [*shown, {"role": "assistant", "content": THINKING}]
        progress, quotation, pieces = Progress("searching"), None, []

        def working() -> Messages:
            html = render_progress(
                progress.stage,
                quotation,
                self._article,
                position=progress.position,
                sources=progress.sources,
                found=progress.found,
                partial="".join(pieces),
            )
            return [*shown, {"role": "assistant", "content": html}]

        try:
            for event in self.runtime.assistant.stream(question, plain_history(history)):
                if isinstance(event, Final):
                    yield [*shown, {"role": "assistant", "content": render_answer(event.answer, self._article)}]
                    return
                if isinstance(event, Progress):
                    progress = event
                elif isinstance(event, Quote):
                    quotation = event.quotation
                elif isinstance(event, Token):
                    pieces.append(event.text)
                yield working()
        except Exception:  # the reader gets a short message; the details go to the log
            log.exception("answering %r failed", question)
            yield [*shown, {"role": "assistant", "content": render_error("抱歉，回答时出错了，请稍后再试。")}]
            return
        yield [*shown, {"role": "assistant", "content": render_error("抱歉，没有得到回答，请再试一次。")}]

    def record_feedback(self, history: Sequence[Mapping[str, Any]], index: int | Sequence[int], liked: Any) -> str:
        """Append one vote on the assistant message at `index` to the feedback log; returns a thank-you."""
        i = index[0] if isinstance(index, list | tuple) else index
        if not isinstance(i, int) or not 0 <= i < len(history) or history[i].get("role") != "assistant":
            return "这条消息不能评价。"
        answer, sources = read_rendered(_content_text(history[i].get("content", "")))
        question = next(
            (
                html.unescape(_content_text(m.get("content", "")))
                for m in reversed(history[:i])
                if m.get("role") == "user"
            ),
            "",
        )
        vote = liked if isinstance(liked, str) else ("like" if liked else "dislike")
        self.feedback.append(
            {
                "vote": {"Like": "like", "Dislike": "dislike"}.get(vote, vote),
                "question": question,
                "answer": answer,
                "citations": [
                    {"n": s.n, "article_id": s.article_id, "chunk_id": s.chunk_id, "title": s.title, "quote": s.quote}
                    for s in sources
                ],
            }
        )
        return "谢谢您的反馈！"

    # -- staff desk ------------------------------------------------------------------------------------------

    def _require_staff(self, session: Any) -> None:
        if self.staff is None or session is not True:
            raise StaffRefused("请先登录工作人员账号。")

    def staff_login(self, user: str, password: str) -> tuple[bool, str]:
        if self.staff is None:
            return False, "工作人员入口未开启。"
        if self.staff.check(user, password):
            return True, "已登录。"
        time.sleep(1.0)  # slows down guessing; the queue keeps others unaffected
        return False, "用户名或密码不对。"

    def staff_articles(self, session: Any) -> list[list[Any]]:
        """Rows of the article table: id, title, date, source, reporters, chunk count."""
        self._require_staff(session)
        store = self.runtime.store
        counts = store.chunk_counts()
        return [
            [a.id, a.title, a.date, a.source, "、".join(a.reporters), counts.get(a.id, 0)] for a in store.articles()
        ]

    def staff_choices(self, session: Any) -> list[tuple[str, str]]:
        return [(f"{r[2] or '日期不详'} {r[1]}", r[0]) for r in self.staff_articles(session)]

    def staff_open(self, article_id: str, session: Any) -> str:
        """The stored article as escaped HTML, with its metadata and chunk count."""
        self._require_staff(session)
        article = self.runtime.store.get(article_id or "")
        if article is None:
            return '<div class="nq-answer">没有这篇文章。</div>'
        n_chunks = len(self.runtime.store.chunks_of(article.id))
        paragraphs = "".join(f"<p>{html.escape(article.text[s:e])}</p>" for s, e in article.paragraphs)
        subtitle = f"<h4>{html.escape(article.subtitle)}</h4>" if article.subtitle else ""
        return (
            f'<div class="nq-article"><h3>{html.escape(article.title)}</h3>{subtitle}'
            f'<div class="nq-src-meta">{html.escape(byline(article))} · {n_chunks} 个片段 · '
            f"编号 {html.escape(article.id)}</div>{paragraphs}</div>"
        )

    def staff_remove(self, article_id: str, confirmed: bool, session: Any) -> str:
        self._require_staff(session)
        if not article_id:
            return "请先选择一篇文章。"
        if not confirmed:
            return "请勾选“确认删除”后再删除。"
        from corpus.store import Store

        with Store(self.settings.db_path) as store:
            removed = store.remove([article_id])
        if not removed:
            return "没有这篇文章（可能已被删除）。"
        with self.index_lock.writing():
            self.runtime.searcher.sync(progress=False)
        return f"已删除文章 {article_id}，索引已更新。"

    def staff_upload(
        self, files: Sequence[Any] | None, date: str, source: str, session: Any, progress: Any = None
    ) -> str:
        """Copy the uploads into <home>/uploads, ingest them in one transaction and bring the index up to date."""
        self._require_staff(session)
        paths = [getattr(f, "name", f) for f in (files or [])]
        for p in paths:  # before anything is read, even the file size
            check_inside(p, self.upload_roots)
        check_uploads(paths, max_files=self.settings.app.max_upload_files, max_mb=self.settings.app.max_upload_mb)
        step = progress if progress is not None else (lambda *a, **k: None)
        from corpus.ingest import ingest_paths
        from corpus.store import Store

        step(0.0, desc="保存文件")
        stored = {store_upload(p, self.uploads_dir, allowed_roots=self.upload_roots): _original_name(p) for p in paths}
        step(0.2, desc="解析文章")
        try:
            with Store(self.settings.db_path) as store:
                result = ingest_paths(
                    self.settings, store, list(stored), date=(date or "").strip(), source=(source or "").strip()
                )
        except Exception as exc:
            for path in stored:
                path.unlink(missing_ok=True)
            message = str(exc)
            for path, name in stored.items():  # name the file as the staff member knows it
                message = message.replace(str(path), name)
            raise UploadError(f"导入失败，库中内容未改变：{message}") from exc
        step(0.6, desc="更新索引")
        with self.index_lock.writing():
            self.runtime.searcher.sync(progress=False)
        step(1.0, desc="完成")
        return (
            f"已导入 {len(stored)} 个文件：新增 {len(result.added)} 篇，更新 {len(result.replaced)} 篇，"
            f"未变 {len(result.unchanged)} 篇。"
        )

    def staff_status(self, session: Any) -> str:
        """What `newsqa doctor` shows, for the running app: CPU, kernels and speeds, model, indexes."""
        self._require_staff(session)
        from newsqa.doctor import collect, format_report

        return format_report(collect(self.settings, self.runtime, wait_s=0))

    # -- evaluators ------------------------------------------------------------------------------------------

    def run_eval(self, bundled: bool, upload: Any, progress: Any = None) -> tuple[list[list[str]], str | None]:
        """Run a question set against the app's own store and assistant; returns summary rows and report path."""
        from eval import report, runner
        from eval.questions import QuestionError, load_questions
        from eval.summary import summarize
        from eval.target import EvalTarget

        if upload:
            path = store_upload(getattr(upload, "name", upload), self.uploads_dir, allowed_roots=self.upload_roots)
        elif bundled and BUNDLED_QUESTIONS.is_file():
            path = BUNDLED_QUESTIONS
        else:
            raise UploadError("请上传问题集文件（.jsonl），或选择自带的示例问题集。")
        try:
            questions = load_questions(path)
        except QuestionError as exc:  # name the file as the evaluator knows it, not our stored copy
            name = _original_name(getattr(upload, "name", upload)) if upload else path.name
            raise UploadError(str(exc).replace(str(path), name)) from exc
        if not questions:
            raise UploadError("问题集是空的。")
        rt = self.runtime
        # the app's own store and assistant; the target only lends its loader for closed-context questions
        target = EvalTarget(settings=self.settings, store=rt.store, searcher=self.searcher, assistant=rt.assistant)
        step = progress if progress is not None else (lambda *a, **k: None)
        records = []
        start = time.perf_counter()
        for i, q in enumerate(questions):
            step(i / len(questions), desc=f"第 {i + 1}/{len(questions)} 题")
            records.append(
                runner.run_question(q, searcher=self.searcher, assistant=rt.assistant, load_context=target.load_context)
            )
        wall = time.perf_counter() - start
        summary = summarize(
            records,
            wall,
            {
                "questions": path.name,
                "generator": self.settings.generator.backend,
                "embedder": self.settings.embedder.backend,
                "run_from": "web app",
            },
        )
        out = self.reports_dir / time.strftime("%Y%m%d-%H%M%S")
        paths = report.write_run(out, summary, records)
        step(1.0, desc="完成")
        return summary_rows(summary), str(paths["report"])


def summary_rows(summary: Mapping[str, Any], prefix: str = "") -> list[list[str]]:
    """Flatten the summary's numbers into (metric, value) rows for a table."""
    rows: list[list[str]] = []
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if key in ("meta", "categories", "by_category"):
                continue
            rows.extend(summary_rows(value, name + "."))
        elif isinstance(value, bool | int | float) or value is None:
            rows.append([name, "—" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))])
    return rows
