"""Leader ranking and tiers (金牌团长 …) with the rules that assign them.

Leaders are ranked by net GMV of the period. A tier is the first rule a leader meets, top
down: a GMV percentile among *all* leaders (so a regional manager sees the same tier as head
office) and a minimum group success rate (成团率) and repurchase share, so a leader cannot
reach gold on volume alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from engine.auth import ALL, Scope
from engine.leaders.commission import _check


@dataclass(frozen=True)
class TierRule:
    """A tier and the minimums that earn it (percentile and shares in 0..1)."""

    tier: str  # gold | silver | bronze | member
    min_gmv_pct: float
    min_success: float
    min_repurchase: float


TIERS: tuple[TierRule, ...] = (
    TierRule("gold", 0.90, 0.80, 0.40),
    TierRule("silver", 0.70, 0.70, 0.30),
    TierRule("bronze", 0.40, 0.60, 0.0),
    TierRule("member", 0.0, 0.0, 0.0),
)


def rules(tiers: tuple[TierRule, ...] = TIERS) -> pd.DataFrame:
    """The tier rules as a table, top tier first (for showing them next to the ranking)."""
    return pd.DataFrame([vars(r) for r in tiers])


def _tier(pct: float, success: float, repurchase: float, tiers: tuple[TierRule, ...]) -> str:
    for r in tiers:
        if pct >= r.min_gmv_pct and success >= r.min_success and repurchase >= r.min_repurchase:
            return r.tier
    return tiers[-1].tier


def ranking(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    *,
    tiers: tuple[TierRule, ...] = TIERS,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Every leader's GMV, orders, buyers, repurchase, group success, rank and tier.

    Parameters
    ----------
    con
        An open connection.
    start, end
        The period, both days included.
    tiers
        Tier rules, top tier first; the last should accept everyone.
    scope
        Row scope of the caller (ranks and percentiles are among all leaders).

    Returns
    -------
    pandas.DataFrame
        ``rank, leader_id, leader, community_id, community, gmv, orders, buyers, repurchase,
        success_rate, gmv_pct, tier``, by rank.

    Raises
    ------
    ValueError
        For a period that ends before it starts, or no tier rules.
    """
    _check(start, end)
    if not tiers:
        raise ValueError("at least one tier rule is needed")
    df = con.execute(
        "WITH o AS (SELECT o.community_id, o.user_id, o.order_id, "
        "sum((i.qty - i.refund_qty) * i.unit_price) AS gmv FROM orders o "
        "JOIN order_items i USING (order_id) WHERE o.status <> 'cancelled' "
        "AND o.order_date BETWEEN ? AND ? GROUP BY ALL), "
        "u AS (SELECT community_id, user_id, count(*) AS n FROM o GROUP BY ALL), "
        "s AS (SELECT community_id, sum(gmv) AS gmv, count(*) AS orders FROM o GROUP BY 1), "
        "b AS (SELECT community_id, count(*) AS buyers, avg((n >= 2)::INTEGER) AS repurchase "
        "FROM u GROUP BY 1), "
        "g AS (SELECT community_id, avg(success::INTEGER) AS success_rate FROM campaigns "
        "WHERE sale_date BETWEEN ? AND ? GROUP BY 1) "
        "SELECT l.leader_id, l.name AS leader, l.community_id, c.name AS community, "
        "coalesce(s.gmv, 0.0) AS gmv, coalesce(s.orders, 0) AS orders, "
        "coalesce(b.buyers, 0) AS buyers, coalesce(b.repurchase, 0.0) AS repurchase, "
        "g.success_rate FROM leaders l JOIN communities c USING (community_id) "
        "LEFT JOIN s USING (community_id) LEFT JOIN b USING (community_id) "
        "LEFT JOIN g USING (community_id) ORDER BY gmv DESC, l.leader_id",
        [start, end, start, end],
    ).df()
    if df.empty:
        return df.assign(rank=[], gmv_pct=[], tier=[])
    df.insert(0, "rank", range(1, len(df) + 1))
    # Share of leaders with lower GMV: 1.0 for the best, 0 for the lowest.
    df["gmv_pct"] = df["gmv"].rank(method="max", pct=True) - 1.0 / len(df)
    df.loc[df["gmv_pct"] < 0, "gmv_pct"] = 0.0
    succ = df["success_rate"].fillna(0.0)
    df["tier"] = [
        _tier(p, s, r, tiers) for p, s, r in zip(df["gmv_pct"], succ, df["repurchase"], strict=True)
    ]
    return scope.keep(con, df).reset_index(drop=True)
