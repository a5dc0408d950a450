"""Tokens of the rule language: Chinese and English keywords, quoted text, numbers, dates.

Chinese is written without spaces ("过去30天浏览量TOP10"), so Chinese keywords are found by
longest match at each position; English words are split at digits so ``TOP10`` reads as
``TOP 10``. Every token keeps its character offset for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.rules import model
from engine.rules.errors import RuleError

# surface word -> (token kind, canonical value). English words are matched lower-cased.
KEYWORDS: dict[str, tuple[str, str]] = {}


def _add(kind: str, value: str, *surfaces: str) -> None:
    for s in surfaces:
        KEYWORDS[s.lower()] = (kind, value)


_add("kw", "scope", "范围", "scope")
_add("kw", "community", "小区", "community")
_add("kw", "type", "类型", "type")
_add("kw", "region", "区域", "region")
_add("kw", "all", "全部", "所有", "all")
_add("kw", "window", "过去", "近期", "window", "last")
_add("kw", "days", "天", "day", "days")
_add("kw", "audience", "人群", "audience")
_add("kw", "tag", "标签", "tag")
_add("kw", "persona", "画像", "persona")
_add("kw", "bought", "买过", "bought")
_add("kw", "where", "筛选", "where")
_add("kw", "and", "且", "并且", "and")
_add("kw", "or", "或", "或者", "or")
_add("kw", "not", "非", "not")
_add("kw", "rank", "排序", "rank")
_add("kw", "by", "by")
_add("kw", "desc", "降序", "desc")
_add("kw", "asc", "升序", "asc")
_add("kw", "top", "前", "top")
_add("kw", "has", "包含", "has", "contains")
_add("kw", "name", "名称", "name")
_add("kw", "in", "属于", "in")
_add("kw", "launched", "上新", "launched")
_add("kw", "within", "近", "within")
_add("kw", "this_month", "本月")
_add("kw", "this", "this")
_add("kw", "month", "month")
for _name, _zh in model.METRICS.items():
    _add("metric", _name, _name, _zh)
_add("metric", "gmv", "GMV")
for _name, _zh in model.ATTRIBUTES.items():
    _add("attr", _name, _name, _zh)

_CJK_KEYWORDS = sorted((k for k in KEYWORDS if not k.isascii()), key=len, reverse=True)
_MAX_CJK = max(len(k) for k in _CJK_KEYWORDS)

# Full-width punctuation typed by Chinese input methods, mapped one-to-one (offsets stay put).
_FULLWIDTH = str.maketrans("（），＞＜＝！：", "(),><=!:")
_OPS = (">=", "<=", "!=", "<>", "==", "≥", "≤", "≠", ">", "<", "=")
_OP_CANON = {"<>": "!=", "==": "=", "≥": ">=", "≤": "<=", "≠": "!="}
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」"}
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?![\d.])")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?%?")
_ASCII_WORD = re.compile(r"[A-Za-z_]+")


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` (kw, metric, attr, ident, word, string, number, date, op, (, ), ,,
    eof), its canonical ``value``, character offset ``pos`` and the ``text`` as written."""

    kind: str
    value: object
    pos: int
    text: str

    def describe(self) -> str:
        """Say what this token is, for 'found ...' in error messages."""
        if self.kind == "eof":
            return "the end of the rule"
        if self.kind == "string":
            return f"text {self.text}"
        if self.kind == "number":
            return f"number {self.text}"
        return f"'{self.text}'"


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def tokenize(text: str) -> list[Token]:
    """Split rule text into tokens.

    Parameters
    ----------
    text
        The rule as typed.

    Returns
    -------
    list of Token
        Ending with an ``eof`` token.

    Raises
    ------
    RuleError
        On an unterminated string, a malformed number or a character the language lacks.
    """
    src = text.translate(_FULLWIDTH)
    out: list[Token] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _QUOTES:
            i = _string(src, i, out)
            continue
        if ch in "(),":
            out.append(Token(ch, ch, i, ch))
            i += 1
            continue
        m = _DATE.match(src, i)
        if m:
            out.append(Token("date", m.group(), i, m.group()))
            i = m.end()
            continue
        m = _NUMBER.match(src, i)
        if m:
            raw = m.group()
            value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
            out.append(Token("number", value, i, raw))
            i = m.end()
            continue
        op = next((o for o in _OPS if src.startswith(o, i)), None)
        if op:
            out.append(Token("op", _OP_CANON.get(op, op), i, op))
            i += len(op)
            continue
        m = _ASCII_WORD.match(src, i)
        if m:
            word = m.group()
            kind, canon = KEYWORDS.get(word.lower(), ("ident", word))
            out.append(Token(kind, canon, i, word))
            i = m.end()
            continue
        if _is_cjk(ch):
            i = _cjk(src, i, out)
            continue
        raise RuleError(f"unexpected character {ch!r}", i, found=repr(ch))
    out.append(Token("eof", None, n, ""))
    return out


def _string(src: str, start: int, out: list[Token]) -> int:
    close = _QUOTES[src[start]]
    buf: list[str] = []
    i = start + 1
    while i < len(src):
        ch = src[i]
        if ch == "\\" and i + 1 < len(src):
            buf.append(src[i + 1])
            i += 2
            continue
        if ch == close:
            out.append(Token("string", "".join(buf), start, src[start : i + 1]))
            return i + 1
        buf.append(ch)
        i += 1
    raise RuleError(
        f"unterminated text: the quote opened here needs a closing {close}",
        start,
        expected=(close,),
        found="the end of the rule",
    )


def _cjk(src: str, start: int, out: list[Token]) -> int:
    kw = _keyword_at(src, start)
    if kw:
        kind, value = KEYWORDS[kw]
        out.append(Token(kind, value, start, kw))
        return start + len(kw)
    # An unknown Chinese word runs until a keyword starts or the Chinese text ends.
    i = start + 1
    while i < len(src) and _is_cjk(src[i]) and not _keyword_at(src, i):
        i += 1
    out.append(Token("word", src[start:i], start, src[start:i]))
    return i


def _keyword_at(src: str, i: int) -> str | None:
    window = src[i : i + _MAX_CJK]
    for kw in _CJK_KEYWORDS:
        if window.startswith(kw):
            return kw
    return None
