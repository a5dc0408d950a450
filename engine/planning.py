"""Tomorrow's group-buy plan: selection → price and threshold → lists → purchasing → routes.

The closed loop of the seeds (S-P-F): for a sale date and a set of communities,

1. candidates per community from a selection rule, plus the community's own recent best
   sellers (its persona mix shows in what it buys) and basket partners of those candidates;
   SKUs that cannot be stocked in time or sell below the minimum margin are dropped;
2. per candidate the pricing engine's demand model gives the best price and threshold with
   their success probability, expected units, GMV and margin;
3. each community's list is the best ``per_community`` by expected margin with success
   probability ≥ target and at most ``max_per_category`` per category;
4. purchase orders per supplier: expected units plus safety stock (z × NB standard
   deviation, z by shelf life) less stock on hand, rounded up to pack sizes (以销定采);
5. expected loads per pickup point are routed by the dispatch engine (pick lists follow).

A plan is stored with its inputs and later scored against what happened.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from engine import audit, availability, rules
from engine.auth import ALL, Scope
from engine.pricing import response, whatif
from engine.routing import dispatch

DEFAULT_RULE = "范围 全部 过去 30 天 排序 销量 降序 前 20"
# Safety-stock z by shelf life: perishables carry less (unsold stock spoils), ambient more.
SAFETY_Z = ((3, 0.5), (14, 1.0), (10_000, 1.65))
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class PlanSettings:
    """Inputs of a plan (stored with it)."""

    rule_text: str = DEFAULT_RULE
    target: float = 0.9
    per_community: int = 10
    max_per_category: int = 3
    history_candidates: int = 10
    basket_partners: bool = True
    min_margin: float = 0.05
    route: bool = True
    route_time_s: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.target < 1:
            raise ValueError(f"target success probability must lie in (0, 1), got {self.target}")
        if self.per_community < 1 or self.max_per_category < 1:
            raise ValueError("per_community and max_per_category must be at least 1")


@dataclass(frozen=True, eq=False)
class Plan:
    """A computed plan: lists, purchase orders, routes and diagnostics."""

    plan_id: str
    sale_date: date
    as_of: date
    settings: PlanSettings
    items: pd.DataFrame  # community_id, rank, sku_id, source, price, threshold, metrics …
    candidates: pd.DataFrame  # every priced candidate, chosen or not
    purchase: pd.DataFrame  # per supplier × warehouse × SKU
    suppliers: pd.DataFrame  # one row per supplier order
    routes: dispatch.DayPlan | None
    diversity: float  # mean Jaccard distance between community lists (0 = identical)
    messages: tuple[str, ...] = field(default_factory=tuple)
    # The same notes for a translated UI: (message key, parameters).
    notes: tuple[tuple[str, dict], ...] = field(default_factory=tuple)


def _z(shelf_life: np.ndarray) -> np.ndarray:
    out = np.full(len(shelf_life), SAFETY_Z[-1][1])
    for limit, z in reversed(SAFETY_Z):
        out = np.where(shelf_life <= limit, z, out)
    return out


def _candidates(
    con,
    sale_date: date,
    as_of: date,
    s: PlanSettings,
    communities: list[int],
    model: response.DemandModel,
) -> pd.DataFrame:
    picks = rules.evaluate(con, s.rule_text, as_of=as_of)
    parts = [picks[["community_id", "sku_id"]].assign(source="rule")]
    hist = con.execute(
        """WITH u AS (SELECT o.community_id, i.sku_id, sum(i.qty) AS units
                      FROM order_items i JOIN orders o USING (order_id)
                      WHERE o.order_date BETWEEN ? AND ? AND o.status <> 'cancelled'
                      GROUP BY 1, 2)
           SELECT community_id, sku_id FROM (
               SELECT *, row_number() OVER (PARTITION BY community_id
                                            ORDER BY units DESC, sku_id) AS rk FROM u)
           WHERE rk <= ?""",
        [as_of - timedelta(days=27), as_of, s.history_candidates],
    ).df()
    parts.append(hist.assign(source="history"))
    cand = pd.concat(parts, ignore_index=True)
    if s.basket_partners:
        # Partners: for each candidate SKU, the SKU most often bought with it (lift > 2,
        # confidence > 0.3) in the last 28 days — the community's cross-sell.
        pairs = con.execute(
            """WITH l AS (SELECT DISTINCT i.order_id, i.sku_id FROM order_items i
                          JOIN orders o USING (order_id)
                          WHERE o.order_date BETWEEN ? AND ? AND o.status <> 'cancelled'),
                    n AS (SELECT count(DISTINCT order_id) AS n FROM l),
                    s AS (SELECT sku_id, count(*) AS c FROM l GROUP BY 1),
                    p AS (SELECT a.sku_id AS a, b.sku_id AS b, count(*) AS c
                          FROM l a JOIN l b ON a.order_id = b.order_id AND a.sku_id <> b.sku_id
                          GROUP BY 1, 2)
               SELECT p.a, p.b, p.c / sa.c AS confidence, p.c * n.n / (sa.c * sb.c) AS lift
               FROM p JOIN s sa ON sa.sku_id = p.a JOIN s sb ON sb.sku_id = p.b, n
               WHERE p.c >= 5 AND p.c / sa.c > 0.3 AND p.c * n.n / (sa.c * sb.c) > 2""",
            [as_of - timedelta(days=27), as_of],
        ).df()
        if not pairs.empty:
            partner = cand.merge(pairs, left_on="sku_id", right_on="a")[["community_id", "b"]]
            cand = pd.concat(
                [cand, partner.rename(columns={"b": "sku_id"}).assign(source="basket")],
                ignore_index=True,
            )
    cand = cand[cand["community_id"].isin(communities)]
    cand = cand.drop_duplicates(["community_id", "sku_id"], keep="first")
    # Stock-ability: lead time must let the goods arrive by the sale date, unless on hand.
    avail = con.execute(
        """SELECT s.sku_id, c.community_id, sp.lead_time_days, s.list_price, s.unit_cost,
                  coalesce(v.on_hand, 0) AS on_hand
           FROM skus s JOIN suppliers sp USING (supplier_id) CROSS JOIN communities c
           LEFT JOIN inventory v ON v.sku_id = s.sku_id AND v.warehouse_id = c.warehouse_id
                AND v.stock_date = ?""",
        [as_of],
    ).df()
    cand = cand.merge(avail, on=["community_id", "sku_id"], how="left")
    lead_ok = cand["lead_time_days"] <= (sale_date - as_of).days + 1
    cand["stockable"] = lead_ok | (cand["on_hand"] > 0)
    cand["list_margin"] = 1 - cand["unit_cost"] / cand["list_price"]
    cand["known"] = cand["sku_id"].isin(model.sku_ids) & cand["community_id"].isin(
        model.community_ids
    )
    return cand


def build(
    con: duckdb.DuckDBPyConnection,
    sale_date: date,
    settings: PlanSettings | None = None,
    communities: list[int] | None = None,
    scope: Scope = ALL,
    progress: Progress | None = None,
) -> Plan:
    """Compute the group-buy plan for ``sale_date`` from data up to the day before.

    Parameters
    ----------
    con
        Open Linli database (read).
    sale_date
        The day the groups run; data up to ``sale_date − 1`` are used.
    settings
        Rule, target, list length and options.
    communities
        Community ids to plan (default: every community in scope).
    scope
        Row scope of the caller (regional managers plan only their regions).
    progress
        Called with (step name, fraction done).

    Returns
    -------
    Plan
        Lists, purchase orders, routes and diagnostics (not yet stored: see :func:`save`).

    Raises
    ------
    ValueError
        For a date without history, an invalid rule, or communities outside the scope;
        :class:`engine.availability.MissingDataError` when the campaigns table is empty.
    """
    # Prices and thresholds come from the demand model, which learns from campaigns.
    availability.require(con, "plan")
    s = settings or PlanSettings()
    report = progress or (lambda step, frac: None)
    as_of = sale_date - timedelta(days=1)
    comm = con.execute("SELECT community_id, region_id, warehouse_id FROM communities").df()
    comm = scope.keep(con, comm)
    if communities is not None:
        wanted = set(int(c) for c in communities)
        outside = wanted - set(comm["community_id"])
        if outside:
            raise ValueError(f"communities outside your scope or unknown: {sorted(outside)[:5]}")
        comm = comm[comm["community_id"].isin(wanted)]
    ids = [int(c) for c in comm["community_id"]]
    report("demand model", 0.05)
    model = response.fit(con, end=as_of)
    report("candidates", 0.25)
    cand = _candidates(con, sale_date, as_of, s, ids, model)
    messages: list[str] = []
    notes: list[tuple[str, dict]] = []
    dropped = cand[~cand["stockable"] | (cand["list_margin"] < s.min_margin) | ~cand["known"]]
    if len(dropped):
        messages.append(
            f"{len(dropped)} candidates dropped: not stockable in time, below the "
            f"minimum margin or without sales history"
        )
        notes.append(("pl_note_candidates_dropped", {"n": len(dropped)}))
    cand = cand.drop(dropped.index)
    report("pricing", 0.35)
    opt = whatif.OptimiseSettings(target=s.target, min_margin=s.min_margin)
    priced = []
    skus = cand["sku_id"].unique()
    for i, sku in enumerate(skus):
        cs = cand.loc[cand["sku_id"] == sku, "community_id"].to_numpy()
        priced.append(whatif.optimise(model, int(sku), cs, opt))
        if i % 20 == 0:
            report("pricing", 0.35 + 0.35 * i / max(len(skus), 1))
    cols = [
        "community_id",
        "sku_id",
        "feasible",
        "price",
        "threshold",
        "units",
        "sold",
        "p_success",
        "gmv",
        "margin",
    ]
    table = pd.concat(priced, ignore_index=True)[cols] if priced else pd.DataFrame(columns=cols)
    table = table.merge(cand[["community_id", "sku_id", "source"]], on=["community_id", "sku_id"])
    cats = con.execute(
        "SELECT sku_id, name, category, shelf_life_days, weight_kg, volume_l, "
        "storage, unit, pack_size, supplier_id FROM skus"
    ).df()
    table = table.merge(cats, on="sku_id")
    report("lists", 0.72)
    items = _choose(table, s)
    report("purchasing", 0.78)
    purchase, suppliers = _purchase(con, items, model, as_of, comm)
    routes = None
    if s.route and not items.empty:
        report("routes", 0.82)
        routes = dispatch.plan_lines(
            con,
            _expected_lines(items, comm),
            sale_date,
            dispatch.DispatchSettings(time_limit_s=s.route_time_s, seed=s.seed),
            scope=scope,
        )
        messages += list(routes.messages)
        notes += [("pl_note_routes", {"detail": m}) for m in routes.messages]
    report("done", 1.0)
    return Plan(
        plan_id=f"P{sale_date:%Y%m%d}-{uuid.uuid4().hex[:6]}",
        sale_date=sale_date,
        as_of=as_of,
        settings=s,
        items=items,
        candidates=table,
        purchase=purchase,
        suppliers=suppliers,
        routes=routes,
        diversity=diversity(items),
        messages=tuple(messages),
        notes=tuple(notes),
    )


def _choose(table: pd.DataFrame, s: PlanSettings) -> pd.DataFrame:
    ok = table[table["feasible"] & (table["p_success"] >= s.target)].copy()
    ok = ok.sort_values(["community_id", "margin"], ascending=[True, False])
    ok["cat_rank"] = ok.groupby(["community_id", "category"]).cumcount()
    ok = ok[ok["cat_rank"] < s.max_per_category]
    ok["rank"] = ok.groupby("community_id").cumcount() + 1
    ok = ok[ok["rank"] <= s.per_community].drop(columns=["cat_rank", "feasible"])
    ok = ok.rename(
        columns={
            "units": "expected_units",
            "gmv": "expected_gmv",
            "margin": "expected_margin",
            "sold": "expected_sold",
        }
    )
    return ok.reset_index(drop=True)


def _purchase(
    con, items: pd.DataFrame, model: response.DemandModel, as_of: date, comm: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if items.empty:
        empty = pd.DataFrame(
            columns=[
                "supplier_id",
                "warehouse_id",
                "sku_id",
                "expected_units",
                "safety_stock",
                "on_hand",
                "order_qty",
            ]
        )
        return empty, pd.DataFrame(
            columns=["supplier_id", "supplier", "lead_time_days", "lines", "units", "cost"]
        )
    x = items.merge(comm[["community_id", "warehouse_id"]], on="community_id")
    # Negative-binomial variance of each campaign's units: μ + α μ².
    x["var"] = x["expected_units"] + model.dispersion * x["expected_units"] ** 2
    g = x.groupby(["supplier_id", "warehouse_id", "sku_id"], as_index=False).agg(
        expected_units=("expected_units", "sum"),
        var=("var", "sum"),
        shelf_life_days=("shelf_life_days", "first"),
        pack_size=("pack_size", "first"),
        name=("name", "first"),
    )
    g["safety_stock"] = _z(g["shelf_life_days"].to_numpy()) * np.sqrt(g["var"])
    stock = con.execute(
        "SELECT warehouse_id, sku_id, on_hand FROM inventory WHERE stock_date = ?", [as_of]
    ).df()
    g = g.merge(stock, on=["warehouse_id", "sku_id"], how="left").fillna({"on_hand": 0})
    need = np.maximum(g["expected_units"] + g["safety_stock"] - g["on_hand"], 0)
    g["order_qty"] = (np.ceil(need / g["pack_size"]) * g["pack_size"]).astype(int)
    g = g.drop(columns=["var"])
    sup = con.execute("SELECT supplier_id, name AS supplier, lead_time_days FROM suppliers").df()
    cost = con.execute("SELECT sku_id, unit_cost FROM skus").df()
    g = g.merge(cost, on="sku_id")
    orders = (
        g[g["order_qty"] > 0]
        .assign(cost=lambda d: d["order_qty"] * d["unit_cost"])
        .groupby("supplier_id", as_index=False)
        .agg(lines=("sku_id", "size"), units=("order_qty", "sum"), cost=("cost", "sum"))
    )
    orders = sup.merge(orders, on="supplier_id")
    return g, orders


def _expected_lines(items: pd.DataFrame, comm: pd.DataFrame) -> pd.DataFrame:
    """Expected loads as order lines: one pseudo order per community, units rounded up."""
    x = items.merge(comm[["community_id", "warehouse_id"]], on="community_id")
    qty = np.ceil(x["expected_units"].to_numpy()).astype(int)
    return pd.DataFrame(
        {
            "warehouse_id": x["warehouse_id"].astype(int),
            "pickup_id": x["community_id"].astype(int),
            "order_id": -x["community_id"].astype(int),
            "sku_id": x["sku_id"].astype(int),
            "sku_name": x["name"],
            "storage": x["storage"],
            "unit": x["unit"],
            "qty": qty,
            "kg": qty * x["weight_kg"].to_numpy(),
            "volume_l": qty * x["volume_l"].to_numpy(),
        }
    )


def diversity(items: pd.DataFrame) -> float:
    """Mean pairwise Jaccard distance between communities' SKU lists (0 = all the same)."""
    sets = [set(g["sku_id"]) for _, g in items.groupby("community_id")]
    if len(sets) < 2:
        return 0.0
    d = [1 - len(a & b) / len(a | b) for i, a in enumerate(sets) for b in sets[i + 1 :] if a | b]
    return float(np.mean(d)) if d else 0.0


