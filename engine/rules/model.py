"""The structured form of a selection rule: frozen dataclasses the parser and the UI both build.

A rule reads: *in this scope, over this look-back window, for this audience, keep the SKUs
that satisfy this condition, rank them by this metric and keep the first N per community*.
Every name in here (metric, attribute, scope kind, user tag) is checked against the tables
below, so the compiler only ever maps names it knows to SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from engine import limits

# Metrics a condition or the ranking may use: English name -> Chinese keyword.
# Definitions live with their SQL in engine/rules/compile.py and in docs (README of the package).
METRICS: dict[str, str] = {
    "views": "浏览量",
    "carts": "加购量",
    "units": "销量",
    "gmv": "成交额",
    "conversion": "转化率",
    "margin": "毛利",
    "margin_rate": "毛利率",
    "stock_days": "库存天数",
    "available_days": "可供天数",
    "price_pct": "单价分位",
    "price": "单价",
    "trend": "销量趋势",
    "view_trend": "浏览趋势",
    "mentions": "话题热度",
    "mention_trend": "话题趋势",
    "aud_units": "人群销量",
    "aud_buyers": "人群买家",
}
# Metrics that take a keyword argument: mentions("低糖水果").
KEYWORD_METRICS = frozenset({"mentions", "mention_trend"})
# Metrics that only make sense with an audience clause.
AUDIENCE_METRICS = frozenset({"aud_units", "aud_buyers"})

# SKU attributes compared with "=" / "!=" / "in": English name -> Chinese keyword.
ATTRIBUTES: dict[str, str] = {"category": "类目", "storage": "储存"}

# User tags (derived from what users state at sign-up) and behavioural personas.
USER_TAGS: dict[str, str] = {
    "kids": "儿童",
    "pet": "宠物",
    "senior": "老人",
    "young": "青年",
    "female": "女性",
    "male": "男性",
}
PERSONAS: dict[str, str] = {
    "high_value": "高价值",
    "new": "新用户",
    "dormant": "沉睡",
}

SCOPE_KINDS = ("all", "community", "type", "region")
COMMUNITY_TYPES: dict[str, str] = {
    "high_end": "高端",
    "young_family": "年轻家庭",
    "elderly": "老年",
    "mixed": "混合",
    "new_town": "新城",
}
OPS = (">=", "<=", ">", "<", "=", "!=")

MAX_TOP = 1000
MAX_WINDOW_DAYS = 730


@dataclass(frozen=True)
class CommunityFilter:
    """Which communities a rule covers.

    ``kind`` is one of ``all``, ``community`` (value: name or id), ``type`` (value: a
    community type such as ``high_end``) or ``region`` (value: district name or id).
    """

    kind: Literal["all", "community", "type", "region"] = "all"
    value: str | int | None = None


@dataclass(frozen=True)
class Audience:
    """Users the selection is for: a stated tag (``kids``) or a behavioural persona.

    The audience narrows the scope to communities where such users live and makes the
    ``aud_units`` / ``aud_buyers`` metrics available; with ``bought_only`` the SKUs are
    further limited to those these users bought in the window.
    """

    kind: Literal["tag", "persona"]
    value: str
    bought_only: bool = False


@dataclass(frozen=True)
class Metric:
    """A metric by name, with a keyword argument for topic metrics."""

    name: str
    arg: str | None = None


@dataclass(frozen=True)
class Compare:
    """``metric op number``, e.g. ``stock_days >= 3``."""

    metric: Metric
    op: str
    value: float


@dataclass(frozen=True)
class AttrIn:
    """``category = "水果"`` or ``category in ("水果", "乳品")``; ``negate`` for ``!=``."""

    attr: str
    values: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True)
class TagHas:
    """The SKU carries this tag (``tag has "organic"``)."""

    tag: str


@dataclass(frozen=True)
class NameHas:
    """The SKU name contains this text, matched literally (``name contains "果泥"``)."""

    text: str


@dataclass(frozen=True)
class Launched:
    """SKU launch date: on/after ``since``, ``within`` the last N days, or ``this_month``."""

    kind: Literal["since", "within", "this_month"]
    since: dt.date | None = None
    days: int | None = None


@dataclass(frozen=True)
class And:
    """All of the parts hold."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    """At least one part holds."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """The part does not hold."""

    part: Condition


Condition = Compare | AttrIn | TagHas | NameHas | Launched | And | Or | Not


@dataclass(frozen=True)
class Rank:
    """Order the kept SKUs of each community by a metric."""

    metric: Metric = field(default_factory=lambda: Metric("units"))
    descending: bool = True


@dataclass(frozen=True)
class Rule:
    """A complete selection rule. Defaults: all communities, 30 days, rank by units, top 10."""

    scope: CommunityFilter = field(default_factory=CommunityFilter)
    window_days: int = 30
    audience: Audience | None = None
    where: Condition | None = None
    rank: Rank = field(default_factory=Rank)
    top: int = 10


def metrics_used(rule: Rule) -> list[Metric]:
    """Return the distinct metrics a rule refers to, ranking metric first.

    Parameters
    ----------
    rule
        A parsed or hand-built rule.

    Returns
    -------
    list of Metric
        In first-use order, without repeats.
    """
    found: list[Metric] = [rule.rank.metric]

    def walk(c: Condition | None) -> None:
        if c is None:
            return
        if isinstance(c, Compare):
            if c.metric not in found:
                found.append(c.metric)
        elif isinstance(c, And | Or):
            for p in c.parts:
                walk(p)
        elif isinstance(c, Not):
            walk(c.part)

    walk(rule.where)
    return found


def validate(rule: Rule) -> Rule:
    """Check a structured rule (as the UI builds it) and return it unchanged.

    Parameters
    ----------
    rule
        The rule to check.

    Returns
    -------
    Rule
        The same rule.

    Raises
    ------
    ValueError
        Naming the first unknown metric, attribute, tag, operator or out-of-range number,
        or a condition tree nested deeper than ``limits.RULE_MAX_TREE_DEPTH``.
    """
    _check_depth(rule.where)
    if rule.scope.kind not in SCOPE_KINDS:
        raise ValueError(f"unknown scope kind {rule.scope.kind!r}; expected one of {SCOPE_KINDS}")
    if rule.scope.kind != "all" and rule.scope.value in (None, ""):
        raise ValueError(f"scope {rule.scope.kind} needs a value")
    if rule.scope.kind == "type" and rule.scope.value not in COMMUNITY_TYPES:
        raise ValueError(
            f"unknown community type {rule.scope.value!r}; expected one of {list(COMMUNITY_TYPES)}"
        )
    if not 1 <= rule.window_days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window must be 1..{MAX_WINDOW_DAYS} days, got {rule.window_days}")
    if not 1 <= rule.top <= MAX_TOP:
        raise ValueError(f"top must be 1..{MAX_TOP}, got {rule.top}")
    if rule.audience is not None:
        a = rule.audience
        table = USER_TAGS if a.kind == "tag" else PERSONAS if a.kind == "persona" else None
        if table is None:
            raise ValueError(f"unknown audience kind {a.kind!r}; expected tag or persona")
        if a.value not in table:
            raise ValueError(f"unknown user {a.kind} {a.value!r}; expected one of {list(table)}")
    for m in metrics_used(rule):
        _check_metric(m, rule.audience is not None)

    def walk(c: Condition | None) -> None:
        if c is None:
            return
        if isinstance(c, Compare):
            if c.op not in OPS:
                raise ValueError(f"unknown operator {c.op!r}; expected one of {OPS}")
            if not abs(c.value) <= limits.RULE_MAX_NUMBER:  # also NaN and infinity
                raise ValueError(
                    f"the number {c.value:g} is out of range (at most "
                    f"{limits.RULE_MAX_NUMBER:g} either way)"
                )
        elif isinstance(c, AttrIn):
            if c.attr not in ATTRIBUTES:
                raise ValueError(
                    f"unknown attribute {c.attr!r}; expected one of {list(ATTRIBUTES)}"
                )
            if not c.values:
                raise ValueError(f"{c.attr} needs at least one value")
            if c.negate and len(c.values) != 1:
                raise ValueError("negate takes one value; wrap an 'in' list in Not(...)")
        elif isinstance(c, Launched):
            if c.kind == "since" and c.since is None:
                raise ValueError("launched since needs a date")
            if c.kind == "within" and (c.days is None or c.days < 1):
                raise ValueError("launched within needs a positive number of days")
            if c.kind == "within" and c.days is not None and c.days > limits.RULE_MAX_LAUNCH_DAYS:
                raise ValueError(
                    f"launched within takes at most {limits.RULE_MAX_LAUNCH_DAYS} days, "
                    f"got {c.days}"
                )
        elif isinstance(c, And | Or):
            if len(c.parts) < 2:
                raise ValueError("and/or need at least two parts")
            for p in c.parts:
                walk(p)
        elif isinstance(c, Not):
            walk(c.part)
        elif not isinstance(c, TagHas | NameHas):
            raise ValueError(f"not a condition: {c!r}")

    walk(rule.where)
    return rule


def _check_depth(where: Condition | None) -> None:
    """Refuse a tree deeper than the limit, without recursion (it may be 100,000 deep)."""
    stack = [(where, 1)] if where is not None else []
    while stack:
        c, depth = stack.pop()
        if depth > limits.RULE_MAX_TREE_DEPTH:
            raise ValueError(
                f"conditions are nested more than {limits.RULE_MAX_TREE_DEPTH} levels deep"
            )
        if isinstance(c, And | Or):
            stack.extend((p, depth + 1) for p in c.parts)
        elif isinstance(c, Not):
            stack.append((c.part, depth + 1))


def _check_metric(m: Metric, has_audience: bool) -> None:
    if m.name not in METRICS:
        raise ValueError(f"unknown metric {m.name!r}; expected one of {list(METRICS)}")
    if (m.name in KEYWORD_METRICS) != (m.arg is not None):
        need = "needs" if m.name in KEYWORD_METRICS else "takes no"
        raise ValueError(f"metric {m.name} {need} a keyword argument")
    if m.name in AUDIENCE_METRICS and not has_audience:
        raise ValueError(f"metric {m.name} needs an audience clause")
