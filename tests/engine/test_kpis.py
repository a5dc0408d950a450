"""KPI definitions checked against hand arithmetic on a tiny hand-built data set."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from engine import db, kpis

JAN = (date(2026, 1, 1), date(2026, 1, 31))
FEB = (date(2026, 2, 1), date(2026, 2, 28))


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s)


@pytest.fixture(scope="module")
def tiny():
    con = db.connect(":memory:")

    def load(table, rows, cols):
        df = pd.DataFrame(rows, columns=cols)
        con.register("x", df)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM x")
        con.unregister("x")

    load(
        "regions",
        [(1, "甲区", "长沙"), (2, "乙区", "长沙"), (3, "丙区", "长沙")],
        ["region_id", "name", "city"],
    )
    load(
        "warehouses",
        [(1, "仓1", 1, 28.2, 112.9), (2, "仓2", 2, 28.1, 113.0)],
        ["warehouse_id", "name", "region_id", "lat", "lon"],
    )
    load(
        "communities",
        [
            (1, "一号院", 1, 1, "mixed", 100, 28.2, 112.9, date(2025, 1, 1)),
            (2, "二号院", 2, 2, "mixed", 200, 28.1, 113.0, date(2025, 1, 1)),
            (3, "三号院", 3, 2, "mixed", 50, 28.0, 113.0, date(2025, 1, 1)),
        ],
        [
            "community_id",
            "name",
            "region_id",
            "warehouse_id",
            "type",
            "households",
            "lat",
            "lon",
            "opened",
        ],
    )
    load(
        "leaders",
        [(c, c, f"团长{c}", date(2025, 1, 1), r) for c, r in [(1, 0.10), (2, 0.12), (3, 0.10)]],
        ["leader_id", "community_id", "name", "joined", "commission_rate"],
    )
    load(
        "skus",
        [
            (1, "甲", "A", "chilled", 3, 10.0, 6.0, "份", 1.0, 1.0, 1, 1, [], date(2025, 1, 1)),
            (2, "乙", "B", "ambient", 90, 5.0, 3.0, "袋", 1.0, 1.0, 1, 1, [], date(2025, 1, 1)),
        ],
        [
            "sku_id",
            "name",
            "category",
            "storage",
            "shelf_life_days",
            "list_price",
            "unit_cost",
            "unit",
            "weight_kg",
            "volume_l",
            "pack_size",
            "supplier_id",
            "tags",
            "launched",
        ],
    )
    P = "2026-01-{:02d} 16:00"
    orders = [  # id, user, community, date, created, promised, delivered, picked, status
        (
            1,
            1,
            1,
            date(2026, 1, 5),
            ts("2026-01-05 20:00"),
            ts(P.format(6)),
            ts("2026-01-06 11:00"),
            ts("2026-01-06 14:00"),
            "paid",
        ),
        (
            2,
            1,
            1,
            date(2026, 1, 6),
            ts("2026-01-06 09:00"),
            ts(P.format(7)),
            None,
            None,
            "cancelled",
        ),
        (
            3,
            2,
            1,
            date(2026, 1, 6),
            ts("2026-01-06 19:00"),
            ts(P.format(7)),
            ts("2026-01-07 16:30"),
            ts("2026-01-07 15:00"),
            "paid",
        ),
        (
            4,
            3,
            2,
            date(2026, 1, 7),
            ts("2026-01-07 20:00"),
            ts(P.format(8)),
            ts("2026-01-08 10:00"),
            None,
            "refunded",
        ),
        (
            5,
            1,
            1,
            date(2026, 2, 3),
            ts("2026-02-03 20:00"),
            ts("2026-02-04 16:00"),
            ts("2026-02-04 10:00"),
            ts("2026-02-04 12:00"),
            "paid",
        ),
        (
            6,
            3,
            2,
            date(2026, 2, 10),
            ts("2026-02-10 20:00"),
            ts("2026-02-11 16:00"),
            ts("2026-02-11 17:00"),
            ts("2026-02-11 18:00"),
            "paid",
        ),
    ]
    load(
        "orders",
        [(o, u, c, c, d, cr, pr, de, pi, st) for o, u, c, d, cr, pr, de, pi, st in orders],
        [
            "order_id",
            "user_id",
            "community_id",
            "pickup_id",
            "order_date",
            "created_at",
            "promised_by",
            "delivered_at",
            "picked_up_at",
            "status",
        ],
    )
    load(
        "order_items",
        [
            (1, 1, 2, 10.0, 10.0, 6.0, 0),
            (1, 2, 1, 5.0, 5.0, 3.0, 0),
            (2, 1, 3, 10.0, 10.0, 6.0, 0),
            (3, 1, 1, 9.0, 10.0, 6.0, 1),
            (3, 2, 2, 5.0, 5.0, 3.0, 0),
            (4, 1, 1, 10.0, 10.0, 6.0, 1),
            (5, 2, 4, 4.5, 5.0, 3.0, 0),
            (6, 1, 1, 10.0, 10.0, 6.0, 0),
        ],
        ["order_id", "sku_id", "qty", "unit_price", "list_price", "unit_cost", "refund_qty"],
    )
    load(
        "campaigns",
        [
            (1, 1, 1, date(2026, 1, 5), 10.0, 10.0, 2, 2, False, True),
            (2, 1, 2, date(2026, 1, 5), 5.0, 5.0, 5, 1, False, False),
            (3, 2, 1, date(2026, 1, 7), 10.0, 10.0, 1, 1, False, True),
            (4, 1, 2, date(2026, 2, 3), 4.5, 5.0, 3, 4, False, True),
        ],
        [
            "campaign_id",
            "community_id",
            "sku_id",
            "sale_date",
            "price",
            "list_price",
            "threshold",
            "units",
            "sold_out",
            "success",
        ],
    )
    load(
        "inventory",
        [
            (date(2026, 1, 5), 1, 1, 10, 3, 1, 6),
            (date(2026, 1, 6), 1, 1, 0, 1, 1, 4),
            (date(2026, 1, 7), 2, 1, 5, 1, 0, 4),
        ],
        ["stock_date", "warehouse_id", "sku_id", "received", "sold", "wasted", "on_hand"],
    )
    load(
        "feedback",
        [
            (i + 1, 1, 1, 1, d, 5, n)
            for i, (d, n) in enumerate(
                [
                    (date(2026, 1, 6), 10),
                    (date(2026, 1, 7), 9),
                    (date(2026, 1, 8), 7),
                    (date(2026, 1, 9), 3),
                    (date(2026, 2, 4), 10),
                ]
            )
        ],
        ["feedback_id", "order_id", "user_id", "community_id", "feedback_date", "rating", "nps"],
    )
    kpis.refresh_rollups(con)
    yield con
    con.close()


@pytest.mark.parametrize(
    ("kpi", "period", "regions", "expected"),
    [
        # GMV: o1 2×10 + 1×5 = 25; o3 (1−1)×9 + 2×5 = 10; o4 fully refunded; o2 cancelled.
        ("gmv", JAN, (), 35.0),
        ("paid_orders", JAN, (), 2),
        ("aov", JAN, (), 17.5),
        ("active_buyers", JAN, (), 2),  # u3's only January order was refunded
        ("group_success_rate", JAN, (), 2 / 3),
        ("loss_rate", JAN, (), 2 / 15),  # wasted 2 units of received 15, same unit cost
        ("inventory_turnover_days", JAN, (), 84 / 30),  # stock value 84 / COGS 30 over 3 days
        ("on_time_rate", JAN, (), 2 / 3),  # o1 and o4 on time, o3 late, o2 never delivered
        ("pickup_hours", JAN, (), 19.0),  # o1 18 h, o3 20 h, o4 never picked up
        ("nps", JAN, (), 25.0),  # 2 promoters, 1 passive, 1 detractor
        ("leader_commission", JAN, (), 3.5),  # 35 × 10 % in 一号院
        ("repurchase_rate", FEB, (), 0.5),  # January buyers u1, u2; u1 bought in February
        ("gmv", FEB, (), 28.0),  # 4 × 4.5 + 10
        ("gmv", JAN, (2,), 0.0),
        ("paid_orders", JAN, (2,), 0),
        ("aov", JAN, (2,), None),
        ("group_success_rate", JAN, (2,), 1.0),
        ("loss_rate", JAN, (2,), 0.0),
        ("on_time_rate", JAN, (1,), 0.5),
        ("gmv", JAN, (3,), 0.0),  # a region with no orders
        ("active_buyers", JAN, (3,), 0),
        ("group_success_rate", JAN, (3,), None),
        ("nps", JAN, (3,), None),
        ("gmv", (date(2025, 6, 1), date(2025, 6, 30)), (), 0.0),  # empty period
        ("repurchase_rate", JAN, (), None),  # no December buyers to repurchase
    ],
)
def test_kpi_matches_hand_arithmetic(tiny, kpi, period, regions, expected):
    """Each KPI equals the value worked out by hand for the tiny data set."""
    got = kpis.FUNCS[kpi](tiny, *period, regions)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_summary_compares_with_previous_period(tiny):
    """February's summary carries January-length previous values and relative deltas."""
    s = kpis.summary(tiny, date(2026, 2, 1), date(2026, 2, 28)).set_index("kpi")
    assert s.loc["gmv", "value"] == pytest.approx(28.0)
    # the 28 days before February 1 are January 4..31
    assert s.loc["gmv", "previous"] == pytest.approx(35.0)
    assert s.loc["gmv", "delta"] == pytest.approx(28 / 35 - 1)
    assert s.loc["nps", "delta"] == pytest.approx(100 - 25)
    assert set(s.index) == set(kpis.KPI_KEYS)


