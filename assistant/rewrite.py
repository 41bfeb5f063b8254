"""Follow-up questions made standalone for retrieval: an LLM rewrite when one is available, a rule-based one always."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Protocol

from assistant.facts import named_entities
from assistant.markers import numbered_items, strip_markers
from assistant.prompts import rewrite_messages, without_refusals
from assistant.smalltalk import small_talk_reply
from core import lexicon
from core.text import FOLLOW_UP_QUESTION_WORDS, is_question, numeral_value

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
    "其他|其它|其中|其实|其余|其次|尤其|极其|与其|因此|此外|如此|彼此|从此|为此|此前|此后|此次|他人|吉他|应该"
)
_QUESTION_WORDS = re.compile("(" + "|".join(FOLLOW_UP_QUESTION_WORDS) + r"|[？?。！!，,\s])")
# what is left of "口袋公园在哪里？", "条例是…" once the question word goes: no part of the topic
_TRAILING_LINKS = re.compile(r"[在是为有的]+$")
# "口袋公园有什么设施？": what stands before a link and the question word is what the question is about
_LINKED_ASK = re.compile(r"^(?P<topic>[^，,？?\s]{2,}?)(?:有|是|在|为)(?:什么|哪些|哪个|哪里|哪儿|多少|几)")
# "几年了", "多少个": a count asked, its measure word and 了 with it: "实施几年了？" is of 实施, not of 实施年了
# ("哪几类" asks which)
_COUNT_ASKED = re.compile(r"(?:(?<!哪)几|多少)[个年次天条项名位家类种批届期]?了?")
_QUOTED = re.compile(r"《[^》]{1,40}》|“[^”]{2,40}”|「[^」]{2,40}」")
_TITLE = re.compile(r"《[^》]{1,40}》")
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


# "那税收收入呢？": the same question as before, about something else
_ELLIPSIS = re.compile(r"^(?:那么|那)?\s*(?P<topic>[^，,。？?！!\s]{1,12}?)\s*呢[？?]?$")
# "第二篇讲了什么？" after a numbered list, such as the news of a day ("2. 标题[2]"): item 2 of that list
_ORDINAL = re.compile(r"第(?P<n>[一二两三四五六七八九十\d]{1,3})(?:篇|条|则|个|项)(?:报道|新闻|文章|消息)?")
# where a question starts asking: the slot the topic of an elliptical follow-up goes before or after
_ASKS = re.compile(
    "是什么时候|什么时候|什么时间|是什么|什么|是多少|有多少|多少|有哪些|哪些|哪个|哪里|哪儿|哪|是谁|谁|几|如何|怎样|怎么样|为什么|何时"
)
# slots that a follow-up's topic replaces by kind: "那二季度呢？" swaps the quarter, "那第二名呢？" the rank
_KINDED_SLOTS = (
    re.compile(r"\d{4}年|[今去明前]年|[上下]半年"),
    re.compile(r"第?[一二三四1-4]季度"),
    re.compile(r"\d{1,2}月份?|[本上下]个?月"),
    re.compile(r"第[一二三四五六七八九十\d]+[名位届次期]"),
)
_NOUNISH = {"n", "vn", "an", "ng", "nl", "nz", "j"}
_SWAPPED_NAMES = {"ns", "nr", "nt", "nrt", "nrfg"}  # not nz: jieba tags "新开工" so
_ASKING_VERBS = {"达到", "达", "有", "是", "为", "占", "超过", "突破"}  # "…总产值达到什么水平？"


class Corpus(Protocol):
    """Which words the corpus holds, and which together in one passage (index.hybrid.Searcher)."""

    def held_terms(self, text: str) -> list[str]: ...

    def held_together(self, terms: Sequence[str], beside: Sequence[str] = ()) -> bool: ...


def needs_rewrite(question: str, history: History, corpus: Corpus | None = None) -> bool:
    """Does `question` lean on the conversation: it points back at it (refers_back), or is too short to stand
    alone and, with `corpus`, does not change the topic (changes_topic)? A question that names a quoted title
    stands alone."""
    if not history:
        return False
    q = question.strip()
    if _QUOTED.search(q):
        return False
    if refers_back(q, history):
        return True
    return _short(q) and not (corpus is not None and changes_topic(q, history, corpus))


def _short(question: str) -> bool:
    return len(_QUESTION_WORDS.sub("", question)) <= 6


def changes_topic(question: str, history: History, corpus: Corpus) -> bool:
    """Is a short question that does not point back about something else than the conversation: the corpus holds
    its own words together in some passage, but never in an article that holds the words of the conversation's
    topic?

    "垃圾分为哪几类？" after "警物联盟是什么？" is asked on its own; "面积多大？" after "口袋公园在哪里？" still of the
    park, as a passage holds 面积 with 口袋公园, and "谁参加了会议？" after "燃放管控政策实施几年了？" still of that
    story, whose passage naming the meeting's guests names no policy. A question none of whose words the corpus
    holds ("有哪些设施？") cannot tell, and leans on the conversation as before."""
    return _off_topic(question, salient_phrase(history, corpus), corpus)


def _off_topic(question: str, topic: str, corpus: Corpus) -> bool:
    own = corpus.held_terms(_QUESTION_WORDS.sub("", question))
    held = corpus.held_terms(topic)
    return bool(own and held) and corpus.held_together(own) and not corpus.held_together(own, beside=held)


def refers_back(question: str, history: History) -> bool:
    """Does `question` point back at the conversation in so many words: a pronoun or determiner, a short "那X呢？",
    or "第N篇" of the list in the last answer? One that is only short may be a question of its own."""
    q = question.strip()
    return (
        any(p in _NOT_PRONOUNS.sub("", q) for p in _PRONOUNS)
        or (bool(re.search(r"(呢|那么?)[？?]?$", q)) and len(q) <= 16)
        or bool(ordinal_rewrite(q, history))
    )


_PERSONAL = ("他们", "她们", "他", "她")


def salient_person(history: History) -> str:
    """The person last named in the conversation, the answer before its question (who-questions name them there)."""
    for q, a in reversed(list(history)):
        for text in (strip_markers(without_refusals(a)), q):
            people = named_entities(text, people_only=True)
            if people:
                return people[0]
    return ""


def salient_phrase(history: History, corpus: Corpus | None = None) -> str:
    """The noun phrase the conversation is about: that of the last turn that names one, a quoted title, else a named
    entity, else the topic of a question that stands alone. A follow-up with no name of its own ("周一开吗？" after
    "图书馆新馆什么时候开放？") keeps the topic it followed; whether a short question stands alone is told with
    `corpus` as `needs_rewrite` tells it. An answer's titles count (《…》), not its quoted phrases: those are what
    the topic is called or does ("以“警力+物业+网格”为主体"), not the topic."""
    topic = ""
    turns = list(history)
    for i, (q, a) in enumerate(turns):
        if small_talk_reply(q):
            continue  # "你好", "谢谢": no topic
        named = _named_topic(q, a)
        if named:
            topic = named
            continue
        own = _own_topic(q)
        follows = bool(topic) and (
            refers_back(q, turns[:i]) or (_short(q) and not (corpus is not None and _off_topic(q, topic, corpus)))
        )
        if own and not follows:
            topic = own
    return topic


def _own_topic(question: str) -> str:
    """What a question that stands alone is about: what stands before "有什么", "是什么", "在哪里" ("口袋公园有什么
    设施？" is of 口袋公园, and "它离哪个社区近？" after it asks about the park), else the question without its
    question words and the count it asks."""
    linked = _LINKED_ASK.match(question)
    if linked:
        return linked["topic"]
    return _TRAILING_LINKS.sub("", _QUESTION_WORDS.sub("", _COUNT_ASKED.sub("", question)))


def _named_topic(question: str, answer: str) -> str:
    """A turn's quoted title (the question's, else the answer's 《…》), else the names in its question, or ""."""
    for quoted in (_QUOTED.findall(question), _TITLE.findall(strip_markers(answer))):
        if quoted:
            return quoted[0]
    names = list(named_entities(question))
    if names:
        return "".join(names[:2]) if len(names) > 1 and len("".join(names[:2])) <= 12 else names[0]
    return ""


def rule_rewrite(question: str, history: History, corpus: Corpus | None = None) -> str:
    """Resolve a follow-up without a model: substitute or prepend the salient phrase of the conversation.

    "它一共有多少条？" after a question about 《常州市生活垃圾分类管理条例》 becomes
    "《常州市生活垃圾分类管理条例》一共有多少条？".
    """
    q = question.strip()
    if not needs_rewrite(q, history, corpus):
        return q
    swapped = settled_by_rules(q, history)
    if swapped:
        return swapped
    phrase = salient_phrase(history, corpus)
    if not phrase or phrase in q:
        return q
    bare = phrase.strip("《》“”「」")
    for det in _DETERMINERS:  # "该条例" -> the quoted title when its head noun matches
        for head in _NOUN_HEADS:
            if det + head in q and bare.endswith(head):
                return q.replace(det + head, phrase, 1)
    found = _pronoun_at(q, (*_STANDALONE, *_DETERMINERS))
    return _replaced(q, *found, phrase) if found else f"{phrase} {q}"


def ellipsis_rewrite(question: str, history: History) -> str:
    """The last question asked again about the topic of "那X呢？", or "" when it has no slot for X.

    It keeps all of the last question but that slot, place and year included, which a small model's rewrite drops.
    """
    elliptical = _ELLIPSIS.match(question.strip())
    if not elliptical or not history or _pronouns_in(question):  # "那个学校呢？" points back: not a new topic
        return ""
    return swap_topic(elliptical["topic"], history)


def needs_model_rewrite(question: str, history: History, corpus: Corpus | None = None) -> bool:
    """Is a model worth asking: the question leans on the conversation, and neither swapping one slot nor naming
    the listed item it counts to settles it."""
    return needs_rewrite(question, history, corpus) and not settled_by_rules(question, history)


def settled_by_rules(question: str, history: History) -> str:
    """The rewrite of a follow-up that the rules settle for sure, or "": "那X呢？" with a slot for X, "第N篇"
    of a numbered list, or 他/她 for the person last named."""
    rules = (ordinal_rewrite, ellipsis_rewrite, person_rewrite)
    return next((found for rule in rules if (found := rule(question, history))), "")


def person_rewrite(question: str, history: History) -> str:
    """`question` with its 他/她 (他们, 她们) replaced by the person last named in the conversation, or "" when it
    has no such pronoun or no person was named: settled by the rules, which a small model's rewrite does worse."""
    q = question.strip()
    found = _pronoun_at(q, _PERSONAL)
    person = salient_person(history) if found else ""
    return _replaced(q, *found, person) if found and person and person not in q else ""


def _pronoun_at(question: str, pronouns: Sequence[str]) -> tuple[int, int] | None:
    """Where (start, end) the first of `pronouns` that `question` holds stands, not inside "其他", "因此" and the
    like; None when it holds none."""
    masked = _NOT_PRONOUNS.sub(lambda m: "\0" * len(m.group(0)), question)  # keep offsets, hide "其他" etc.
    return next(((at, at + len(p)) for p in pronouns if (at := masked.find(p)) >= 0), None)


def ordinal_rewrite(question: str, history: History) -> str:
    """`question` with "第N篇" (条, 则, 个, 项) replaced by item N of the numbered lists in the conversation, or
    "" when it counts to none: "第二篇讲了什么？" after the news of a day asks what that article says. "那第四篇呢？"
    asks the last such question again about item 4."""
    counted = _ORDINAL.search(question)
    n = numeral_value(counted["n"], strict=False) if counted is not None else None
    turns = list(history)
    items: dict[int, str] = {}
    for _, answer in turns:  # a list gone on with ("还有什么新闻？") counts on; a later list's items come first
        items.update(numbered_items(answer))
    item = items.get(n) if n is not None else None
    if counted is None or not item:
        return ""
    named = f"「{item}」"  # quoted as a title: a date in it is no time the question asks about
    if _ELLIPSIS.match(question.strip()) and counted.group() in question:  # "那第四篇呢？"
        asked = next((q for q, _ in reversed(turns) if _ORDINAL.search(q) and not _ELLIPSIS.match(q.strip())), "")
        if asked:
            earlier = _ORDINAL.search(asked)
            return asked[: earlier.start()] + named + asked[earlier.end() :]
    return question[: counted.start()] + named + question[counted.end() :]


def swap_topic(topic: str, history: History) -> str:
    """The last question with `topic` in the slot it stands for, or "" when none is found.

    A year, quarter, month or rank takes the place of one of its kind; a name that of a name; anything else that of
    the nouns next to the question word ("2023年某市地区生产总值是多少？" + "那财政收入呢？" →
    "2023年某市财政收入是多少？"; "种植多少亩水稻？" + "那小麦呢？" → "种植多少亩小麦？").
    """
    turns = list(history)
    at = next((i for i in range(len(turns) - 1, -1, -1) if not _ELLIPSIS.match(turns[i][0].strip())), -1)
    last = rule_rewrite(turns[at][0], turns[:at]) if at >= 0 else ""  # "它有多少条？" names what it asks about first
    asks = _ASKS.search(last)
    if not asks or topic in last or _ASKS.search(topic):
        return ""
    for slot in _KINDED_SLOTS:
        if slot.fullmatch(topic):
            same = slot.search(last)
            return _replaced(last, same.start(), same.end(), topic) if same else ""
    tagged = _tagged(topic)
    if not _ends_in_noun(tagged) or any(f == "r" for _, f in tagged):
        return ""  # "那还有呢？" asks for more, not about another thing; "那这里呢？" points back
    head = _tagged(last[: asks.start()])
    if named_entities(topic) == (topic,):  # a place, person or body for another: "那武进区呢？"
        name = next((w for w, f in head if f in _SWAPPED_NAMES), "")
        return last.replace(name, topic, 1) if name else ""
    end = len(head) - 1 if head and head[-1][0] in _ASKING_VERBS else len(head)
    start = _noun_run(head, end)
    if start == 0 and end > 0:
        return ""  # the whole subject would go: "垃圾分类条例什么时候施行？" + "那罚款呢？" asks about the 条例 still
    if start < end:
        return _replaced(last, _width(head[:start]), _width(head[:end]), topic)
    after = _tagged(last[asks.end() :])
    first = next((i for i, (_, f) in enumerate(after) if f not in {"q", "m"}), len(after))  # past "多少亩"
    stop = next((i for i in range(first, len(after)) if after[i][1] not in _NOUNISH), len(after))
    if stop == first:
        return ""
    return _replaced(last, asks.end() + _width(after[:first]), asks.end() + _width(after[:stop]), topic)


def _tagged(text: str) -> list[tuple[str, str]]:
    return [(word, flag) for word, flag in lexicon.pos_tagger().cut(text)]


def _width(tagged: list[tuple[str, str]]) -> int:
    return sum(len(word) for word, _ in tagged)


def _replaced(text: str, start: int, end: int, by: str) -> str:
    return text[:start] + by + text[end:]


# jieba tags the 收入 of 营业收入 as a verb: a verb right after a noun ends a noun phrase too
def _ends_in_noun(tagged: list[tuple[str, str]]) -> bool:
    flags = [flag for _, flag in tagged]
    return bool(flags) and (
        flags[-1] in _NOUNISH | _SWAPPED_NAMES or (flags[-1] == "v" and flags[-2:-1] in (["n"], ["vn"]))
    )


def _noun_run(tagged: list[tuple[str, str]], end: int) -> int:
    """Where the nouns that end at `end` start (`end` when there are none)."""
    start = end
    if start > 1 and tagged[start - 1][1] == "v" and tagged[start - 2][1] in _NOUNISH:
        start -= 1
    while start and tagged[start - 1][1] in _NOUNISH:
        start -= 1
    return start


def _clean_model_rewrite(reply: str) -> str:
    line = next((ln.strip() for ln in reply.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(改写后的问题|改写|问题)[：:]\s*", "", line)
    return line.strip().strip("\"'“”")


class _Streams(Protocol):
    def stream(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float = 0.0) -> Iterator[str]: ...


def rewrite(
    question: str,
    history: History,
    generator: _Streams | None = None,
    *,
    corpus: Corpus | None = None,
    max_tokens: int = 64,
) -> str:
    """The standalone query for `question` given `history` (pairs of question and answer).

    Uses `generator` when given and the rules cannot settle it by swapping one slot; falls back to the
    rules when it fails, gives the question back unchanged, or replies with something that cannot be a question
    (empty, or far too long). With `corpus`, a short question on a topic of its own is left as it is.
    """
    q = question.strip()
    if not needs_rewrite(q, history, corpus):
        return q
    swapped = settled_by_rules(q, history)
    if swapped:
        return swapped
    if generator is not None:
        try:
            reply = "".join(generator.stream(rewrite_messages(q, history), max_tokens=max_tokens, temperature=0.0))
        except Exception:  # a rewrite is an optimisation; the rule-based one still answers the question
            reply = ""
        candidate = _clean_model_rewrite(reply)
        echoed = candidate.rstrip("？?。 ") == q.rstrip("？?。 ")  # nothing resolved: "那税收收入呢？" searched as is
        if candidate and not echoed and len(candidate) <= 3 * len(q) + 60 and not _unresolved(q, candidate):
            return candidate
    return rule_rewrite(q, history, corpus)


def _pronouns_in(text: str) -> set[str]:
    masked = _NOT_PRONOUNS.sub("", text)
    return {p for p in (*_STANDALONE, *_DETERMINERS) if p in masked}


_NAMING = frozenset({"n", "nz"} | _SWAPPED_NAMES)  # a question's nouns and names, which its rewrite must keep
_ABOUT = _NAMING | {"vn"}  # and its verbal nouns: what a text names at all


def _names(tagged: list[tuple[str, str]], flags: frozenset[str]) -> list[str]:
    """The words of two or more characters of `tagged` whose tags are in `flags`."""
    return [w for w, f in tagged if f in flags and len(w) > 1]


def _unresolved(question: str, candidate: str) -> bool:
    """Did the model leave a pronoun or the ellipsis in place, drop a noun of the question, or answer the question
    instead of asking it?

    A small model given "她还报道了哪场会议？" wrote "她还报道了阳湖N警·警物联盟群防群治工作部署会。": still "她",
    and a statement naming the meeting already discussed, which retrieves that article again. A rewrite of "那X呢？"
    must name X, and not still end in "X呢".
    """
    if _pronouns_in(candidate):  # kept from the question, or brought in: "那罚款呢？" → "该条例何时实施罚款？"
        return True
    asked = _tagged(question)
    if any(w not in candidate for w in _names(asked, _NAMING)):
        return True  # "税收多少？" → "武高新去年规上工业总产值多少？": the last question again, not this one
    if not _names(asked, _ABOUT) and not _names(_tagged(candidate), _ABOUT):
        return True  # "是9月1日吗？" → "是2024年9月1日吗？": a question naming nothing still names nothing
    elliptical = _ELLIPSIS.match(question.strip())
    if elliptical and (elliptical["topic"] not in candidate or elliptical["topic"] + "呢" in candidate):
        return True  # "那罚款呢？" → "垃圾分类条例何时实施？" forgot the topic; "…，那罚款呢？" kept the ellipsis
    asks = re.search(r"[？?]", question) is not None
    return asks and not is_question(candidate)