def save(con: duckdb.DuckDBPyConnection, plan: Plan) -> str:
    """Store a plan with its inputs; returns its id."""
    con.execute(
        "INSERT INTO group_plans (plan_id, sale_date, as_of, created_at, rule_text, "
        "settings, status) VALUES (?, ?, ?, ?, ?, ?, 'draft')",
        [
            plan.plan_id,
            plan.sale_date,
            plan.as_of,
            datetime.now(),
            plan.settings.rule_text,
            json.dumps(asdict(plan.settings), ensure_ascii=False),
        ],
    )
    cols = [
        "community_id",
        "rank",
        "sku_id",
        "source",
        "price",
        "threshold",
        "expected_units",
        "p_success",
        "expected_gmv",
        "expected_margin",
    ]
    df = plan.items[cols].assign(plan_id=plan.plan_id)
    con.register("_plan_items", df)
    con.execute("INSERT INTO group_plan_items BY NAME SELECT * FROM _plan_items")
    con.unregister("_plan_items")
    return plan.plan_id


def approve(con: duckdb.DuckDBPyConnection, plan_id: str, username: str) -> None:
    """Mark a stored plan approved and write the audit log."""
    n = con.execute("SELECT count(*) FROM group_plans WHERE plan_id = ?", [plan_id]).fetchall()
    if not n[0][0]:
        raise ValueError(f"no plan {plan_id!r}")
    con.execute(
        "UPDATE group_plans SET status = 'approved', approved_by = ?, approved_at = ? "
        "WHERE plan_id = ?",
        [username, datetime.now(), plan_id],
    )
    audit.record(con, username, "plan_approved", {"plan_id": plan_id})