def test_trend_by_month_adds_up(tiny):
    """Monthly GMV and orders add up to the period totals."""
    tr = kpis.trend(tiny, date(2026, 1, 1), date(2026, 2, 28), "month")
    assert tr["gmv"].tolist() == pytest.approx([35.0, 28.0])
    assert tr["paid_orders"].tolist() == [2, 2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((date(2026, 2, 1), date(2026, 1, 1), ()), "empty date range"),
        ((date(2026, 1, 1), date(2026, 1, 31), ("north",)), "integer ids"),
    ],
)
def test_bad_input_is_a_clear_error(tiny, args, message):
    """An inverted date range or non-numeric regions raise ValueError with a reason."""
    with pytest.raises(ValueError, match=message):
        kpis.gmv(tiny, *args)


def test_unknown_grain_is_rejected(tiny):
    """Only day, week and month grains exist."""
    with pytest.raises(ValueError, match="unknown grain"):
        kpis.trend(tiny, *JAN, grain="hour")


def test_rollups_match_base_tables_on_world(world):
    """On the generated world, rollup GMV equals a direct scan of the base tables."""
    cur = world.cursor()
    lo, hi = kpis.data_range(cur)
    direct = cur.execute(
        """SELECT sum((i.qty - i.refund_qty) * i.unit_price) FROM order_items i
           JOIN orders o USING (order_id) WHERE o.status <> 'cancelled'"""
    ).fetchall()[0][0]
    assert kpis.gmv(cur, lo, hi) == pytest.approx(direct)
    buyers = cur.execute(
        "SELECT count(DISTINCT user_id) FROM orders WHERE status = 'paid'"
    ).fetchall()[0][0]
    assert kpis.active_buyers(cur, lo, hi) == buyers


