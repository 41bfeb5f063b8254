"""The web app: residents ask questions about the news, staff manage the articles, evaluators run question sets.

Run with `newsqa serve` (or `python app.py`). Handlers live on `NewsApp` in `newsqa/webapp.py` so they can be tested
without a browser; this file only builds the page and wires them to Gradio components.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import gradio as gr

from core.config import Settings, load_settings
from newsqa.render import CSS
from newsqa.runtime import open_runtime
from newsqa.staff import StaffCredentials, StaffRefused
from newsqa.uploads import UPLOAD_SUFFIXES, UploadError
from newsqa.webapp import BUNDLED_QUESTIONS, MAX_QUESTION_CHARS, Messages, NewsApp, example_questions

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
    # Up to `app.concurrency` questions are worked on at once in the "answer" group: each is searched and quoted
    # at once and waits, with its place shown, only for the model (assistant.turns). Beyond that a question waits
    # in Gradio's bounded queue (`queue_size`). Cheap events (clear, feedback, article list) are outside the group
    # with no limit, so the page stays responsive while answers stream.
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
    examples = example_questions(app.runtime.store)  # the sample page's, or of the newest articles of the store
    gr.Examples(examples=[[q] for q in examples], inputs=[box], label="示例问题")
    pending = gr.State("")
    busy = gr.State(False)  # this browser's question is being answered: a second one waits in the box

    def take(message: str, answering: bool) -> tuple[Any, ...]:
        if answering:  # raising stops the chain: the question stays in the box, nothing is lost
            raise gr.Error("上一个问题还在回答，请稍候再发送；您的问题还在输入框里。", duration=4)
        return "", message, True, gr.update(interactive=False)

    def done() -> tuple[Any, ...]:
        return False, gr.update(interactive=True)

    for trigger in (box.submit, send.click):
        trigger(take, [box, busy], [box, pending, busy, send], queue=False, api_visibility="private").success(
            app.respond,
            [pending, chatbot],
            [chatbot],
            concurrency_id="answer",
            concurrency_limit=app.settings.app.concurrency,
            api_visibility="private",
        ).then(done, None, [busy, send], queue=False, api_visibility="private")
    clear.click(lambda: [], None, [chatbot], queue=False, api_visibility="private")
    # the model reads the passages of a question while it is typed (the latest keystroke only; cheap, not queued)
    box.input(
        app.typing,
        [box, chatbot],
        None,
        queue=False,
        trigger_mode="always_last",
        show_progress="hidden",
        api_visibility="private",
    )

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
        with gr.Accordion("系统状态（CPU、模型内核与速度、索引）", open=False):
            status_btn = gr.Button("刷新", elem_id="staff-status-refresh")
            status = gr.Textbox(show_label=False, lines=14, interactive=False, elem_id="staff-status")
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
    status_btn.click(_staff_guard(app.staff_status), [session], [status], concurrency_limit=None, **private)
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


def listen_address(settings: Settings, environ: dict[str, str] | None = None) -> tuple[str, int]:
    """newsqa's own host and port where set, else Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, else the
    defaults (127.0.0.1:7860)."""
    environ = os.environ if environ is None else environ
    host = settings.app.host or environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    try:
        port = settings.app.port or int(environ.get("GRADIO_SERVER_PORT") or 7860)
    except ValueError:
        raise ValueError(f"GRADIO_SERVER_PORT is not a port number: {environ['GRADIO_SERVER_PORT']!r}") from None
    return host, port


def main(settings: Settings | None = None) -> None:
    """Open the runtime for the data directory and serve the app until interrupted (`newsqa serve`)."""
    settings = settings or load_settings()
    host, port = listen_address(settings)
    # keep Gradio's upload folder inside the data directory, so uploads never land elsewhere on the server
    gradio_tmp = settings.home / "tmp" / "gradio"
    gradio_tmp.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(gradio_tmp)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # our own progress at INFO; libraries only when something is wrong (FAISS logs which CPU build it loads)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("newsqa", "assistant", "index", "corpus", "eval"):
        logging.getLogger(name).setLevel(logging.INFO)
    runtime = open_runtime(settings, progress=True, model_role="serve")  # `newsqa ask` may then ask its model
    runtime.warm()
    app = NewsApp(settings, runtime, staff=StaffCredentials.from_env(), upload_roots=[gradio_tmp])
    demo = build_demo(app)
    demo.launch(
        server_name=host,
        server_port=port,
        css=CSS,
        max_file_size=f"{settings.app.max_upload_mb}mb",
        footer_links=[],
        show_error=False,
        quiet=True,  # Gradio's own lines include a hint about share=True that does not apply here
        prevent_thread_lock=True,
    )
    print(startup_summary(runtime, f"http://{host}:{port}"), flush=True)
    worker = getattr(runtime.assistant.generator, "worker", None)
    if worker is not None:
        print(model_status_line(runtime, wait_s=None), flush=True)
    try:
        demo.block_thread()
    finally:
        runtime.close()


def startup_summary(runtime: Any, url: str) -> str:
    """What a user needs on start: where to go, what the corpus holds, which models answer, how to stop."""
    store = runtime.store
    dates = sorted(a.date for a in store.articles() if a.date)
    covered = f"，{dates[0]}～{dates[-1]}" if dates else ""
    generator = runtime.assistant.generator
    model = getattr(generator, "name", "") or "不用模型（直接摘录原文）"
    lines = [
        f"新闻问答已启动：{url}",
        f"  资料：{store.count()} 篇文章，{sum(store.chunk_counts().values())} 个片段{covered}",
        f"  检索模型：{runtime.searcher.embedder.name}（已加载）",
        f"  生成模型：{model}",
        "  停止服务：按 Ctrl+C",
    ]
    return "\n".join(lines)


def model_status_line(runtime: Any, *, wait_s: float | None) -> str:
    """The local model's state once it is loaded (or why it is not)."""
    worker = runtime.assistant.generator.worker
    try:
        worker.url(timeout_s=wait_s)
    except Exception as exc:  # the line says why; the app still answers with quotations
        return f"  生成模型不可用，回答将直接摘自原文：{exc}"
    status = worker.status()
    warm = status.warmup
    speed = (
        f"，读提示 {warm['prompt_tps']:.0f} 词元/秒，生成 {warm['gen_tps']:.0f} 词元/秒" if "prompt_tps" in warm else ""
    )
    kernels = f"，CPU 内核 {status.plan.label}" if status.plan else ""
    return f"  生成模型已就绪（已预热{speed}{kernels}）"


if __name__ == "__main__":
    main()
