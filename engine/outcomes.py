"""A plan scored against what happened, with exposure (views) and conversion where loaded.

:func:`engine.planning.score` compares each planned group with the campaign that ran: success
and GMV. This adds the funnel in front of it from ``browse_events`` — how often the planned
SKUs' pages were viewed and carted in their community on the sale day, and the share of views
that became units — so a group that failed can be told apart as *not seen* (few views) or
*seen and not bought* (low conversion). Where no browsing is loaded for the sale day the funnel
columns stay empty and ``funnel_loaded`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from engine import planning
from engine.auth import ALL, Scope


@dataclass(frozen=True)
class PlanOutcome:
    """Per planned item and per community (total last), and whether browsing was loaded."""

    items: pd.DataFrame
    communities: pd.DataFrame
    funnel_loaded: bool


def funnel(con: duckdb.DuckDBPyConnection, plan_id: str, scope: Scope = ALL) -> pd.DataFrame:
    """Per planned item that ran: predicted and realised success, units, views and conversion.

    Parameters
    ----------
    con
        An open connection.
    plan_id
        A stored plan.
    scope
        Row scope of the caller.

    Returns
    -------
    pandas.DataFrame
        ``community_id, sku_id, p_success, p_model, success, units, expected_units, views,
        carts, conversion`` (units / views) and ``cart_rate`` (carts / views); the browse
        columns are NULL where no browsing is loaded for that community and day.
    """
    comms = scope.communities(con)
    return con.execute(
        "SELECT i.community_id, i.sku_id, i.p_success, coalesce(i.p_model, i.p_success) "
        "AS p_model, c.success, c.units, i.expected_units, b.views, b.carts, "
        "c.units / nullif(b.views, 0) AS conversion, b.carts / nullif(b.views, 0) AS cart_rate "
        "FROM group_plan_items i JOIN group_plans g USING (plan_id) "
        "JOIN campaigns c ON c.community_id = i.community_id AND c.sku_id = i.sku_id "
        "AND c.sale_date = g.sale_date "
        "LEFT JOIN (SELECT event_date, community_id, sku_id, sum(views) AS views, "
        "sum(carts) AS carts FROM browse_events GROUP BY ALL) b "
        "ON b.event_date = g.sale_date AND b.community_id = i.community_id "
        "AND b.sku_id = i.sku_id "
        "WHERE i.plan_id = ? AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], "
        "i.community_id)) ORDER BY i.community_id, i.rank",
        [plan_id, comms, comms],
    ).df()


def score(con: duckdb.DuckDBPyConnection, plan_id: str, scope: Scope = ALL) -> PlanOutcome:
    """:func:`engine.planning.score` plus views, carts and conversion per community.

    Parameters
    ----------
    con
        An open connection.
    plan_id
        A stored plan whose sale day has data.
    scope
        Row scope of the caller.

    Returns
    -------
    PlanOutcome
        Items (:func:`funnel`) and the per-community score with ``views``, ``carts``,
        ``conversion`` (units of the groups that ran / their views) and ``views_per_group``.

    Raises
    ------
    ValueError
        For an unknown plan or one without items.
    """
    base = planning.score(con, plan_id, scope)
    items = funnel(con, plan_id, scope)
    loaded = bool(items["views"].notna().any()) if len(items) else False
    seen = items[items["views"].notna()]
    per = seen.groupby("community_id").agg(
        views=("views", "sum"), carts=("carts", "sum"), seen_units=("units", "sum")
    )
    tot = pd.DataFrame(
        {
            "views": [seen["views"].sum()],
            "carts": [seen["carts"].sum()],
            "seen_units": [seen["units"].sum()],
        }
    )
    per = pd.concat([per.reset_index(), tot.assign(community_id=pd.NA)], ignore_index=True)
    per["community_id"] = per["community_id"].astype("Int64")
    out = base.assign(community_id=base["community_id"].astype("Int64")).merge(
        per, on="community_id", how="left"
    )
    if not loaded:
        out[["views", "carts", "seen_units"]] = float("nan")
    out["conversion"] = out["seen_units"] / out["views"].where(out["views"] > 0)
    out["views_per_group"] = out["views"] / out["ran"].where(out["ran"] > 0)
    return PlanOutcome(items, out.drop(columns=["seen_units"]), loaded)
