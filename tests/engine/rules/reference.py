"""Direct pandas computations of every rule metric, to check the compiled SQL against."""

import datetime as dt

import numpy as np
import pandas as pd


def grid(con, as_of: dt.date, days: int) -> pd.DataFrame:
    """Every (community, SKU) pair with each metric of the rule language, computed in pandas."""
    q = lambda sql: con.execute(sql).df()  # noqa: E731
    ws = as_of - dt.timedelta(days=days - 1)
    pws = ws - dt.timedelta(days=days)
    comm = q(
        "SELECT community_id, name AS community_name, warehouse_id, type, region_id, opened "
        "FROM communities"
    )
    comm = comm[pd.to_datetime(comm["opened"]).dt.date <= as_of]
    skus = q(
        "SELECT sku_id, name AS sku_name, category, storage, tags, launched, list_price FROM skus"
    )
    skus["launched"] = pd.to_datetime(skus["launched"]).dt.date
    skus = skus[skus["launched"] <= as_of].copy()
    n = skus.groupby("category")["list_price"].transform("size")
    r = skus.groupby("category")["list_price"].rank(method="min")
    skus["price_pct"] = np.where(n > 1, (r - 1) / (n - 1).clip(lower=1), 0.0)
    skus["price"] = skus["list_price"]
    g = comm.merge(skus, how="cross")

    be = q("SELECT * FROM browse_events")
    be["event_date"] = pd.to_datetime(be["event_date"]).dt.date
    cur = be[(be["event_date"] >= ws) & (be["event_date"] <= as_of)]
    prev = be[(be["event_date"] >= pws) & (be["event_date"] < ws)]
    key = ["community_id", "sku_id"]
    g = g.merge(cur.groupby(key)[["views", "carts"]].sum().reset_index(), on=key, how="left")
    g = g.merge(
        prev.groupby(key)["views"].sum().rename("views_prev").reset_index(), on=key, how="left"
    )

    lines = q(
        "SELECT o.community_id, o.user_id, o.order_date, o.status, oi.* FROM orders o "
        "JOIN order_items oi USING (order_id)"
    )
    lines["order_date"] = pd.to_datetime(lines["order_date"]).dt.date
    lines = lines[lines["status"] == "paid"].copy()
    lines["net"] = lines["qty"] - lines["refund_qty"]
    lines["gmv"] = lines["net"] * lines["unit_price"]
    lines["margin"] = (lines["unit_price"] - lines["unit_cost"]) * lines["net"]
    lc = lines[(lines["order_date"] >= ws) & (lines["order_date"] <= as_of)]
    lp = lines[(lines["order_date"] >= pws) & (lines["order_date"] < ws)]
    sales = lc.groupby(key).agg(units=("net", "sum"), gmv=("gmv", "sum"), margin=("margin", "sum"))
    g = g.merge(sales.reset_index(), on=key, how="left")
    g = g.merge(lp.groupby(key)["net"].sum().rename("units_prev").reset_index(), on=key, how="left")
    for c in ("views", "carts", "views_prev", "units", "gmv", "margin", "units_prev"):
        g[c] = g[c].fillna(0.0).astype(float)
    g["conversion"] = np.where(
        g["views"] > 0, g["units"] / g["views"].where(g["views"] > 0), np.nan
    )
    g["margin_rate"] = np.where(g["gmv"] != 0, g["margin"] / g["gmv"].where(g["gmv"] != 0), np.nan)
    g["trend"] = (g["units"] + 1) / (g["units_prev"] + 1)
    g["view_trend"] = (g["views"] + 1) / (g["views_prev"] + 1)

    inv = q("SELECT * FROM inventory")
    inv["stock_date"] = pd.to_datetime(inv["stock_date"]).dt.date
    inv = inv[(inv["stock_date"] >= ws) & (inv["stock_date"] <= as_of)].sort_values("stock_date")
    st = inv.groupby(["warehouse_id", "sku_id"]).agg(
        on_hand=("on_hand", "last"),
        in_transit=("in_transit", "last"),
        max_received=("received", "max"),
        sold_w=("sold", "sum"),
    )
    g = g.merge(st.reset_index(), on=["warehouse_id", "sku_id"], how="left")
    on_hand, sold = g["on_hand"].fillna(0), g["sold_w"].fillna(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g["stock_days"] = np.where(
            sold > 0, on_hand / (sold / days), np.where(on_hand > 0, np.inf, 0.0)
        )
    lead = q("SELECT s.sku_id, p.lead_time_days FROM skus s JOIN suppliers p USING (supplier_id)")
    g = g.merge(lead, on="sku_id", how="left")
    supply = np.where(g["lead_time_days"] <= 1, g["max_received"].fillna(0), 0.0)
    avail = on_hand + g["in_transit"].fillna(0) + supply
    with np.errstate(divide="ignore", invalid="ignore"):
        g["available_days"] = np.where(
            sold > 0, avail / (sold / days), np.where(avail > 0, np.inf, 0.0)
        )
    return g


def mentions(con, as_of: dt.date, days: int, keyword: str) -> pd.DataFrame:
    """Per community: mentions of a keyword in the window and in the window before."""
    t = con.execute("SELECT * FROM topics").df()
    t["topic_date"] = pd.to_datetime(t["topic_date"]).dt.date
    ws = as_of - dt.timedelta(days=days - 1)
    pws = ws - dt.timedelta(days=days)
    t = t[t["keyword"] == keyword]
    cur = (
        t[(t["topic_date"] >= ws) & (t["topic_date"] <= as_of)]
        .groupby("community_id")["mentions"]
        .sum()
    )
    prev = (
        t[(t["topic_date"] >= pws) & (t["topic_date"] < ws)]
        .groupby("community_id")["mentions"]
        .sum()
    )
    out = pd.DataFrame({"cur": cur, "prev": prev}).fillna(0.0)
    return out
