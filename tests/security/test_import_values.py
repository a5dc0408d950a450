"""Hostile values in imported files: quarantined with a reason, good rows load, nothing partial."""

from __future__ import annotations

from datetime import datetime

import pytest

from connectors import files
from engine import limits

NOW = datetime(2025, 6, 1)
WRITABLE = (
    "communities", "users", "skus", "orders", "order_items", "inventory",
    "import_log", "import_quarantine",
)  # fmt: skip
# One good row per table (schema column names as headers); the seed has users 1-3, SKUs 10-12.
GOOD = {
    "skus": ("sku_id,name,category,list_price,unit_cost,weight_kg,supplier_id,launched,storage,shelf_life_days",
             "20,好米,粮油调味,29.9,18,5,1,2025-01-01,ambient,180"),
    "order_items": ("order_id,sku_id,qty,unit_price,refund_qty", "900,10,2,30,0"),
    "communities": ("community_id,name,region_id,warehouse_id,households,lat,lon,opened,type",
                    "30,新城,1,1,500,28.2,112.9,2024-05-01,mixed"),
    "users": ("user_id,community_id,signup_date,building", "40,1,2024-06-01,3栋"),
    "orders": ("order_id,user_id,created_at,status", "910,1,2025-03-01 08:00,paid"),
    "inventory": ("stock_date,warehouse_id,sku_id,on_hand", "2025-03-01,1,10,5"),
}  # fmt: skip


def row(table: str, **cells) -> str:
    """The good row of ``table`` with some cells replaced (and its key bumped)."""
    header, good = GOOD[table]
    names, values = header.split(","), good.split(",")
    out = dict(zip(names, values, strict=True)) | {k: str(v) for k, v in cells.items()}
    return ",".join(out[n] for n in names)


# (id, table, hostile row, reason): each row must be quarantined with that reason.
HOSTILE = [
    ("price inf", "skus", row("skus", sku_id=21, list_price="inf"), "out_of_range:list_price"),
    ("price -inf", "skus", row("skus", sku_id=21, list_price="-inf"), "out_of_range:list_price"),
    ("price Infinity", "skus", row("skus", sku_id=21, unit_cost="Infinity"), "out_of_range:unit_cost"),
    ("price NaN", "skus", row("skus", sku_id=21, list_price="NaN"), "missing_value:list_price"),
    ("price 1e308", "skus", row("skus", sku_id=21, list_price="1e308"), "out_of_range:list_price"),
    ("price 1e309", "skus", row("skus", sku_id=21, list_price="1e309"), "out_of_range:list_price"),
    ("weight 1e308", "skus", row("skus", sku_id=21, weight_kg="1e308"), "out_of_range:weight_kg"),
    ("launched year 1", "skus", row("skus", sku_id=21, launched="0001-01-01"), "out_of_range:launched"),
    ("launched 1900", "skus", row("skus", sku_id=21, launched="1900-01-01"), "out_of_range:launched"),
    ("storage warm", "skus", row("skus", sku_id=21, storage="warm"), "unknown_value:storage"),
    ("name 10,000 chars", "skus", row("skus", sku_id=21, name="米" * 10_000), "too_long:name"),
    ("unit price inf", "order_items", row("order_items", sku_id=11, unit_price="inf"), "out_of_range:unit_price"),
    ("unit price 1e308", "order_items", row("order_items", sku_id=11, unit_price="1e308"), "out_of_range:unit_price"),
    ("qty 10^9", "order_items", row("order_items", sku_id=11, qty=10**9), "out_of_range:qty"),
    ("refund > qty", "order_items", row("order_items", sku_id=11, qty=2, refund_qty=5), "exceeds:refund_qty"),
    ("latitude 999", "communities", row("communities", community_id=31, lat=999), "out_of_range:lat"),
    ("latitude -91", "communities", row("communities", community_id=31, lat=-91), "out_of_range:lat"),
    ("longitude 999", "communities", row("communities", community_id=31, lon=999), "out_of_range:lon"),
    ("latitude NaN", "communities", row("communities", community_id=31, lat="nan0"), "bad_type:lat"),
    ("households 10^8", "communities", row("communities", community_id=31, households=10**8), "out_of_range:households"),
    ("opened year 1", "communities", row("communities", community_id=31, opened="0001-01-01"), "out_of_range:opened"),
    ("type castle", "communities", row("communities", community_id=31, type="castle"), "unknown_value:type"),
    ("signup year 1", "users", row("users", user_id=41, signup_date="0001-01-01"), "out_of_range:signup_date"),
    ("signup 1900", "users", row("users", user_id=41, signup_date="1900-01-01"), "out_of_range:signup_date"),
    ("signup 1970", "users", row("users", user_id=41, signup_date="1970-01-01"), "out_of_range:signup_date"),
    ("building 10,000 chars", "users", row("users", user_id=41, building="楼" * 10_000), "too_long:building"),
    ("order year 1", "orders", row("orders", order_id=911, created_at="0001-01-01 00:00"), "out_of_range:created_at"),
    ("order 1900", "orders", row("orders", order_id=911, created_at="1900-03-01 08:00"), "out_of_range:created_at"),
    ("order before signup", "orders", row("orders", order_id=911, created_at="2024-02-01 08:00"), "before_signup:created_at"),
    ("status shipped", "orders", row("orders", order_id=911, status="shipped"), "unknown_value:status"),
    ("status PAID; DROP", "orders", row("orders", order_id=911, status="PAID; DROP TABLE orders"), "unknown_value:status"),
    ("stock year 1", "inventory", row("inventory", stock_date="0001-01-01"), "out_of_range:stock_date"),
    ("stock 10^9", "inventory", row("inventory", stock_date="2025-03-02", on_hand=10**9), "out_of_range:on_hand"),
]  # fmt: skip
HOSTILE = [h for h in HOSTILE if h[3] is not None]


