"""Newspaper-page parser on the bundled 武进日报 page and on small made-up pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.types import article_id
from corpus.normalize import ends_sentence
from corpus.page import dateline_reporters, looks_like_page, parse_page, photo_credit, split_headline

SAMPLE = Path(__file__).resolve().parents[2] / "corpus" / "sample" / "wujin_daily_page.txt"


@pytest.fixture(scope="module")
def page():
    return parse_page(SAMPLE.read_text(encoding="utf-8"), date="2024-02-02", source="武进日报", page="A1")


def test_sample_page_splits_into_four_articles_and_one_photo(page) -> None:
    assert [a.kind for a in page] == ["article", "article", "article", "article", "photo"]
    assert [a.title for a in page] == [
        "乔俊杰专题调研武高新安全生产工作及经济社会发展情况",
        "“阳湖N警·警物联盟”群防群治工作部署会召开",
        "烟花爆竹燃放管控工作动员部署",
        "《常州市生活垃圾分类管理条例》9月1日起施行",
        "果蔬艺术空间口袋公园位于武南路凤栖路西北角",
    ]


def test_two_line_deck_under_the_main_title_is_the_subtitle(page) -> None:
    assert page[0].subtitle == "自觉扛起国家级高新区责任担当 为全区争做领头雁、排头兵做强支撑"
    assert [a.subtitle for a in page[1:]] == ["", "", "", ""]


def test_reporters_and_photographers(page) -> None:
    assert [a.reporters for a in page] == [("朱梦琪",), ("何晓丹",), ("何晓丹",), ("黄雅婷",), ()]
    assert page[4].photographers == ("陆新", "徐晶玮")
    assert all(a.photographers == () for a in page[:4])


def test_metadata_from_the_caller(page) -> None:
    for article in page:
        assert (article.date, article.date_source, article.source, article.page) == (
            "2024-02-02",
            "option",
            "武进日报",
            "A1",
        )
        assert article.id == article_id(source="武进日报", date="2024-02-02", title=article.title)
    assert len({a.id for a in page}) == 5


def test_dateline_starts_the_first_paragraph_with_full_width_punctuation(page) -> None:
    assert page[0].text.startswith("本报讯（记者 朱梦琪）昨天上午，市委常委")
    for article in page[:4]:
        assert article.text.startswith("本报讯（记者 ")


@pytest.mark.parametrize(
    ("index", "fragment"),
    [
        (0, "勇攀新高、锐意进取"),
        (0, "学习借鉴“千万工程”"),
        (0, "生命至上"),
        (1, "快落地、快见效"),
        (2, "烟花爆竹引发"),
        (3, "相关部门职责"),
    ],
)
def test_paragraphs_broken_by_the_layout_are_repaired(page, index: int, fragment: str) -> None:
    assert fragment in page[index].text


def test_no_paragraph_ends_mid_sentence(page) -> None:
    for article in page[:4]:
        for paragraph in article.text.split("\n"):
            assert ends_sentence(paragraph), paragraph


def test_numbers_survive(page) -> None:
    assert "近1300亿元" in page[0].text
    assert "2000亿元台阶" in page[0].text
    assert "约7200平方米" in page[4].text
    assert "约40吨/日" in page[3].text


def test_no_text_is_lost(page) -> None:
    raw = "".join(SAMPLE.read_text(encoding="utf-8").split())
    # the photo's title is made from its caption, so it is not counted
    kept = "".join(a.text + (a.title + a.subtitle if a.kind == "article" else "") for a in page)
    for mark, full in zip(",;:?!()", "，；：？！（）", strict=True):
        raw = raw.replace(mark, full)
    assert sorted(raw) == sorted(kept.replace(" ", "").replace("\n", ""))


def test_photo_caption_text_keeps_its_credit(page) -> None:
    photo = page[4]
    assert photo.text.startswith("果蔬艺术空间口袋公园位于武南路凤栖路西北角，紧邻")
    assert photo.text.endswith("促进社区邻里交流。陆新 徐晶玮 摄")


def test_looks_like_page() -> None:
    assert looks_like_page(SAMPLE.read_text(encoding="utf-8"))
    assert not looks_like_page("一篇文章的标题\n\n正文第一段，说了一些事。\n\n正文第二段。")


def test_dateline_reporters() -> None:
    assert dateline_reporters("本报讯（记者 朱梦琪）昨天上午") == ("朱梦琪",)
    assert dateline_reporters("本报讯（记者 朱梦琪 通讯员 张三、李四）昨天") == ("朱梦琪", "张三", "李四")
    assert dateline_reporters("本报讯（通讯员 王五 记者 赵六）") == ("王五", "赵六")
    assert dateline_reporters("新华社北京1月1日电（记者 刘洋）今天") == ("刘洋",)
    assert dateline_reporters("本报讯 昨天上午，我区召开会议。") == ()
    assert dateline_reporters("（记者 陈晨）昨天") == ("陈晨",)
    assert dateline_reporters("昨天上午，我区召开会议。") is None
    assert dateline_reporters("（上接第一版）") is None


def test_photo_credit() -> None:
    assert photo_credit("陆新 徐晶玮 摄") == ("", ("陆新", "徐晶玮"))
    assert photo_credit("（记者 陆新 摄）") == ("", ("陆新",))
    assert photo_credit("公园建成投用。陆新 摄") == ("公园建成投用。", ("陆新",))
    assert photo_credit("陆新、徐晶玮/摄") == ("", ("陆新", "徐晶玮"))
    assert photo_credit("拍摄工作顺利进行。") is None
    assert photo_credit("美丽乡村随手摄") is None  # a phrase, not a name


@pytest.mark.parametrize(
    ("lines", "gaps", "expected"),
    [
        (["“阳湖N警·警物联盟”", "群防群治工作部署会召开"], [0, 0], ("“阳湖N警·警物联盟”群防群治工作部署会召开", "")),
        (
            ["《常州市生活垃圾分类管理条例》", "9月1日起施行"],
            [0, 0],
            ("《常州市生活垃圾分类管理条例》9月1日起施行", ""),
        ),
        # kicker above the main title: the longer line is the title
        (["深化改革开放", "武进高新区签约十个重大项目"], [0, 0], ("武进高新区签约十个重大项目", "深化改革开放")),
        # main title, then a deck in a block of its own
        (
            ["区长调研重点项目", "要求抢抓进度", "确保按期投用"],
            [0, 1, 0],
            ("区长调研重点项目", "要求抢抓进度 确保按期投用"),
        ),
    ],
)
def test_split_headline(lines: list[str], gaps: list[int], expected: tuple[str, str]) -> None:
    assert split_headline(lines, gaps) == expected


OTHER_PAGE = """
深化改革开放
武进高新区签约十个重大项目

