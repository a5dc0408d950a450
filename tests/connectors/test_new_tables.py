"""The input tables beyond the original six: hostile rows quarantined with reasons, the CLI."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from connectors import files, load, mapping, tables
from engine import db
from tests.connectors.conftest import seed

NOW = datetime(2026, 3, 10, 12)

# (table, CSV text with Chinese headers, good rows, {reason: rows})
CASES = [
    (
        "warehouses",
        "仓库id,仓库名称,区域id,纬度,经度\n2,河西仓,1,28.2,112.9\n3,无主仓,99,28.2,112.9\n",
        1,
        {"missing_reference:region_id": 1},
    ),
    (
        "leaders",
        "团长id,小区id,团长姓名,手机,加入日期,佣金比例\n"
        "5,1,王姐,138,2025-01-01,0.1\n6,99,李哥,139,2025-01-01,0.1\n7,2,赵姨,137,2025-01-01,1.5\n",
        1,
        {"missing_reference:community_id": 1, "out_of_range:commission_rate": 1},
    ),
    (
        "campaigns",
        "活动id,小区id,商品id,团购日期,团购价,成团数量,成交数量\n"
        "1,1,10,2026-03-01,35.9,10,12\n2,1,999,2026-03-01,9.9,10,3\n"
        "3,2,12,2026-04-01,9.9,10,3\n",
        1,
        {"missing_reference:sku_id": 1, "future:sale_date": 1},
    ),
    (
        "inventory_lots",
        "库存日期,仓库id,商品id,批次号,入库日期,到期日期,数量\n"
        "2026-03-01,1,12,L1,2026-02-27,2026-03-05,40\n"
        "2026-03-01,1,12,L2,2026-02-27,2026-02-20,10\n"
        "2026-03-01,7,12,L3,2026-02-27,2026-03-05,10\n",
        1,
        {"expiry_before_receipt": 1, "missing_reference:warehouse_id": 1},
    ),
    (
        "weather",
        "日期,城市,最高温,最低温,降水量,天气,类型\n"
        "2026-03-09,长沙,18,9,0,晴,observed\n2026-03-12,长沙,20,11,2,小雨,forecast\n"
        "2026-03-12,岳阳,20,11,2,小雨,observed\n2026-03-08,长沙,5,9,0,晴,observed\n",
        2,
        {"future:weather_date": 1, "tmin_above_tmax": 1},
    ),
    (
        "feedback",
        "评价id,订单号,评价日期,评分,推荐意愿\n1,3000000001,2026-03-02,5,9\n"
        "2,3000000001,2026-03-02,5,11\n3,42,2026-03-02,3,5\n",
        1,
        {"out_of_range:nps": 1, "missing_reference:order_id": 1},
    ),
    (
        "devices",
        "设备id,设备类型,温区,仓库id\nWH01-ROOM-C,room,chilled,1\nDR-1,drone,chilled,1\n",
        1,
        {"not_one_of:kind": 1},
    ),
    (
        "vehicles",
        "车辆id,仓库id,车牌,载重,容积,冷藏,出车时间,收车时间\n"
        "1,1,湘A12345,1500,8,是,05:30,14:00\n2,1,湘A54321,1500,8,否,14:00,06:00\n",
        1,
        {"ends_before_start:shift_end": 1},
    ),
    (
        "pickup_points",
        "自提点id,小区id,自提点名称,收货开始,收货结束\n13,1,东门自提点,08:00,10:30\n14,77,无主点,8:00,9:00\n",
        1,
        {"missing_reference:community_id": 1},
    ),
]


@pytest.fixture
def con():
    """Reference rows, a leader per community and one order to give feedback on."""
    c = db.connect(":memory:")
    seed(c)
    c.execute(
        "INSERT INTO leaders VALUES (1, 1, '王姐', NULL, '2024-01-01', 0.1), "
        "(2, 2, '李哥', NULL, '2024-02-01', 0.1)"
    )
    c.execute(
        "INSERT INTO orders VALUES (3000000001, 1, 1, 11, '2026-03-01', '2026-03-01 08:00', "
        "'2026-03-02 17:00', NULL, NULL, 'paid', NULL, 0, NULL)"
    )
    yield c
    c.close()


@pytest.mark.parametrize(("table", "text", "good", "reasons"), CASES, ids=[c[0] for c in CASES])
def test_hostile_rows_are_quarantined_with_reasons(con, table, text, good, reasons):
    """Each table's bad rows go to quarantine with their reason; only the good rows load."""
    name = f"{table}.csv"
    before = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    content = files.read(text.encode(), name=name)
    assert content.sheets[0].table == table, "the Chinese headers and name tell the table"
    rep = files.import_content(con, content, now=NOW)
    t = rep.tables[0]
    assert (t.table, t.rows_valid) == (table, good)
    assert t.problems == reasons
    n = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    assert n == before + good
    q = con.execute(
        "SELECT count(*) FROM import_quarantine WHERE target_table = ?", [table]
    ).fetchall()[0][0]
    assert q == sum(reasons.values()) or q == t.rows_rejected


