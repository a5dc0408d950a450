"""A leader's commission statement for a period, and its settlement.

Commission is the leader's ``commission_rate`` × net GMV of their community (cancelled orders
excluded, refunds netted), the same formula as ``rollup_sales.commission`` behind the KPIs.
A period is *open* until its last day has passed (its orders may still change), *due* once it
has, and *settled* when :func:`settle` recorded the payout.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import duckdb
import pandas as pd

from engine import audit, clock
from engine.auth import ALL, Scope

STATUSES = ("open", "due", "settled")


def _check(start: date, end: date) -> None:
    if not isinstance(start, date) or not isinstance(end, date):
        raise ValueError("start and end must be dates")
    if start > end:
        raise ValueError(f"start {start} is after end {end}")


def statement(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    leader_ids: Sequence[int] | None = None,
    *,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Per leader: orders, net GMV, rate, commission and settlement status of ``[start, end]``.

    Parameters
    ----------
    con
        An open connection.
    start, end
        The period, both days included.
    leader_ids
        Only these leaders (default all inside the scope).
    scope
        Row scope of the caller.

    Returns
    -------
    pandas.DataFrame
        ``leader_id, leader, community_id, community, orders, gmv, commission_rate,
        commission, status, settled_amount, settled_at, settled_by``, by leader id.

    Raises
    ------
    ValueError
        For a period that ends before it starts.
    """
    _check(start, end)
    today = clock.world_today(con)
    df = con.execute(
        "WITH sales AS (SELECT o.community_id, count(DISTINCT o.order_id) AS orders, "
        "coalesce(sum((i.qty - i.refund_qty) * i.unit_price), 0) AS gmv "
        "FROM orders o JOIN order_items i USING (order_id) "
        "WHERE o.status <> 'cancelled' AND o.order_date BETWEEN ? AND ? GROUP BY 1) "
        "SELECT l.leader_id, l.name AS leader, l.community_id, c.name AS community, "
        "coalesce(s.orders, 0) AS orders, coalesce(s.gmv, 0.0) AS gmv, l.commission_rate, "
        "coalesce(s.gmv, 0.0) * l.commission_rate AS commission, "
        "z.amount AS settled_amount, z.settled_at, z.settled_by "
        "FROM leaders l JOIN communities c USING (community_id) "
        "LEFT JOIN sales s USING (community_id) "
        "LEFT JOIN leader_settlements z ON z.leader_id = l.leader_id "
        "AND z.period_start = ? AND z.period_end = ? "
        "WHERE (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], l.leader_id)) "
        "ORDER BY l.leader_id",
        [start, end, start, end, *([list(map(int, leader_ids))] * 2 if leader_ids else [None] * 2)],
    ).df()
    df = scope.keep(con, df).reset_index(drop=True)
    closed = end < today
    df.insert(
        8,
        "status",
        ["settled" if pd.notna(a) else ("due" if closed else "open") for a in df["settled_amount"]],
    )
    return df


def settle(
    con: duckdb.DuckDBPyConnection,
    leader_id: int,
    start: date,
    end: date,
    username: str,
    *,
    scope: Scope = ALL,
) -> float:
    """Record that a leader's commission for ``[start, end]`` was paid; returns the amount.

    Parameters
    ----------
    con
        An open connection.
    leader_id
        The leader.
    start, end
        The period of the statement.
    username
        Who settles (written with the settlement and to the audit log).
    scope
        Row scope of the caller: only leaders inside it can be settled.

    Returns
    -------
    float
        The commission recorded as paid.

    Raises
    ------
    ValueError
        For an unknown leader or one outside the scope, a period still open (its last day
        not yet past), or a period already settled.
    """
    _check(start, end)
    rows = statement(con, start, end, [leader_id], scope=scope)
    if rows.empty:
        raise ValueError(f"no leader {leader_id} in your scope")
    row = rows.iloc[0]
    if row["status"] == "open":
        raise ValueError(f"the period ending {end} is still open; settle it after that day")
    if row["status"] == "settled":
        raise ValueError(f"leader {leader_id} is already settled for {start} – {end}")
    amount = round(float(row["commission"]), 2)
    con.execute(
        "INSERT INTO leader_settlements VALUES (?, ?, ?, ?, ?, ?)",
        [int(leader_id), start, end, amount, datetime.now(), username],
    )
    audit.record(
        con,
        username,
        "commission_settled",
        {"leader_id": int(leader_id), "start": str(start), "end": str(end), "amount": amount},
    )
    return amount