def score(con: duckdb.DuckDBPyConnection, plan_id: str, scope: Scope = ALL) -> pd.DataFrame:
    """Plan against what happened, per community and in total.

    Only the plan's communities inside the caller's row ``scope`` are scored (and totalled).

    For every planned (community, SKU) that actually ran as a campaign on the sale date:
    realised success against the predicted probability, GMV against expected GMV; waste is
    the serving warehouses' spoiled stock value of the planned SKUs that day. Pairs that did
    not run are counted in ``coverage``.

    Returns
    -------
    pandas.DataFrame
        ``community_id`` (NULL for the total row), ``planned``, ``ran``, ``coverage``,
        ``expected_success``, ``realised_success``, ``expected_gmv``, ``realised_gmv``,
        ``gmv_ratio``, ``waste_value``.
    """
    sql = """
        WITH p AS (SELECT i.*, g.sale_date FROM group_plan_items i
                   JOIN group_plans g USING (plan_id) WHERE plan_id = ?
                   AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], i.community_id))),
             c AS (SELECT community_id, sku_id, sale_date, success, campaign_id FROM campaigns),
             r AS (SELECT i.campaign_id, sum((i.qty - i.refund_qty) * i.unit_price) AS gmv
                   FROM order_items i JOIN orders o USING (order_id)
                   WHERE o.status <> 'cancelled' AND o.order_date = (SELECT min(sale_date) FROM p)
                   GROUP BY 1),
             w AS (SELECT v.sku_id, m.community_id, v.wasted * s.unit_cost AS waste
                   FROM inventory v JOIN skus s USING (sku_id)
                   JOIN communities m ON m.warehouse_id = v.warehouse_id
                   WHERE v.stock_date = (SELECT min(sale_date) FROM p)),
             j AS (SELECT p.community_id, p.p_success, p.expected_gmv, c.success,
                          coalesce(r.gmv, 0) AS gmv, c.campaign_id IS NOT NULL AS ran,
                          coalesce(w.waste, 0) AS waste
                   FROM p LEFT JOIN c ON c.community_id = p.community_id AND c.sku_id = p.sku_id
                        AND c.sale_date = p.sale_date
                   LEFT JOIN r ON r.campaign_id = c.campaign_id
                   LEFT JOIN w ON w.sku_id = p.sku_id AND w.community_id = p.community_id)
        SELECT community_id, count(*) AS planned, count(*) FILTER (WHERE ran) AS ran,
               avg(ran::INT) AS coverage,
               avg(p_success) FILTER (WHERE ran) AS expected_success,
               avg(success::INT) FILTER (WHERE ran) AS realised_success,
               sum(expected_gmv) FILTER (WHERE ran) AS expected_gmv,
               sum(gmv) FILTER (WHERE ran) AS realised_gmv,
               sum(gmv) FILTER (WHERE ran) / nullif(sum(expected_gmv) FILTER (WHERE ran), 0)
                   AS gmv_ratio,
               sum(waste) AS waste_value
        FROM j GROUP BY GROUPING SETS ((community_id), ()) ORDER BY community_id NULLS LAST"""
    comms = scope.communities(con)
    out = con.execute(sql, [plan_id, comms, comms]).df()
    if out.empty or out["planned"].sum() == 0:
        raise ValueError(f"no plan {plan_id!r} or it has no items")
    return out