@pytest.mark.parametrize(("table", "text", "good", "reasons"), CASES, ids=[c[0] for c in CASES])
def test_abort_writes_nothing(con, table, text, good, reasons):
    """With on_error=abort a file with one bad row leaves the table as it was."""
    before = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    rep = files.import_content(con, files.read(text.encode(), name=f"{table}.csv"), now=NOW,
                               on_error="abort")  # fmt: skip
    assert not rep.written
    assert con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == before
    assert con.execute("SELECT count(*) FROM import_quarantine").fetchall()[0][0] == 0


def test_clock_times_and_defaults_fill_in(con):
    """08:00 becomes minute 480; a listing's success and sold-out follow from its units."""
    files.import_content(con, files.read(CASES[-1][1].encode(), name="自提点.csv"), now=NOW)
    assert con.execute(
        "SELECT window_start, window_end, leader_id, service_min FROM pickup_points "
        "WHERE pickup_id = 13"
    ).fetchall() == [(480, 630, 1, 5)]  # the community's leader
    files.import_content(con, files.read(CASES[2][1].encode(), name="团购.csv"), now=NOW)
    assert con.execute(
        "SELECT units, success, sold_out, list_price FROM campaigns WHERE campaign_id = 1"
    ).fetchall() == [(12, True, False, 39.9)]


def test_per_table_synonyms():
    """名称 is a region's name in a regions sheet; 类型 a device's kind, 数量 a listing's units."""
    assert mapping.guess_mapping(["区域id", "名称", "城市"], "regions") == {
        "区域id": "region_id", "名称": "name", "城市": "city",
    }  # fmt: skip
    assert mapping.guess_mapping(["类型"], "devices") == {"类型": "kind"}
    assert mapping.guess_mapping(["数量", "团购价"], "campaigns") == {
        "数量": "units", "团购价": "price",
    }  # fmt: skip
    assert mapping.guess_table(["仓库id", "名称", "区域id", "纬度", "经度"]) == "warehouses"


@pytest.mark.parametrize("table", tables.LOAD_ORDER)
def test_template_headers_map_back(table):
    """Every table's Chinese template headers map back to its columns and name the table."""
    heads = [mapping.header(table, c) for c in tables.spec(table).names]
    assert len(set(heads)) == len(heads)
    assert mapping.guess_mapping(heads, table) == dict(
        zip(heads, tables.spec(table).names, strict=True)
    )
    assert mapping.guess_table(heads, mapping.TABLE_NAMES[table][0]) == table


def test_cli_new_refuses_an_existing_file(tmp_path, capsys):
    """--new never overwrites; loading into a missing file without --new is refused too."""
    path = tmp_path / "x.duckdb"
    path.write_bytes(b"keep me")
    assert load.main(["--db", str(path), "--new"]) == 2
    assert path.read_bytes() == b"keep me"
    assert load.main(["--db", str(tmp_path / "none.duckdb"), str(tmp_path)]) == 2
    assert "exists" in capsys.readouterr().err
    assert load.main(["--db", str(path), str(tmp_path)]) == 2  # not a database: said, no trace
    assert "not a DuckDB file" in capsys.readouterr().err  # engine.db refuses it by its header
    assert path.read_bytes() == b"keep me"


