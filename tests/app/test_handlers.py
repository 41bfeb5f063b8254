"""The web app's handlers, called directly with a fake assistant and a real store in a temp directory."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import pytest

from app import build_demo
from assistant.feedback import FeedbackLog
from core.config import Settings
from core.types import Answer, Citation
from corpus.ingest import ingest_sample
from corpus.store import Store
from newsqa import webapp
from newsqa.render import read_rendered, render_answer, render_progress
from newsqa.staff import StaffCredentials, StaffRefused
from newsqa.uploads import UploadError
from newsqa.webapp import MAX_QUESTION_CHARS, THINKING, NewsApp, ReadWriteLock, _content_text
from tests.support.assistants import FakeAssistant, cited_answer
from tests.support.news import GARBAGE, chunk_of, make_article
from tests.support.runtime import FakeRuntime
from tests.support.searchers import FakeSearcher

STAFF = StaffCredentials("editor", "s3cret-pass")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home").override({"app": {"max_upload_mb": 1, "max_upload_files": 3}})


@pytest.fixture
def runtime(settings: Settings) -> Iterator[FakeRuntime]:
    store = Store(settings.db_path)
    store.put([(GARBAGE, [chunk_of(GARBAGE)])])
    yield FakeRuntime(settings, store, FakeSearcher([GARBAGE], [chunk_of(GARBAGE)]), FakeAssistant())
    store.close()


@pytest.fixture
def upload_root(tmp_path: Path) -> Path:
    root = tmp_path / "gradio-uploads"
    root.mkdir()
    return root


def make_app(runtime: FakeRuntime, upload_root: Path | None = None, staff=STAFF) -> NewsApp:
    return NewsApp(runtime.settings, runtime, staff=staff, upload_roots=[upload_root] if upload_root else ())


def content(message: dict) -> str:
    return _content_text(message["content"])


# -- residents' chat ---------------------------------------------------------------------------------------------


def test_respond_streams_partial_text_then_the_cited_answer(runtime):
    steps = list(make_app(runtime).respond("垃圾分类条例什么时候施行？", []))
    assert len(steps) >= 4  # placeholder, several partial replies, the final answer
    assert steps[0][-1]["content"] == THINKING
    partial = [content(s[-1]) for s in steps[1:-1]]
    assert all("nq-streaming" in p for p in partial)
    assert len({len(p) for p in partial}) > 1, "the partial replies should grow"
    final = content(steps[-1][-1])
    assert "nq-streaming" not in final
    assert "9月1日" in final
    assert 'class="nq-cite"' in final and "[1]</summary>" in final
    assert "常州市生活垃圾分类管理条例" in final  # the source title is in the citation and the sources panel
    assert "记者 王晓" in final and "2024-02-02" in final
    assert "<mark>将于2024年9月1日起正式施行</mark>" in final
    assert [m["role"] for m in steps[-1]] == ["user", "assistant"]


def test_unverified_sentence_is_visibly_marked(runtime):
    final = content(list(make_app(runtime).respond("垃圾分类条例什么时候施行？", []))[-1][-1])
    assert 'class="nq-unverified"' in final
    marked = final.split('class="nq-unverified"', 1)[1]
    assert "⚠" in marked[:200] and "违者最高罚款五千元" in marked[:300]


def test_script_from_an_article_is_escaped(runtime):
    citation = cited_answer().citations[0]
    start = GARBAGE.text.index("<script>")
    hostile = Citation(**{**citation.__dict__, "start": start, "end": len(GARBAGE.text), "quote": GARBAGE.text[start:]})
    answer = Answer(
        question="q", text="条例另有规定<b onclick=x>粗体</b>[1]。", citations=(hostile,), hits=cited_answer().hits
    )
    runtime.assistant.answers.append(answer)
    final = content(list(make_app(runtime).respond("条例还规定了什么？", []))[-1][-1])
    assert "<script" not in final and "onerror" not in final.replace("onerror=alert(1)&gt;", "")
    assert "<img" not in final and "<b onclick" not in final
    assert "&lt;script&gt;alert" in final  # shown as text, not dropped silently
    assert "&lt;img src=x onerror=alert(1)&gt;" in final


def test_user_message_is_escaped(runtime):
    steps = list(make_app(runtime).respond("<img src=x onerror=alert(1)>条例？", []))
    assert steps[-1][0]["content"].startswith("&lt;img")
    assert runtime.assistant.calls[0][0] == "<img src=x onerror=alert(1)>条例？"


def test_follow_up_gets_the_plain_history(runtime):
    a = make_app(runtime)
    first = list(a.respond("垃圾分类条例什么时候施行？", []))[-1]
    # Gradio hands the history back with content as a list of text parts
    returned = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in first]
    list(a.respond("违反了怎么处罚？", returned))
    question, history = runtime.assistant.calls[-1]
    assert question == "违反了怎么处罚？"
    assert history == [("垃圾分类条例什么时候施行？", "条例自2024年9月1日起施行[1]。违者最高罚款五千元。")]


def test_error_messages_are_left_out_of_the_history(runtime):
    a = make_app(runtime)
    runtime.assistant.fail = RuntimeError("boom")
    failed = list(a.respond("条例什么时候施行？", []))[-1]
    runtime.assistant.fail = None
    list(a.respond("那罚款呢？", failed))
    assert runtime.assistant.calls[-1] == ("那罚款呢？", [])


def test_refusal_is_shown_with_the_closest_articles(runtime):
    hit = cited_answer().hits[0]
    runtime.assistant.answers.append(
        Answer(question="q", text="抱歉，资料中没有找到关于地铁票价的信息。", hits=(hit,), refused=True)
    )
    final = content(list(make_app(runtime).respond("地铁票价多少？", []))[-1][-1])
    assert "nq-refusal" in final and "没有找到" in final
    assert "可能相关的文章" in final and "常州市生活垃圾分类管理条例" in final


def test_empty_and_overlong_questions(runtime):
    a = make_app(runtime)
    assert list(a.respond("   ", [])) == [[]]
    final = content(list(a.respond("问" * (MAX_QUESTION_CHARS + 1), []))[-1][-1])
    assert "问题太长" in final
    assert runtime.assistant.calls == []


def test_assistant_failure_becomes_a_message(runtime):
    runtime.assistant.fail = RuntimeError("model file missing")
    final = content(list(make_app(runtime).respond("条例？", []))[-1][-1])
    assert "出错" in final and "model file missing" not in final


def test_feedback_is_one_json_line_with_question_answer_and_citations(runtime):
    a = make_app(runtime)
    history = list(a.respond("垃圾分类条例什么时候施行？", []))[-1]
    assert a.record_feedback(history, 1, False) == "谢谢您的反馈！"
    assert a.record_feedback(history, 0, True) == "这条消息不能评价。"  # the user's own message
    lines = runtime.settings.feedback_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["vote"] == "dislike" and record["question"] == "垃圾分类条例什么时候施行？"
    assert record["answer"].startswith("条例自2024年9月1日起施行[1]")
    assert record["citations"][0]["article_id"] == "garbage"
    assert record["citations"][0]["quote"] == "将于2024年9月1日起正式施行"


def test_feedback_log_keeps_lines_whole_under_concurrent_writers(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    text = "长" * 5000  # longer than a pipe buffer, so interleaving would show

    def write(i: int) -> None:
        for j in range(20):
            log.append({"i": i, "j": j, "text": text})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = log.read()
    assert len(records) == 80 and all(r["text"] == text for r in records)


def test_progress_says_how_many_of_the_found_passages_the_model_reads():
    def status(**kw) -> str:
        return render_progress("reading", None, {}, **kw)

    assert "正在阅读找到的 4 段报道中最相关的 1 段" in status(sources=1, found=4)
    assert "正在阅读找到的 4 段报道……" in status(sources=4, found=4)
    assert "正在阅读找到的 3 段报道……" in status(sources=3)  # a caller that does not say how many were found


def test_rendered_answer_reads_back_to_text_and_sources():
    html = render_answer(cited_answer(), {GARBAGE.id: GARBAGE})
    # the sentence's full stop comes before its marker, so an opened source follows the whole sentence
    assert '起施行。<details class="nq-cite" data-n="1"' in html
    text, sources = read_rendered(html)
    assert text == "条例自2024年9月1日起施行[1]。违者最高罚款五千元。"
    assert [(s.n, s.article_id) for s in sources] == [(1, "garbage")]


def test_citation_of_a_removed_article_still_shows_the_quote():
    html = render_answer(cited_answer(), {})
    assert "<mark>将于2024年9月1日起正式施行</mark>" in html
    assert "常州市生活垃圾分类管理条例" in html  # the title carried by the citation itself


# -- staff desk --------------------------------------------------------------------------------------------------


def test_staff_desk_is_off_without_both_credentials():
    assert StaffCredentials.from_env({}) is None
    assert StaffCredentials.from_env({"NEWSQA_STAFF_USER": "editor"}) is None
    assert StaffCredentials.from_env({"NEWSQA_STAFF_USER": "editor", "NEWSQA_STAFF_PASSWORD": ""}) is None
    creds = StaffCredentials.from_env({"NEWSQA_STAFF_USER": "editor", "NEWSQA_STAFF_PASSWORD": "pw"})
    assert creds == StaffCredentials("editor", "pw")


def test_staff_login_checks_both_fields(runtime, monkeypatch):
    monkeypatch.setattr(webapp.time, "sleep", lambda s: None)
    a = make_app(runtime)
    assert a.staff_login("editor", "s3cret-pass") == (True, "已登录。")
    assert a.staff_login("editor", "wrong")[0] is False
    assert a.staff_login("other", "s3cret-pass")[0] is False
    assert a.staff_login("", "")[0] is False
    off = make_app(runtime, staff=None)
    assert off.staff_login("", "") == (False, "工作人员入口未开启。")


@pytest.mark.parametrize("session", [False, None, "true", 1])
def test_staff_handlers_refuse_without_login(runtime, upload_root, session):
    a = make_app(runtime, upload_root)
    upload = upload_root / "new.txt"
    upload.write_text("标题\n正文。", encoding="utf-8")
    with pytest.raises(StaffRefused):
        a.staff_articles(session)
    with pytest.raises(StaffRefused):
        a.staff_open("garbage", session)
    with pytest.raises(StaffRefused):
        a.staff_remove("garbage", True, session)
    with pytest.raises(StaffRefused):
        a.staff_upload([str(upload)], "", "", session)
    assert runtime.store.get("garbage") is not None
    assert runtime.store.count() == 1 and runtime.searcher.syncs == 0


def test_staff_handlers_refuse_when_the_desk_is_off_even_with_a_session_flag(runtime):
    a = make_app(runtime, staff=None)
    with pytest.raises(StaffRefused):
        a.staff_remove("garbage", True, True)
    assert runtime.store.get("garbage") is not None


def test_staff_lists_opens_and_removes_articles(runtime):
    a = make_app(runtime)
    rows = a.staff_articles(True)
    assert rows == [["garbage", GARBAGE.title, "2024-02-02", "武进日报", "王晓", 1]]
    page = a.staff_open("garbage", True)
    assert "&lt;script&gt;" in page and "<script" not in page and "1 个片段" in page
    assert "确认删除" in a.staff_remove("garbage", False, True)
    assert runtime.store.get("garbage") is not None
    assert "已删除" in a.staff_remove("garbage", True, True)
    assert runtime.store.get("garbage") is None and runtime.searcher.syncs == 1


def test_upload_is_stored_under_a_generated_name_and_indexed(runtime, upload_root):
    a = make_app(runtime, upload_root)
    src = upload_root / "新闻.md"
    src.write_text("# 城区新增三座口袋公园\n\n本报讯 今年城区新增三座口袋公园，方便市民休闲。\n", encoding="utf-8")
    message = a.staff_upload([str(src)], "2024-03-01", "武进日报", True)
    assert "新增 1 篇" in message
    stored = list(a.uploads_dir.iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".md" and "新闻" not in stored[0].name
    titles = [r[1] for r in a.staff_articles(True)]
    assert "城区新增三座口袋公园" in titles
    assert runtime.searcher.syncs == 1


def test_upload_named_like_a_path_stays_inside_the_data_dir(runtime, upload_root, tmp_path):
    a = make_app(runtime, upload_root)
    # a crafted API call pointing outside Gradio's upload folder: refused before anything is read
    decoy = tmp_path / "etc" / "passwd.txt"
    decoy.parent.mkdir()
    decoy.write_text("root:x:0:0\n", encoding="utf-8")
    (upload_root / "x").mkdir()
    with pytest.raises(UploadError, match="不在上传目录"):
        a.staff_upload([str(upload_root / "x" / ".." / ".." / "etc" / "passwd.txt")], "", "", True)
    assert runtime.store.count() == 1 and not a.uploads_dir.exists()
    # a genuine upload whose client name was "../../etc/passwd.txt" (Gradio keeps only the last part)
    src = upload_root / "../../etc/passwd.txt".replace("/", "_")
    src.write_text("标题\n正文。", encoding="utf-8")
    before = {p for p in tmp_path.rglob("*")}
    a.staff_upload([str(src)], "", "", True)
    created = {p for p in tmp_path.rglob("*")} - before
    home = runtime.settings.home.resolve()
    assert created and all(p.resolve().is_relative_to(home) for p in created)
    stored = list(a.uploads_dir.iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".txt" and "passwd" not in stored[0].name
    assert decoy.read_text(encoding="utf-8") == "root:x:0:0\n"


def test_upload_limits_are_enforced_with_clear_messages(runtime, upload_root):
    a = make_app(runtime, upload_root)
    big = upload_root / "big.txt"
    big.write_bytes(b"x" * (runtime.settings.app.max_upload_mb * 1024 * 1024 + 1))
    with pytest.raises(UploadError, match="big.txt.*超过了 1 MB"):
        a.staff_upload([str(big)], "", "", True)
    pdf = upload_root / "report.pdf"
    pdf.write_bytes(b"%PDF")
    with pytest.raises(UploadError, match="不支持的文件类型“report.pdf”"):
        a.staff_upload([str(pdf)], "", "", True)
    many = []
    for i in range(runtime.settings.app.max_upload_files + 1):
        p = upload_root / f"a{i}.txt"
        p.write_text("标题\n正文。", encoding="utf-8")
        many.append(str(p))
    with pytest.raises(UploadError, match="一次最多上传 3 个文件"):
        a.staff_upload(many, "", "", True)
    with pytest.raises(UploadError, match="请先选择"):
        a.staff_upload([], "", "", True)
    assert not a.uploads_dir.exists() and runtime.store.count() == 1


def test_bad_upload_leaves_the_store_unchanged_and_names_the_file(runtime, upload_root):
    a = make_app(runtime, upload_root)
    bad = upload_root / "feed.jsonl"
    bad.write_text('{"title": "好", "text": "正文"}\n{not json\n', encoding="utf-8")
    with pytest.raises(UploadError) as err:
        a.staff_upload([str(bad)], "", "", True)
    assert "feed.jsonl" in str(err.value) and "库中内容未改变" in str(err.value)
    assert runtime.store.count() == 1 and runtime.searcher.syncs == 0
    assert list(a.uploads_dir.iterdir()) == []


def test_build_demo_wires_the_tabs(runtime):
    demo = build_demo(make_app(runtime))
    config = demo.get_config_file()
    labels = {c.get("props", {}).get("label") for c in config["components"]}
    assert {"问答", "工作人员", "评测"} <= labels
    off = build_demo(make_app(runtime, staff=None)).get_config_file()
    texts = " ".join(str(c.get("props", {}).get("value", "")) for c in off["components"])
    assert "未开启" in texts
    assert "staff-password" not in json.dumps(off, default=str)


def test_examples_are_the_sample_pages_where_the_store_holds_it_else_of_its_newest_articles(tmp_path):
    """A newsroom that loads its own articles was shown questions about 武高新 its store cannot answer."""
    settings = Settings(home=tmp_path / "sample")
    with Store(settings.db_path) as store:
        ingest_sample(settings, store)
        assert webapp.example_questions(store) == list(webapp.SAMPLE_EXAMPLES)
    own = Store(tmp_path / "own.db")
    library = make_article("lib", "图书馆新馆明起试开放", ["新馆将于2月4日起试开放。"], date="2024-02-03")
    gym = make_article("gym", "体育馆完成改造", ["体育馆完成改造。"], date="2024-02-02", reporters=("王晓雯",))
    long = make_article("long", "长" * 31, ["很长的标题。"], date="2024-02-04", reporters=("李",))
    own.put([library, gym, long])
    assert webapp.example_questions(own) == [
        "这期报纸有哪些新闻？",
        "「图书馆新馆明起试开放」讲了什么？",  # the newest with a title short enough for a button
        "「体育馆完成改造」是谁写的？",
    ]
    own.close()


def test_sources_panel_lists_each_cited_article_once_with_its_numbers():
    one = cited_answer().citations[0]
    two = Citation(**{**one.__dict__, "n": 2, "quote": "条例明确了居民分类投放的责任", "sentence": "x"})
    two = Citation(
        **{
            **two.__dict__,
            "start": GARBAGE.text.index(two.quote),
            "end": GARBAGE.text.index(two.quote) + len(two.quote),
        }
    )
    answer = Answer(question="q", text="甲[1]。乙[2]。", citations=(one, two))
    panel = render_answer(answer, {GARBAGE.id: GARBAGE}).split('class="nq-sources"', 1)[1]
    assert panel.count("<li>") == 1 and "[1][2]" in panel
    assert "<mark>条例明确了居民分类投放的责任</mark>" in panel


def test_a_list_keeps_its_lines_after_their_markers():
    """A digest ("今天有什么新闻？") or a model's list puts a marker at the end of each line: the line break after it
    was taken with the marker, and the list ran together into one paragraph."""
    one = cited_answer().citations[0]
    answer = Answer(question="q", text="共 2 篇：\n1. 条例施行[1]\n2. 条例分类[1] \n", citations=(one,))
    body = render_answer(answer, {GARBAGE.id: GARBAGE}).split('class="nq-sources"', 1)[0]
    assert re.sub(r"<details.*?</details>", "[m]", body).count("[m]<br>") == 1  # the text's end has no line after it
    assert "共 2 篇：<br>1. 条例施行" in body and "</details><br>2. 条例分类" in body


def test_an_unverified_list_item_is_marked_after_its_number():
    """ "⚠4. 加强分类投放…" read as a warning numbered 4; the mark belongs to the item's words."""
    one = cited_answer().citations[0]
    text = "要求如下：\n1. 条例施行[1]\n2. 加强分类投放\n"
    answer = Answer(question="q", text=text, citations=(one,), unverified=("2. 加强分类投放",))
    body = render_answer(answer, {GARBAGE.id: GARBAGE}).split('class="nq-sources"', 1)[0]
    assert '2. <span class="nq-unverified"' in body and "⚠</span>加强分类投放</span>" in body


