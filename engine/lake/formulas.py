"""The serving tables' formulas, defined once in DuckDB SQL and transpiled to Spark SQL.

Every table the dashboard reads from the batch layer comes from one DuckDB statement that
already exists elsewhere (the KPI rollups, the per-user-day rollup of the segmentation
features, the rules' daily sales frame, the forecaster's daily demand). The Spark SQL is generated from that statement with
sqlglot (pinned), plus one rewrite sqlglot cannot know: DuckDB's ``epoch(a - b)`` of an
interval becomes a difference of microseconds. ``rollup_buyer_bits`` uses unsigned 64- and
128-bit masks, which Spark has no type for; it is finished in DuckDB from the two small buyer
rollups Spark wrote (``FINISH_IN_DUCKDB``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sqlglot
from sqlglot import exp

from engine.forecasting import listings
from engine.kpis.rollups import ORDER_BY, ROLLUPS
from engine.rules.compile import SALES_DAILY_SQL
from engine.segmentation import features

# Rollups whose types Spark lacks; built in DuckDB from other served tables.
FINISH_IN_DUCKDB = ("rollup_buyer_bits",)
# The input tables the formulas read (a lake without one cannot be built).
INPUTS = (
    "orders",
    "order_items",
    "skus",
    "communities",
    "leaders",
    "campaigns",
    "inventory",
    "warehouses",
    "feedback",
)


@dataclass(frozen=True)
class Formula:
    """One serving table: its name, its DuckDB SQL and the column it is stored sorted by."""

    name: str
    sql: str
    order_by: str

    @property
    def spark(self) -> bool:
        """Whether Spark computes it (else DuckDB finishes it from Spark's outputs)."""
        return self.name not in FINISH_IN_DUCKDB

    def spark_sql(self) -> str:
        """The Spark SQL of this formula (transpiled once, cached)."""
        return to_spark(self.sql)


def formulas() -> tuple[Formula, ...]:
    """Every serving table in build order (a DuckDB-only one after those it reads)."""
    out = [Formula(name, sql, ORDER_BY.get(name, "day")) for name, sql in ROLLUPS.items()]
    out.append(Formula(features.ROLLUP, features.ROLLUP_SQL, "day"))
    out.append(Formula("sales_daily", SALES_DAILY_SQL, "day"))
    out.append(Formula(listings.SERVED, listings.DEMAND_DAILY_SQL, "ds"))
    spark_first = [f for f in out if f.spark] + [f for f in out if not f.spark]
    return tuple(spark_first)


def names() -> tuple[str, ...]:
    """The serving tables' names."""
    return tuple(f.name for f in formulas())


def _epoch_of_difference(node: exp.Expression) -> exp.Expression:
    """``epoch(a - b)`` (seconds of an interval, DOUBLE) → microsecond difference / 1e6."""
    if isinstance(node, (exp.TimeToUnix, exp.Anonymous)) and node.args.get("this") is not None:
        arg = node.this
        if isinstance(node, exp.Anonymous):
            if node.name.lower() != "epoch" or len(node.expressions) != 1:
                return node
            arg = node.expressions[0]
        if isinstance(arg, exp.Paren):
            arg = arg.this
        if isinstance(arg, exp.Sub):
            micros = exp.Sub(
                this=exp.func("unix_micros", arg.this),
                expression=exp.func("unix_micros", arg.expression),
            )
            as_double = exp.cast(exp.Paren(this=micros), "DOUBLE")
            return exp.Paren(this=exp.Div(this=as_double, expression=exp.Literal.number("1e6")))
    return node


@cache
def to_spark(sql: str) -> str:
    """Transpile one DuckDB statement to Spark SQL.

    Parameters
    ----------
    sql
        A SELECT in DuckDB's dialect.

    Returns
    -------
    str
        The same query in Spark's dialect.

    Raises
    ------
    ValueError
        When sqlglot cannot parse the statement.
    """
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ValueError(f"cannot transpile the formula to Spark SQL: {exc}") from None
    return tree.transform(_epoch_of_difference).sql(dialect="spark")
