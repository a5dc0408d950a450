"""Backtest selection rules: pick as of past dates, score the picks on the week that followed.

For each week start D (``start``, ``start + 7``, ...) every rule is evaluated as of D with only
data up to D, and its picks per community are compared with what that community bought in the
following ``horizon_days`` days (order dates D+1 .. D+horizon, next-day delivery):

- hit rate: share of picks that are among the community's realised top N SKUs by units;
- GMV captured: realised net GMV of the picked SKUs in the community, and its share of the
  community's whole GMV that week;
- sell-through and waste: at the warehouses serving the picked communities, over the distinct
  (warehouse, SKU) pairs picked: units sold, and units wasted, divided by the stock available
  (on hand at D plus received during the horizon).

"Last week's bestsellers" (top N by units over the 7 days up to D) is always scored alongside
as the baseline.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd

from engine.auth import ALL, Scope
from engine.rules import compile as rule_compile
from engine.rules import evaluation as rule_eval
from engine.rules import model, parser

BASELINE = "上周畅销 / last week's bestsellers"
BASELINE_TEXT = "范围 全部 过去 7 天 排序 销量 降序 前 10"
MAX_RULES = 4


@dataclass(frozen=True)
class BacktestResult:
    """Scores of each rule, per week and overall.

    Attributes
    ----------
    weekly
        One row per (rule, as_of): communities, picks, hits, hit_rate, gmv_captured,
        gmv_share, sell_through, waste_rate.
    summary
        One row per rule (baseline last): the same figures over all weeks (ratios of sums).
    picks
        Every pick: rule, as_of, community_id, rank, sku_id, and whether it was a hit.
    """

    weekly: pd.DataFrame
    summary: pd.DataFrame
    picks: pd.DataFrame


def backtest(
    con: duckdb.DuckDBPyConnection,
    rules: Mapping[str, model.Rule | str] | Sequence[model.Rule | str],
    start: dt.date,
    weeks: int,
    top_n: int = 10,
    horizon_days: int = 7,
    communities: Collection[int] | None = None,
    scope: Scope = ALL,
) -> BacktestResult:
    """Score up to four rules and the bestseller baseline over several past weeks.

    Parameters
    ----------
    con
        An open connection.
    rules
        Up to 4 rules (objects or text), as a name -> rule mapping or a sequence (named by
        their text).
    start
        The first as-of date D.
    weeks
        How many weekly as-of dates to score (D, D+7, ...).
    top_n
        Picks per community (each rule's own top is replaced by this, so rules compete on
        equal list length) and the size of the realised top list.
    horizon_days
        Days after D whose orders count as the outcome.
    communities
        Score only these community ids; ``None`` = all (inside ``scope``).
    scope
        The caller's row scope; communities outside it are never scored or returned.

    Returns
    -------
    BacktestResult
        Weekly and overall scores plus every pick.

    Raises
    ------
    ValueError
        With more than 4 rules, a non-positive ``weeks``, ``top_n`` or ``horizon_days``, or a
        rule that is invalid.
    """
    named = _named(rules)
    if len(named) > MAX_RULES:
        raise ValueError(f"at most {MAX_RULES} rules side by side, got {len(named)}")
    if weeks < 1 or top_n < 1 or horizon_days < 1:
        raise ValueError("weeks, top_n and horizon_days must be at least 1")
    if not 1 <= top_n <= model.MAX_TOP:
        raise ValueError(f"top_n must be 1..{model.MAX_TOP}")
    named[BASELINE] = parser.parse(BASELINE_TEXT)
    named = {k: dataclasses.replace(r, top=top_n) for k, r in named.items()}
    dates = [start + dt.timedelta(days=7 * w) for w in range(weeks)]
    cur = con.cursor()
    allowed = scope.communities(cur)
    if allowed is not None:
        inside = set(allowed)
        communities = [c for c in (allowed if communities is None else communities) if c in inside]
    # One pass over the order lines serves every rule's windows and the outcomes.
    lookback = max(_sales_lookback(r) for r in named.values())
    first = dates[0] - dt.timedelta(days=lookback - 1)
    last = dates[-1] + dt.timedelta(days=horizon_days)
    daily = rule_compile.create_sales_daily(cur, first, last)
    try:
        sales = _realised(cur, daily, dates, horizon_days)
        pick_frames = []
        for name, rule in named.items():
            out = rule_eval.evaluate_many(cur, rule, dates, sales_daily=daily)
            out = out[["as_of", "community_id", "rank", "sku_id"]]
            out.insert(0, "rule", name)
            pick_frames.append(out)
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {daily}")  # a generated, validated name
    stock = _stock(cur, dates, horizon_days)
    warehouse = cur.execute("SELECT community_id, warehouse_id FROM communities").df()

    # Realised top N per community and week: units desc, ties by sku_id (deterministic).
    sales = sales.sort_values(
        ["as_of", "community_id", "units", "sku_id"], ascending=[True, True, False, True]
    )
    sales["rank_real"] = sales.groupby(["as_of", "community_id"]).cumcount() + 1
    sales["hit"] = sales["rank_real"] <= top_n
    totals = sales.groupby(["as_of", "community_id"], as_index=False)["gmv"].sum()

    picks = pd.concat(pick_frames, ignore_index=True)
    if communities is not None:
        picks = picks[picks["community_id"].isin(list(communities))].reset_index(drop=True)
    picks = picks.merge(
        sales[["as_of", "community_id", "sku_id", "units", "gmv", "hit"]],
        on=["as_of", "community_id", "sku_id"],
        how="left",
    )
    picks = picks.fillna({"units": 0.0, "gmv": 0.0, "hit": False})
    picks["hit"] = picks["hit"].astype(bool)
    picks = picks.merge(warehouse, on="community_id", how="left")

    weekly = _weekly(picks, totals, stock, list(named), dates)
    summary = _summary(weekly)
    return BacktestResult(weekly=weekly, summary=summary, picks=picks)


def _sales_lookback(rule: model.Rule) -> int:
    """Days of sales before an as-of date a rule reads (0 when it uses no sales metric)."""
    names = {m.name for m in model.metrics_used(rule)}
    if not names & rule_compile.SALES_METRICS:
        return 1
    return rule.window_days * (2 if "trend" in names else 1)


def _named(rules: Mapping[str, model.Rule | str] | Sequence[model.Rule | str]) -> dict:
    if isinstance(rules, Mapping):
        items = list(rules.items())
    else:
        items = [(r if isinstance(r, str) else f"rule {i + 1}", r) for i, r in enumerate(rules)]
    if len(items) > MAX_RULES:
        raise ValueError(f"at most {MAX_RULES} rules side by side, got {len(items)}")
    out: dict[str, model.Rule] = {}
    for name, r in items:
        if name in out:
            raise ValueError(f"two rules are named {name!r}; give each rule its own name")
        if name == BASELINE:
            raise ValueError(f"the name {BASELINE!r} is reserved for the baseline")
        out[str(name)] = rule_eval.as_rule(r)
    return out


def _dates_sql() -> str:
    return "SELECT unnest($dates::DATE[]) AS as_of"


def _realised(
    cur: duckdb.DuckDBPyConnection, daily: str, dates: list[dt.date], horizon: int
) -> pd.DataFrame:
    if not rule_compile.SALES_DAILY_NAME.fullmatch(daily):
        raise ValueError(f"not a sales_daily table name: {daily!r}")
    sql = f"""
        WITH d AS ({_dates_sql()})
        SELECT d.as_of, x.community_id, x.sku_id, sum(x.units) AS units, sum(x.gmv) AS gmv
        FROM d JOIN {daily} x
          ON x.day > d.as_of AND x.day <= d.as_of + CAST($h AS INTEGER)
        GROUP BY ALL
    """
    out = cur.execute(sql, {"dates": dates, "h": horizon}).df()
    out["as_of"] = pd.to_datetime(out["as_of"]).dt.date
    return out


def _stock(cur: duckdb.DuckDBPyConnection, dates: list[dt.date], horizon: int) -> pd.DataFrame:
    sql = f"""
        WITH d AS ({_dates_sql()})
        SELECT d.as_of, i.warehouse_id, i.sku_id,
               sum(CASE WHEN i.stock_date = d.as_of THEN i.on_hand ELSE 0 END) AS on_hand,
               sum(CASE WHEN i.stock_date > d.as_of THEN i.received ELSE 0 END) AS received,
               sum(CASE WHEN i.stock_date > d.as_of THEN i.sold ELSE 0 END) AS sold,
               sum(CASE WHEN i.stock_date > d.as_of THEN i.wasted ELSE 0 END) AS wasted
        FROM d JOIN inventory i
          ON i.stock_date >= d.as_of AND i.stock_date <= d.as_of + CAST($h AS INTEGER)
        GROUP BY ALL
    """
    out = cur.execute(sql, {"dates": dates, "h": horizon}).df()
    out["as_of"] = pd.to_datetime(out["as_of"]).dt.date
    return out


def _weekly(picks, totals, stock, names, dates) -> pd.DataFrame:
    keys = ["rule", "as_of"]
    grid = pd.MultiIndex.from_product([names, dates], names=keys).to_frame(index=False)
    g = picks.groupby(keys)
    base = pd.DataFrame(
        {
            "communities": g["community_id"].nunique(),
            "picks": g.size(),
            "hits": g["hit"].sum(),
            "gmv_captured": g["gmv"].sum(),
        }
    ).reset_index()
    # Whole GMV of the communities each rule covered that week.
    covered = picks[[*keys, "community_id"]].drop_duplicates()
    gmv_total = (
        covered.merge(totals, on=["as_of", "community_id"])
        .groupby(keys)["gmv"]
        .sum()
        .rename("gmv_total")
        .reset_index()
    )
    # Stock at the picked (warehouse, SKU) pairs, each pair once per rule and week.
    pairs = picks[[*keys, "warehouse_id", "sku_id"]].drop_duplicates()
    st = (
        pairs.merge(stock, on=["as_of", "warehouse_id", "sku_id"])
        .assign(stock=lambda x: x["on_hand"] + x["received"])
        .groupby(keys)[["stock", "sold", "wasted"]]
        .sum()
        .reset_index()
    )
    out = grid.merge(base, on=keys, how="left").merge(gmv_total, on=keys, how="left")
    out = out.merge(st, on=keys, how="left")
    counts = ["communities", "picks", "hits"]
    out[counts] = out[counts].fillna(0).astype("int64")
    sums = ["gmv_captured", "gmv_total", "stock", "sold", "wasted"]
    out[sums] = out[sums].fillna(0.0).astype(float)
    out["hit_rate"] = out["hits"] / out["picks"].where(out["picks"] > 0)
    out["gmv_share"] = out["gmv_captured"] / out["gmv_total"].where(out["gmv_total"] > 0)
    out["sell_through"] = out["sold"] / out["stock"].where(out["stock"] > 0)
    out["waste_rate"] = out["wasted"] / out["stock"].where(out["stock"] > 0)
    return out[
        [
            "rule",
            "as_of",
            "communities",
            "picks",
            "hits",
            "hit_rate",
            "gmv_captured",
            "gmv_total",
            "gmv_share",
            "stock",
            "sold",
            "wasted",
            "sell_through",
            "waste_rate",
        ]
    ]


def _summary(weekly: pd.DataFrame) -> pd.DataFrame:
    g = weekly.groupby("rule", sort=False)[
        ["picks", "hits", "gmv_captured", "gmv_total", "stock", "sold", "wasted"]
    ].sum()
    out = pd.DataFrame(
        {
            "rule": g.index,
            "weeks": weekly.groupby("rule", sort=False).size().to_numpy(),
            "picks": g["picks"].to_numpy(),
            "hit_rate": (g["hits"] / g["picks"].where(g["picks"] > 0)).to_numpy(),
            "gmv_captured": g["gmv_captured"].to_numpy(),
            "gmv_share": (g["gmv_captured"] / g["gmv_total"].where(g["gmv_total"] > 0)).to_numpy(),
            "sell_through": (g["sold"] / g["stock"].where(g["stock"] > 0)).to_numpy(),
            "waste_rate": (g["wasted"] / g["stock"].where(g["stock"] > 0)).to_numpy(),
        }
    )
    return out.reset_index(drop=True)
