"""A rule back to text, in Chinese or English keywords; ``parse(to_text(r)) == r``."""

from __future__ import annotations

from engine.rules import model

_WORDS = {
    "zh": {
        "scope": "范围",
        "all": "全部",
        "community": "小区",
        "type": "类型",
        "region": "区域",
        "window": "过去",
        "days": "天",
        "audience": "人群",
        "tag": "标签",
        "persona": "画像",
        "bought": "买过",
        "where": "筛选",
        "and": "且",
        "or": "或",
        "not": "非",
        "rank": "排序",
        "desc": "降序",
        "asc": "升序",
        "top": "前",
        "has": "包含",
        "name": "名称",
        "contains": "包含",
        "in": "属于",
        "launched": "上新",
        "within": "近",
        "this_month": "本月",
    },
    "en": {
        "scope": "scope",
        "all": "all",
        "community": "community",
        "type": "type",
        "region": "region",
        "window": "window",
        "days": "days",
        "audience": "audience",
        "tag": "tag",
        "persona": "persona",
        "bought": "bought",
        "where": "where",
        "and": "and",
        "or": "or",
        "not": "not",
        "rank": "rank by",
        "desc": "desc",
        "asc": "asc",
        "top": "top",
        "has": "has",
        "name": "name",
        "contains": "contains",
        "in": "in",
        "launched": "launched",
        "within": "within",
        "this_month": "this month",
    },
}


def to_text(rule: model.Rule, lang: str = "zh") -> str:
    """Write a rule in the text form the parser reads.

    Parameters
    ----------
    rule
        The rule.
    lang
        ``"zh"`` for Chinese keywords, ``"en"`` for English ones.

    Returns
    -------
    str
        Every clause except an absent audience or condition, in the order scope, window,
        audience, where, rank, top.

    Raises
    ------
    ValueError
        For an unknown ``lang`` or an invalid rule (see :func:`model.validate`).
    """
    if lang not in _WORDS:
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    model.validate(rule)
    w = _WORDS[lang]
    zh = lang == "zh"
    out = [w["scope"], _scope(rule.scope, w, zh)]
    out += [w["window"], str(rule.window_days), w["days"]]
    if rule.audience is not None:
        a = rule.audience
        table = model.USER_TAGS if a.kind == "tag" else model.PERSONAS
        out += [w["audience"], w[a.kind], quote(table[a.value] if zh else a.value)]
        if a.bought_only:
            out.append(w["bought"])
    if rule.where is not None:
        out += [w["where"], _cond(rule.where, w, zh)]
    out += [w["rank"], _metric(rule.rank.metric, zh), w["desc" if rule.rank.descending else "asc"]]
    out += [w["top"], str(rule.top)]
    return " ".join(out)


def quote(text: str) -> str:
    """Quote a value so the lexer reads it back verbatim (backslash escapes ``"`` and ``\\``)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _scope(s: model.CommunityFilter, w: dict[str, str], zh: bool) -> str:
    if s.kind == "all":
        return w["all"]
    if s.kind == "type":
        return f"{w['type']} {quote(model.COMMUNITY_TYPES[str(s.value)] if zh else str(s.value))}"
    value = str(s.value) if isinstance(s.value, int) else quote(str(s.value))
    return f"{w[s.kind]} {value}"


def _metric(m: model.Metric, zh: bool) -> str:
    name = model.METRICS[m.name] if zh else m.name
    return f"{name}({quote(m.arg)})" if m.arg is not None else name


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _cond(c: model.Condition, w: dict[str, str], zh: bool) -> str:
    if isinstance(c, model.Compare):
        return f"{_metric(c.metric, zh)} {c.op} {_number(c.value)}"
    if isinstance(c, model.AttrIn):
        attr = model.ATTRIBUTES[c.attr] if zh else c.attr
        if len(c.values) == 1:
            return f"{attr} {'!=' if c.negate else '='} {quote(c.values[0])}"
        body = f"{attr} {w['in']} ({', '.join(quote(v) for v in c.values)})"
        return f"{w['not']} ({body})" if c.negate else body
    if isinstance(c, model.TagHas):
        return f"{w['tag']} {w['has']} {quote(c.tag)}"
    if isinstance(c, model.NameHas):
        return f"{w['name']} {w['contains']} {quote(c.text)}"
    if isinstance(c, model.Launched):
        if c.kind == "since":
            return f"{w['launched']} >= {c.since.isoformat()}"  # type: ignore[union-attr]
        if c.kind == "within":
            return f"{w['launched']} {w['within']} {c.days} {w['days']}"
        return f"{w['launched']} {w['this_month']}"
    if isinstance(c, model.Not):
        inner = _cond(c.part, w, zh)
        return (
            f"{w['not']} ({inner})"
            if isinstance(c.part, model.And | model.Or)
            else f"{w['not']} {inner}"
        )
    if isinstance(c, model.And | model.Or):
        joiner = f" {w['and' if isinstance(c, model.And) else 'or']} "
        parts = []
        for p in c.parts:
            text = _cond(p, w, zh)
            # Parentheses keep nesting the parser would otherwise flatten or re-associate.
            nested = isinstance(p, model.And | model.Or) and not (
                isinstance(c, model.Or) and isinstance(p, model.And)
            )
            parts.append(f"({text})" if nested else text)
        return joiner.join(parts)
    raise ValueError(f"not a condition: {c!r}")
