"""Tomorrow's pickup list per pickup point, phone masking, and groups near their threshold."""

from __future__ import annotations

import html
from datetime import date, timedelta

import duckdb
import pandas as pd

from engine import clock
from engine.auth import ALL, Scope, ScopeError

# Roles that call customers about their pickup (ops and the managers above them); everyone
# else, and the unauthenticated demo mode, sees masked numbers.
PHONE_ROLES = ("regional_manager", "dispatcher", "admin")


def may_see_phones(role: str) -> bool:
    """True when ``role`` may see customers' full phone numbers."""
    return role in PHONE_ROLES


def mask_phone(phone: object) -> str | None:
    """Keep the first 3 and last 4 digits (``138****5678``); short numbers keep the last 2.

    Parameters
    ----------
    phone
        A phone number or ``None``.

    Returns
    -------
    str or None
        The masked number, ``None`` for a missing one.
    """
    if phone is None or (isinstance(phone, float) and pd.isna(phone)) or phone is pd.NA:
        return None
    s = str(phone).strip()
    if not s:
        return None
    if len(s) >= 8:
        return s[:3] + "*" * (len(s) - 7) + s[-4:]
    return "*" * max(len(s) - 2, 1) + s[-2:]


def points(con: duckdb.DuckDBPyConnection, scope: Scope = ALL) -> pd.DataFrame:
    """Pickup points inside the scope with their community and leader.

    Parameters
    ----------
    con
        An open connection.
    scope
        Row scope of the caller.

    Returns
    -------
    pandas.DataFrame
        ``pickup_id, name, community_id, community, leader_id, leader``, by pickup id.
    """
    df = con.execute(
        "SELECT p.pickup_id, p.name, p.community_id, c.name AS community, p.leader_id, "
        "l.name AS leader FROM pickup_points p JOIN communities c USING (community_id) "
        "LEFT JOIN leaders l ON l.leader_id = p.leader_id ORDER BY p.pickup_id"
    ).df()
    return scope.keep(con, df).reset_index(drop=True)


def _point(con: duckdb.DuckDBPyConnection, pickup_id: int, scope: Scope) -> int:
    """The community of a pickup point inside the scope (ValueError / ScopeError otherwise)."""
    row = con.execute(
        "SELECT community_id FROM pickup_points WHERE pickup_id = ?", [int(pickup_id)]
    ).fetchone()
    if row is None:
        raise ValueError(f"no pickup point {pickup_id}")
    allowed = scope.communities(con)
    if allowed is not None and int(row[0]) not in allowed:
        raise ScopeError(f"pickup point {pickup_id} is outside your scope")
    return int(row[0])