@pytest.mark.parametrize("offsets", [(0, 0), (0, 6), (3, 40), (0, 89), (10, 75), (31, 61)])
def test_active_buyers_cover_equals_direct_distinct_count(world, offsets):
    """Months + weeks + days coverage gives exactly the distinct buyers of any range."""
    cur = world.cursor()
    lo, _ = kpis.data_range(cur)
    from datetime import timedelta

    a, b = lo + timedelta(days=offsets[0]), lo + timedelta(days=offsets[1])
    direct = cur.execute(
        "SELECT count(DISTINCT user_id) FROM orders WHERE status = 'paid' "
        "AND order_date BETWEEN ? AND ?",
        [a, b],
    ).fetchall()[0][0]
    assert kpis.active_buyers(cur, a, b) == direct


def test_repurchase_matches_direct_computation(world):
    """Pooled monthly repurchase equals a self-join of monthly buyers computed directly."""
    cur = world.cursor()
    lo, hi = kpis.data_range(cur)
    direct = cur.execute(
        """
        WITH m AS (SELECT DISTINCT date_trunc('month', order_date) AS month, user_id
                   FROM orders WHERE status = 'paid')
        SELECT count(b.user_id)::DOUBLE / count(*) FROM m a
        LEFT JOIN m b ON b.user_id = a.user_id AND b.month = a.month + INTERVAL 1 MONTH
        WHERE a.month + INTERVAL 1 MONTH <= ?""",
        [hi],
    ).fetchall()[0][0]
    assert kpis.repurchase_rate(cur, lo, hi) == pytest.approx(direct)
