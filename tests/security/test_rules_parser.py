"""Hostile rule texts: the rules' own RuleError, never RecursionError or a DuckDB exception."""

from __future__ import annotations

import pytest

from engine import limits, rules
from engine.rules import model

DEEP = limits.RULE_MAX_DEPTH
# (id, text, words in the message): every one is hostile and must raise RuleError.
HOSTILE = [
    ("400 parentheses", "筛选 " + "(" * 400 + "销量 > 1" + ")" * 400, "nested"),
    ("5,000 parentheses", "where " + "(" * 5000 + "units > 1" + ")" * 5000, "characters"),
    ("1,900 parentheses", "where " + "(" * 1900 + "units > 1" + ")" * 1900, "nested"),
    ("unclosed parentheses", "where " + "(" * 3000, "nested"),
    ("900 nots", "where " + "not " * 900 + "units > 1", "nested"),
    ("3,000 非", "筛选 " + "非" * 3000 + "销量 > 1", "nested"),
    ("not ( alternating", "where " + "not (" * 300 + "units > 1" + ")" * 300, "nested"),
    ("just over the depth", "where " + "(" * (DEEP + 1) + "units > 1" + ")" * (DEEP + 1), "nested"),
    ("launched within 99999999999 days", "where launched within 99999999999 days", "days"),
    ("上新 近 99999999999 天", "筛选 上新 近 99999999999 天", "days"),
    ("launched within 1e20 days", "where launched within 1e20 days", "days"),
    ("launched within 3651 days", "where launched within 3651 days", "days"),
    ("comparison with 1e400", "where units > 1e400", "number"),
    ("comparison with -1e400", "where units > -1e400", "number"),
    ("comparison with 20 nines", "where gmv >= 99999999999999999999", "number"),
    ("comparison with 1e300%", "where margin_rate >= 1e300%", "number"),
    ("400-digit number", "where units > " + "9" * 400, "number"),
    ("window of 1e400 days", "window 1e400 days", "whole"),
    ("top 1e308", "top 1e308", "top"),
    ("community id 1e30", "scope community 1e30", "id"),
    ("one megabyte of text", "where name contains '" + "x" * 1_000_000 + "'", "characters"),
    ("one megabyte of spaces", " " * 1_000_000, "characters"),
    ("lone surrogate in text", 'where name contains "\ud800"', "UTF-16"),
    ("lone surrogate keyword", "where \udfff units > 1", "UTF-16"),
    ("launched >= year 99999", "where launched >= 99999-01-01", "date"),
    ("launched >= 9999-99-99", "where launched >= 9999-99-99", "date"),
]


@pytest.mark.parametrize(("text", "words"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_rule_raises_rule_error(text, words):
    """Each hostile text raises RuleError naming the problem, with a position inside the text."""
    with pytest.raises(rules.RuleError) as err:
        rules.parse(text)
    assert type(err.value) is rules.RuleError
    assert words in err.value.message, err.value.message
    assert 0 <= err.value.position <= len(text)
    assert len(str(err.value)) < 1000  # the message does not echo a megabyte back


def test_limits_are_not_off_by_one():
    """Nesting exactly at the limit, 3650 launch days and a trillion parse and render back."""
    at = "where " + "(" * (DEEP - 1) + "not units > 1" + ")" * (DEEP - 1)
    assert rules.parse(rules.to_text(rules.parse(at))) == rules.parse(at)
    rule = rules.parse("where launched within 3650 days and gmv < 1e12")
    assert rule.where == model.And(
        (model.Launched("within", days=3650), model.Compare(model.Metric("gmv"), "<", 1e12))
    )


@pytest.mark.parametrize(
    "rule",
    [
        model.Rule(where=model.Launched("within", days=99_999_999_999)),
        model.Rule(where=model.Compare(model.Metric("units"), ">", float("inf"))),
        model.Rule(where=model.Compare(model.Metric("units"), ">", float("nan"))),
        model.Rule(where=model.Compare(model.Metric("units"), ">", 1e300)),
    ],
    ids=["launched-99999999999", "inf", "nan", "1e300"],
)
def test_structured_rules_are_checked_too(rule):
    """A rule built in code (the saved library, the API) gets the same bounds as typed text."""
    with pytest.raises(ValueError, match=r"days|number"):
        model.validate(rule)


def test_deep_structured_rule_is_refused():
    """A condition tree deeper than the limit, built in code, is refused before any recursion."""
    cond: model.Condition = model.Compare(model.Metric("units"), ">", 1.0)
    for _ in range(5000):
        cond = model.Not(cond)
    with pytest.raises(ValueError, match="nested"):
        model.validate(model.Rule(where=cond))
