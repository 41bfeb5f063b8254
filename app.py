"""The web app: residents ask questions about the news, staff manage the articles, evaluators run question sets.

Run with `newsqa serve` (or `python app.py`). Handlers live on `NewsApp` so they can be tested without a browser;
`build_demo` only wires them to Gradio components.
"""

from __future__ import annotations

import hmac
import html
import itertools
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.feedback import FeedbackLog
from assistant.render import CSS, byline, is_error, read_rendered, render_answer, render_error, render_partial
from newsqa.config import Settings, load_settings

log = logging.getLogger("newsqa.app")

EXAMPLE_QUESTIONS = (
    "垃圾分类条例什么时候施行？",
    "武高新2023年规上工业总产值是多少？",
    "乔俊杰调研了哪里的安全生产工作？",
    "武高新的战略新兴产业产值占比是多少？",
)
UPLOAD_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")  # what `newsqa ingest` reads
MAX_QUESTION_CHARS = 500
BUNDLED_QUESTIONS = Path(__file__).parent / "corpus" / "sample" / "questions.jsonl"
THINKING = "⏳ 正在查找相关报道……"

Messages = list[dict[str, Any]]


# -- staff credentials -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffCredentials:
    user: str
    password: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StaffCredentials | None:
        """NEWSQA_STAFF_USER and NEWSQA_STAFF_PASSWORD, or None (desk off) unless both are set and non-empty."""
        env = os.environ if environ is None else environ
        user, password = env.get("NEWSQA_STAFF_USER", ""), env.get("NEWSQA_STAFF_PASSWORD", "")
        return cls(user, password) if user and password else None

    def check(self, user: str, password: str) -> bool:
        # compare both fields in full every time so the timing says nothing about which one was wrong
        ok_user = hmac.compare_digest((user or "").encode("utf-8"), self.user.encode("utf-8"))
        ok_password = hmac.compare_digest((password or "").encode("utf-8"), self.password.encode("utf-8"))
        return ok_user and ok_password


class StaffRefused(Exception):
    """A staff action was attempted without a logged-in session."""


# -- uploads -----------------------------------------------------------------------------------------------------


class UploadError(ValueError):
    """An upload breaks a limit; the message is shown to the staff member as is."""


def _original_name(path: str | Path) -> str:
    """The client's file name as Gradio kept it, for messages only (never used to build a path)."""
    return Path(str(path)).name


def check_uploads(paths: Sequence[str | Path], *, max_files: int, max_mb: int) -> None:
    """Refuse the whole upload, with a message saying which file and why, when it breaks a limit."""
    if not paths:
        raise UploadError("请先选择要上传的文件。")
    if len(paths) > max_files:
        raise UploadError(f"一次最多上传 {max_files} 个文件，这次选了 {len(paths)} 个。")
    for p in paths:
        name = _original_name(p)
        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise UploadError(f"不支持的文件类型“{name}”：只接受 {'、'.join(UPLOAD_SUFFIXES)} 文件。")
        try:
            size = Path(p).stat().st_size
        except OSError as exc:
            raise UploadError(f"读不到上传的文件“{name}”，请重新上传。") from exc
        if size > max_mb * 1024 * 1024:
            raise UploadError(f"文件“{name}”有 {size / 1024 / 1024:.1f} MB，超过了 {max_mb} MB 的上限。")


def check_inside(src: str | Path, allowed_roots: Sequence[Path]) -> Path:
    """`src` resolved, if it lies inside one of `allowed_roots` (Gradio's upload folder), so that a crafted API
    call cannot make the app read any other file on the server."""
    source = Path(src).resolve()
    if not any(source.is_relative_to(Path(root).resolve()) for root in allowed_roots):
        raise UploadError(f"文件“{_original_name(src)}”不在上传目录中，已拒绝。")
    return source


