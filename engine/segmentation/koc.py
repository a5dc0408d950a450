"""KOC (key opinion consumer) ranking per community from chat and referral influence.

Talking a lot is not influence: a KOC's messages get replies, their shares spread, and
other residents order through their shared links (``orders.ref_user_id``). The score is
a weighted sum of four components, each ``log1p(value)`` divided by the community's
largest ``log1p(value)`` so that big and small communities rank alike; the weights favour
what others do (replies, shares, orders) over the user's own messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from engine import clock
from engine.auth import ALL, Scope
from engine.segmentation import _inputs

COMPONENTS = ("messages", "replies_received", "shares", "influence_orders")


@dataclass(frozen=True)
class KocSettings:
    """Component weights (summing to 1) and how many days of activity to read."""

    weights: dict[str, float] = field(
        default_factory=lambda: {
            "messages": 0.10,
            "replies_received": 0.30,
            "shares": 0.25,
            "influence_orders": 0.35,
        }
    )
    lookback_days: int = 90


_SQL = """
WITH chat AS (
    SELECT user_id, sum(messages) AS messages, sum(replies_received) AS replies_received,
           sum(shares) AS shares
    FROM chat_activity WHERE activity_date BETWEEN ? AND ? {scope_chat}
    GROUP BY 1
), refs AS (
    SELECT order_id, ref_user_id FROM orders o
    WHERE o.status <> 'cancelled' AND o.ref_user_id IS NOT NULL
      AND o.ref_user_id <> o.user_id AND o.order_date BETWEEN ? AND ? {scope_orders}
), infl AS (
    SELECT r.ref_user_id AS user_id, count(DISTINCT r.order_id) AS influence_orders,
           sum((i.qty - i.refund_qty) * i.unit_price) AS influence_gmv
    FROM refs r JOIN order_items i USING (order_id)
    -- the id range is a superset filter that lets DuckDB skip row groups of old lines
    WHERE i.order_id BETWEEN (SELECT min(order_id) FROM refs)
                         AND (SELECT max(order_id) FROM refs)
    GROUP BY 1
)
SELECT u.user_id, u.community_id, c.name AS community,
       coalesce(chat.messages, 0) AS messages,
       coalesce(chat.replies_received, 0) AS replies_received,
       coalesce(chat.shares, 0) AS shares,
       coalesce(infl.influence_orders, 0) AS influence_orders,
       coalesce(infl.influence_gmv, 0) AS influence_gmv
FROM users u JOIN communities c USING (community_id)
LEFT JOIN chat USING (user_id) LEFT JOIN infl USING (user_id)
WHERE (chat.user_id IS NOT NULL OR infl.user_id IS NOT NULL) {scope_users}
"""


def rank(
    con: duckdb.DuckDBPyConnection,
    start: date | None = None,
    end: date | None = None,
    regions: Sequence[int] = (),
    communities: Sequence[int] = (),
    settings: KocSettings | None = None,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Score and rank every user with chat activity or referrals, per community.

    Parameters
    ----------
    con
        Connection to a Linli database.
    start, end
        Activity window; default the ``lookback_days`` ending on the world's ``as_of``.
    regions, communities
        Restrict to these ids (empty = all).
    settings
        Component weights and default look-back.
    scope
        The caller's row scope; rows outside it are never returned.

    Returns
    -------
    pandas.DataFrame
        ``user_id, community_id, community``, the raw components and ``influence_gmv``,
        the normalised components ``c_<component>``, ``score`` (0–1) and
        ``rank_in_community`` (1 = top), sorted by score descending.

    Raises
    ------
    ValueError
        For unknown ids, an empty date range or weights that do not cover the components.
    """
    s = settings or KocSettings()
    if set(s.weights) != set(COMPONENTS) or any(w < 0 for w in s.weights.values()):
        raise ValueError(f"weights must give a non-negative value for each of {COMPONENTS}")
    end = clock.as_of(con, end)
    if start is None:
        start, _ = _inputs.window(end, s.lookback_days)
    _inputs.check_range(start, end)
    comms = _inputs.restriction(con, regions, communities, scope)
    scoped = comms is not None

    def sc(col: str) -> str:
        return f"AND list_contains(?::INTEGER[], {col})" if scoped else ""

    par: list = [start, end] + ([comms] if scoped else []) + [start, end]
    par += ([comms] if scoped else []) * 2
    df = con.execute(
        _SQL.format(
            scope_chat=sc("community_id"),
            scope_orders=sc("o.community_id"),
            scope_users=sc("u.community_id"),
        ),
        par,
    ).df()
    if df.empty:
        return df.assign(score=pd.Series(dtype=float), rank_in_community=pd.Series(dtype=int))
    total = sum(s.weights.values()) or 1.0
    score = np.zeros(len(df))
    for comp in COMPONENTS:
        lv = np.log1p(df[comp].astype(float))
        top = lv.groupby(df["community_id"]).transform("max").replace(0, np.nan)
        df[f"c_{comp}"] = (lv / top).fillna(0.0)
        score += s.weights[comp] / total * df[f"c_{comp}"].to_numpy()
    df["score"] = score
    df["rank_in_community"] = (
        df.groupby("community_id")["score"].rank(ascending=False, method="first").astype(int)
    )
    return df.sort_values("score", ascending=False).reset_index(drop=True)
