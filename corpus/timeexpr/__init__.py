"""Resolve relative Chinese time expressions (昨天上午, 上周五, 春节前) against a publication or question date.

Articles say "昨天上午" and questions say "去年的产值"; neither can be matched against the other, nor answered,
without the date they are relative to. A relative year, month or week and the absolute part it leads ("三年前5月",
"上个月5日", "去年春节期间") are one expression with one date. Articles also get the first year implied by
counting expressions ("2024年是…的第六年", "十年来"). The rules here are hand-written and deliberately conservative: a
word that might be part of a longer word ("目前天气", "说明天津", "如今年轻人") or whose reference is unclear
is left alone rather than guessed.

`spans` holds what every rule shares; `days`, `years` and `festivals` hold the rules; `relative` resolves an
article's expressions, `periods` lists the days and periods an article speaks about, `notes` writes the notes for
readers, and `questions` reads the period a question names.
"""

from corpus.timeexpr.notes import AnnotatedText, annotate, annotate_with_offsets, note_days
from corpus.timeexpr.periods import dated_mentions, spoken_periods
from corpus.timeexpr.questions import TimeScope, parse_question_time, relative_mentions, rewrite_question
from corpus.timeexpr.relative import resolve_expressions
from corpus.timeexpr.spans import TimeMention, parse_range, render_day

__all__ = [
    "AnnotatedText",
    "TimeMention",
    "TimeScope",
    "annotate",
    "annotate_with_offsets",
    "dated_mentions",
    "note_days",
    "parse_question_time",
    "parse_range",
    "relative_mentions",
    "render_day",
    "resolve_expressions",
    "rewrite_question",
    "spoken_periods",
]