def history(con: duckdb.DuckDBPyConnection, limit: int = 20, scope: Scope = ALL) -> pd.DataFrame:
    """Stored plans, newest first, with their totals scored where the sale date has data.

    Only plans with items inside the caller's row ``scope`` are listed, scored on those items.
    """
    comms = scope.communities(con)
    plans = con.execute(
        "SELECT plan_id, sale_date, as_of, created_at, status, approved_by, "
        "rule_text FROM group_plans g WHERE EXISTS (SELECT 1 FROM group_plan_items i "
        "WHERE i.plan_id = g.plan_id AND (?::INTEGER[] IS NULL "
        "OR list_contains(?::INTEGER[], i.community_id))) ORDER BY created_at DESC LIMIT ?",
        [comms, comms, int(limit)],
    ).df()
    last = con.execute("SELECT max(sale_date) FROM campaigns").fetchall()[0][0]
    rows = []
    for p in plans.itertuples():
        rec = p._asdict()
        rec.pop("Index", None)
        if last is not None and pd.Timestamp(p.sale_date).date() <= last:
            tot = score(con, p.plan_id, scope).iloc[-1]
            rec |= {
                k: tot[k]
                for k in (
                    "coverage",
                    "expected_success",
                    "realised_success",
                    "expected_gmv",
                    "realised_gmv",
                    "gmv_ratio",
                )
            }
        rows.append(rec)
    return pd.DataFrame(rows)


def summarise(plan: Plan) -> dict[str, float]:
    """Headline numbers of a plan."""
    it = plan.items
    return {
        "communities": float(it["community_id"].nunique()) if len(it) else 0.0,
        "items": float(len(it)),
        "expected_gmv": float(it["expected_gmv"].sum()) if len(it) else 0.0,
        "expected_margin": float(it["expected_margin"].sum()) if len(it) else 0.0,
        "mean_p_success": float(it["p_success"].mean()) if len(it) else math.nan,
        "diversity": plan.diversity,
        "suppliers": float(len(plan.suppliers)),
        "purchase_units": float(plan.purchase["order_qty"].sum()) if len(plan.purchase) else 0.0,
    }
