"""Recursive-descent parser: rule text (Chinese or English keywords) -> :class:`model.Rule`.

Grammar (clauses in any order, each at most once; ``|`` separates Chinese and English)::

    rule      := clause*
    clause    := 范围|scope scope
               | 过去|window|last NUMBER 天|days
               | 人群|audience (标签|tag | 画像|persona) VALUE [买过|bought]
               | 筛选|where expr
               | 排序|rank by metric [降序|desc | 升序|asc]
               | 前|top NUMBER
    scope     := 全部|all | 小区|community (STRING|NUMBER) | 类型|type VALUE
               | 区域|region (STRING|NUMBER)
    expr      := conj (或|or conj)*
    conj      := neg (且|and neg)*
    neg       := 非|not neg | "(" expr ")" | cond
    cond      := metric OP NUMBER
               | ATTR (= | !=) STRING | ATTR 属于|in "(" STRING ("," STRING)* ")"
               | 标签|tag 包含|has STRING | 名称|name 包含|contains STRING
               | 上新|launched (>= DATE | 近|within NUMBER 天|days | 本月|this month)
    metric    := METRIC | METRIC "(" STRING ")"
"""

from __future__ import annotations

import datetime as dt
import difflib
import re

from engine import limits
from engine.rules import lexer, model
from engine.rules.errors import RuleError
from engine.rules.lexer import Token

_SURROGATE = re.compile("[\ud800-\udfff]")
_CLAUSE_WORDS = "范围/scope, 过去/window, 人群/audience, 筛选/where, 排序/rank by, 前/top"


