"""Property-based fuzzing of the rule parser: a valid Rule or RuleError, nothing else.

10,000 rule texts (profile ``security``) are built from a few draws each: clauses, hostile
numbers and dates, nesting of parentheses and 非/not up to twice the limit, and arbitrary
text spliced in. Every text either parses into a rule that validates, compiles and renders
back to the same rule, or raises exactly ``RuleError`` with a position inside the text. A
sample of the accepted rules with extreme values then runs against a database, where no
DuckDB exception may appear.
"""

from __future__ import annotations

import datetime as dt

import duckdb
from hypothesis import given
from hypothesis import strategies as st

from engine import limits, rules
from engine.rules import compile as rcompile
from engine.rules import model
from tests.security.profile import FUZZ

NUMBERS = [
    "0", "1", "-1", "3.5", "30", "50%", "1e12", "-1e12", "1e13", "1e400", "-1e400", "9" * 400,
    "99999999999", "3650", "3651", "0.0001", "1e-400", "730", "731", "1000", "1001", "1e308",
]  # fmt: skip
DATES = ["2026-10-01", "2026-02-30", "0001-01-01", "9999-12-31", "99999-01-01", "2026-1-1"]
CONDS = [
    "销量 > {n}", "units >= {n}", "gmv < {n}", "margin_rate >= {n}", "库存天数 >= {n}",
    "话题热度(\"低糖\") > {n}", "类目 = \"水果\"", "storage in (\"chilled\", \"frozen\")",
    "标签 包含 \"进口\"", "name contains \"{t}\"", "上新 近 {n} 天", "launched within {n} days",
    "launched >= {d}", "上新 本月", "launched this month", "人群销量 > {n}", "{t}", "views >= {t}",
]  # fmt: skip
PREFIXES = [
    "", "范围 全部", "scope community \"云顶华府\"", "scope community {n}", "scope type elderly",
    "过去 {n} 天", "window {n} days", "人群 标签 \"儿童\"", "audience persona young_family bought",
    "scope region \"岳麓区\" window 30 days", "{t}",
]  # fmt: skip
SUFFIXES = [
    "", "排序 浏览量 降序 前 {n}", "rank by units desc top {n}", "top {n}", "rank by {t}",
    "前 10 前 10", "或", "and", ")", "(", "rank by 话题热度(\"{t}\")",
]  # fmt: skip
JOINS = [" and ", " or ", " 且 ", " 或 ", " ", " and not ", "，"]
WORDS = ["", "x", "水果", "'", '"', "\\", "(", "not", "1e400", "上新", "\x00", "\ud800", "😀" * 3]
# Pre-combined pieces: each example is three draws (generation dominates a fuzzer's time).
BODIES = [(a, j, b) for a in CONDS for j in JOINS for b in CONDS]
FILLS = [{"n": n, "d": d, "t": t} for n in NUMBERS for d in DATES for t in WORDS]
DEPTH = limits.RULE_MAX_DEPTH
# parentheses and nots, up to 8 beyond the limit, with the clauses around them
FRAMES = [(p, d, s) for p in PREFIXES for d in range((DEPTH + 8) ** 2) for s in SUFFIXES]
texts = st.tuples(st.sampled_from(FRAMES), st.sampled_from(BODIES), st.sampled_from(FILLS))


def build(prefix: str, depth: int, body: tuple, suffix: str, fill: dict) -> str:
    """A rule text from the drawn pieces (the closing parentheses may be one short)."""
    parens, nots = divmod(depth, DEPTH + 8)
    parens, nots = parens // 2, nots // 2  # both at most (DEPTH + 8) / 2: the sum may pass it
    c1, join, c2 = body
    cond = c1.format(**fill) + join + c2.format(**fill)
    close = parens - (nots % 2 if parens else 0)
    text = "(" * parens + "not " * nots + cond + ")" * close
    return " ".join([prefix.format(**fill), "where", text, suffix.format(**fill)])


def test_fuzz_rule_parser():
    """10,000 texts: a rule that validates, compiles and round-trips, or RuleError only."""
    accepted: list[model.Rule] = []
    rejected = [0]

    @FUZZ
    @given(texts)
    def parse_one(parts: tuple) -> None:
        (prefix, depth, suffix), body, fill = parts
        text = build(prefix, depth, body, suffix, fill)
        try:
            rule = rules.parse(text)
        except rules.RuleError as exc:
            assert type(exc) is rules.RuleError
            assert 0 <= exc.position <= len(text)
            rejected[0] += 1
            return
        model.validate(rule)
        assert rules.parse(rules.to_text(rule)) == rule
        rcompile.compile_rule(rule, dt.date(2026, 7, 1))
        accepted.append(rule)

    parse_one()
    assert len(accepted) + rejected[0] >= FUZZ.max_examples
    assert accepted and rejected[0]  # both sides of the grammar were reached
    run_extremes(accepted)


def run_extremes(accepted: list[model.Rule]) -> None:
    """Run the accepted rules with the most extreme values against a database (no DuckDB error)."""
    from engine import db
    from tests.connectors.conftest import seed

    def extreme(rule: model.Rule) -> float:
        text = rules.to_text(rule)
        return sum(len(tok) for tok in text.split() if tok.replace(".", "").isdigit())

    con = db.connect(":memory:")
    seed(con)
    distinct = list({rules.to_text(r): r for r in accepted}.values())
    for rule in sorted(distinct, key=extreme, reverse=True)[:60]:
        try:
            rules.evaluate(con, rule, dt.date(2025, 5, 1))
        except ValueError as exc:  # documented: a scope naming nothing in the database
            assert not isinstance(exc, duckdb.Error) and "in the database" in str(exc), exc
    con.close()
