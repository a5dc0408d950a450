"""Round trip: the six importable tables survive export to CSV, Excel and Parquet and re-import."""

from datetime import datetime

import pandas as pd
import pytest

from connectors import export, files, tables
from engine import db
from tests.connectors.conftest import seed

NOW = datetime(2030, 1, 1)
PARENTS = ("regions", "warehouses", "pickup_points")


def hand_world():
    """A small hand-built world with NULLs, Chinese text, lists, large ids and fractions."""
    con = db.connect(":memory:")
    seed(con)
    con.execute(
        "INSERT INTO orders (order_id, user_id, community_id, pickup_id, order_date, created_at, "
        "promised_by, delivered_at, picked_up_at, status, ref_user_id, coupon) VALUES "
        "(3000000001, 1, 1, 11, '2025-03-01', '2025-03-01 08:00:05', '2025-03-02 18:00:00', "
        " '2025-03-02 10:30:00', NULL, 'paid', NULL, 0), "
        "(3000000002, 3, 2, 12, '2025-03-01', '2025-03-01 21:15:00', '2025-03-02 18:00:00', "
        " NULL, NULL, 'refunded', 1, 2.5)"
    )
    con.execute(
        "INSERT INTO order_items VALUES "
        "(3000000001, 10, NULL, 2, 35.9, 39.9, 22.0, 0, NULL), "
        "(3000000001, 11, 77, 1, 8.8, 9.9, 4.0, 0, NULL), "
        "(3000000002, 12, NULL, 3, 0.1, 19.9, 11.0, 3, 'quality')"
    )
    con.execute(
        "INSERT INTO inventory VALUES ('2025-03-01', 1, 10, 50, 12, 1, 37, 0), "
        "('2025-03-01', 1, 12, 0, 3, 0, 9, 20)"
    )
    con.execute("UPDATE skus SET tags = ['organic', 'kids'] WHERE sku_id = 12")
    con.execute(
        "INSERT INTO reference_prices VALUES ('2025-03-01', 10, '美团优选', 36.5), "
        "('2025-03-01', 10, '多多买菜', 34.99), ('2025-02-28', 12, '兴盛优选', 0.5)"
    )
    return con


# Subsets of the generated world, small enough for the fast suite (the full world is `slow`).
SUBSET = {
    "orders": "SELECT * FROM orders WHERE order_id <= {n}",
    "order_items": "SELECT * FROM order_items WHERE order_id <= {n}",
    "inventory": "SELECT * FROM inventory WHERE stock_date <= (SELECT min(stock_date) FROM inventory)",
}


def generated_world(world, n_orders=None):
    """A writable copy of the generator's world (all of it, or its first ``n_orders`` orders)."""
    src = world.cursor()
    con = db.connect(":memory:")
    for table in (*PARENTS, *tables.ORIGINAL):
        sql = f"SELECT * FROM {table}"
        if n_orders is not None and table in SUBSET:
            sql = SUBSET[table].format(n=n_orders)
        con.register("_t", src.sql(sql).to_arrow_table())
        con.execute(f"INSERT INTO {table} SELECT * FROM _t")
        con.unregister("_t")
    # The generator loads no reference prices (an optional table): add some to carry over.
    con.execute(
        "INSERT INTO reference_prices SELECT DATE '2025-03-01', sku_id, '美团优选', "
        "round(list_price * 0.9, 2) FROM skus WHERE NOT EXISTS (FROM reference_prices)"
    )
    return con


def frame(con, table):
    """A table sorted by its key, for comparison."""
    key = ", ".join(tables.spec(table).key)
    return con.execute(f"SELECT * FROM {table} ORDER BY {key}").df()


def write(con, table, fmt, tmp_path):
    """Export one table in a format; return (bytes, file name)."""
    if fmt == "parquet":
        path = tmp_path / f"{table}.parquet"
        con.execute(f"COPY (SELECT * FROM {table}) TO '{path}' (FORMAT parquet)")
        return path.read_bytes(), path.name
    df = frame(con, table)
    if fmt == "csv":
        return export.to_csv_bytes(df), f"{table}.csv"
    return export.to_excel_bytes(df, sheet_name=table), f"{table}.xlsx"


def roundtrip(src, fmt, tmp_path):
    """Export the six tables from ``src``, import them into a fresh database, compare."""
    dst = db.connect(":memory:")
    for parent in PARENTS:
        dst.register("_p", src.sql(f"FROM {parent}").to_arrow_table())
        dst.execute(f"INSERT INTO {parent} SELECT * FROM _p")
        dst.unregister("_p")
    for table in tables.ORIGINAL:
        data, name = write(src, table, fmt, tmp_path)
        rep = files.import_file(dst, data, table, name=name, now=NOW)
        assert rep.rows_rejected == 0, (table, rep.problems(), rep.tables[0].examples)
        assert rep.tables[0].mapping == {c: c for c in tables.spec(table).names}
        pd.testing.assert_frame_equal(frame(dst, table), frame(src, table))
    dst.close()


@pytest.mark.parametrize("fmt", ["csv", "excel", "parquet"])
def test_roundtrip_hand_built(fmt, tmp_path):
    """Hand-built edge values (NULLs, big ids, lists, fractions) come back unchanged."""
    roundtrip(hand_world(), fmt, tmp_path)


@pytest.mark.parametrize("fmt", ["csv", "excel", "parquet"])
def test_roundtrip_generated(world, fmt, tmp_path):
    """The generator's tables (first 400 orders) come back unchanged through each format."""
    roundtrip(generated_world(world, n_orders=400), fmt, tmp_path)


@pytest.mark.slow
# Excel is covered by the 400-order round trip above; writing the whole world through
# openpyxl takes minutes and checks nothing the smaller file does not.
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_roundtrip_generated_full(world, fmt, tmp_path):
    """All of the generator's small world comes back unchanged through each format."""
    roundtrip(generated_world(world), fmt, tmp_path)