def parse(text: str) -> model.Rule:
    """Parse a rule text.

    Parameters
    ----------
    text
        For example ``范围 小区 "云顶华府" 过去 30 天 筛选 库存天数 >= 3 排序 浏览量 降序 前 10``
        or ``scope community "云顶华府" window 30 days where stock_days >= 3 rank by views
        desc top 10``.

    Returns
    -------
    model.Rule
        The structured rule; clauses left out take the defaults of :class:`model.Rule`.

    Raises
    ------
    RuleError
        With ``.position`` and a message naming what was expected there; also for text
        beyond the limits of :mod:`engine.limits` (length, nesting, numbers, days).
    """
    if not isinstance(text, str):
        raise TypeError(f"rule text must be a str, got {type(text).__name__}")
    if len(text) > limits.RULE_MAX_CHARS:
        raise RuleError(
            f"the rule has {len(text):,} characters; at most {limits.RULE_MAX_CHARS:,} are read",
            limits.RULE_MAX_CHARS,
        )
    broken = _SURROGATE.search(text)
    if broken:  # cannot be UTF-8 encoded, so no database could take it as a parameter
        raise RuleError(
            f"character {broken.group()!r} is half of a UTF-16 pair, not text",
            broken.start(),
            found=repr(broken.group()),
        )
    return _Parser(lexer.tokenize(text)).rule()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.toks = tokens
        self.i = 0
        self.audience_metric_at: int | None = None
        self.depth = 0  # open parentheses plus 非/not around the current condition

    # ------------------------------------------------------------------ helpers
    def peek(self) -> Token:
        return self.toks[self.i]

    def next(self) -> Token:
        tok = self.toks[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def at_kw(self, *values: str) -> bool:
        tok = self.peek()
        return tok.kind == "kw" and tok.value in values

    def fail(self, expected: str, tok: Token | None = None, *alts: str) -> RuleError:
        tok = tok or self.peek()
        return RuleError(
            f"expected {expected}, found {tok.describe()}",
            tok.pos,
            expected=alts or (expected,),
            found=tok.describe(),
        )

    def expect_kw(self, value: str, words: str) -> Token:
        if not self.at_kw(value):
            raise self.fail(words)
        return self.next()

    def number(self, what: str, whole: bool = False) -> tuple[float, Token]:
        tok = self.peek()
        if tok.kind != "number":
            raise self.fail(what)
        self.next()
        value = float(tok.value)  # type: ignore[arg-type]
        shown = tok.text if len(tok.text) <= 24 else tok.text[:21] + "..."
        if whole and not value.is_integer():
            raise RuleError(f"{what} must be a whole number, found {shown}", tok.pos)
        if not abs(value) <= limits.RULE_MAX_NUMBER:  # also NaN and infinity
            raise RuleError(
                f"{what}: the number {shown} is out of range (at most "
                f"{limits.RULE_MAX_NUMBER:g} either way)",
                tok.pos,
            )
        return value, tok

    def string(self, what: str) -> str:
        tok = self.peek()
        if tok.kind != "string":
            raise self.fail(f"{what} in quotes")
        self.next()
        return str(tok.value)

    # ------------------------------------------------------------------ clauses
    def rule(self) -> model.Rule:
        parts: dict[str, object] = {}
        if self.peek().kind == "eof":
            raise self.fail(f"a clause ({_CLAUSE_WORDS})")
        handlers = {
            "scope": self.clause_scope,
            "window": self.clause_window,
            "audience": self.clause_audience,
            "where": self.clause_where,
            "rank": self.clause_rank,
            "top": self.clause_top,
        }
        previous = None
        while self.peek().kind != "eof":
            tok = self.peek()
            name = str(tok.value)
            if tok.kind != "kw" or name not in handlers:
                if previous == "where":
                    raise self.fail(f"且/and, 或/or or a new clause ({_CLAUSE_WORDS})")
                raise self.fail(f"a clause ({_CLAUSE_WORDS})")
            if name in parts:
                raise RuleError(f"the {tok.text} clause appears twice; give it once", tok.pos)
            self.next()
            parts[name] = handlers[name](tok)
            previous = name
        audience = parts.get("audience")
        if self.audience_metric_at is not None and audience is None:
            raise RuleError(
                "this metric counts the audience's purchases; add 人群/audience (e.g. 人群 标签 "
                '"儿童")',
                self.audience_metric_at,
                expected=("人群", "audience"),
            )
        return model.Rule(
            scope=parts.get("scope", model.CommunityFilter()),  # type: ignore[arg-type]
            window_days=int(parts.get("window", 30)),  # type: ignore[call-overload]
            audience=audience,  # type: ignore[arg-type]
            where=parts.get("where"),  # type: ignore[arg-type]
            rank=parts.get("rank", model.Rank()),  # type: ignore[arg-type]
            top=int(parts.get("top", 10)),  # type: ignore[call-overload]
        )

    def clause_scope(self, _: Token) -> model.CommunityFilter:
        tok = self.next()
        if tok.kind == "kw" and tok.value == "all":
            return model.CommunityFilter("all")
        if tok.kind == "kw" and tok.value in ("community", "region"):
            what = "a community name" if tok.value == "community" else "a region (district) name"
            nxt = self.peek()
            if nxt.kind == "number":
                value, _ = self.number("an id", whole=True)
                return model.CommunityFilter(tok.value, int(value))  # type: ignore[arg-type]
            if nxt.kind != "string":
                raise self.fail(f'{what} in quotes (e.g. "云顶华府") or an id')
            self.next()
            if not str(nxt.value).strip():
                raise RuleError(f"{what} must not be empty", nxt.pos)
            return model.CommunityFilter(tok.value, str(nxt.value))  # type: ignore[arg-type]
        if tok.kind == "kw" and tok.value == "type":
            return model.CommunityFilter(
                "type", self.enum_value(model.COMMUNITY_TYPES, "community type")
            )
        raise self.fail("小区/community, 类型/type, 区域/region or 全部/all after 范围/scope", tok)

    def enum_value(self, table: dict[str, str], what: str) -> str:
        tok = self.peek()
        if tok.kind not in ("string", "ident", "word", "kw"):
            raise self.fail(f"a {what} in quotes")
        self.next()
        raw = str(tok.value) if tok.kind != "kw" else tok.text
        for key, zh in table.items():
            if raw.lower() == key or raw == zh:
                return key
        choices = ", ".join(f"{zh}/{key}" for key, zh in table.items())
        raise RuleError(
            f"unknown {what} {raw!r}; expected one of {choices}",
            tok.pos,
            expected=tuple(table),
            found=raw,
        )

    def clause_window(self, _: Token) -> int:
        value, tok = self.number("the number of days (e.g. 过去 30 天 / window 30 days)", True)
        if not 1 <= value <= model.MAX_WINDOW_DAYS:
            raise RuleError(
                f"the window must be 1 to {model.MAX_WINDOW_DAYS} days, found {tok.text}", tok.pos
            )
        self.expect_kw("days", "天/days after the number of days")
        return int(value)

    def clause_audience(self, _: Token) -> model.Audience:
        tok = self.next()
        if tok.kind == "kw" and tok.value == "tag":
            value = self.enum_value(model.USER_TAGS, "user tag")
            kind = "tag"
        elif tok.kind == "kw" and tok.value == "persona":
            value = self.enum_value(model.PERSONAS, "persona")
            kind = "persona"
        else:
            raise self.fail("标签/tag or 画像/persona after 人群/audience", tok)
        bought = self.at_kw("bought")
        if bought:
            self.next()
        return model.Audience(kind, value, bought)  # type: ignore[arg-type]

    def clause_where(self, _: Token) -> model.Condition:
        return self.expr()

    def clause_rank(self, tok: Token) -> model.Rank:
        if tok.text.lower() == "rank":
            self.expect_kw("by", "'by' after 'rank'")
        metric = self.metric("a metric to rank by")
        descending = True
        if self.at_kw("desc", "asc"):
            descending = self.next().value == "desc"
        return model.Rank(metric, descending)

    def clause_top(self, _: Token) -> int:
        value, tok = self.number("how many SKUs to keep per community (e.g. 前 10 / top 10)", True)
        if not 1 <= value <= model.MAX_TOP:
            raise RuleError(f"top must be 1 to {model.MAX_TOP}, found {tok.text}", tok.pos)
        return int(value)

    # ------------------------------------------------------------------ conditions
    def expr(self) -> model.Condition:
        parts = [self.conj()]
        while self.at_kw("or"):
            self.next()
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else model.Or(tuple(parts))

    def conj(self) -> model.Condition:
        parts = [self.neg()]
        while self.at_kw("and"):
            self.next()
            parts.append(self.neg())
        return parts[0] if len(parts) == 1 else model.And(tuple(parts))

    def neg(self) -> model.Condition:
        tok = self.peek()
        if not self.at_kw("not") and tok.kind != "(":
            return self.cond()
        # Each level is a Python call: bound it before the interpreter's recursion limit.
        if self.depth >= limits.RULE_MAX_DEPTH:
            raise RuleError(
                f"conditions are nested more than {limits.RULE_MAX_DEPTH} levels deep "
                "(parentheses and 非/not together); simplify the condition",
                tok.pos,
            )
        self.depth += 1
        self.next()
        inner: model.Condition
        if tok.kind != "(":
            inner = model.Not(self.neg())
        else:
            inner = self.expr()
            if self.peek().kind != ")":
                raise self.fail(f"')' to close the '(' at position {tok.pos}")
            self.next()
        self.depth -= 1
        return inner

    def cond(self) -> model.Condition:
        tok = self.peek()
        if tok.kind == "metric":
            metric = self.metric("a metric")
            op = self.peek()
            if op.kind != "op":
                raise self.fail("a comparison (>=, <=, >, <, =, !=) after the metric")
            self.next()
            value, _ = self.number(f"a number after {op.text}")
            return model.Compare(metric, str(op.value), value)
        if tok.kind == "attr":
            return self.attr_cond()
        if tok.kind == "kw" and tok.value in ("tag", "name"):
            self.next()
            self.expect_kw(
                "has", f"包含/{'has' if tok.value == 'tag' else 'contains'} after {tok.text}"
            )
            text = self.string("a tag" if tok.value == "tag" else "the text to look for")
            return model.TagHas(text) if tok.value == "tag" else model.NameHas(text)
        if tok.kind == "kw" and tok.value == "launched":
            return self.launched()
        if tok.kind in ("ident", "word"):
            raise self.unknown_name(tok)
        raise self.fail(
            "a condition (a metric, 类目/category, 储存/storage, 标签/tag, 名称/name, 上新/launched or '(')"
        )

    def unknown_name(self, tok: Token) -> RuleError:
        names = [k for k, (kind, _) in lexer.KEYWORDS.items() if kind in ("metric", "attr")]
        close = difflib.get_close_matches(tok.text.lower(), names, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else "."
        known = ", ".join(f"{zh}/{en}" for en, zh in model.METRICS.items())
        return RuleError(
            f"unknown metric or attribute '{tok.text}'{hint} Known metrics: {known}",
            tok.pos,
            expected=tuple(model.METRICS),
            found=tok.text,
        )

    def metric(self, what: str) -> model.Metric:
        tok = self.peek()
        if tok.kind in ("ident", "word"):
            raise self.unknown_name(tok)
        if tok.kind != "metric":
            raise self.fail(what)
        self.next()
        name = str(tok.value)
        if name in model.AUDIENCE_METRICS and self.audience_metric_at is None:
            self.audience_metric_at = tok.pos
        if self.peek().kind == "(":
            if name not in model.KEYWORD_METRICS:
                raise RuleError(
                    f"the metric {tok.text} takes no keyword in parentheses", self.peek().pos
                )
            self.next()
            arg = self.string("a topic keyword")
            if self.peek().kind != ")":
                raise self.fail("')' after the keyword")
            self.next()
            return model.Metric(name, arg)
        if name in model.KEYWORD_METRICS:
            raise RuleError(
                f'the metric {tok.text} needs a topic keyword, e.g. {tok.text}("低糖水果")',
                self.peek().pos,
                expected=("(",),
                found=self.peek().describe(),
            )
        return model.Metric(name)

    def attr_cond(self) -> model.AttrIn:
        tok = self.next()
        attr = str(tok.value)
        op = self.peek()
        if op.kind == "op" and op.value in ("=", "!="):
            self.next()
            return model.AttrIn(attr, (self.string(f"a {attr} value"),), op.value == "!=")
        if self.at_kw("in"):
            self.next()
            if self.peek().kind != "(":
                raise self.fail(f"'(' and a list of {attr} values after 属于/in")
            self.next()
            values = [self.string(f"a {attr} value")]
            while self.peek().kind == ",":
                self.next()
                values.append(self.string(f"a {attr} value"))
            if self.peek().kind != ")":
                raise self.fail("',' or ')' in the list of values")
            self.next()
            return model.AttrIn(attr, tuple(values))
        raise self.fail(f"=, != or 属于/in after {tok.text} (it is text, not a number)")

    def launched(self) -> model.Launched:
        self.next()
        tok = self.peek()
        if tok.kind == "op" and tok.value == ">=":
            self.next()
            date_tok = self.peek()
            if date_tok.kind != "date":
                raise self.fail("a date like 2026-10-01")
            self.next()
            try:
                day = dt.date.fromisoformat(_pad_date(str(date_tok.value)))
            except ValueError:
                raise RuleError(f"{date_tok.text} is not a valid date", date_tok.pos) from None
            return model.Launched("since", since=day)
        if self.at_kw("within"):
            self.next()
            value, num = self.number("a number of days after 近/within", whole=True)
            if not 1 <= value <= limits.RULE_MAX_LAUNCH_DAYS:
                raise RuleError(
                    f"the number of days must be 1 to {limits.RULE_MAX_LAUNCH_DAYS:,}, "
                    f"found {num.text[:24]}",
                    num.pos,
                )
            self.expect_kw("days", "天/days")
            return model.Launched("within", days=int(value))
        if self.at_kw("this_month"):
            self.next()
            return model.Launched("this_month")
        if self.at_kw("this"):
            self.next()
            self.expect_kw("month", "'month' after 'this'")
            return model.Launched("this_month")
        raise self.fail(">= DATE, 近/within N 天/days or 本月/this month after 上新/launched")


def _pad_date(text: str) -> str:
    y, m, d = text.split("-")
    return f"{y}-{int(m):02d}-{int(d):02d}"
