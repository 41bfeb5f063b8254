"""Follow-up questions made standalone for retrieval: an LLM rewrite when one is available, a rule-based one always."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Protocol

from assistant.facts import named_entities
from assistant.markers import strip_markers
from assistant.prompts import rewrite_messages
from core.text import FOLLOW_UP_QUESTION_WORDS, is_question

History = Sequence[tuple[str, str]]

# pronouns and demonstratives that point back into the conversation; longest first so "它们" wins over "它"
_PRONOUNS = (
    "它们",
    "他们",
    "她们",
    "这些",
    "那些",
    "上述",
    "该",
    "这个",
    "那个",
    "这项",
    "这部",
    "这次",
    "此",
    "其",
    "它",
    "他",
    "她",
)
_STANDALONE = ("它们", "他们", "她们", "它", "他", "她", "其")  # stand for a whole noun phrase
_DETERMINERS = ("这个", "那个", "这项", "这部", "这次", "这些", "那些", "上述", "该", "此")
# words that contain a pronoun character but point nowhere ("其他垃圾", "因此")
_NOT_PRONOUNS = re.compile(
    "其他|其它|其中|其实|其余|其次|尤其|极其|与其|因此|此外|如此|彼此|从此|为此|此前|此后|此次|他人|吉他"
)
_QUESTION_WORDS = re.compile("(" + "|".join(FOLLOW_UP_QUESTION_WORDS) + r"|[？?。！!，,\s])")
_QUOTED = re.compile(r"《[^》]{1,40}》|“[^”]{2,40}”|「[^」]{2,40}」")
_NOUN_HEADS = (
    "条例",
    "办法",
    "规定",
    "意见",
    "方案",
    "规划",
    "政策",
    "项目",
    "活动",
    "会议",
    "工程",
    "公司",
    "企业",
    "医院",
    "学校",
    "大会",
    "展会",
    "比赛",
    "赛事",
    "工作",
    "行动",
    "计划",
    "文件",
    "通知",
    "法",
    "区",
    "镇",
    "街道",
    "村",
    "部门",
    "平台",
    "中心",
)


def needs_rewrite(question: str, history: History) -> bool:
    """Does `question` lean on the conversation (pronoun, determiner, or a short elliptical follow-up)?"""
    if not history:
        return False
    q = question.strip()
    if _QUOTED.search(q):
        return False
    if any(p in _NOT_PRONOUNS.sub("", q) for p in _PRONOUNS):
        return True
    core = _QUESTION_WORDS.sub("", q)
    return len(core) <= 6 or (bool(re.search(r"(呢|那么?)[？?]?$", q)) and len(q) <= 16)


_PERSONAL = ("他们", "她们", "他", "她")


def salient_person(history: History) -> str:
    """The person last named in the conversation, the answer before its question (who-questions name them there)."""
    for q, a in reversed(list(history)):
        for text in (strip_markers(a), q):
            people = named_entities(text, people_only=True)
            if people:
                return people[0]
    return ""


def salient_phrase(history: History) -> str:
    """The noun phrase the conversation is about: a quoted title, else a named entity, else the last topic."""
    for q, a in reversed(list(history)):
        for text in (q, strip_markers(a)):
            quoted = _QUOTED.findall(text)
            if quoted:
                return quoted[0]
        names = list(named_entities(q))
        if names:
            return "".join(names[:2]) if len(names) > 1 and len("".join(names[:2])) <= 12 else names[0]
        topic = _QUESTION_WORDS.sub("", q)
        if topic:
            return topic
    return ""


def rule_rewrite(question: str, history: History) -> str:
    """Resolve a follow-up without a model: substitute or prepend the salient phrase of the conversation.

    "它一共有多少条？" after a question about 《常州市生活垃圾分类管理条例》 becomes
    "《常州市生活垃圾分类管理条例》一共有多少条？".
    """
    q = question.strip()
    if not needs_rewrite(q, history):
        return q
    masked = _NOT_PRONOUNS.sub(lambda m: "\0" * len(m.group(0)), q)  # keep offsets, hide "其他" etc.
    for pronoun in _PERSONAL:  # 他/她 stand for a person, not for the topic
        at = masked.find(pronoun)
        person = salient_person(history) if at >= 0 else ""
        if person and person not in q:
            return q[:at] + person + q[at + len(pronoun) :]
    phrase = salient_phrase(history)
    if not phrase or phrase in q:
        return q
    bare = phrase.strip("《》“”「」")
    for det in _DETERMINERS:  # "该条例" -> the quoted title when its head noun matches
        for head in _NOUN_HEADS:
            if det + head in q and bare.endswith(head):
                return q.replace(det + head, phrase, 1)
    for pronoun in (*_STANDALONE, *_DETERMINERS):
        at = masked.find(pronoun)
        if at >= 0:
            return q[:at] + phrase + q[at + len(pronoun) :]
    return f"{phrase} {q}"


def _clean_model_rewrite(reply: str) -> str:
    line = next((ln.strip() for ln in reply.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(改写后的问题|改写|问题)[：:]\s*", "", line)
    return line.strip().strip("\"'“”")


class _Streams(Protocol):
    def stream(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float = 0.0) -> Iterator[str]: ...


def rewrite(question: str, history: History, generator: _Streams | None = None, *, max_tokens: int = 64) -> str:
    """The standalone query for `question` given `history` (pairs of question and answer).

    Uses `generator` when given and the question looks dependent on the conversation; falls back to the
    rules when it fails, gives the question back unchanged, or replies with something that cannot be a question
    (empty, or far too long).
    """
    q = question.strip()
    if not needs_rewrite(q, history):
        return q
    if generator is not None:
        try:
            reply = "".join(generator.stream(rewrite_messages(q, history), max_tokens=max_tokens, temperature=0.0))
        except Exception:  # a rewrite is an optimisation; the rule-based one still answers the question
            reply = ""
        candidate = _clean_model_rewrite(reply)
        echoed = candidate.rstrip("？?。 ") == q.rstrip("？?。 ")  # nothing resolved: "那税收收入呢？" searched as is
        if candidate and not echoed and len(candidate) <= 3 * len(q) + 60 and not _unresolved(q, candidate):
            return candidate
    return rule_rewrite(q, history)


def _pronouns_in(text: str) -> set[str]:
    masked = _NOT_PRONOUNS.sub("", text)
    return {p for p in _STANDALONE if p in masked}


def _unresolved(question: str, candidate: str) -> bool:
    """Did the model leave the question's pronoun in place, or answer it instead of asking it?

    A small model given "她还报道了哪场会议？" wrote "她还报道了阳湖N警·警物联盟群防群治工作部署会。": still "她",
    and a statement naming the meeting already discussed, which retrieves that article again.
    """
    if _pronouns_in(question) & _pronouns_in(candidate):
        return True
    asks = re.search(r"[？?]", question) is not None
    return asks and not is_question(candidate)
