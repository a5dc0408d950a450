"""Community profiles: who lives here, what they buy, how the group and its leader do.

Everything is computed for all communities at once from the daily rollups (sales,
campaigns, orders) plus one pass over orders for distinct buyers, so a profile, a
side-by-side comparison and "communities like this one" share one table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from engine.auth import ALL, Scope
from engine.segmentation import _inputs

PRICE_BANDS = ("low", "mid", "high")

_COMMUNITIES_SQL = """
SELECT c.community_id, c.name, c.type, c.region_id, r.name AS region, c.households,
       c.lat, c.lon, c.opened, c.warehouse_id, l.name AS leader, l.commission_rate
FROM communities c JOIN regions r USING (region_id)
LEFT JOIN leaders l ON l.community_id = c.community_id
ORDER BY c.community_id
"""
_SALES_SQL = """
SELECT community_id, category, sum(gmv) AS gmv, sum(cogs) AS cogs,
       sum(units)::DOUBLE AS units, sum(commission) AS commission
FROM rollup_sales WHERE day BETWEEN ? AND ? GROUP BY ALL
"""
_ORDERS_SQL = """
SELECT community_id, sum(paid_orders) AS paid_orders, sum(delivered) AS delivered,
       sum(on_time) AS on_time, sum(pickup_hours_sum) / nullif(sum(picked), 0) AS pickup_hours
FROM rollup_orders WHERE day BETWEEN ? AND ? GROUP BY 1
"""
_CAMPAIGNS_SQL = """
SELECT community_id, sum(campaigns) AS campaigns, sum(successes) AS successes
FROM rollup_campaigns WHERE day BETWEEN ? AND ? GROUP BY 1
"""
_BUYERS_FAST_SQL = """
SELECT community_id, count(DISTINCT user_id) AS active_buyers
FROM orders WHERE status = 'paid' AND order_date BETWEEN ? AND ? GROUP BY 1
"""
_NPS_SQL = """
SELECT community_id,
       (sum(promoters) - sum(detractors)) * 100.0 / nullif(sum(answers), 0) AS nps
FROM rollup_feedback WHERE day BETWEEN ? AND ? GROUP BY 1
"""


@dataclass(frozen=True)
class CommunityTable:
    """Per-community metrics and category mix for one period."""

    start: date
    end: date
    metrics: pd.DataFrame  # one row per community
    categories: pd.DataFrame  # community_id, category, gmv, units, share, region_share, index


@dataclass(frozen=True)
class CommunityProfile:
    """One community's profile."""

    community_id: int
    info: dict
    categories: pd.DataFrame
    personas: pd.DataFrame  # persona, users, share
    tags: pd.DataFrame  # tag, users, share
    kocs: pd.DataFrame
    similar: pd.DataFrame


