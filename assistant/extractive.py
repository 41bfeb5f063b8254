"""The extractive answerer: quotes the passage sentences that best match the question, with their citations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.facts import named_entities
from core import lexicon
from core.text import ASKS_FOR_DAY, ASKS_FOR_NUMBER, CN_NUMERAL_CHARS, QUESTION_WORDS, SENTENCE_ENDS, bigrams
from corpus.page import NEWS_LEAD, dateline_reporters, photo_credit

# a closing quote after the end marks is left to the next piece, so that _cite finds the end mark last
_SENTENCE = re.compile(rf"[^{SENTENCE_ENDS}\n]+[{SENTENCE_ENDS}]*")
_BYLINE = re.compile(r"^\s*本报讯\s*[（(][^）)]{0,30}[）)]\s*")
_NUMBER = re.compile(
    r"[0-9０-９]|[一二两三四五六七八九十百千万亿]+[年月日号个项家名人户元吨亿万%％]|"
    r"今年|明年|去年|昨天|今天"
)
# what answers "几号…？", "什么时候…？": a day or month, not any figure ("约40吨/日的余量" is no day) nor a year alone
# ("列为2021年立法调研项目" under a question about when the law applies)
_DAY = re.compile(
    r"[0-9０-９]{1,2}\s*[月日号]|[0-9]{4}[-/.][0-9]{1,2}|[一二三四五六七八九十]+[月日号]|昨天|今天|前天|明天"
)
_NOT_TEXT = re.compile(r"[\W_]+")
# "一共有多少条？", "几天": the count asked for comes with its unit, and a sentence stating "五十八条" holds it even
# when it repeats little of the question (the question's other words are its topic, which the passage shares)
_ASKED_UNIT = re.compile(r"(?:多少|几)(?P<unit>[\u4e00-\u9fff])")
# measure words a count may be stated in besides the one asked with: "借几本书？" — "可借图书10册"
_SAME_COUNT = {
    "本": "本|册",
    "册": "册|本",
    "人": "人|名|位",
    "名": "名|人|位",
    "位": "位|名|人",
    "辆": "辆|台",
    "台": "台|辆",
}
# "有多大？", "多长？": the measure asked for, stated in one of its units ("面积约7200平方米")
_ASKED_MEASURE = {
    "多大": "平方米|平方公里|平方千米|亩|公顷",
    "多高": "米|层",
    "多长": "米|公里|千米|天|年|个月|小时|分钟",
    "多远": "米|公里|千米",
    "多重": "吨|公斤|千克|斤|克",
    "多深": "米",
    "多宽": "米",
}
# not "很多大学", "许多大型…"
_MEASURE_WORD = re.compile(rf"(?<![很许好众诸])(?:{'|'.join(_ASKED_MEASURE)})")
# "…的报道是哪位记者写的？", "照片是谁拍的？": the question asks who wrote or took it, which a dateline's credit
# ("本报讯（记者 朱梦琪）") or a caption's ("陆新 徐晶玮 摄") says. Not "记者会", a press conference.
_ASKS_FOR_CREDIT = re.compile(
    r"哪位记者|哪个记者|记者是谁|的记者(?!会|站|节|证|招待)|(?<![工创著学译协])作者|谁写|撰写|执笔|摄影师|摄影者|谁拍|"
    r"拍摄者|署名"
)
# ...and names the work credited: "华尔街日报记者是谁？" asks about a journalist in the news, "科技工作者" is no author
_CREDITED_WORK = re.compile(r"报道|文章|稿件|新闻|消息|照片|图片|组图|写|拍|摄")
_ASKS_FOR_PHOTO = re.compile(r"摄影|谁拍|拍摄|照片|图片")
# the words that frame such a question, shared by every byline: no part of what it is about
_CREDIT_FRAME = re.compile(r"记者|报道|文章|稿件|新闻|照片|图片")
# "乔俊杰是谁？", "盛世麟担任什么职务？": news gives a person's posts right before the name where it introduces them
# ("市委常委、区委书记、武进国家高新区党工委书记乔俊杰专题调研…"), and that sentence says who they are
_ASKS_WHO = re.compile(
    r"(?P<name>[\u4e00-\u9fff·]{2,8}?)(?:是谁|是什么人|是何人|是干什么的|是做什么的|担任什么|现任什么|"
    r"(?:是|任)?什么(?:职务|职位|身份)|的(?:职务|职位|身份))"
)
# "谁参加了会议？", "哪位领导出席？": the question asks who did something, which the sentence naming people beside
# that act answers, though it repeats little of the question ("区领导盛世麟、张征宇参加会议")
_ASKS_PERSON = {"谁", "哪位", "哪些", "什么人"}
_ACT_FLAGS = {"v", "vn"}
_POST = (
    "书记|长|主任|委员|常委|主席|经理|总监|董事|代表|记者|编辑|教授|院士|专家|负责人|民警|医生|教师|老师|创始人|冠军"
)
_NEWS_LEAD = re.compile(rf"^{NEWS_LEAD}(?=[（(])")
_FULLWIDTH_PARENS = str.maketrans("()", "（）")  # as datelines are written after normalising


@dataclass(frozen=True)
class ScoredSentence:
    """A passage sentence and how well it matches the question."""

    score: float
    passage: int  # 1-based
    sentence: str


class ExtractiveAnswerer:
    """Answers by quoting the passage sentences that share the most character bigrams with the question.

    No model: useful as an offline fallback and as a baseline. Each quoted sentence carries its passage's
    citation marker [n], put before the sentence's final punctuation so sentence splitting keeps them together.
    """

    name = "extractive"

    def __init__(
        self, *, max_sentences: int = 1, min_overlap: float = 0.3, min_shared: int = 2, number_bonus: float = 0.25
    ) -> None:
        self.max_sentences = max_sentences
        self.min_overlap = min_overlap  # share of the question's bigrams a sentence must contain
        self.min_shared = min_shared
        self.number_bonus = number_bonus

    def answer(self, question: str, passages: list[str], *, asked: str = "") -> str:
        """Up to `max_sentences` best sentences, each with its marker; "" when no sentence overlaps enough.
        `asked`: the follow-up as the resident asked it, when `question` is its rewrite (see rank)."""
        chosen = self.rank(question, passages, asked=asked)[: self.max_sentences]
        return "".join(self._cite(s.sentence, s.passage) for s in chosen)

    def rank(self, question: str, passages: list[str], *, asked: str = "") -> list[ScoredSentence]:
        """Sentences that pass the thresholds, best first (ties: earlier passage, earlier sentence).

        With `asked`, the follow-up as asked when `question` is its rewrite, a sentence must also hold some of
        what the follow-up itself says, where its words are kept in the rewrite: "过年能放鞭炮吗？" after a question
        about a park is searched as "口袋公园 过年能放鞭炮吗？", and a sentence about the park alone matches only the
        topic carried over. The asked count or credit counts as holding it ("它一共有多少条？": "五十八条")."""
        wants_credit = bool(asks_for_credit(question))
        content = _content(question, wants_credit)
        wanted = bigrams(content, letters_only=True)
        if not wanted:
            return []
        own = wanted & bigrams(_content(asked, wants_credit), letters_only=True) if asked else frozenset()
        wants_number = bool(ASKS_FOR_NUMBER.search(question))
        figure = _DAY if ASKS_FOR_DAY.search(question) else _NUMBER
        counted = _asked_count(question)
        who = _ASKS_WHO.search(question)
        words = [(w, f) for w, f in lexicon.pos_tagger().cut(question) if w.strip()]
        act = "" if wants_credit or who else _asked_act(words)
        measured = _asked_quantity(words) if wants_number else ("", "")
        introduced = re.compile(rf"(?:{_POST})(?:[、，]?){re.escape(who['name'])}") if who else None
        scored: list[ScoredSentence] = []
        seen: set[str] = set()
        # a credit answers for its whole article: the question's topic, dates and figures included, is the passage's
        about = bigrams(content) if wants_credit else frozenset()
        for n, passage in enumerate(passages, start=1):
            # how much of the question the whole passage shares: needed only for a count or person asked for
            topic = len(wanted & bigrams(passage, letters_only=True)) / len(wanted) if counted or act else 0.0
            credit_topic = len(about & bigrams(passage)) / len(about) if about else 0.0
            for match in _SENTENCE.finditer(passage):
                raw = match.group().strip()
                names = credited(raw)
                # the byline stays where the question asks for it or names one of its people
                kept = bool(names) and (wants_credit or any(name in question for name in names))
                sentence = raw if kept else _BYLINE.sub("", raw).strip()
                key = _NOT_TEXT.sub("", sentence)
                if len(key) < 4 or key in seen:
                    continue
                seen.add(key)
                said = bigrams(sentence, letters_only=True)
                shared = len(wanted & said)
                overlap = shared / len(wanted)
                if kept and wants_credit and credit_topic >= self.min_overlap:
                    # the credit of a passage about the question answers "who wrote it": as good as the passage
                    scored.append(ScoredSentence(credit_topic + 2 * self.number_bonus, n, sentence))
                    continue
                if counted is not None and shared and topic >= self.min_overlap and counted.search(sentence):
                    # the asked count, in a passage about the question: as good as the passage, and better than
                    # a sentence that only repeats the question's topic
                    scored.append(ScoredSentence(max(overlap, topic) + 2 * self.number_bonus, n, sentence))
                    continue
                if own and not own & said:
                    continue  # it matches only the topic a follow-up's rewrite carried over
                if act and act in sentence and topic >= self.min_overlap and _new_person(sentence, question):
                    # the people who did what is asked, in a passage about the question: as good as the passage,
                    # and better than a sentence that only repeats the question's topic
                    scored.append(ScoredSentence(max(overlap, topic) + self.number_bonus, n, sentence))
                    continue
                if shared < self.min_shared or overlap < self.min_overlap:
                    continue
                bonus = self.number_bonus if wants_number and figure.search(sentence) else 0.0
                if measured[1] and measured[1] in sentence:
                    # the quantity asked for: "…有多少税收？" wants 税收's sentence, and "新能源产业产值是多少？" the
                    # sentence naming it so over one of another 产值
                    bonus += self.number_bonus / (1 if measured[0] in sentence else 2)
                if introduced is not None and introduced.search(sentence):
                    bonus = 2 * self.number_bonus  # the person with their posts: who they are
                scored.append(ScoredSentence(overlap + bonus, n, sentence))
        scored.sort(key=lambda s: -s.score)  # stable: keeps passage and sentence order among equals
        if not scored:
            return []
        # weaker sentences only pad the answer; keep those close to the best
        return [s for s in scored if s.score >= 0.6 * scored[0].score]

    @staticmethod
    def _cite(sentence: str, n: int) -> str:
        body = sentence.rstrip(SENTENCE_ENDS + " ")
        end = sentence[len(body) :].strip()[-1:] if sentence[len(body) :].strip() else ""
        if end not in ("。", "！", "？", "!", "?"):
            end = "。"
        return f"{body}[{n}]{end}"


def _asked_act(words: list[tuple[str, str]]) -> str:
    """What a question (its tagged `words`) asks who did: the verb after its 谁 ("参加" of "谁参加了会议？" and of
    "哪位区领导参加了…？"), or ""."""
    at = next((i for i, (w, f) in enumerate(words) if f == "r" and w in _ASKS_PERSON), None)
    if at is None or (words[at][0] == "哪些" and words[at + 1 : at + 2] != [("人", "n")]):
        return ""
    return next((w for w, f in words[at + 1 : at + 5] if f in _ACT_FLAGS and len(w) > 1), "")


def _new_person(sentence: str, question: str) -> bool:
    """Does `sentence` name a person `question` does not?"""
    return any(name not in question for name in named_entities(sentence, people_only=True))


def asked_who(question: str, *, loose: bool = False) -> tuple[str, ...]:
    """The people `question` asks who they are ("乔俊杰是谁？", "李皓担任什么职务？"), or (). `loose` adds the words
    before the asking ones when jieba tags no name there ("陆新是谁？"), for a lookup that needs an exact name."""
    asked = _ASKS_WHO.search(question)
    if not asked:
        return ()
    people = named_entities(question, people_only=True)
    return (*people, asked["name"]) if loose and asked["name"] not in people else people


def posts_of(name: str, sentence: str) -> str:
    """The posts `sentence` gives right before `name` where it introduces them, or "": of "…，市委常委、区委书记、
    武进国家高新区党工委书记乔俊杰专题调研…", "市委常委、区委书记、武进国家高新区党工委书记"."""
    at = sentence.find(name)
    while at >= 0:
        clause = _CLAUSE_BREAK.split(sentence[:at])[-1]
        if _ENDS_WITH_POST.search(clause) and len(clause) <= _MAX_POSTS_CHARS:
            return clause
        at = sentence.find(name, at + 1)
    return ""


