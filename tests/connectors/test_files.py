"""Tests for connectors/files.py: reading, mapping, validation, quarantine and atomic load."""

import io
from datetime import datetime

import pandas as pd
import pytest

from connectors import files, mapping, validation
from connectors.validation import ImportFileError

NOW = datetime(2025, 6, 1, 12, 0)


def count(con, table):
    """Rows in a table."""
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def orders_csv(rows, header="订单号,用户ID,下单时间"):
    """A CSV of orders with Chinese headers."""
    return (header + "\n" + "\n".join(rows) + "\n").encode("utf-8")


def test_guess_mapping_chinese_and_english():
    """Chinese and English spellings map to the schema columns."""
    got = mapping.guess_mapping(["订单号", "User ID", "下单时间", "备注"], "orders")
    assert got == {"订单号": "order_id", "User ID": "user_id", "下单时间": "created_at"}
    got = mapping.guess_mapping(["Order_ID", "SKU", "数量", "单价"], "order_items")
    assert got == {"Order_ID": "order_id", "SKU": "sku_id", "数量": "qty", "单价": "unit_price"}


def test_guess_table():
    """The table with the best-covered required columns is chosen."""
    assert mapping.guess_table(["订单号", "商品编号", "数量", "单价"]) == "order_items"
    assert mapping.guess_table(["用户ID", "小区ID", "注册日期"]) == "users"
    with pytest.raises(ValueError, match="Cannot tell"):
        mapping.guess_table(["foo", "bar"])


def test_mapping_override(linli):
    """A user mapping wins over the guess and unknown columns are refused."""
    data = orders_csv(["500,1,2025-03-01 08:00"], header="编号,客户,时间")
    with pytest.raises(ImportFileError) as err:
        files.import_file(linli, data, "orders", name="o.csv", now=NOW)
    assert err.value.code == "missing_columns" and "order_id" in str(err.value)
    with pytest.raises(ImportFileError, match="not a column"):
        files.import_file(linli, data, "orders", {"编号": "nope"}, name="o2.csv", now=NOW)
    rep = files.import_file(linli, data, "orders", {"编号": "order_id"}, name="o.csv", now=NOW)
    assert rep.rows_loaded == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025年3月1日", datetime(2025, 3, 1)),
        ("2025/3/1", datetime(2025, 3, 1)),
        ("20250301", datetime(2025, 3, 1)),
        ("2025-03-01 08:00", datetime(2025, 3, 1, 8)),
        ("2025-03-01T08:00:05", datetime(2025, 3, 1, 8, 0, 5)),
        ("2025年3月1日 8:30", datetime(2025, 3, 1, 8, 30)),
        ("2025.3.1", datetime(2025, 3, 1)),
    ],
)
def test_chinese_date_formats(linli, text, expected):
    """Common Chinese date spellings are parsed."""
    rep = files.import_file(linli, orders_csv([f"900,1,{text}"]), name="d.csv", now=NOW)
    assert rep.rows_loaded == 1
    assert linli.execute("SELECT created_at FROM orders").fetchone()[0] == expected


def test_defaults_and_lookups(linli):
    """Missing optional columns are filled: community from the user, prices from the SKU."""
    files.import_file(linli, orders_csv(["1,3,2025-03-01 08:00"]), name="o.csv", now=NOW)
    row = linli.execute(
        "SELECT community_id, pickup_id, order_date, promised_by, status, coupon FROM orders"
    ).fetchone()
    assert row == (2, 12, datetime(2025, 3, 1).date(), datetime(2025, 3, 2, 17), "paid", 0)
    items = "订单号,商品编号,数量,单价\n1,10,2,35.5\n".encode()
    files.import_file(linli, items, name="items.csv", now=NOW)
    assert linli.execute(
        "SELECT list_price, unit_cost, refund_qty FROM order_items"
    ).fetchone() == (
        39.9,
        22.0,
        0,
    )


def test_type_coercion(linli):
    """Thousands separators, currency signs, yes/no words and tag lists are coerced."""
    csv = (
        "商品编号,名称,品类,保质期,原价,成本,重量,供应商,上架日期,标签\n"
        '20,有机菠菜,时蔬,3,"¥1,299.50",8,0.5,1,2025/1/2,"organic;kids"\n'
    ).encode()
    rep = files.import_file(linli, csv, "skus", name="skus.csv", now=NOW)
    assert rep.rows_loaded == 1, rep.problems()
    row = linli.execute(
        "SELECT list_price, tags, storage, volume_l FROM skus WHERE sku_id = 20"
    ).fetchone()
    assert row == (1299.5, ["organic", "kids"], "ambient", 0.5)
    users = "用户ID,小区ID,注册日期,有孩子,有宠物\n7,1,2025-01-01,是,否\n8,1,2025-01-01,maybe,0\n"
    rep = files.import_file(linli, users.encode(), name="users.csv", now=NOW)
    assert rep.tables[0].problems == {"bad_type:has_children": 1}
    assert linli.execute(
        "SELECT has_children, has_pet FROM users WHERE user_id = 7"
    ).fetchone() == (
        True,
        False,
    )


