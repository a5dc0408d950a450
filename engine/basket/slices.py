"""Basket transactions and margins from Linli's tables for a slice of orders.

A :class:`BasketSlice` says which orders a basket analysis looks at (regions, community
types, users, dates, statuses) and at which item level. Persona segments come from the
segmentation engine, which is not wired here; a slice may instead name its users
(``user_ids``), which is how a segment is passed in.

Every entry point also takes ``access``, the caller's row scope (:class:`engine.auth.Scope`):
orders of communities outside it are never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from engine import auth
from engine.basket import association

# Item level -> SQL expression for the item label (identifiers never come from users).
LEVELS = {"sku": "s.name", "category": "s.category"}
STATUSES = ("paid", "refunded", "cancelled")


@dataclass(frozen=True)
class BasketSlice:
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


def _where(
    con: duckdb.DuckDBPyConnection, basket_slice: BasketSlice, access: auth.Scope
) -> tuple[str, list]:
    clauses = ["o.status IN (SELECT unnest(?::VARCHAR[]))"]
    params: list = [list(basket_slice.statuses)]
    allowed = access.communities(con)
    if allowed is not None:
        clauses.append("o.community_id IN (SELECT unnest(?::INTEGER[]))")
        params.append(allowed)
    if basket_slice.regions:
        clauses.append("c.region_id IN (SELECT unnest(?::INTEGER[]))")
        params.append([int(r) for r in basket_slice.regions])
    if basket_slice.community_types:
        clauses.append("c.type IN (SELECT unnest(?::VARCHAR[]))")
        params.append([str(t) for t in basket_slice.community_types])
    if basket_slice.user_ids:
        clauses.append("o.user_id IN (SELECT unnest(?::INTEGER[]))")
        params.append([int(u) for u in basket_slice.user_ids])
    if basket_slice.start is not None:
        clauses.append("o.order_date >= ?")
        params.append(basket_slice.start)
    if basket_slice.end is not None:
        clauses.append("o.order_date <= ?")
        params.append(basket_slice.end)
    return " AND ".join(clauses), params


_FROM = """
    FROM order_items oi
    JOIN orders o ON o.order_id = oi.order_id
    JOIN communities c ON c.community_id = o.community_id
    JOIN skus s ON s.sku_id = oi.sku_id