def _until(condition, timeout_s: float = 5.0) -> None:
    """Wait for `condition` to hold; a test that never reaches the state it claims to test fails here."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the threads never reached the state under test"
        time.sleep(0.005)


def test_index_update_waits_for_searches_and_blocks_new_ones():
    lock = ReadWriteLock()
    order: list[str] = []
    release_writer = threading.Event()

    def write() -> None:
        with lock.writing():
            order.append("write")
            release_writer.wait(5)

    def late_read() -> None:
        with lock.reading():
            order.append("late-read")

    with lock.reading():
        writer = threading.Thread(target=write)
        writer.start()
        _until(lambda: lock.waiting == (0, 1))
        assert order == []  # the update waits for the search in progress
        late = threading.Thread(target=late_read)
        late.start()
        _until(lambda: lock.waiting == (1, 1))
        assert order == []  # a new search queues behind the waiting update
        order.append("read-done")
    _until(lambda: "write" in order)
    assert lock.waiting == (1, 0)  # the new search still waits while the update runs
    assert order == ["read-done", "write"]
    release_writer.set()
    writer.join(2)
    late.join(2)
    assert order == ["read-done", "write", "late-read"]


def test_the_assistants_searches_wait_for_an_index_update(runtime, upload_root):
    runtime.assistant.searcher = runtime.searcher
    a = make_app(runtime, upload_root)
    assert runtime.assistant.searcher is a.searcher  # every search the assistant makes goes through the lock
    found: list[int] = []

    def search() -> None:
        found.append(len(a.searcher.search("垃圾分类条例什么时候施行？", k=2)))

    with a.index_lock.writing():
        searching = threading.Thread(target=search)
        searching.start()
        _until(lambda: a.index_lock.waiting == (1, 0))
        assert found == []  # the search waits while the index is updated
    searching.join(2)
    assert found == [1] and a.index_lock.waiting == (0, 0)


# -- evaluators --------------------------------------------------------------------------------------------------


def test_evaluation_of_an_uploaded_question_set_writes_a_report(runtime, upload_root):
    a = make_app(runtime, upload_root)
    questions = upload_root / "q.jsonl"
    questions.write_text(
        '{"id": "g1", "question": "垃圾分类条例什么时候施行？", "answers": ["9月1日"], "gold_titles": ["垃圾分类"]}\n'
        '{"id": "g2", "question": "条例罚款多少？", "answers": ["一万元"]}\n',
        encoding="utf-8",
    )
    seen: list[float] = []
    rows, report = a.run_eval(False, str(questions), progress=lambda value, desc="": seen.append(value))
    metrics = dict((name, value) for name, value in rows)
    assert metrics["n"] == "2"
    assert any(name.startswith("answer.") for name in metrics)
    assert Path(report).is_file() and Path(report).resolve().is_relative_to(runtime.settings.home.resolve())
    assert "垃圾分类条例什么时候施行" in Path(report).read_text(encoding="utf-8")
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert len(runtime.assistant.calls) == 2


def test_evaluation_needs_a_question_set(runtime, monkeypatch):
    monkeypatch.setattr(webapp, "BUNDLED_QUESTIONS", Path("/nonexistent/questions.jsonl"))
    with pytest.raises(UploadError, match="请上传问题集"):
        make_app(runtime).run_eval(True, None)


def test_queue_limits_answers_and_leaves_cheap_events_free(runtime):
    runtime.settings = runtime.settings.override({"app": {"concurrency": 2, "queue_size": 7}})
    demo = build_demo(make_app(runtime))
    assert demo._queue.max_size == 7 and demo._queue.default_concurrency_limit == 2
    fns = {}
    for fn in demo.fns.values():
        fns.setdefault(fn.name, []).append(fn)
    assert all(f.concurrency_id == "answer" and f.concurrency_limit == 2 for f in fns["respond"] + fns["do_run"])
    assert all(f.concurrency_id == "index" and f.concurrency_limit == 1 for f in fns["do_upload"] + fns["staff_remove"])
    for cheap in ("on_like", "do_login", "staff_open", "refresh"):
        assert all(f.concurrency_limit is None for f in fns[cheap]), cheap
    assert all(f.api_visibility == "private" for group in fns.values() for f in group if f.name != "load_example")


def test_citation_tooltip_names_the_source_and_quote():
    html = render_answer(cited_answer(), {GARBAGE.id: GARBAGE})
    summary = html.split("<summary", 1)[1].split(">", 1)[0]
    assert "常州市生活垃圾分类管理条例" in summary and "2024-02-02" in summary
    assert "将于2024年9月1日起正式施行" in summary
    assert "<img" not in summary and "&lt;img" in summary


def test_bad_question_set_is_reported_under_its_own_name(runtime, upload_root):
    bad = upload_root / "my-questions.jsonl"
    bad.write_text('{"id": "x", "question": "好"}\n{oops\n', encoding="utf-8")
    with pytest.raises(UploadError, match="my-questions.jsonl"):
        make_app(runtime, upload_root).run_eval(False, str(bad))
    assert runtime.assistant.calls == []


@pytest.mark.parametrize(
    ("own", "environ", "expected"),
    [
        ({}, {}, ("127.0.0.1", 7860)),
        ({}, {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8080"}, ("0.0.0.0", 8080)),
        (
            {"host": "10.0.0.5", "port": 9000},
            {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8080"},
            ("10.0.0.5", 9000),
        ),
        ({"port": 9000}, {"GRADIO_SERVER_NAME": "0.0.0.0"}, ("0.0.0.0", 9000)),
    ],
)
def test_the_app_listens_where_gradio_deployments_say_unless_newsqa_is_told(own, environ, expected):
    from app import listen_address

    assert listen_address(Settings().override({"app": own}), environ) == expected


def test_a_bad_gradio_port_is_named():
    from app import listen_address

    with pytest.raises(ValueError, match="GRADIO_SERVER_PORT is not a port number: 'eighty'"):
        listen_address(Settings(), {"GRADIO_SERVER_PORT": "eighty"})


def test_a_question_being_typed_goes_to_the_reader_and_stops_there_once_sent(runtime, settings):
    class Reader:
        def __init__(self) -> None:
            self.calls: list[tuple] = []

        def typed(self, question, history, session) -> None:
            self.calls.append(("typed", question, tuple(history), session))

        def sent(self, session) -> None:
            self.calls.append(("sent", session))

    app = make_app(runtime)
    app.typing("垃圾分类条例", [])  # no reader: nothing to do, and no error
    runtime.read_ahead = reader = Reader()
    history = [{"role": "user", "content": "口袋公园在哪？"}, {"role": "assistant", "content": "在湖塘。"}]
    request = gr.Request()
    request.session_hash = "s1"
    app.typing("垃圾分类条例什么时候", history, request)
    list(app.respond("垃圾分类条例什么时候施行？", [], request))
    app.typing("口袋公园", [])  # outside a browser session
    assert reader.calls == [
        ("typed", "垃圾分类条例什么时候", (("口袋公园在哪？", "在湖塘。"),), "s1"),
        ("sent", "s1"),
        ("typed", "口袋公园", (), ""),
    ]
    off = make_app(runtime)
    off.settings = settings.override({"generator": {"read_while_typing": False}})
    off.typing("垃圾分类条例", [])
    assert len(reader.calls) == 3
