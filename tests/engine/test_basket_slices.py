"""engine.basket.slices on the small generated world: planted affinities and scope filters."""

from datetime import timedelta

import pytest

from engine import basket
from engine.basket import slices


@pytest.fixture(scope="module")
def con(world):
    """A cursor on the session's small world."""
    return world.cursor()


@pytest.fixture(scope="module")
def all_tx(con):
    """All non-cancelled orders at SKU level."""
    return slices.transactions(con)


def _truth(con, antecedent: str, consequent: str) -> float:
    return con.execute(
        """SELECT t.confidence FROM truth_affinity t
           JOIN skus a ON a.sku_id = t.antecedent_sku
           JOIN skus b ON b.sku_id = t.consequent_sku
           WHERE a.name = ? AND b.name = ?""",
        [antecedent, consequent],
    ).fetchone()[0]


@pytest.mark.parametrize(
    ("antecedent", "consequent"),
    [("西冷牛排", "黑胡椒酱"), ("婴儿配方奶粉", "婴儿米粉")],
)
def test_planted_affinity_recovered(con, all_tx, antecedent, consequent):
    """Steak -> black-pepper sauce and formula -> baby food confidences are within 0.1 of truth."""
    planted = _truth(con, antecedent, consequent)
    found = basket.rules(all_tx, 0.005, 0.3, max_len=2)
    hit = found[
        (found["antecedents"] == frozenset({antecedent}))
        & (found["consequents"] == frozenset({consequent}))
    ]
    assert len(hit) == 1
    assert abs(hit.iloc[0]["confidence"] - planted) <= 0.1
    assert hit.iloc[0]["lift"] > 2
    top = basket.also_bought(all_tx, antecedent, top=1)
    assert top.iloc[0]["item"] == consequent


def test_cancelled_orders_left_out_by_default(con, all_tx):
    """The default scope holds every paid or refunded order and no cancelled one."""
    expected = con.execute(
        "SELECT count(*) FROM orders o WHERE status <> 'cancelled' "
        "AND EXISTS (SELECT 1 FROM order_items oi WHERE oi.order_id = o.order_id)"
    ).fetchone()[0]
    assert all_tx["order_id"].nunique() == expected
    cancelled = slices.transactions(con, slices.BasketSlice(statuses=("cancelled",)))
    assert not set(cancelled["order_id"]) & set(all_tx["order_id"])
    assert len(cancelled) > 0


def test_region_type_date_and_user_filters(con, all_tx):
    """Each scope field keeps only the matching orders."""
    region = con.execute("SELECT min(region_id) FROM communities").fetchone()[0]
    kind = con.execute("SELECT min(type) FROM communities").fetchone()[0]
    hi = con.execute("SELECT max(order_date) FROM orders").fetchone()[0]
    start = hi - timedelta(days=13)
    users = tuple(
        r[0] for r in con.execute("SELECT user_id FROM users ORDER BY user_id LIMIT 50").fetchall()
    )
    scope = slices.BasketSlice(regions=(region,), community_types=(kind,), start=start, end=hi)
    tx = slices.transactions(con, scope)
    assert 0 < tx["order_id"].nunique() < all_tx["order_id"].nunique()
    bad = con.execute(
        """SELECT count(*) FROM orders o JOIN communities c USING (community_id)
           WHERE o.order_id IN (SELECT unnest(?::BIGINT[]))
             AND (c.region_id <> ? OR c.type <> ? OR o.order_date < ? OR o.order_date > ?)""",
        [tx["order_id"].unique().tolist(), region, kind, start, hi],
    ).fetchall()
    assert bad == [(0,)]
    by_user = slices.transactions(con, slices.BasketSlice(user_ids=users))
    owners = con.execute(
        "SELECT DISTINCT user_id FROM orders WHERE order_id IN (SELECT unnest(?::BIGINT[]))",
        [by_user["order_id"].unique().tolist()],
    ).fetchall()
    assert by_user["order_id"].nunique() > 0
    assert {r[0] for r in owners} <= set(users)


def test_category_level_items_are_categories(con):
    """At category level items are the skus' categories, one row per order and category."""
    tx = slices.transactions(con, slices.BasketSlice(level="category"))
    categories = {r[0] for r in con.execute("SELECT DISTINCT category FROM skus").fetchall()}
    assert set(tx["item"]) <= categories
    assert not tx.duplicated(["order_id", "item"]).any()


def test_values_are_bound_not_interpolated(con):
    """A type containing SQL text matches nothing instead of widening the query."""
    tx = slices.transactions(con, slices.BasketSlice(community_types=("x' OR '1'='1",)))
    assert tx.empty


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"level": "brand"}, "level"),
        ({"statuses": ("paid", "lost")}, "statuses"),
        ({"statuses": ()}, "statuses"),
    ],
)
def test_bad_scope_raises(kwargs, match):
    """Unknown levels or statuses raise ValueError."""
    with pytest.raises(ValueError, match=match):
        slices.BasketSlice(**kwargs)


def test_reversed_dates_raise(con):
    """A start after the end raises ValueError."""
    lo, hi = con.execute("SELECT min(order_date), max(order_date) FROM orders").fetchone()
    with pytest.raises(ValueError, match="after end"):
        slices.BasketSlice(start=hi, end=lo)


def test_margins_match_order_lines(con):
    """Margins are the quantity-weighted realised unit margin per item."""
    m = slices.margins(con).set_index("item")
    expected = con.execute(
        """SELECT sum((oi.unit_price - oi.unit_cost) * oi.qty) / sum(oi.qty)
           FROM order_items oi JOIN orders o USING (order_id) JOIN skus s USING (sku_id)
           WHERE s.name = '黑胡椒酱' AND o.status <> 'cancelled'"""
    ).fetchone()[0]
    assert m.loc["黑胡椒酱", "margin"] == pytest.approx(expected)


def test_bundles_by_type_find_planted_pairs(con):
    """Per community type, bundles rank by score and young families get formula + baby food."""
    out = slices.bundles_by_type(con, slices.BasketSlice(), 0.002, top=5)
    kinds = {r[0] for r in con.execute("SELECT DISTINCT type FROM communities").fetchall()}
    assert set(out["community_type"]) <= kinds
    assert len(set(out["community_type"])) >= 3
    for _, group in out.groupby("community_type"):
        assert group["score"].is_monotonic_decreasing
    young = out[out["community_type"] == "young_family"]
    assert frozenset({"婴儿配方奶粉", "婴儿米粉"}) in set(young["items"])
