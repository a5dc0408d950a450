"""SQL for the KPIs, built from the registry's formulas.

Every function here returns SQL text and its parameters; none runs a query. The text is made
of fixed pieces only (the registry's aggregates, rollup table names, dimension expressions
chosen by the caller from fixed strings); dates and region ids are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from engine.kpis import registry


def where(regions: Sequence[int], col: str = "day") -> str:
    """The period (and region) filter over a rollup; its values are bound by :func:`params`."""
    w = f"{col} BETWEEN ? AND ?"
    if regions:
        w += " AND list_contains(?::INTEGER[], region_id)"
    return w


def params(start: date, end: date, regions: Sequence[int]) -> list:
    """The bound values of :func:`where`, in order."""
    return [start, end, list(regions)] if regions else [start, end]


def total(key: str, regions: Sequence[int]) -> str:
    """One KPI (or measure) as a single figure over a period; bind ``params(start, end, r)``."""
    f = registry.formula(key)
    return f"SELECT {f.total()} FROM {f.table} WHERE {where(regions, f.date_column)}"


@dataclass(frozen=True)
class Breakdown:
    """KPIs grouped by one dimension: one CTE per rollup table, each keyed by ``dim``."""

    keys: tuple[str, ...]
    dim: str
    ctes: tuple[str, ...]  # CTE names, in the order of their SQL
    sql: str  # the WITH clause
    params: list
    alias: dict[str, str]  # key -> CTE holding its column

    def value(self, key: str) -> str:
        """The column of ``key`` after the joins (0 where a group has no rows, if additive)."""
        ref = f"{self.alias[key]}.{key}"
        return f"coalesce({ref}, 0)" if registry.formula(key).zero_if_empty else ref

    def select(self, key: str) -> str:
        """``value(key) AS key``."""
        return f"{self.value(key)} AS {key}"

    def select_all(self) -> str:
        """Every key's column, in the order asked for."""
        return ", ".join(self.select(k) for k in self.keys)

    def full_join(self) -> str:
        """The CTEs joined on the dimension, keeping groups found in any of them."""
        return " FULL JOIN ".join(
            c if i == 0 else f"{c} USING ({self.dim})" for i, c in enumerate(self.ctes)
        )

    def left_join(self) -> str:
        """``LEFT JOIN`` clauses attaching every CTE to a dimension table on ``dim``."""
        return " ".join(f"LEFT JOIN {c} USING ({self.dim})" for c in self.ctes)


def grouped(
    keys: Sequence[str],
    dim: str,
    dim_expr: str,
    start: date,
    end: date,
    regions: Sequence[int],
) -> Breakdown:
    """Build the CTEs that compute ``keys`` per value of a dimension.

    Parameters
    ----------
    keys
        KPI or measure keys with a formula (``registry.formula``).
    dim
        Name of the grouping column in every CTE (``region_id``, ``period``, …).
    dim_expr
        Fixed SQL computing it from a rollup row (``region_id``, a ``date_trunc`` of ``day``).
    start, end
        Inclusive period, on each formula's date column.
    regions
        Region ids to include (already clipped to the scope); empty for all.

    Returns
    -------
    Breakdown
        The WITH clause, its parameters and the column of each key.

    Raises
    ------
    KeyError
        For a key without a formula.
    """
    tables: dict[str, list[str]] = {}
    for k in keys:
        tables.setdefault(registry.formula(k).table, []).append(k)
    ctes: list[str] = []
    parts: list[str] = []
    alias: dict[str, str] = {}
    binds: list = []
    for i, (table, ks) in enumerate(tables.items()):
        name = f"t{i}"
        cols = ", ".join(f"{registry.formula(k).aggregate()} AS {k}" for k in ks)
        col = registry.formula(ks[0]).date_column
        parts.append(
            f"{name} AS (SELECT {dim_expr} AS {dim}, {cols} FROM {table} "
            f"WHERE {where(regions, col)} GROUP BY 1)"
        )
        ctes.append(name)
        alias |= dict.fromkeys(ks, name)
        binds += params(start, end, regions)
    return Breakdown(tuple(keys), dim, tuple(ctes), "WITH " + ",\n     ".join(parts), binds, alias)


# --------------------------------------------------------------------------- active buyers


def buyers(
    start: date, end: date, regions: Sequence[int], base: date | None, wbase: date | None
) -> tuple[str, list]:
    """Distinct paid buyers of a period, read through whole months, whole weeks and days.

    The same figure as the registry's ``count(DISTINCT user_id)`` over ``rollup_buyer_days``,
    but a whole month or week is one bit test per user (``rollup_buyer_bits``, whose first
    month and week are ``base`` and ``wbase``) instead of a distinct count over its days.
    """
    parts, binds = [], []
    reg = " AND list_contains(?::INTEGER[], region_id)" if regions else ""
    for table, col, lo, hi in cover(start, end):
        mask = None
        if table == "rollup_buyer_months" and base is not None:
            i0 = (lo.year - base.year) * 12 + lo.month - base.month
            i1 = (hi.year - base.year) * 12 + hi.month - base.month
            if i0 >= 0 and i1 < 64:
                mask, kind, cast = sum(1 << i for i in range(i0, i1 + 1)), "months", "UBIGINT"
        elif table == "rollup_buyer_weeks" and wbase is not None:
            i0, i1 = (lo - wbase).days // 7, (hi - wbase).days // 7
            if i0 >= 0 and i1 < 128:
                mask, kind, cast = sum(1 << i for i in range(i0, i1 + 1)), "weeks", "UHUGEINT"
        if mask is not None:
            parts.append(
                f"SELECT user_id FROM rollup_buyer_bits WHERE {kind} & ?::{cast} <> 0{reg}"
            )
            binds += [mask] + ([list(regions)] if regions else [])
        else:
            parts.append(f"SELECT user_id FROM {table} WHERE {where(regions, col)}")
            binds += params(lo, hi, regions)
    return "SELECT count(DISTINCT user_id) FROM (" + " UNION ALL ".join(parts) + ")", binds


def cover(start: date, end: date) -> list[tuple[str, str, date, date]]:
    """Split [start, end] into whole months, whole weeks and leftover days (table, column)."""
    out: list[tuple[str, str, date, date]] = []
    m = start if start.day == 1 else next_month(start)
    m_end = m
    while next_month(m_end) - timedelta(days=1) <= end:
        m_end = next_month(m_end)
    edges = [(start, end)]
    if m_end > m:
        out.append(("rollup_buyer_months", "month", m, m_end - timedelta(days=1)))
        edges = [(start, m - timedelta(days=1)), (m_end, end)]
    for a, b in edges:
        if a > b:
            continue
        w = a + timedelta(days=(7 - a.weekday()) % 7)  # first Monday on or after a
        w_end = w
        while w_end + timedelta(days=6) <= b:
            w_end += timedelta(days=7)
        if w_end > w:
            out.append(("rollup_buyer_weeks", "day", w, w_end - timedelta(days=1)))
            days = [(a, w - timedelta(days=1)), (w_end, b)]
        else:
            days = [(a, b)]
        out += [("rollup_buyer_days", "day", x, y) for x, y in days if x <= y]
    return out


def next_month(d: date) -> date:
    """The first day of the month after ``d``'s."""
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)
