"""The batch build on Spark local[2] gives the DuckDB path's serving tables and KPIs.

Spark sums floating-point values in another order than DuckDB, so float columns are compared
to 12 significant digits (rtol 1e-12); every other column, and the row sets, exactly.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from engine import db as dbmod
from engine import kpis, lake
from engine.lake import formulas

pytestmark = pytest.mark.xdist_group("spark")
RTOL = 1e-12


@pytest.fixture(scope="module")
def world_file(private_world_file) -> Path:
    """This module's own copy of the small world (tests/conftest.py says why)."""
    return private_world_file


@pytest.fixture(scope="module")
def builds(spark, world_file, tmp_path_factory) -> tuple[Path, Path]:
    """The small world exported to a lake, then built on DuckDB and on Spark."""
    base = tmp_path_factory.mktemp("lake-spark")
    con = duckdb.connect(str(world_file), read_only=True)
    lake.export(con, base / "lake")
    con.close()
    lake.build(base / "lake", base / "duck.duckdb", "duckdb")
    lake.build(base / "lake", base / "spark.duckdb", "spark")
    return base / "duck.duckdb", base / "spark.duckdb"


def same_table(a: duckdb.DuckDBPyConnection, b: duckdb.DuckDBPyConnection, name: str) -> int:
    """Assert one serving table is identical in two databases; returns its row count."""
    kinds = a.execute(f"DESCRIBE {name}").fetchall()
    assert b.execute(f"DESCRIBE {name}").fetchall() == kinds, f"{name}: columns or types differ"
    keys = [c for c, t, *_ in kinds if t not in ("DOUBLE", "FLOAT") and "DECIMAL" not in t]
    order = ", ".join(f'"{k}"' for k in keys)
    # Bit masks (UBIGINT, UHUGEINT) have no NumPy type: compared as their decimal text.
    cols = ", ".join(
        f'"{c}"::VARCHAR AS "{c}"' if t in ("UBIGINT", "UHUGEINT", "HUGEINT") else f'"{c}"'
        for c, t, *_ in kinds
    )
    left = a.execute(f"SELECT {cols} FROM {name} ORDER BY {order}").df()
    right = b.execute(f"SELECT {cols} FROM {name} ORDER BY {order}").df()
    assert len(left) == len(right), name
    pd.testing.assert_frame_equal(left, right, rtol=RTOL, obj=name)
    return len(left)


def kpi_periods(con) -> list[tuple[date, date]]:
    """A week, a month, a calendar month, the whole range and an early stretch."""
    lo, hi = kpis.data_range(con)
    return [
        (hi - timedelta(days=6), hi),
        (hi - timedelta(days=29), hi),
        (hi.replace(day=1), hi),
        (lo, hi),
        (lo + timedelta(days=10), lo + timedelta(days=40)),
    ]


def test_spark_build_matches_duckdb_smoke(builds):
    """Spark's rollups, features rollup, daily sales and one KPI summary equal DuckDB's."""
    duck, spark = (dbmod.connect(p, read_only=True) for p in builds)
    for name in ("rollup_sales", "rollup_orders", "rollup_user_days", "sales_daily"):
        assert same_table(duck, spark, name) > 0
    start, end = kpi_periods(duck)[1]
    pd.testing.assert_frame_equal(
        kpis.summary(spark, start, end), kpis.summary(duck, start, end), rtol=RTOL
    )
    duck.close()
    spark.close()


@pytest.mark.scale
def test_spark_build_matches_duckdb_everywhere(builds, world_file):
    """Every serving table, KPI summaries over five periods and the user features are equal."""
    from engine.segmentation import features

    duck, spark = (dbmod.connect(p, read_only=True) for p in builds)
    for f in formulas.formulas():
        assert same_table(duck, spark, f.name) > 0, f.name
    for start, end in kpi_periods(duck):
        pd.testing.assert_frame_equal(
            kpis.summary(spark, start, end), kpis.summary(duck, start, end), rtol=RTOL
        )
        pd.testing.assert_frame_equal(
            kpis.by_category(spark, start, end), kpis.by_category(duck, start, end), rtol=RTOL
        )
    as_of = kpis.data_range(duck)[1]
    pd.testing.assert_frame_equal(
        features.user_features(spark, as_of=as_of),
        features.user_features(duck, as_of=as_of),
        rtol=RTOL,
    )
    # And the DuckDB serving database equals the original file's KPIs (the path compared to).
    original = duckdb.connect(str(world_file), read_only=True)
    for start, end in kpi_periods(duck):
        pd.testing.assert_frame_equal(
            kpis.summary(duck, start, end), kpis.summary(original, start, end), rtol=RTOL
        )
    for con in (duck, spark, original):
        con.close()