def community_table(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    regions: Sequence[int] = (),
    scope: Scope = ALL,
) -> CommunityTable:
    """Metrics of every community (in the regions) over ``[start, end]``.

    Parameters
    ----------
    con
        Connection with the KPI rollups.
    start, end
        Inclusive period.
    regions
        Region ids to keep (empty = all); category indices always compare a community
        with its whole region.
    scope
        The caller's row scope; rows outside it are never returned.

    Returns
    -------
    CommunityTable
        ``metrics`` has households, active_buyers, penetration, gmv, paid_orders, aov,
        gross_margin, commission, avg_unit_price, price_band, group_success_rate,
        on_time_rate, pickup_hours, nps, leader and location; ``categories`` the category
        mix with ``share`` (of GMV), ``unit_share`` and ``preference_index`` (share ÷ the
        region's share).

    Raises
    ------
    ValueError
        For an empty date range or unknown regions.
    """
    _inputs.check_range(start, end)
    keep = _inputs.communities(con, regions, (), scope)
    par = [start, end]
    com = con.execute(_COMMUNITIES_SQL).df()
    sales = con.execute(_SALES_SQL, par).df()
    orders = con.execute(_ORDERS_SQL, par).df()
    camp = con.execute(_CAMPAIGNS_SQL, par).df()
    buyers = con.execute(_BUYERS_FAST_SQL, par).df()
    nps = con.execute(_NPS_SQL, par).df()

    tot = sales.groupby("community_id")[["gmv", "cogs", "units", "commission"]].sum()
    m = com.merge(tot, left_on="community_id", right_index=True, how="left")
    for extra in (orders, camp, buyers, nps):
        m = m.merge(extra, on="community_id", how="left")
    for col in ("gmv", "cogs", "units", "commission", "paid_orders", "active_buyers"):
        m[col] = m[col].fillna(0).astype(float)
    m["gross_margin"] = m["gmv"] - m["cogs"]
    m["penetration"] = m["active_buyers"] / m["households"].clip(lower=1)
    m["aov"] = m["gmv"] / m["paid_orders"].where(m["paid_orders"] > 0)
    m["avg_unit_price"] = m["gmv"] / m["units"].where(m["units"] > 0)
    m["group_success_rate"] = m["successes"] / m["campaigns"].where(m["campaigns"] > 0)
    m["on_time_rate"] = m["on_time"] / m["delivered"].where(m["delivered"] > 0)
    m["gmv_per_household"] = m["gmv"] / m["households"].clip(lower=1)
    priced = m["avg_unit_price"].notna()
    m["price_band"] = None
    if priced.sum() >= 3:
        m.loc[priced, "price_band"] = pd.qcut(
            m.loc[priced, "avg_unit_price"].rank(method="first"), 3, labels=list(PRICE_BANDS)
        ).astype(str)
    elif priced.any():
        m.loc[priced, "price_band"] = "mid"

    cats = sales.merge(com[["community_id", "region_id"]], on="community_id")
    cats["share"] = cats["gmv"] / cats.groupby("community_id")["gmv"].transform("sum")
    cats["unit_share"] = cats["units"] / cats.groupby("community_id")["units"].transform("sum")
    reg = cats.groupby(["region_id", "category"])["gmv"].sum()
    reg = (reg / reg.groupby(level=0).transform("sum")).rename("region_share").reset_index()
    cats = cats.merge(reg, on=["region_id", "category"], how="left")
    cats["preference_index"] = cats["share"] / cats["region_share"].where(cats["region_share"] > 0)
    cats = cats.drop(columns=["region_id", "cogs", "commission"])
    m = m[m["community_id"].isin(keep)].reset_index(drop=True)
    cats = cats[cats["community_id"].isin(keep)]
    cats = cats.sort_values(["community_id", "share"], ascending=[True, False])
    return CommunityTable(start, end, m, cats.reset_index(drop=True))


def similar(table: CommunityTable, community_id: int, k: int = 5) -> pd.DataFrame:
    """Communities most like ``community_id`` by category mix, price, reach and success.

    Similarity is the cosine of standardised vectors (category GMV shares, log average
    unit price, penetration, group success rate, log GMV per household).

    Parameters
    ----------
    table
        Output of :func:`community_table`.
    community_id
        The reference community.
    k
        How many to return.

    Returns
    -------
    pandas.DataFrame
        ``community_id, name, type, region, similarity`` of the ``k`` most similar.

    Raises
    ------
    ValueError
        If the community is not in the table or has no sales in the period.
    """
    cid = int(community_id)
    m = table.metrics
    if cid not in set(m["community_id"]):
        raise ValueError(f"unknown community id {cid} (or outside the selected regions)")
    shares = table.categories.pivot_table(
        index="community_id", columns="category", values="share", fill_value=0.0
    )
    if cid not in shares.index:
        raise ValueError(f"community {cid} has no orders between {table.start} and {table.end}")
    mm = m.set_index("community_id").loc[shares.index]
    x = pd.concat(
        [
            shares,
            np.log(mm["avg_unit_price"].rename("price")),
            mm["penetration"],
            mm["group_success_rate"].fillna(mm["group_success_rate"].mean()),
            np.log1p(mm["gmv_per_household"].rename("gmv_hh")),
        ],
        axis=1,
    ).fillna(0.0)
    z = (x - x.mean()) / x.std(ddof=0).replace(0, 1)
    v = z.to_numpy()
    norm = np.linalg.norm(v, axis=1)
    norm[norm == 0] = 1
    ref = v[list(z.index).index(cid)]
    sim = v @ ref / (norm * (np.linalg.norm(ref) or 1.0))
    out = pd.DataFrame({"community_id": z.index, "similarity": sim})
    out = out[out["community_id"] != cid].nlargest(int(k), "similarity")
    info = m[["community_id", "name", "type", "region"]]
    return out.merge(info, on="community_id")[
        ["community_id", "name", "type", "region", "similarity"]
    ]