def store_upload(src: str | Path, uploads_dir: Path, *, allowed_roots: Sequence[Path]) -> Path:
    """Copy an uploaded file into `uploads_dir` under a generated name; only the (checked) suffix is kept."""
    source = check_inside(src, allowed_roots)
    suffix = source.suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise UploadError(f"不支持的文件类型“{_original_name(src)}”。")
    uploads_dir.mkdir(parents=True, exist_ok=True)
    target = uploads_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:12]}{suffix}"
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return target


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

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
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

    # -- residents -------------------------------------------------------------------------------------------

    def _article(self, article_id: str):
        return self.runtime.store.get(article_id)

    def respond(self, message: str, history: Sequence[Mapping[str, Any]] | None) -> Iterator[Messages]:
        """Stream the answer to `message`: the chat with the reply so far, then the final one with citations."""
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
        pieces: list[str] = []
        try:
            events = self.runtime.assistant.stream(question, plain_history(history))
            # retrieval happens before the first event; the lock is not held while the model keeps writing, so
            # an abandoned stream can never leave the index locked
            with self.index_lock.reading():
                first = next(events, None)
            for kind, value in itertools.chain([first] if first else [], events):
                if kind == "token":
                    pieces.append(value)
                    yield [*shown, {"role": "assistant", "content": render_partial("".join(pieces))}]
                elif kind == "answer":
                    yield [*shown, {"role": "assistant", "content": render_answer(value, self._article)}]
                    return
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

    # -- evaluators ------------------------------------------------------------------------------------------

    def run_eval(self, bundled: bool, upload: Any, progress: Any = None) -> tuple[list[list[str]], str | None]:
        """Run a question set against the app's own store and assistant; returns summary rows and report path."""
        from eval import report, runner
        from eval.questions import QuestionError, load_questions

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
        target = runner.EvalTarget(settings=self.settings, store=rt.store, searcher=rt.searcher, assistant=rt.assistant)
        step = progress if progress is not None else (lambda *a, **k: None)
        records = []
        start = time.perf_counter()
        for i, q in enumerate(questions):
            step(i / len(questions), desc=f"第 {i + 1}/{len(questions)} 题")
            with self.index_lock.reading():
                records.append(
                    runner.run_question(
                        q, searcher=rt.searcher, assistant=rt.assistant, load_context=target.load_context
                    )
                )
        wall = time.perf_counter() - start
        summary = runner.summarize(
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


# -- the page ----------------------------------------------------------------------------------------------------


def _staff_guard(fn):
    """Turn a refused or failed staff action into a visible message instead of a server error."""

    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (StaffRefused, UploadError) as exc:
            raise gr.Error(str(exc)) from None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def build_demo(app: NewsApp) -> gr.Blocks:
    settings = app.settings
    with gr.Blocks(title="新闻问答") as demo:
        gr.Markdown("## 新闻问答\n根据本地报纸的报道回答问题，每句话都标出处：点击 [1] 这样的编号可查看原文。")
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                _chat_tab(app)
            with gr.Tab("工作人员", id="staff"):
                _staff_tab(app)
            with gr.Tab("评测", id="eval"):
                _eval_tab(app)
    # Generating an answer keeps the CPU busy and the local model is loaded once per process, so answers are
    # generated `app.concurrency` at a time (1 by default) in the "answer" group; everyone else waits in a
    # bounded queue (`queue_size`) and sees their position. Cheap events (clear, feedback, article list) are
    # outside that group with no limit, so the page stays responsive while an answer streams.
    demo.queue(default_concurrency_limit=settings.app.concurrency, max_size=settings.app.queue_size)
    return demo


def _chat_tab(app: NewsApp) -> None:
    chatbot = gr.Chatbot(
        label="对话",
        height=520,
        elem_id="chat",
        latex_delimiters=[],
        buttons=["copy"],
        placeholder="请在下面输入问题，或点一个示例问题。",
        feedback_options=("Like", "Dislike"),
    )
    with gr.Row():
        box = gr.Textbox(
            placeholder="输入问题，按回车发送",
            show_label=False,
            scale=8,
            elem_id="question",
            max_length=MAX_QUESTION_CHARS * 2,
        )
        send = gr.Button("发送", variant="primary", scale=1, elem_id="send")
        clear = gr.Button("清空对话", scale=1, elem_id="clear")
    gr.Examples(examples=[[q] for q in EXAMPLE_QUESTIONS], inputs=[box], label="示例问题")
    pending = gr.State("")

    def take(message: str) -> tuple[str, str]:
        return "", message

    for trigger in (box.submit, send.click):
        trigger(take, [box], [box, pending], queue=False, api_visibility="private").then(
            app.respond,
            [pending, chatbot],
            [chatbot],
            concurrency_id="answer",
            concurrency_limit=app.settings.app.concurrency,
            api_visibility="private",
        )
    clear.click(lambda: [], None, [chatbot], queue=False, api_visibility="private")

    def on_like(history: Messages, data: gr.LikeData) -> None:
        gr.Info(app.record_feedback(history, data.index, data.liked))

    chatbot.like(on_like, [chatbot], None, concurrency_limit=None, api_visibility="private")


def _staff_tab(app: NewsApp) -> None:
    if app.staff is None:
        gr.Markdown(
            "工作人员入口**未开启**：需要在启动前设置环境变量 `NEWSQA_STAFF_USER` 和 `NEWSQA_STAFF_PASSWORD`。",
            elem_id="staff-off",
        )
        return
    session = gr.State(False)  # per browser session, kept on the server: API callers cannot set it
    with gr.Column(visible=True) as login_box:
        user = gr.Textbox(label="用户名", elem_id="staff-user")
        password = gr.Textbox(label="密码", type="password", elem_id="staff-password")
        login = gr.Button("登录", variant="primary")
        login_msg = gr.Markdown()
    with gr.Column(visible=False) as desk:
        with gr.Row():
            limits = app.settings.app
            files = gr.File(
                label=f"上传文章（{'、'.join(UPLOAD_SUFFIXES)}；最多 {limits.max_upload_files} 个，"
                f"每个不超过 {limits.max_upload_mb} MB）",
                file_count="multiple",
                file_types=list(UPLOAD_SUFFIXES),
                elem_id="staff-upload",
                type="filepath",
            )
            with gr.Column():
                date = gr.Textbox(label="日期（文件中没有时使用，YYYY-MM-DD）")
                source = gr.Textbox(label="来源（如 武进日报）")
                upload = gr.Button("导入", variant="primary")
        upload_msg = gr.Markdown()
        table = gr.Dataframe(
            headers=["编号", "标题", "日期", "来源", "记者", "片段数"], interactive=False, label="库中文章", wrap=True
        )
        with gr.Row():
            pick = gr.Dropdown(label="选择文章", choices=[], scale=4)
            open_btn = gr.Button("查看", scale=1)
            confirm = gr.Checkbox(label="确认删除", value=False, scale=1)
            remove = gr.Button("删除", variant="stop", scale=1)
        view = gr.HTML()
        logout = gr.Button("退出登录")

    def do_login(u: str, p: str) -> tuple[Any, ...]:
        ok, message = app.staff_login(u, p)
        rows, choices = (app.staff_articles(True), app.staff_choices(True)) if ok else ([], [])
        return (
            ok,
            message,
            gr.update(visible=not ok),
            gr.update(visible=ok),
            rows,
            gr.update(choices=choices, value=None),
            "",
        )

    def refresh(session_ok: Any) -> tuple[Any, Any]:
        return app.staff_articles(session_ok), gr.update(choices=app.staff_choices(session_ok), value=None)

    def do_upload(f: Any, d: str, s: str, session_ok: Any, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        return app.staff_upload(f, d, s, session_ok, progress=progress)

    def do_logout() -> tuple[Any, ...]:
        return False, "已退出。", gr.update(visible=True), gr.update(visible=False), [], gr.update(choices=[]), ""

    private = {"api_visibility": "private"}
    login.click(
        do_login,
        [user, password],
        [session, login_msg, login_box, desk, table, pick, password],
        concurrency_limit=None,
        **private,
    )
    password.submit(
        do_login,
        [user, password],
        [session, login_msg, login_box, desk, table, pick, password],
        concurrency_limit=None,
        **private,
    )
    upload.click(
        _staff_guard(do_upload),
        [files, date, source, session],
        [upload_msg],
        concurrency_id="index",
        concurrency_limit=1,
        **private,
    ).then(_staff_guard(refresh), [session], [table, pick], concurrency_limit=None, **private)
    open_btn.click(_staff_guard(app.staff_open), [pick, session], [view], concurrency_limit=None, **private)
    remove.click(
        _staff_guard(app.staff_remove),
        [pick, confirm, session],
        [upload_msg],
        concurrency_id="index",
        concurrency_limit=1,
        **private,
    ).then(_staff_guard(refresh), [session], [table, pick], concurrency_limit=None, **private)
    logout.click(do_logout, None, [session, login_msg, login_box, desk, table, pick, view], queue=False, **private)


def _eval_tab(app: NewsApp) -> None:
    gr.Markdown(
        "用一组问题测一测问答效果：每题记录是否答对、引用是否准确、用时多少，并生成 HTML 报告。"
        "评测与居民问答共用同一个模型，运行期间问答会排队。"
    )
    with gr.Row():
        bundled = gr.Checkbox(
            label="使用自带的示例问题集（corpus/sample/questions.jsonl）",
            value=True,
            interactive=BUNDLED_QUESTIONS.is_file(),
        )
        upload = gr.File(
            label="或上传问题集（.jsonl；上传后优先用它）",
            file_types=[".jsonl"],
            type="filepath",
            elem_id="eval-upload",
        )
    run = gr.Button("开始评测", variant="primary")
    table = gr.Dataframe(headers=["指标", "数值"], interactive=False, label="结果汇总")
    report = gr.File(label="HTML 报告", interactive=False)

    def do_run(b: bool, f: Any, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any]:  # noqa: B008
        try:
            return app.run_eval(b, f, progress=progress)
        except Exception as exc:
            raise gr.Error(f"评测没能完成：{exc}") from None

    # shares the "answer" group: the model is one per process, so an evaluation queues with residents' questions
    run.click(
        do_run,
        [bundled, upload],
        [table, report],
        concurrency_id="answer",
        concurrency_limit=app.settings.app.concurrency,
        api_visibility="private",
    )


# -- entry point -------------------------------------------------------------------------------------------------


def main(settings: Settings | None = None) -> None:
    """Open the runtime for the data directory and serve the app until interrupted (`newsqa serve`)."""
    from newsqa.runtime import open_runtime

    settings = settings or load_settings()
    # keep Gradio's upload folder inside the data directory, so uploads never land elsewhere on the server
    gradio_tmp = settings.home / "tmp" / "gradio"
    gradio_tmp.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(gradio_tmp)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up probes, one line per request
    runtime = open_runtime(settings, progress=True)
    app = NewsApp(settings, runtime, staff=StaffCredentials.from_env(), upload_roots=[gradio_tmp])
    demo = build_demo(app)
    demo.launch(
        server_name=settings.app.host,
        server_port=settings.app.port,
        css=CSS,
        max_file_size=f"{settings.app.max_upload_mb}mb",
        footer_links=[],
        show_error=False,
    )


if __name__ == "__main__":
    main()
