"""Tomorrow's group-buy plan: selection → price and threshold → lists → purchasing → routes.

The closed loop of the seeds (S-P-F): for a sale date and a set of communities,

1. candidates per community from a selection rule, plus the community's own recent best
   sellers (its persona mix shows in what it buys) and basket partners of those candidates;
   SKUs that cannot be stocked in time or sell below the minimum margin are dropped;
2. per candidate the pricing engine's demand model gives the best price and threshold with
   their success probability, expected units, GMV and margin: prices only within the range
   each SKU's past listings support (widened on request; answers outside it are flagged
   ``extrapolated``), the threshold chosen against the cost of a formed group — the leader's
   commission, handling per order and the delivery stop's share (:mod:`engine.pricing.costs`,
   defaults from the data, each overridable in :class:`PlanSettings`);
3. each community's list is the best ``per_community`` by expected margin after those costs
   with success probability ≥ target and at most ``max_per_category`` per category;
4. purchase orders per supplier through the one purchasing policy (:mod:`engine.purchasing`,
   the forecast page's too): the sale day's expected units with an interval from their
   negative-binomial variance, the interval's upper bound chosen by shelf life, less stock on
   hand and in transit, rounded up to pack sizes (以销定采);
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

from engine import audit, availability, calibration, purchasing, rules
from engine.auth import ALL, Scope
from engine.forecasting import anchor
from engine.pricing import costs, response, whatif
from engine.routing import dispatch

DEFAULT_RULE = "范围 全部 过去 30 天 排序 销量 降序 前 20"
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
    widen: float = 0.0  # widen each SKU's observed price range by this fraction of list
    handling_per_order: float = costs.HANDLING_PER_ORDER  # CNY per order
    stop_cost: float | None = None  # CNY per delivery stop; None = from the routing costs
    commission: float | None = None  # leader commission rate; None = each leader's own

    def __post_init__(self) -> None:
        if not 0 < self.target < 1:
            raise ValueError(f"target success probability must lie in (0, 1), got {self.target}")
        if self.per_community < 1 or self.max_per_category < 1:
            raise ValueError("per_community and max_per_category must be at least 1")
        if not 0 <= self.widen <= 10:
            raise ValueError("widen is a fraction of list price in [0, 10]")
        if self.handling_per_order < 0 or (self.stop_cost is not None and self.stop_cost < 0):
            raise ValueError("costs must be non-negative")
        if self.commission is not None and not 0 <= self.commission < 1:
            raise ValueError("commission is a rate in [0, 1)")

    def cost_model(self, con, as_of: date) -> costs.CostModel:
        """Per-community group costs: the data's defaults with this plan's overrides."""
        base = costs.defaults(
            con,
            as_of,
            handling_per_order=self.handling_per_order,
            groups_per_stop=self.per_community,
        )
        if self.stop_cost is None and self.commission is None:
            return base
        return costs.build(
            base.community_ids,
            base.commission if self.commission is None else self.commission,
            base.stop_cost if self.stop_cost is None else self.stop_cost,
            base.units_per_order,
            handling_per_order=self.handling_per_order,
            groups_per_stop=self.per_community,
            notes=base.notes,
        )


@dataclass(frozen=True, eq=False)
class Plan:
    """A computed plan: lists, purchase orders, routes and diagnostics."""

    plan_id: str
    sale_date: date
    as_of: date
    settings: PlanSettings
    items: pd.DataFrame  # community_id, rank, sku_id, source, price, threshold, metrics …
    candidates: pd.DataFrame  # every priced candidate, chosen or not
    purchase: pd.DataFrame  # order lines of engine.purchasing.plan (supplier × warehouse × SKU)
    suppliers: pd.DataFrame  # one row per supplier order (engine.purchasing.plan's orders)
    routes: dispatch.DayPlan | None
    diversity: float  # mean Jaccard distance between community lists (0 = identical)
    messages: tuple[str, ...] = field(default_factory=tuple)
    # The same notes for a translated UI: (message key, parameters).
    notes: tuple[tuple[str, dict], ...] = field(default_factory=tuple)
    # What purchasing ordered from: unique_id, ds, yhat and bands, sku_id, warehouse_id.
    demand: pd.DataFrame = field(default_factory=pd.DataFrame)


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
    model, demand_note = anchor.plan_demand(con, sale_date)
    report("candidates", 0.25)
    cand = _candidates(con, sale_date, as_of, s, ids, model)
    messages: list[str] = [demand_note[0]]
    notes: list[tuple[str, dict]] = [demand_note[1]]
    dropped = cand[~cand["stockable"] | (cand["list_margin"] < s.min_margin) | ~cand["known"]]
    if len(dropped):
        messages.append(
            f"{len(dropped)} candidates dropped: not stockable in time, below the "
            f"minimum margin or without sales history"
        )
        notes.append(("pl_note_candidates_dropped", {"n": len(dropped)}))
    cand = cand.drop(dropped.index)
    report("pricing", 0.35)
    opt = whatif.OptimiseSettings(target=s.target, min_margin=s.min_margin, widen=s.widen)
    group_costs = s.cost_model(con, as_of)
    notes += [("pl_note_costs", {"detail": m}) for m in group_costs.notes]
    messages += list(group_costs.notes)
    priced = []
    skus = cand["sku_id"].unique()
    for i, sku in enumerate(skus):
        cs = cand.loc[cand["sku_id"] == sku, "community_id"].to_numpy()
        priced.append(whatif.optimise(model, int(sku), cs, opt, costs=group_costs))
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
        "net_margin",
        "observed_low",
        "observed_high",
        "extrapolated",
    ]
    table = pd.concat(priced, ignore_index=True)[cols] if priced else pd.DataFrame(columns=cols)
    table = table.merge(cand[["community_id", "sku_id", "source"]], on=["community_id", "sku_id"])
    # Realised outcomes recalibrate the model's success probability (engine/calibration.py).
    table["p_model"] = table["p_success"]
    table["p_success"] = calibration.apply(calibration.current(con), table["p_model"].to_numpy())
    cats = con.execute(
        "SELECT sku_id, name, category, shelf_life_days, weight_kg, volume_l, "
        "storage, unit, pack_size, supplier_id FROM skus"
    ).df()
    table = table.merge(cats, on="sku_id")
    report("lists", 0.72)
    items = _choose(table, s)
    n_out = int(items["extrapolated"].sum()) if len(items) else 0
    if n_out:
        messages.append(f"{n_out} planned prices lie outside the range past listings support")
        notes.append(("pl_note_extrapolated", {"n": n_out}))
    report("purchasing", 0.78)
    purchase, suppliers, late, demand = _purchase(con, items, model, as_of, comm)
    if late:
        messages.append(f"{late} planned SKU × warehouse pairs cannot be restocked in time")
        notes.append(("pl_note_late_supply", {"n": late}))
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
        demand=demand,
    )


def _choose(table: pd.DataFrame, s: PlanSettings) -> pd.DataFrame:
    ok = table[table["feasible"] & (table["p_success"] >= s.target)].copy()
    ok = ok.sort_values(["community_id", "net_margin"], ascending=[True, False])
    ok["cat_rank"] = ok.groupby(["community_id", "category"]).cumcount()
    ok = ok[ok["cat_rank"] < s.max_per_category]
    ok["rank"] = ok.groupby("community_id").cumcount() + 1
    ok = ok[ok["rank"] <= s.per_community].drop(columns=["cat_rank", "feasible"])
    ok = ok.rename(
        columns={
            "units": "expected_units",
            "gmv": "expected_gmv",
            "margin": "expected_margin",
            "net_margin": "expected_net_margin",
            "sold": "expected_sold",
        }
    )
    return ok.reset_index(drop=True)


def _purchase(
    con, items: pd.DataFrame, model: response.DemandModel, as_of: date, comm: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, int, pd.DataFrame]:
    """Supplier orders for the lists through the one purchasing policy (engine.purchasing).

    The demand of each SKU at each warehouse on the sale date is the sum of its campaigns'
    expected units, with the negative-binomial variance ``μ + α μ²`` of each; the plan knows
    nothing of the days after the sale date, so they count as zero. Returns the order lines,
    the per-supplier orders, how many (SKU, warehouse) pairs cannot be restocked by the sale
    date (the supplier's lead time is longer than a day) and lack the stock for it, and the
    demand forecast frame the policy ordered from.
    """
    policy = purchasing.Policy()
    if items.empty:
        return (
            pd.DataFrame(columns=list(purchasing.LINE_COLUMNS)),
            pd.DataFrame(columns=list(purchasing.ORDER_COLUMNS)),
            0,
            pd.DataFrame(columns=["unique_id", "ds", "yhat"]),
        )
    x = items.merge(comm[["community_id", "warehouse_id"]], on="community_id")
    x["var"] = x["expected_units"] + model.dispersion * x["expected_units"] ** 2
    g = x.groupby(["sku_id", "warehouse_id"], as_index=False).agg(
        mean=("expected_units", "sum"), var=("var", "sum")
    )
    g["unique_id"] = g["sku_id"].astype(str) + "@" + g["warehouse_id"].astype(str)
    cat = con.execute(
        "SELECT sku_id, name, category, shelf_life_days, pack_size, supplier_id, unit_cost "
        "FROM skus"
    ).df()
    keys = g[["unique_id", "sku_id", "warehouse_id"]].merge(cat, on="sku_id")
    sup = purchasing.suppliers(con)
    lead = keys.merge(sup, on="supplier_id", how="left")["lead_time_days"].fillna(1).clip(lower=1)
    days = [pd.Timestamp(as_of + timedelta(days=k)) for k in range(1, int(lead.max()) + 1)]
    frames = [g.assign(ds=days[0])]
    frames += [g.assign(ds=d, mean=0.0, var=0.0) for d in days[1:]]
    demand = pd.concat(frames, ignore_index=True)[["unique_id", "ds", "mean", "var"]]
    stock = purchasing.stock(con, on=as_of)
    forecast = purchasing.bands(demand, policy.levels)
    pp = purchasing.plan(forecast, keys, stock, sup, as_of, days=1, policy=policy)
    short = g.merge(keys[["unique_id", "supplier_id"]], on="unique_id").merge(sup, on="supplier_id")
    short = short.merge(stock, on=["warehouse_id", "sku_id"], how="left").fillna({"on_hand": 0})
    late = (short["lead_time_days"] > 1) & (short["on_hand"] < short["mean"])
    forecast = forecast.merge(keys[["unique_id", "sku_id", "warehouse_id"]], on="unique_id")
    return pp.lines, pp.orders, int(late.sum()), forecast


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
        "expected_net_margin",
        "extrapolated",
    ]
    cols += ["p_model"] if "p_model" in plan.items else []
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
    # A sale date has data once its orders are in (a published plan's listings exist before).
    last = con.execute("SELECT max(order_date) FROM orders").fetchall()[0][0]
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
        "expected_net_margin": float(it["expected_net_margin"].sum()) if len(it) else 0.0,
        "extrapolated_share": float(it["extrapolated"].mean()) if len(it) else 0.0,
        "mean_p_success": float(it["p_success"].mean()) if len(it) else math.nan,
        "diversity": plan.diversity,
        "suppliers": float(len(plan.suppliers)),
        "purchase_units": float(plan.purchase["qty"].sum()) if len(plan.purchase) else 0.0,
    }