def snapshot(con):
    """Row counts of every table an import may write."""
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in WRITABLE}


def prepare(con, table):
    """The parent rows a table's good row refers to (order 900 for order_items)."""
    if table == "order_items":
        files.import_file(con, b"order_id,user_id,created_at\n900,1,2025-03-01 08:00\n",
                          name="p.csv", table="orders", now=NOW)  # fmt: skip


@pytest.mark.parametrize(
    ("table", "bad", "reason"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_value_is_quarantined_and_the_good_row_loads(linli, table, bad, reason):
    """The hostile row is quarantined with its reason; the good row of the same file loads."""
    prepare(linli, table)
    before = snapshot(linli)
    data = f"{GOOD[table][0]}\n{GOOD[table][1]}\n{bad}\n".encode()
    rep = files.import_file(linli, data, table=table, name="h.csv", now=NOW)
    problems = rep.tables[0].problems  # a year-1 order is also before its user's signup
    assert reason in problems and set(problems.values()) == {1}, problems
    assert rep.rows_loaded == 1 and rep.rows_rejected == 1
    after = snapshot(linli)
    assert (
        after[table] == before[table] + 1
        and after["import_quarantine"] == before["import_quarantine"] + 1
    )
    stored = linli.execute("SELECT row_number, reason FROM import_quarantine").fetchall()
    assert len(stored) == 1 and stored[0][0] == 3 and reason in stored[0][1]


@pytest.mark.parametrize(
    ("table", "bad", "reason"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_value_in_abort_mode_writes_nothing(linli, table, bad, reason):
    """With on_error='abort' the same file writes nothing at all."""
    prepare(linli, table)
    before = snapshot(linli)
    data = f"{GOOD[table][0]}\n{GOOD[table][1]}\n{bad}\n".encode()
    rep = files.import_file(linli, data, table=table, name="h.csv", now=NOW, on_error="abort")
    assert not rep.written and reason in rep.tables[0].problems
    assert snapshot(linli) == before


def test_good_rows_at_the_limits_load(linli):
    """Values right at the limits load: the top price, latitude 90, 2000-01-01, refund = qty."""
    files.import_file(linli, b"order_id,user_id,created_at\n900,1,2025-03-01 08:00\n",
                      name="p.csv", table="orders", now=NOW)  # fmt: skip
    data = [
        ("skus", row("skus", sku_id=22, list_price=limits.IMPORT_MAX_PRICE, launched="2000-01-01")),
        ("communities", row("communities", community_id=32, lat=90, lon=-180)),
        ("order_items", row("order_items", sku_id=11, qty=3, refund_qty=3)),
        ("orders", row("orders", order_id=912, created_at="2024-03-01 00:00", status="refunded")),
    ]
    for table, good in data:
        rep = files.import_file(linli, f"{GOOD[table][0]}\n{good}\n".encode(), table=table,
                                name=f"{table}.csv", now=NOW)  # fmt: skip
        assert rep.ok and rep.rows_loaded == 1, (table, rep.tables[0].problems)


def test_order_before_signup_of_a_user_in_the_same_file_batch(linli):
    """The signup check also sees users arriving in the same workbook batch."""
    from connectors import validation

    users = files.read(b"user_id,community_id,signup_date\n50,1,2025-02-01\n", name="users.csv")
    orders = files.read(b"order_id,user_id,created_at\n950,50,2025-01-15 09:00\n951,50,2025-02-02 09:00\n",
                        name="orders.csv")  # fmt: skip
    batch = files.stage(users, {"users": "users"}) | files.stage(orders, {"orders": "orders"})
    rep = validation.run(linli, batch, source="wb", content_hash="x", now=NOW)
    assert rep.tables[1].problems == {"before_signup:created_at": 1}
    assert rep.rows_loaded == 2
