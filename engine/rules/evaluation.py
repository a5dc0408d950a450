"""Run a rule against the database: the picked SKUs of every community in scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb
import pandas as pd

from engine import clock
from engine.auth import ALL, Scope
from engine.rules import compile as rule_compile
from engine.rules import model, parser

BASE_COLUMNS = ["community_id", "community_name", "rank", "sku_id", "sku_name", "category"]


def as_rule(rule_or_text: model.Rule | str) -> model.Rule:
    """Return a validated rule from a rule or its text.

    Parameters
    ----------
    rule_or_text
        A :class:`model.Rule` or rule text.

    Returns
    -------
    model.Rule
        The rule.

    Raises
    ------
    RuleError
        When the text cannot be parsed.
    ValueError
        When a structured rule is invalid.
    """
    if isinstance(rule_or_text, str):
        return parser.parse(rule_or_text)
    if not isinstance(rule_or_text, model.Rule):
        raise TypeError(f"expected a Rule or rule text, got {type(rule_or_text).__name__}")
    return model.validate(rule_or_text)


def evaluate(
    con: duckdb.DuckDBPyConnection,
    rule_or_text: model.Rule | str,
    as_of: dt.date | None = None,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Pick SKUs for every community in the rule's scope, in one query.

    Parameters
    ----------
    con
        An open connection (a cursor is taken from it).
    rule_or_text
        The rule or its text.
    as_of
        Last day of the look-back window; default the data set's "today"
        (:func:`engine.clock.as_of`).
    scope
        The caller's row scope; picks for communities outside it are never returned.

    Returns
    -------
    pandas.DataFrame
        One row per (community_id, rank, sku_id) with ``community_name``, ``sku_name``,
        ``category`` and one column per metric the rule uses (the ranking metric first),
        ordered by community and rank. Empty (same columns) when nothing qualifies.

    Raises
    ------
    RuleError
        When the text cannot be parsed.
    ValueError
        When the rule is invalid or its scope names a community or region that does not exist,
        when ``as_of`` is not a date, or when it is left out and the database has no orders.
    """
    rule = as_rule(rule_or_text)
    frame = evaluate_many(con, rule, [clock.as_of(con, as_of)], scope=scope)
    return frame.drop(columns=["as_of"])


def evaluate_many(
    con: duckdb.DuckDBPyConnection,
    rule_or_text: model.Rule | str,
    dates: Sequence[dt.date],
    sales_daily: str | None = None,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Pick SKUs as of each of several dates, in one query (what a backtest needs).

    Parameters
    ----------
    con
        An open connection.
    rule_or_text
        The rule or its text.
    dates
        As-of dates; each is evaluated with only the data of its own window.
    sales_daily
        Optional temporary daily-sales table covering the windows, created on ``con``
        itself (see :func:`engine.rules.compile.create_sales_daily`).
    scope
        The caller's row scope; picks for communities outside it are never returned.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`evaluate` preceded by ``as_of`` (a ``datetime.date``).

    Raises
    ------
    RuleError
        When the text cannot be parsed.
    ValueError
        When the rule is invalid, ``dates`` is empty, or the scope names an unknown
        community or region.
    """
    rule = as_rule(rule_or_text)
    dates = [d.date() if isinstance(d, dt.datetime) else d for d in dates]
    # A temporary table is visible only on the connection (cursor) that created it.
    cur = con if sales_daily is not None else con.cursor()
    _check_scope(cur, rule.scope)
    compiled = rule_compile.compile_rule(rule, dates, sales_daily)
    frame = cur.execute(compiled.sql, compiled.params).df()
    frame = frame.rename(columns=compiled.metric_columns)
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    for col in ("community_id", "rank", "sku_id"):
        frame[col] = frame[col].astype("int64")
    return scope.keep(cur, frame).reset_index(drop=True)


def _check_scope(cur: duckdb.DuckDBPyConnection, scope: model.CommunityFilter) -> None:
    if scope.kind in ("all", "type"):
        return
    if scope.kind == "community":
        column = "community_id" if isinstance(scope.value, int) else "name"
        sql = f"SELECT count(*) FROM communities WHERE {column} = ?"
        what = "community"
    else:
        column = "region_id" if isinstance(scope.value, int) else "name"
        sql = f"SELECT count(*) FROM regions WHERE {column} = ?"
        what = "region"
    if not cur.execute(sql, [scope.value]).fetchall()[0][0]:
        raise ValueError(f"no {what} {scope.value!r} in the database; check the name in 范围/scope")