_CLAUSE_BREAK = re.compile(r"[，。；：:,;（(）)“”\s]")
_ENDS_WITH_POST = re.compile(rf"(?:{_POST})$")
_MAX_POSTS_CHARS = 60


def asks_for_credit(question: str) -> str:
    """ "photo" when `question` asks who took a photo, "report" when it asks who wrote a report, else ""."""
    if not _ASKS_FOR_CREDIT.search(question) or not _CREDITED_WORK.search(question):
        return ""
    return "photo" if _ASKS_FOR_PHOTO.search(question) else "report"


def credited(sentence: str) -> tuple[str, ...]:
    """The people a sentence credits: a dateline's reporters ("本报讯（记者 朱梦琪）昨天上午，…") or a caption's
    photographers ("陆新 徐晶玮 摄"); () for any other sentence."""
    reporters = dateline_reporters(_NEWS_LEAD.sub("", sentence.translate(_FULLWIDTH_PARENS)))
    if reporters:
        return reporters
    credit = photo_credit(sentence)
    return credit[1] if credit else ()


def _asked_quantity(words: list[tuple[str, str]]) -> tuple[str, str]:
    """What a question (its tagged `words`) asks the amount of, with the nouns before it, and its last noun:
    ("税收", "税收") of "武进高新区有多少税收？" and of "武高新税收是多少？", ("新能源产业产值", "产值") of
    "2023年武高新新能源产业产值是多少？"; ("", "") when it asks none."""
    for i, (word, _) in enumerate(words):
        if word != "多少":
            continue
        after = words[i + 1] if i + 1 < len(words) else ("", "")
        if after[1] in _QUANTITY_NOUNS and len(after[0]) > 1:
            return after[0], after[0]
        j = i - 1
        while j >= 0 and words[j][0] in _ASKING_LINKS:
            j -= 1
        if j >= 0 and words[j][1] in _QUANTITY_NOUNS and len(words[j][0]) > 1:
            start = j
            while start and words[start - 1][1] in _QUANTITY_NOUNS and len(words[start - 1][0]) > 1:
                start -= 1
            return "".join(w for w, _ in words[start : j + 1]), words[j][0]
    return "", ""


_QUANTITY_NOUNS = {"n", "nz", "vn", "eng", "l"}
_ASKING_LINKS = {"是", "有", "为", "达到", "达", "共有", "一共", "了", "约", "大约", "总共"}


def _asked_count(question: str) -> re.Pattern[str] | None:
    """A number in the unit `question` asks for ("多少条" → "五十八条", "多大" → "7200平方米"), or None."""
    unit = _ASKED_UNIT.search(question)
    measure = _MEASURE_WORD.search(question)
    units = _SAME_COUNT.get(unit["unit"], unit["unit"]) if unit else _ASKED_MEASURE[measure.group()] if measure else ""
    return re.compile(rf"(?:[0-9０-９.．]+|[{CN_NUMERAL_CHARS}万亿]+)(?:{units})") if units else None


def _content(question: str, wants_credit: bool) -> str:
    """What `question` is about: without its question words, and for a credit question without the frame
    ("…的报道是哪位记者写的"), which is no part of its topic and which every byline shares."""
    content = _CREDIT_FRAME.sub(" ", _ASKS_FOR_CREDIT.sub(" ", question)) if wants_credit else question
    for word in QUESTION_WORDS:
        content = content.replace(word, " ")
    return content
