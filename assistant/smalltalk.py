"""What a resident says that is no question about the news: 你好, 谢谢, 再见, 你是谁. Answered in a line of its own,
with nothing searched: searched, it would be refused as naming something no report mentions."""

from __future__ import annotations

import re

# what may surround the words: punctuation, spaces and the particles of speech ("谢谢啦！", "你好呀")
_AROUND = re.compile(r"[\s，,。.！!？?~～、…]+|[啊呀哈啦了吧哦噢嗯呢]+$")

WHAT_I_DO = (
    "我回答的每句话都来自资料库里的报道，并标出处，点编号可以看原文；资料里没有的，我会直说。"
    "可以先问“这期报纸有哪些新闻？”，也可以直接问某件事，比如某项政策什么时候施行。"
)
_REPLIES = (
    (("你好", "您好", "你们好", "大家好", "嗨", "哈喽", "hi", "hello", "在吗", "在不在"), "您好！" + WHAT_I_DO),
    (
        ("谢谢", "谢谢你", "谢谢您", "多谢", "感谢", "非常感谢", "谢了", "thanks", "thankyou", "好的谢谢"),
        "不客气！还想了解什么，尽管问。",
    ),
    (("再见", "拜拜", "bye", "下次见"), "再见！"),
    (
        ("你是谁", "您是谁", "你是什么", "你能做什么", "你会什么", "你会做什么", "怎么用", "怎么提问", "你能干什么"),
        "我是新闻问答助手。" + WHAT_I_DO,
    ),
)


def small_talk_reply(said: str) -> str:
    """The reply to `said` when all of it is a greeting, a thanks, a goodbye or a question about the assistant,
    else ""."""
    bare = _AROUND.sub("", _AROUND.sub("", said.strip().lower()))
    return next((reply for words, reply in _REPLIES if bare in words), "")