"""


def _labels(con: duckdb.DuckDBPyConnection, level: str) -> pd.Series:
    """Item label per sku_id at the level, as a categorical series indexed by sku_id."""
    skus = con.execute(f"SELECT sku_id, {LEVELS[level]} AS item FROM skus s").df()
    labels = skus["item"].astype("category")
    labels.index = skus["sku_id"].to_numpy()
    return labels


def _lines(
    con: duckdb.DuckDBPyConnection, basket_slice: BasketSlice, by_type: bool, access: auth.Scope
) -> pd.DataFrame:
    """Distinct (order, item) lines of a slice; items as a categorical of labels."""
    where, params = _where(con, basket_slice, access)
    extra = ", o.community_id" if by_type else ""
    # Integer columns out of DuckDB, deduplicated and labelled in pandas: far cheaper than
    # millions of strings through DISTINCT and the result conversion.
    sql = f"SELECT oi.order_id, oi.sku_id{extra} {_FROM} WHERE {where}"
    lines = con.execute(sql, params).df().drop_duplicates(["order_id", "sku_id"])
    labels = _labels(con, basket_slice.level)
    item = pd.Categorical.from_codes(
        labels.cat.codes.reindex(lines["sku_id"].to_numpy()).to_numpy(),
        categories=labels.cat.categories,
    )
    lines = lines.drop(columns="sku_id").assign(item=item)
    if basket_slice.level != "sku":
        lines = lines.drop_duplicates(["order_id", "item"])
    if by_type:
        kinds = con.execute("SELECT community_id, type FROM communities").df()
        lines["community_type"] = lines["community_id"].map(kinds.set_index("community_id")["type"])
    columns = ["order_id", "item", *(["community_type"] if by_type else [])]
    return lines[columns].reset_index(drop=True)


def transactions(
    con: duckdb.DuckDBPyConnection,
    basket_slice: BasketSlice = BasketSlice(),
    access: auth.Scope = auth.ALL,
) -> pd.DataFrame:
    """Order lines of a slice as basket transactions.

    Parameters
    ----------
    con
        A Linli connection (or cursor).
    basket_slice
        Which orders, and the item level.
    access
        The caller's row scope; orders outside it are never read.

    Returns
    -------
    pandas.DataFrame
        Distinct ``order_id, item`` pairs (``item`` categorical: SKU names or categories);
        empty when the slice has no orders.
    """
    return _lines(con, basket_slice, by_type=False, access=access)


def margins(
    con: duckdb.DuckDBPyConnection,
    basket_slice: BasketSlice = BasketSlice(),
    access: auth.Scope = auth.ALL,
) -> pd.DataFrame:
    """Average realised unit margin (price paid minus unit cost) per item in a slice.

    Parameters
    ----------
    con
        A Linli connection (or cursor).
    basket_slice
        Which orders, and the item level.
    access
        The caller's row scope; orders outside it are never read.

    Returns
    -------
    pandas.DataFrame
        Columns ``item``, ``margin`` (CNY per unit), ``units``.
    """
    return _margins(con, basket_slice, by_type=False, access=access)


def _margins(
    con: duckdb.DuckDBPyConnection, basket_slice: BasketSlice, by_type: bool, access: auth.Scope
) -> pd.DataFrame:
    where, params = _where(con, basket_slice, access)
    kind = ", c.type AS community_type" if by_type else ""
    group = "1, 4" if by_type else "1"
    sql = (
        f"SELECT {LEVELS[basket_slice.level]} AS item, "
        "sum((oi.unit_price - oi.unit_cost) * oi.qty) / nullif(sum(oi.qty), 0) AS margin, "
        f"sum(oi.qty) AS units{kind} {_FROM} WHERE {where} GROUP BY {group} ORDER BY {group}"
    )
    return con.execute(sql, params).df()


def community_types(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Community types present in the database, sorted."""
    rows = con.execute("SELECT DISTINCT type FROM communities ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def bundles_by_type(
    con: duckdb.DuckDBPyConnection,
    basket_slice: BasketSlice,
    min_support: float,
    min_confidence: float = 0.0,
    max_size: int = 3,
    top: int = 10,
    access: auth.Scope = auth.ALL,
) -> pd.DataFrame:
    """The best bundles (see :func:`engine.basket.association.bundles`) for each community type.

    Parameters
    ----------
    con
        A Linli connection (or cursor).
    basket_slice
        Orders to consider; its ``community_types`` (if any) restricts the types listed.
    min_support, min_confidence, max_size, top
        As in :func:`engine.basket.association.bundles`, applied per type.
    access
        The caller's row scope; orders outside it are never read.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`engine.basket.association.bundles` plus ``community_type``; types without
        orders or bundles are absent.

    Raises
    ------
    ValueError
        On invalid thresholds.
    """
    lines = _lines(con, basket_slice, by_type=True, access=access)
    unit_margins = _margins(con, basket_slice, by_type=True, access=access)
    parts = []
    for kind, tx in lines.groupby("community_type", sort=True, observed=True):
        found = association.bundles(
            tx[["order_id", "item"]],
            unit_margins.loc[unit_margins["community_type"] == kind, ["item", "margin"]],
            min_support,
            min_confidence,
            max_size=max_size,
            top=top,
        )
        if not found.empty:
            parts.append(found.assign(community_type=kind))
    if not parts:
        return pd.DataFrame(columns=["community_type", "items", "score"])
    out = pd.concat(parts, ignore_index=True)
    return out[["community_type", *[c for c in out.columns if c != "community_type"]]]