def test_cli_loads_a_directory_in_reference_order_and_reports(tmp_path, capsys):
    """A new database from a directory: parents first whatever the file names' order, a
    refused file gives exit code 1 and the others still load; the report counts reasons."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "regions.csv").write_text("region_id,name,city\n1,岳麓区,长沙\n", encoding="utf-8")
    (src / "warehouses.csv").write_text(
        "warehouse_id,name,region_id,lat,lon\n1,岳麓仓,1,28.2,112.9\n2,坏仓,5,28.2,112.9\n",
        encoding="utf-8",
    )
    (src / "communities.csv").write_text("foo,bar\n1,2\n", encoding="utf-8")
    (src / "notes.txt").write_text("a,b\n1,2\n", encoding="utf-8")
    path = tmp_path / "new.duckdb"
    assert load.main(["--db", str(path), "--new", str(src)]) == 1
    out = capsys.readouterr().out
    assert "warehouses.csv -> warehouses: 2 rows, 1 loaded" in out
    assert "quarantined 1: missing_reference:region_id" in out
    assert "communities.csv: REFUSED" in out
    assert "notes.txt: ignored" in out
    con = db.connect(path)
    assert con.execute("SELECT count(*) FROM warehouses").fetchall()[0][0] == 1
    assert con.execute("SELECT count(*) FROM orders").fetchall()[0][0] == 0  # no demo rows
    con.close()
    # The same files again: already loaded, nothing doubled.
    assert load.main(["--db", str(path), str(src / "warehouses.csv")]) == 0
    assert "already loaded" in capsys.readouterr().out


def test_lots_find_near_expiry_stock_without_typing(con):
    """Lots carry their expiry: stock expiring within three days is a query, not a form."""
    files.import_content(con, files.read(CASES[3][1].encode(), name="库存批次.csv"), now=NOW)
    rows = con.execute(
        "SELECT lot_id, expiry_date - stock_date FROM inventory_lots "
        "WHERE expiry_date - stock_date <= 4"
    ).fetchall()
    assert rows == [("L1", 4)]


def test_every_input_table_is_documented():
    """docs/data-import.md has a section per input table naming its key and required columns,
    and each check reason of the specs is explained."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "data-import.md").read_text("utf-8")
    for table in tables.LOAD_ORDER:
        spec = tables.spec(table)
        assert f"### `{table}`" in text, table
        section = text.split(f"### `{table}`", 1)[1].split("###", 1)[0]
        assert f"**key**: {', '.join(spec.key)}" in section, table
        assert f"**required**: {', '.join(spec.required)}" in section, table
        assert "**features**:" in section, table
    for spec in tables.SPECS.values():
        for rule in spec.checks:
            assert f"`{rule.reason.split(':')[0]}" in text, rule.reason


def test_cli_reads_excel_and_parquet_files_of_a_directory(tmp_path):
    """regions.parquet and warehouses.xlsx in one directory load, parents first."""
    src = tmp_path / "in"
    src.mkdir()
    pd.DataFrame({"区域id": [1], "名称": ["岳麓区"], "城市": ["长沙"]}).to_parquet(
        src / "regions.parquet"
    )
    pd.DataFrame(
        {"仓库id": [1], "仓库名称": ["岳麓仓"], "区域id": [1], "纬度": [28.2], "经度": [112.9]}
    ).to_excel(src / "warehouses.xlsx", index=False)
    path = tmp_path / "new.duckdb"
    assert load.main(["--db", str(path), "--new", str(src)]) == 0
    con = db.connect(path)
    assert con.execute("SELECT name, region_id FROM warehouses").fetchall() == [("岳麓仓", 1)]
    con.close()
