"""The leader workbench engine: pickup lists, phone masking, near-threshold groups,
commission statements and settlement, ranking and tiers."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from engine import auth, clock
from engine.leaders import commission, pickup, ranking

MANAGER = auth.Scope(regions=(3,))


@pytest.fixture(scope="module")
def cur(world):
    return world.cursor()


@pytest.fixture(scope="module")
def busiest(cur):
    """The pickup point with the most paid orders on the as-of day, and tomorrow's date."""
    day = clock.as_of(cur)
    pid = cur.execute(
        "SELECT pickup_id FROM orders WHERE order_date = ? AND status = 'paid' "
        "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
        [day],
    ).fetchone()[0]
    return int(pid), day + timedelta(days=1)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+8613812345678", "+86*******5678"),
        ("1234567", "*****67"),
        ("", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_mask_phone(phone, masked):
    """Masking keeps the first 3 and last 4 digits of a mobile number and hides the rest."""
    assert pickup.mask_phone(phone) == masked


def test_phone_roles():
    """Only ops roles see full numbers; analysts, executives and the demo mode do not."""
    assert [r for r in auth.ROLES if pickup.may_see_phones(r)] == [
        "regional_manager",
        "dispatcher",
        "admin",
    ]
    assert not pickup.may_see_phones("demo")


def test_pickup_list_is_yesterdays_paid_orders_of_the_point(cur, busiest):
    """Tomorrow's list holds exactly the paid, not fully refunded lines ordered today there."""
    pid, tomorrow = busiest
    lines = pickup.pickup_list(cur, pid, scope=auth.ALL)  # default day: tomorrow
    assert len(lines) > 0
    orders = cur.execute(
        "SELECT order_id, pickup_id, order_date, status FROM orders "
        "WHERE list_contains(?::BIGINT[], order_id)",
        [lines["order_id"].astype(int).tolist()],
    ).df()
    assert set(orders["pickup_id"]) == {pid}
    assert set(orders["order_date"].dt.date) == {tomorrow - timedelta(days=1)}
    assert set(orders["status"]) == {"paid"}
    assert (lines["qty"] > 0).all()
    # Every paid order of that day at that point is on the list (unless refunded in full).
    expect = cur.execute(
        "SELECT count(DISTINCT o.order_id) FROM orders o JOIN order_items i USING (order_id) "
        "WHERE o.pickup_id = ? AND o.order_date = ? AND o.status = 'paid' AND i.qty > i.refund_qty",
        [pid, tomorrow - timedelta(days=1)],
    ).fetchone()[0]
    assert lines["order_id"].nunique() == expect


def test_pickup_list_masks_phones_unless_allowed(cur, busiest):
    """Phones come masked by default and in full only when asked for (an allowed role)."""
    pid, day = busiest
    masked = pickup.pickup_list(cur, pid, day)
    full = pickup.pickup_list(cur, pid, day, show_phones=True)
    real = dict(cur.execute("SELECT user_id, phone FROM users").fetchall())
    assert full["phone"].notna().all()
    assert (full["phone"] == full["user_id"].map(real)).all()
    assert masked["phone"].str.contains(r"^\d{3}\*{4}\d{4}$").all()
    assert not set(masked["phone"]) & set(full["phone"])


def test_by_customer_keeps_every_unit(cur, busiest):
    """One row per customer; units and amount add up to the line list."""
    lines = pickup.pickup_list(cur, *busiest)
    cust = pickup.by_customer(lines)
    assert cust["user_id"].is_unique
    assert set(cust["user_id"]) == set(lines["user_id"])
    assert cust["units"].sum() == lines["qty"].sum()
    assert cust["amount"].sum() == pytest.approx(lines["amount"].sum())


def test_pickup_list_empty_day_and_unknown_point(cur, busiest):
    """A day without orders gives an empty list; an unknown point is a clear error."""
    pid, _ = busiest
    assert pickup.pickup_list(cur, pid, clock.as_of(cur) + timedelta(days=30)).empty
    with pytest.raises(ValueError, match="no pickup point"):
        pickup.pickup_list(cur, 99_999)


def test_pickup_point_outside_scope_is_refused(cur):
    """A regional manager cannot open another region's pickup list."""
    outside = cur.execute(
        "SELECT p.pickup_id FROM pickup_points p JOIN communities c USING (community_id) "
        "WHERE c.region_id <> 3 LIMIT 1"
    ).fetchone()[0]
    with pytest.raises(auth.ScopeError):
        pickup.pickup_list(cur, outside, scope=MANAGER)


@pytest.mark.parametrize("within", [0.2, 0.5, 1.0])
def test_near_threshold_selects_by_distance(cur, within):
    """Returned groups lie within the distance, unformed first; every other group lies outside."""
    day = clock.as_of(cur) - timedelta(days=3)
    camp = cur.execute(
        "SELECT campaign_id, community_id, units, threshold FROM campaigns WHERE sale_date = ?",
        [day],
    ).df()
    got = []
    for (pid,) in cur.execute("SELECT pickup_id FROM pickup_points").fetchall():
        near = pickup.near_threshold(cur, pid, day, within=within)
        if len(near):
            assert not near["formed"].iloc[0] or near["formed"].all()
            assert (near["gap"] == near["threshold"] - near["units"]).all()
        got += near["campaign_id"].tolist()
    close = (camp["units"] - camp["threshold"]).abs() <= within * camp["threshold"]
    assert set(got) == set(camp.loc[close, "campaign_id"])
    with pytest.raises(ValueError, match="within"):
        pickup.near_threshold(cur, 1, day, within=0)


def test_commission_matches_the_kpi_rollup(cur):
    """The statement's commission and GMV add up to the KPI rollup's for the same period."""
    hi = clock.as_of(cur)
    lo = hi - timedelta(days=29)
    st = commission.statement(cur, lo, hi)
    roll = cur.execute(
        "SELECT sum(gmv), sum(commission) FROM rollup_sales WHERE day BETWEEN ? AND ?", [lo, hi]
    ).fetchone()
    assert st["gmv"].sum() == pytest.approx(roll[0])
    assert st["commission"].sum() == pytest.approx(roll[1])
    assert st["commission"].to_numpy() == pytest.approx(
        (st["gmv"] * st["commission_rate"]).to_numpy()
    )


def test_settlement_status_lifecycle(cur):
    """Open while the period runs, due once it has ended, settled once; never twice."""
    hi = clock.as_of(cur)
    running = commission.statement(cur, hi - timedelta(days=6), hi)
    assert set(running["status"]) == {"open"}
    with pytest.raises(ValueError, match="still open"):
        commission.settle(cur, 1, hi - timedelta(days=6), hi, "admin")
    lo, end = hi - timedelta(days=40), hi - timedelta(days=11)
    assert set(commission.statement(cur, lo, end)["status"]) == {"due"}
    paid = commission.settle(cur, 2, lo, end, "admin")
    after = commission.statement(cur, lo, end).set_index("leader_id")
    assert after.loc[2, "status"] == "settled"
    assert after.loc[2, "settled_amount"] == pytest.approx(paid)
    assert paid == pytest.approx(after.loc[2, "commission"], abs=0.01)
    assert (after.drop(index=2)["status"] == "due").all()
    with pytest.raises(ValueError, match="already settled"):
        commission.settle(cur, 2, lo, end, "admin")
    outside = cur.execute(
        "SELECT l.leader_id FROM leaders l JOIN communities c USING (community_id) "
        "WHERE c.region_id <> 3 LIMIT 1"
    ).fetchone()[0]
    with pytest.raises(ValueError, match="scope"):
        commission.settle(cur, outside, lo, end, "rm", scope=MANAGER)
    with pytest.raises(ValueError, match="after"):
        commission.statement(cur, end, lo)


def test_ranking_orders_by_gmv_and_applies_tier_rules(cur):
    """Ranks follow GMV; each leader's tier is the first rule it meets, top down."""
    hi = clock.as_of(cur)
    lo = hi - timedelta(days=29)
    r = ranking.ranking(cur, lo, hi)
    assert r["gmv"].is_monotonic_decreasing
    assert list(r["rank"]) == list(range(1, len(r) + 1))
    total = cur.execute(
        "SELECT sum(gmv) FROM rollup_sales WHERE day BETWEEN ? AND ?", [lo, hi]
    ).fetchone()[0]
    assert r["gmv"].sum() == pytest.approx(total)
    order = [t.tier for t in ranking.TIERS]
    for row in r.itertuples():
        meets = [
            t.tier
            for t in ranking.TIERS
            if row.gmv_pct >= t.min_gmv_pct
            and (row.success_rate or 0) >= t.min_success
            and row.repurchase >= t.min_repurchase
        ]
        assert row.tier == min(meets, key=order.index)
    assert r["tier"].nunique() >= 2  # the rules do separate the small world's leaders
    rules = ranking.rules()
    assert list(rules["tier"]) == order


def test_ranking_tiers_are_the_same_for_a_regional_manager(cur):
    """Percentiles are among all leaders, so a scoped view keeps each leader's tier."""
    hi = clock.as_of(cur)
    lo = hi - timedelta(days=29)
    wide = ranking.ranking(cur, lo, hi).set_index("leader_id")
    narrow = ranking.ranking(cur, lo, hi, scope=MANAGER).set_index("leader_id")
    assert len(narrow) and len(narrow) < len(wide)
    pd.testing.assert_series_equal(narrow["tier"], wide.loc[narrow.index, "tier"])


def _plan(cur, plan_id, sale_date, status, approved_at, community, skus):
    cur.execute(
        "INSERT INTO group_plans (plan_id, sale_date, as_of, created_at, rule_text, settings, "
        "status, approved_by, approved_at) VALUES (?, ?, ?, now(), 'r', '{}', ?, 'x', ?)",
        [plan_id, sale_date, sale_date - timedelta(days=1), status, approved_at],
    )
    for rank, sku in enumerate(skus, 1):
        cur.execute(
            "INSERT INTO group_plan_items (plan_id, community_id, rank, sku_id, source, price, "
            "threshold, expected_units, p_success, expected_gmv, expected_margin) "
            "VALUES (?, ?, ?, ?, 'rule', 9.9, 3, 5, 0.9, 49.5, 10)",
            [plan_id, community, rank, sku],
        )


def test_planned_groups_come_from_the_latest_approved_plan(cur):
    """Tomorrow's groups are the latest approved plan's items for the point; drafts never show."""
    pid, cid = cur.execute("SELECT pickup_id, community_id FROM pickup_points LIMIT 1").fetchone()
    day = clock.next_delivery_day(cur)
    cur.execute("BEGIN")
    try:
        assert pickup.planned_groups(cur, pid).empty
        _plan(cur, "LD-OLD", day, "approved", "2026-01-01 08:00", cid, [1, 2, 3])
        _plan(cur, "LD-NEW", day, "approved", "2026-01-01 09:00", cid, [4, 5])
        _plan(cur, "LD-DRAFT", day, "draft", None, cid, [6])
        _plan(cur, "LD-OTHER", day, "approved", "2026-01-01 10:00", cid + 1, [7])
        got = pickup.planned_groups(cur, pid)
        assert set(got["plan_id"]) == {"LD-NEW"}
        assert list(got["sku_id"]) == [4, 5] and list(got["rank"]) == [1, 2]
        assert pickup.planned_groups(cur, pid, day + timedelta(days=1)).empty
    finally:
        cur.execute("ROLLBACK")
