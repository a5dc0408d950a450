"""Round trip: the six importable tables survive export to CSV, Excel and Parquet and re-import."""

from datetime import datetime

import pandas as pd
import pytest

from connectors import export, files, tables
from engine import db
from tests.connectors.conftest import seed

NOW = datetime(2030, 1, 1)
PARENTS = ("regions", "warehouses", "pickup_points")


def source_world():
    """A small hand-built world with NULLs, Chinese text, lists, large ids and fractions."""
    con = db.connect(":memory:")
    seed(con)
    con.execute(
        "INSERT INTO orders VALUES "
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


@pytest.mark.parametrize("fmt", ["csv", "excel", "parquet"])
def test_roundtrip(fmt, tmp_path):
    """Every importable table comes back unchanged after export and import."""
    src = source_world()
    dst = db.connect(":memory:")
    for parent in PARENTS:
        dst.register("_p", src.sql(f"FROM {parent}").arrow())
        dst.execute(f"INSERT INTO {parent} SELECT * FROM _p")
        dst.unregister("_p")
    for table in tables.LOAD_ORDER:
        data, name = write(src, table, fmt, tmp_path)
        rep = files.import_file(dst, data, table, name=name, now=NOW)
        assert rep.rows_rejected == 0, (table, rep.problems(), rep.tables[0].examples)
        assert rep.tables[0].mapping == {c: c for c in tables.spec(table).names}
        pd.testing.assert_frame_equal(frame(dst, table), frame(src, table), check_like=False)
