"""Basket transactions and margins from Linli's tables for a scope (regions, types, dates).

Persona segments come from the segmentation engine, which is not wired here; a scope may
instead name its users (``user_ids``), which is how a segment is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from engine import basket

# Item level -> SQL expression for the item label (identifiers never come from users).
LEVELS = {"sku": "s.name", "category": "s.category"}
STATUSES = ("paid", "refunded", "cancelled")


@dataclass(frozen=True)
class Scope:
    """Which orders a basket analysis looks at.

    Attributes
    ----------
    regions
        Region ids; empty for all.
    community_types
        Community types (``high_end``, ``young_family``, ...); empty for all.
    user_ids
        Users (e.g. a persona segment); empty for all.
    start, end
        Inclusive order-date range; ``None`` for open.
    level
        ``"sku"`` (items are SKU names) or ``"category"``.
    statuses
        Order statuses included; cancelled orders are left out by default.
    """

    regions: tuple[int, ...] = ()
    community_types: tuple[str, ...] = ()
    user_ids: tuple[int, ...] = ()
    start: date | None = None
    end: date | None = None
    level: str = "sku"
    statuses: tuple[str, ...] = ("paid", "refunded")

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {tuple(LEVELS)}; got {self.level!r}")
        bad = [s for s in self.statuses if s not in STATUSES]
        if bad or not self.statuses:
            raise ValueError(f"statuses must be a non-empty subset of {STATUSES}; got {bad}")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")


def _where(scope: Scope) -> tuple[str, list]:
    clauses = ["o.status IN (SELECT unnest(?::VARCHAR[]))"]
    params: list = [list(scope.statuses)]
    if scope.regions:
        clauses.append("c.region_id IN (SELECT unnest(?::INTEGER[]))")
        params.append([int(r) for r in scope.regions])
    if scope.community_types:
        clauses.append("c.type IN (SELECT unnest(?::VARCHAR[]))")
        params.append([str(t) for t in scope.community_types])
    if scope.user_ids:
        clauses.append("o.user_id IN (SELECT unnest(?::INTEGER[]))")
        params.append([int(u) for u in scope.user_ids])
    if scope.start is not None:
        clauses.append("o.order_date >= ?")
        params.append(scope.start)
    if scope.end is not None:
        clauses.append("o.order_date <= ?")
        params.append(scope.end)
    return " AND ".join(clauses), params


_FROM = """
    FROM order_items oi
    JOIN orders o ON o.order_id = oi.order_id
    JOIN communities c ON c.community_id = o.community_id
    JOIN skus s ON s.sku_id = oi.sku_id
"""


def transactions(con: duckdb.DuckDBPyConnection, scope: Scope = Scope()) -> pd.DataFrame:
    """Order lines of a scope as basket transactions.

    Parameters
    ----------
    con
        A Linli connection (or cursor).
    scope
        Which orders, and the item level.

    Returns
    -------
    pandas.DataFrame
        Distinct ``order_id, item`` pairs, ordered by order then item; empty when the scope
        has no orders.
    """
    where, params = _where(scope)
    sql = f"SELECT DISTINCT oi.order_id, {LEVELS[scope.level]} AS item {_FROM} WHERE {where} "
    return con.execute(sql + "ORDER BY 1, 2", params).df()


def margins(con: duckdb.DuckDBPyConnection, scope: Scope = Scope()) -> pd.DataFrame:
    """Average realised unit margin (price paid minus unit cost) per item in a scope.

    Parameters
    ----------
    con
        A Linli connection (or cursor).
    scope
        Which orders, and the item level.

    Returns
    -------
    pandas.DataFrame
        Columns ``item``, ``margin`` (CNY per unit), ``units``.
    """
    where, params = _where(scope)
    sql = (
        f"SELECT {LEVELS[scope.level]} AS item, "
        "sum((oi.unit_price - oi.unit_cost) * oi.qty) / nullif(sum(oi.qty), 0) AS margin, "
        f"sum(oi.qty) AS units {_FROM} WHERE {where} GROUP BY 1 ORDER BY 1"
    )
    return con.execute(sql, params).df()


def community_types(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Community types present in the database, sorted."""
    rows = con.execute("SELECT DISTINCT type FROM communities ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def bundles_by_type(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    min_support: float,
    min_confidence: float = 0.0,
    max_size: int = 3,
    top: int = 10,
) -> pd.DataFrame:
    """The best bundles (see :func:`engine.basket.bundles`) for each community type.

    Parameters
    ----------
    con
        A Linli connection (or cursor).
    scope
        Orders to consider; its ``community_types`` (if any) restricts the types listed.
    min_support, min_confidence, max_size, top
        As in :func:`engine.basket.bundles`, applied per type.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`engine.basket.bundles` plus ``community_type``; types without
        orders or bundles are absent.

    Raises
    ------
    ValueError
        On invalid thresholds.
    """
    types = list(scope.community_types) or community_types(con)
    parts = []
    for kind in types:
        sub = Scope(
            regions=scope.regions,
            community_types=(kind,),
            user_ids=scope.user_ids,
            start=scope.start,
            end=scope.end,
            level=scope.level,
            statuses=scope.statuses,
        )
        tx = transactions(con, sub)
        if tx.empty:
            continue
        found = basket.bundles(
            tx, margins(con, sub), min_support, min_confidence, max_size=max_size, top=top
        )
        if not found.empty:
            parts.append(found.assign(community_type=kind))
    if not parts:
        return pd.DataFrame(columns=["community_type", "items", "score"])
    out = pd.concat(parts, ignore_index=True)
    return out[["community_type", *[c for c in out.columns if c != "community_type"]]]
