import sqlite3

import pytest

from core.types import Article, Chunk, article_id, chunk_id
from corpus.store import Store, StoreError


def make(title: str, text: str, date: str = "2024-02-02") -> tuple[Article, list[Chunk]]:
    aid = article_id(source="武进日报", date=date, title=title)
    article = Article(id=aid, title=title, text=text, date=date, source="武进日报", reporters=("朱梦琪",))
    half = len(text) // 2
    chunks = [
        Chunk(chunk_id(aid, s, e, text[s:e]), aid, i, 0, s, e, text[s:e])
        for i, (s, e) in enumerate([(0, half), (half, len(text))])
    ]
    return article, chunks


def test_put_is_idempotent_and_replaces_changed_articles(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    a, ca = make("条例施行", "该条例将于2024年9月1日起施行。条例共九章、五十八条。")
    b, cb = make("口袋公园", "公园面积约7200平方米。目前已建成投用。")
    first = store.put([(a, ca), (b, cb)])
    assert sorted(first.added) == sorted([a.id, b.id])
    version = store.version
    again = store.put([(a, ca), (b, cb)])
    assert again.unchanged == [a.id, b.id] and not again.changed
    assert store.version == version  # nothing changed, so indexes need no work

    a2, ca2 = make("条例施行", "该条例将于2024年9月1日起施行。条例共九章。")
    assert a2.id == a.id  # same source, date and title: the same article
    result = store.put([(a2, ca2)])
    assert result.replaced == [a.id]
    assert store.get(a.id).text == a2.text
    assert {c.id for c in store.chunks_of(a.id)} == {c.id for c in ca2}
    assert store.chunk_ids() == {c.id for c in ca2 + cb}
    assert store.version == version + 1


def test_dated_counts_a_period_and_lists_its_newest_first(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    days = ["2024-02-01", "2024-02-02"] * 2
    items = [make(f"报道{i}", "昨天上午，我区召开会议。", day) for i, day in enumerate(days)]
    items.append(make("无日期", "没有日期的报道。", ""))
    store.put(items)
    total, newest = store.dated("2024-02-02", "2024-02-02", limit=1)
    assert total == 2 and [a.title for a in newest] == ["报道1"]  # the day's first added
    total, every = store.dated()
    assert total == 4 and [a.date for a in every] == ["2024-02-02"] * 2 + ["2024-02-01"] * 2  # undated left out
    assert store.dated("2024-02-03") == (0, []) and store.dated(last="2024-02-01")[0] == 2
    assert [a.title for a in store.dated("2024-02-02", "2024-02-02", limit=5, offset=1)[1]] == ["报道3"]
    assert [a.date for a in store.titled("报道1")] == ["2024-02-02"] and store.titled("报道") == []


def test_credited_finds_the_articles_a_reporter_or_photographer_signed(tmp_path):
    from dataclasses import replace

    store = Store(tmp_path / "db.sqlite")
    older, newer = make("旧报道", "昨天上午，我区召开会议。", "2024-02-01"), make("新报道", "今天上午，我区召开会议。")
    photo = make("图片新闻", "公园已建成投用。", "2024-02-03")
    photo = (replace(photo[0], reporters=(), photographers=("陆新", "徐晶玮")), photo[1])
    store.put([older, newer, photo])
    total, found = store.credited("朱梦琪")
    assert total == 2 and [a.title for a in found] == ["新报道", "旧报道"]  # newest first
    assert store.credited("徐晶玮")[1][0].title == "图片新闻" and store.credited("朱梦", limit=5) == (0, [])
    assert store.credited("%") == (0, []) and store.credited("朱梦琪", limit=1)[0] == 2
    assert store.credited("朱%") == store.credited("_梦琪") == (0, [])  # wildcards are taken as written


def test_chunks_round_trip_and_offsets(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    a, ca = make("会议", "昨天上午，我区召开会议。会议强调，要落实责任。")
    store.put([(a, ca)])
    stored = store.get(a.id)
    assert stored == a
    for c in store.chunks_of(a.id):
        assert stored.text[c.start : c.end] == c.text
    assert store.chunks_by_id([ca[0].id, 12345]) == {ca[0].id: ca[0]}
    assert list(store.iter_chunks(batch=1)) == ca


def test_remove_deletes_article_and_chunks(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    a, ca = make("会议", "昨天上午，我区召开会议。会议强调，要落实责任。")
    store.put([(a, ca)])
    assert store.remove([a.id, "nope"]) == [a.id]
    assert store.get(a.id) is None
    assert store.chunk_ids() == set()
    assert store.count() == 0


def test_failed_put_leaves_store_unchanged(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    a, ca = make("会议", "昨天上午，我区召开会议。会议强调，要落实责任。")
    store.put([(a, ca)])
    b, cb = make("另一篇", "这是另一篇文章。它有两个句子。")

    def items():
        yield b, cb
        raise RuntimeError("reader failed half way")

    with pytest.raises(RuntimeError):
        store.put(items())
    assert store.get(b.id) is None
    assert store.chunk_ids() == {c.id for c in ca}


def test_second_writer_gets_clear_busy_error(tmp_path):
    path = tmp_path / "db.sqlite"
    store = Store(path, timeout_s=0.1)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    a, ca = make("会议", "昨天上午，我区召开会议。")
    with pytest.raises(StoreError, match="busy"):
        store.put([(a, ca)])
    other.execute("ROLLBACK")
    assert store.put([(a, ca)]).added == [a.id]


def test_chunk_ids_where_filters_by_date_and_source(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    may, cmay = make("五月", "五月底举行了会议。会议开了一天。", date="2024-05-31")
    june, cjune = make("六月", "六月初公园开放。游客很多。", date="2024-06-01")
    undated, cundated = make("无日期", "这篇文章没有日期。它有两个句子。", date="")
    store.put([(may, cmay), (june, cjune), (undated, cundated)])
    ids = {a.id: {c.id for c in cs} for a, cs in ((may, cmay), (june, cjune), (undated, cundated))}

    assert store.chunk_ids_where() == ids[may.id] | ids[june.id] | ids[undated.id]
    assert store.chunk_ids_where(date_to="2024-05") == ids[may.id]  # a month bound includes the whole month
    assert store.chunk_ids_where(date_from="2024-06-01", date_to="2024-06-01") == ids[june.id]
    assert store.chunk_ids_where(date_from="2024-06", undated=True) == ids[june.id] | ids[undated.id]
    assert store.chunk_ids_where(sources=["武进日报"], date_from="2025") == set()
    assert store.chunk_ids_where(sources=["人民日报"]) == set()


def test_article_dates_by_id(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    a, ca = make("会议", "昨天上午，我区召开会议。", date="2024-02-02")
    b, cb = make("无日期", "这篇文章没有日期。", date="")
    store.put([(a, ca), (b, cb)])
    assert store.article_dates([a.id, b.id, "nope"]) == {a.id: "2024-02-02", b.id: ""}


def test_an_article_counts_for_the_periods_it_speaks_about(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    hours, ch = make("图书馆春节开放时间", "武进区图书馆春节期间每天9点开门，2月14日起恢复正常。", date="2024-02-03")
    rules, cr = make("条例施行", "该条例将于9月1日起施行。", date="2024-02-02")
    other, co = make("口袋公园", "公园面积约7200平方米。", date="2024-02-05")
    store.put([(hours, ch), (rules, cr), (other, co)])
    assert ("2024-02-09", "2024-02-16") in store.article_periods(hours.id)  # 春节期间 of 2024
    assert store.article_periods(rules.id) == [("2024-09-01", "2024-09-01")]  # announced, so ahead
    # a question about the holiday: published during it, or speaking about it
    during = store.chunk_ids_where(date_from="2024-02-09", date_to="2024-02-19", about=[("2024-02-09", "2024-02-16")])
    assert during == {c.id for c in ch}
    assert store.chunk_ids_where(date_from="2024-02-09", date_to="2024-02-19") == set()  # by publication alone
    september = store.chunk_ids_where(date_from="2024-09", date_to="2024-09", about=[("2024-09-01", "2024-09-30")])
    assert september == {c.id for c in cr}
    store.remove([hours.id])
    assert store.article_periods(hours.id) == []


def test_a_store_written_before_periods_gets_them_once(tmp_path):
    path = tmp_path / "db.sqlite"
    hours, ch = make("图书馆春节开放时间", "武进区图书馆春节期间每天9点开门。", date="2024-02-03")
    with Store(path) as store:
        store.put([(hours, ch)])
    with sqlite3.connect(path) as db:  # as an older newsqa left it: no periods, no mark
        db.execute("DROP TABLE periods")
        db.execute("DELETE FROM meta WHERE key = 'periods'")
    with Store(path) as store:
        assert ("2024-02-09", "2024-02-16") in store.article_periods(hours.id)