def test_fractional_quantity_is_a_type_error(linli):
    """2.5 units is rejected, not rounded."""
    items = "订单号,商品编号,数量,单价\n1,10,2.5,35\n".encode()
    rep = files.import_file(linli, items, name="i.csv", now=NOW, dry_run=True)
    assert "bad_type:qty" in rep.tables[0].problems


def test_batch_references_and_cascade(linli):
    """Items may refer to orders of the same workbook; items of a rejected order are rejected."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter") as w:
        pd.DataFrame(
            {"订单号": [1, 2], "用户ID": [1, 99], "下单时间": ["2025-03-01", "2025-03-01"]}
        ).to_excel(w, sheet_name="订单", index=False)
        pd.DataFrame(
            {"订单号": [1, 2, 1], "商品编号": [10, 11, 77], "数量": [1, 1, 1], "单价": [30, 9, 1]}
        ).to_excel(w, sheet_name="订单明细", index=False)
    rep = files.import_file(linli, buf.getvalue(), name="book.xlsx", now=NOW)
    by = {t.table: t for t in rep.tables}
    assert by["orders"].problems == {"missing_reference:user_id": 1}
    assert by["order_items"].problems == {
        "missing_reference:order_id": 1,
        "missing_reference:sku_id": 1,
    }
    assert count(linli, "orders") == 1 and count(linli, "order_items") == 1
    assert count(linli, "import_quarantine") == 3
    assert count(linli, "import_log") == 2


def test_same_file_twice_adds_nothing(linli):
    """A second import of the same bytes is recognised and writes nothing."""
    data = orders_csv(["1,1,2025-03-01", "2,2,2025-03-02"])
    first = files.import_file(linli, data, name="o.csv", now=NOW)
    second = files.import_file(linli, data, name="again.csv", now=NOW)
    assert first.rows_loaded == 2 and second.already_imported and not second.written
    assert count(linli, "orders") == 2 and count(linli, "import_log") == 1
    forced = files.import_file(linli, data, name="o.csv", now=NOW, force=True)
    assert forced.tables[0].rows_skipped == 2 and forced.rows_rejected == 0
    assert count(linli, "orders") == 2 and count(linli, "import_quarantine") == 0


def test_dry_run_writes_nothing(linli):
    """A dry run reports but leaves every table untouched."""
    rep = files.import_file(linli, orders_csv(["1,1,2025-03-01"]), name="o.csv", dry_run=True)
    assert rep.tables[0].rows_valid == 1 and not rep.written
    assert count(linli, "orders") == 0 and count(linli, "import_log") == 0


def test_failed_load_rolls_back(linli):
    """When the database refuses part of the load, no row of the batch remains."""
    content = files.read(orders_csv(["1,1,2025-03-01"]), name="o.csv")
    batch = files.stage(content)
    with pytest.raises(ImportFileError) as err:
        validation.run(linli, batch, source="x", content_hash="h", now=NOW, meta={"bad": None})
    assert err.value.code == "load"
    assert count(linli, "orders") == 0 and count(linli, "import_log") == 0


def test_parquet_keeps_types(linli):
    """Typed Parquet columns (timestamps, lists) import without text round-trips losing data."""
    frame = pd.DataFrame(
        {
            "order_id": pd.array([7], "int64"),
            "user_id": [2],
            "created_at": [pd.Timestamp("2025-03-01 08:00:01.250")],
        }
    )
    buf = io.BytesIO()
    frame.to_parquet(buf)
    rep = files.import_file(linli, buf.getvalue(), name="orders.parquet", now=NOW)
    assert rep.rows_loaded == 1
    got = linli.execute("SELECT created_at FROM orders").fetchone()[0]
    assert got == datetime(2025, 3, 1, 8, 0, 1, 250000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,299.5", 1299.5),
        ("¥12", 12.0),
        ("￥1,000", 1000.0),
        ("12,345,678", 12345678.0),
        ("1,5", None),
    ],
)
def test_number_spellings(linli, text, expected):
    """Thousands separators and currency signs are read; a decimal comma is not misread."""
    data = f'订单号,用户ID,下单时间,优惠金额\n1,1,2025-03-01,"{text}"\n'.encode()
    rep = files.import_file(linli, data, name="o.csv", now=NOW)
    if expected is None:
        assert rep.tables[0].problems == {"bad_type:coupon": 1}
    else:
        assert linli.execute("SELECT coupon FROM orders").fetchone()[0] == expected