本报讯 (记者 王小明 通讯员 李强) 前天下午, 武进高新区举行重大项目集中签约仪式, 共签约项目10个, 总投资
超过120亿元。

项目涵盖新能源、智能制造等领域。

“幸福家园”
建设推进会召开

本报讯 (记者 陈晨) 昨天, 我区召开“幸福家园”建设推进会。会议要求, 各镇 (街道) 要抓好落实。

春风里的新绿

孩子们在湖塘公园植树, 为城市增添新绿。
张三 摄

会议还通报了2023年度考核结果。
"""


def test_another_page_of_the_same_paper() -> None:
    articles = parse_page(OTHER_PAGE, date="2024-03-12")
    assert [(a.kind, a.title, a.subtitle) for a in articles] == [
        ("article", "武进高新区签约十个重大项目", "深化改革开放"),
        ("article", "“幸福家园”建设推进会召开", ""),
        ("photo", "春风里的新绿", ""),
    ]
    assert articles[0].reporters == ("王小明", "李强")
    assert "总投资超过120亿元。" in articles[0].text
    assert "各镇（街道）要抓好落实" in articles[1].text
    assert articles[2].photographers == ("张三",)
    assert articles[2].text == "孩子们在湖塘公园植树，为城市增添新绿。张三 摄"
    # lines after a photo that start no article of their own stay with the article before it
    assert articles[1].text.endswith("要抓好落实。\n会议还通报了2023年度考核结果。")


def test_empty_page_gives_no_articles() -> None:
    assert parse_page("\n\n  \n") == []


def test_page_without_blank_lines_parses_the_same() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    compact = "\n".join(line for line in text.split("\n") if line.strip())
    assert [(a.title, a.subtitle, a.text) for a in parse_page(compact)] == [
        (a.title, a.subtitle, a.text) for a in parse_page(text)
    ]


def test_crlf_and_extra_spaces_do_not_change_the_result() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    messy = "\ufeff" + text.replace("\n", "\r\n").replace("本报讯 (", "本报讯   (").replace(
        "昨天上午, ", "昨天上午 ,  "
    )
    assert [a.text for a in parse_page(messy)] == [a.text for a in parse_page(text)]


MIXED_PAGE = """
全国春运今日启动

新华社北京1月26日电 (记者 刘洋) 今天, 为期40天的春运正式启动。铁路部门预计发送旅客4.8亿人次,
同比增长
(下转第2版)

微评

安全生产没有局外人, 每个岗位都是防线。只有人人尽责, 才能守住平安。

读者来信
社区食堂暖人心

我家楼下新开了社区食堂, 老人吃饭方便多了, 价格也实惠。
"""


def test_other_datelines_jump_lines_and_articles_without_dateline() -> None:
    articles = parse_page(MIXED_PAGE)
    assert [(a.title, a.subtitle, a.reporters) for a in articles] == [
        ("全国春运今日启动", "", ("刘洋",)),
        ("微评", "", ()),
        ("社区食堂暖人心", "读者来信", ()),
    ]
    assert articles[0].text.endswith("铁路部门预计发送旅客4.8亿人次，同比增长")
    assert "下转" not in articles[0].text
    assert articles[1].text == "安全生产没有局外人，每个岗位都是防线。只有人人尽责，才能守住平安。"


BROKEN_TAIL_PAGE = """
区里召开项目推进会

本报讯 (记者 王小明) 前天下午, 区里召开重大项目推进会。会议通报, 一季度新开工项目总投资

超过120亿元

春耕生产全面展开
各镇抓好农资供应

本报讯 (记者 陈晨) 连日来, 各镇抓紧春耕备耕。
(完)
"""


def test_a_broken_off_paragraph_end_is_not_taken_for_a_headline() -> None:
    first, second = parse_page(BROKEN_TAIL_PAGE)
    assert first.text.endswith("一季度新开工项目总投资超过120亿元")
    assert (second.title, second.subtitle) == ("春耕生产全面展开", "各镇抓好农资供应")
    assert second.text.endswith("各镇抓紧春耕备耕。\n（完）")