def profile(
    table: CommunityTable,
    community_id: int,
    personas: pd.DataFrame | None = None,
    tags: pd.DataFrame | None = None,
    kocs: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    n_kocs: int = 5,
    n_similar: int = 5,
) -> CommunityProfile:
    """One community's profile from the period table and the user-level results.

    Parameters
    ----------
    table
        Output of :func:`community_table`.
    community_id
        The community.
    personas
        ``user_id, persona`` labels (optional).
    tags
        ``user_id, tag`` rows (optional).
    kocs
        Output of :func:`engine.segmentation.koc.rank` (optional).
    users
        ``user_id, community_id`` of every user, needed with ``personas`` / ``tags``.
    n_kocs, n_similar
        How many KOCs and similar communities to include.

    Returns
    -------
    CommunityProfile
        Info (metrics row as a dict), category mix, persona and tag mix, KOCs, similar.

    Raises
    ------
    ValueError
        For an unknown community or one with no orders in the period.
    """
    cid = int(community_id)
    m = table.metrics
    row = m[m["community_id"] == cid]
    if row.empty:
        raise ValueError(f"unknown community id {cid} (or outside the selected regions)")
    info = row.iloc[0].to_dict()
    if not info["paid_orders"]:
        raise ValueError(
            f"community {cid} ({info['name']}) has no orders between {table.start} and {table.end}"
        )
    cats = table.categories[table.categories["community_id"] == cid].drop(columns="community_id")
    members = (
        users.loc[users["community_id"] == cid, "user_id"] if users is not None else pd.Series([])
    )
    pmix = _mix(personas, "persona", members)
    tmix = _mix(tags, "tag", members)
    if pmix is not None and not pmix.empty:
        info["users"] = len(members)
    k = pd.DataFrame()
    if kocs is not None and not kocs.empty:
        k = kocs[kocs["community_id"] == cid].head(n_kocs).reset_index(drop=True)
    return CommunityProfile(
        cid, info, cats.reset_index(drop=True), pmix, tmix, k, similar(table, cid, n_similar)
    )


def _mix(frame: pd.DataFrame | None, col: str, members: pd.Series) -> pd.DataFrame:
    if frame is None or members.empty:
        return pd.DataFrame(columns=[col, "users", "share"])
    sub = frame[frame["user_id"].isin(members)]
    counts = sub.groupby(col)["user_id"].nunique().rename("users").reset_index()
    counts["share"] = counts["users"] / len(members)
    return counts.sort_values("users", ascending=False).reset_index(drop=True)


def compare(table: CommunityTable, community_ids: Sequence[int]) -> pd.DataFrame:
    """Two to four communities side by side: one row per metric, one column per community.

    Raises
    ------
    ValueError
        For fewer than 2 or more than 4 ids, duplicates or unknown ids.
    """
    ids = _inputs.ids(community_ids, "communities")
    if not 2 <= len(ids) <= 4 or len(set(ids)) != len(ids):
        raise ValueError(f"compare needs 2 to 4 distinct communities, got {ids}")
    m = table.metrics.set_index("community_id")
    unknown = [c for c in ids if c not in m.index]
    if unknown:
        raise ValueError(f"unknown community id(s) {unknown} (or outside the selected regions)")
    cols = [
        "households",
        "active_buyers",
        "penetration",
        "gmv",
        "gmv_per_household",
        "paid_orders",
        "aov",
        "avg_unit_price",
        "price_band",
        "group_success_rate",
        "on_time_rate",
        "pickup_hours",
        "nps",
        "commission",
    ]
    out = m.loc[ids, cols].T
    out.columns = [str(c) for c in ids]
    top = (
        table.categories[table.categories["community_id"].isin(ids)]
        .sort_values("preference_index", ascending=False)
        .groupby("community_id")["category"]
        .apply(lambda s: "、".join(s.head(3)))
    )
    out.loc["top_categories"] = [top.get(c, "") for c in ids]
    out.index.name = "metric"
    return out.reset_index()