def pickup_list(
    con: duckdb.DuckDBPyConnection,
    pickup_id: int,
    day: date | None = None,
    *,
    show_phones: bool = False,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """The lines customers collect at a pickup point on ``day``, by customer.

    An order placed on day *d* reaches its pickup point on *d + 1* (next-day group-buying), so
    the list for ``day`` holds the paid orders of ``day - 1``; lines refunded in full (a group
    that failed) are left out.

    Parameters
    ----------
    con
        An open connection.
    pickup_id
        The pickup point.
    day
        Delivery day; default :func:`engine.clock.next_delivery_day` ("tomorrow").
    show_phones
        Full phone numbers (only for roles in :data:`PHONE_ROLES`); masked otherwise.
    scope
        Row scope of the caller.

    Returns
    -------
    pandas.DataFrame
        ``user_id, building, phone, order_id, sku_id, item, unit, qty, amount, coupon_code``,
        sorted by building (3栋 before 10栋), customer and item. Empty when nothing is due.

    Raises
    ------
    ValueError
        For an unknown pickup point.
    ScopeError
        When the pickup point lies outside the scope.
    """
    _point(con, pickup_id, scope)
    day = day or clock.next_delivery_day(con)
    df = con.execute(
        "SELECT o.user_id, u.building, u.phone, o.order_id, i.sku_id, s.name AS item, s.unit, "
        "i.qty - i.refund_qty AS qty, (i.qty - i.refund_qty) * i.unit_price AS amount, "
        "o.coupon_code FROM orders o JOIN order_items i USING (order_id) "
        "JOIN skus s USING (sku_id) LEFT JOIN users u ON u.user_id = o.user_id "
        "WHERE o.pickup_id = ? AND o.order_date = ? AND o.status = 'paid' "
        "AND i.qty > i.refund_qty ORDER BY try_cast(regexp_extract(u.building, '\\d+') AS INTEGER) "
        "NULLS LAST, u.building, o.user_id, o.order_id, s.name",
        [int(pickup_id), day - timedelta(days=1)],
    ).df()
    if not show_phones:
        df["phone"] = df["phone"].map(mask_phone).astype(object)
    return df


def by_customer(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per customer of a pickup list: items to hand over, units and amount.

    Parameters
    ----------
    lines
        A :func:`pickup_list` frame.

    Returns
    -------
    pandas.DataFrame
        ``user_id, building, phone, items, units, amount`` (items as ``name ×qty``, joined by ``、``).
    """
    if lines.empty:
        return pd.DataFrame(columns=["user_id", "building", "phone", "items", "units", "amount"])
    text = lines.assign(item_qty=lines["item"] + " ×" + lines["qty"].astype(str))
    out = text.groupby(["user_id", "building"], dropna=False, sort=False).agg(
        phone=("phone", "first"),
        items=("item_qty", "、".join),
        units=("qty", "sum"),
        amount=("amount", "sum"),
    )
    return out.reset_index()


def near_threshold(
    con: duckdb.DuckDBPyConnection,
    pickup_id: int,
    sale_date: date | None = None,
    *,
    within: float = 0.3,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Groups of the pickup point's community whose units lie within ``within`` of the threshold.

    Those are where a leader's nudge in the group chat decides whether a group forms (成团):
    short ones need ``gap`` more units, just-formed ones are a few cancellations from failing.

    Parameters
    ----------
    con
        An open connection.
    pickup_id
        The pickup point.
    sale_date
        The groups' sale day; default the as-of day (the groups running "today").
    within
        Relative distance to the threshold, in (0, 1].
    scope
        Row scope of the caller.

    Returns
    -------
    pandas.DataFrame
        ``campaign_id, sku_id, item, price, threshold, units, gap, progress, formed``, the
        unformed groups first, closest to the threshold first.

    Raises
    ------
    ValueError
        For ``within`` outside (0, 1] or an unknown pickup point.
    ScopeError
        When the pickup point lies outside the scope.
    """
    if not 0 < within <= 1:
        raise ValueError(f"within must be in (0, 1], got {within}")
    community = _point(con, pickup_id, scope)
    sale_date = sale_date or clock.as_of(con)
    return con.execute(
        "SELECT g.campaign_id, g.sku_id, s.name AS item, g.price, g.threshold, g.units, "
        "g.threshold - g.units AS gap, g.units::DOUBLE / g.threshold AS progress, "
        "g.units >= g.threshold AS formed FROM campaigns g JOIN skus s USING (sku_id) "
        "WHERE g.community_id = ? AND g.sale_date = ? AND g.threshold > 0 "
        "AND abs(g.units - g.threshold) <= ? * g.threshold "
        "ORDER BY formed, abs(gap), g.campaign_id",
        [community, sale_date, float(within)],
    ).df()


def planned_groups(
    con: duckdb.DuckDBPyConnection,
    pickup_id: int,
    sale_date: date | None = None,
    *,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """The groups the latest *approved* plan covering the point's community runs on a day.

    What the leader posts in the group chat: item, group price, threshold and the plan's
    expectation. Draft plans are not shown (they may still change).

    Parameters
    ----------
    con
        An open connection.
    pickup_id
        The pickup point.
    sale_date
        The groups' sale day; default :func:`engine.clock.next_delivery_day` (the day the
        plan page plans by default).
    scope
        Row scope of the caller.

    Returns
    -------
    pandas.DataFrame
        ``plan_id, rank, sku_id, item, unit, price, list_price, threshold, expected_units,
        p_success``, by rank; empty without an approved plan for that day.

    Raises
    ------
    ValueError
        For an unknown pickup point.
    ScopeError
        When the pickup point lies outside the scope.
    """
    community = _point(con, pickup_id, scope)
    sale_date = sale_date or clock.next_delivery_day(con)
    return con.execute(
        "WITH p AS (SELECT plan_id FROM group_plans g WHERE status = 'approved' "
        "AND sale_date = ? AND EXISTS (SELECT 1 FROM group_plan_items i "
        "WHERE i.plan_id = g.plan_id AND i.community_id = ?) "
        "ORDER BY approved_at DESC NULLS LAST, created_at DESC LIMIT 1) "
        "SELECT i.plan_id, i.rank, i.sku_id, s.name AS item, s.unit, i.price, s.list_price, "
        "i.threshold, i.expected_units, i.p_success FROM group_plan_items i "
        "JOIN p USING (plan_id) JOIN skus s USING (sku_id) WHERE i.community_id = ? "
        "ORDER BY i.rank",
        [sale_date, community, community],
    ).df()


def printable(
    point: str, day: date, customers: pd.DataFrame, title: str = "自提清单 / Pickup list"
) -> str:
    """A printable HTML pickup list: one row per customer with a signature column.

    Parameters
    ----------
    point
        Pickup point name (heading).
    day
        Delivery day.
    customers
        A :func:`by_customer` frame.
    title
        Page heading.

    Returns
    -------
    str
        A standalone HTML document, every value escaped.
    """
    body = pd.DataFrame(
        {
            "#": range(1, len(customers) + 1),
            "楼栋 building": customers["building"].to_numpy(),
            "客户 customer": customers["user_id"].to_numpy(),
            "电话 phone": customers["phone"].fillna("").to_numpy(),
            "商品 items": customers["items"].to_numpy(),
            "件数 units": customers["units"].to_numpy(),
            "签收 signed": "",
        }
    )
    return "\n".join(
        [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>{html.escape(title)}</title>",
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:4px 8px}td:last-child{min-width:6em}</style>",
            "</head><body>",
            f"<h1>{html.escape(title)} — {html.escape(point)} — {day.isoformat()}</h1>",
            f"<p>{len(customers)} 位客户 customers · {int(customers['units'].sum())} 件 units</p>",
            body.to_html(index=False, escape=True),
            "</body></html>",
        ]
    )
