"""AppTest of the 数据管理 page: upload, mapping, validation report, import, status, demo world."""

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import db as appdb

ROOT = Path(__file__).resolve().parents[2]
ORDERS = (
    "订单号,用户ID,下单时间,备注\n"
    "90000001,1,2026-11-24 08:00,\n"
    "90000002,1,2026年11月24日 9:30,\n"
    "90000003,1,不详,\n"
    "90000003,1,2026-11-24 10:00,\n"
).encode("gbk")


@pytest.fixture
def app(world_file, tmp_path, monkeypatch):
    """The app on a private copy of the small world (imports write to it)."""
    path = tmp_path / "linli.duckdb"
    shutil.copy(world_file, path)
    monkeypatch.setenv("LINLI_DB", str(path))
    monkeypatch.setenv("LINLI_AUTH", "none")
    monkeypatch.setenv("LINLI_MQTT_URL", "none")
    appdb.connection.clear()
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=90)
    at.run()
    at.switch_page(str(ROOT / "pages" / "data.py"))
    at.run()
    yield at
    appdb.connection.clear()


def texts(at, kind):
    """The bodies of all elements of one kind (success, warning, error, info)."""
    return [e.value for e in getattr(at, kind)]


def test_page_renders(app):
    """The page shows its title, the three tabs and the database status without errors."""
    assert not app.exception
    assert app.title[0].value == "数据管理"
    assert len(app.tabs) == 3
    labels = [m.label for m in app.metric]
    assert "数据结构版本" in labels and "隔离行数" in labels


def test_upload_validate_import(app):
    """A GBK orders file is mapped, validated (nothing written), then imported once."""
    app.file_uploader(key="data_upload").set_value(("订单.csv", ORDERS, "text/csv"))
    app.run()
    assert not app.exception
    assert app.selectbox(key="data_table_0").value == "orders"
    editor = app.dataframe[0].value  # the mapping editor: file column -> table column
    assert dict(zip(editor["header"], editor["column"], strict=True)) == {
        "订单号": "order_id",
        "用户ID": "user_id",
        "下单时间": "created_at",
        "备注": "",
    }

    app.button(key="data_validate").click()
    app.run()
    assert not app.exception
    assert any("2 行有问题" in w for w in texts(app, "warning"))

    app.button(key="data_import").click()
    app.run()
    assert not app.exception
    assert any("已导入 2 行" in s for s in texts(app, "success"))

    rows = (
        appdb.cursor()
        .execute("SELECT order_id, community_id FROM orders WHERE order_id >= 90000001 ORDER BY 1")
        .fetchall()
    )
    assert [r[0] for r in rows] == [90000001, 90000002]
    assert appdb.cursor().execute("SELECT count(*) FROM import_quarantine").fetchall()[0][0] == 2
    # The rollups behind the KPIs were rebuilt and cached pages see a new data version.
    meta = dict(appdb.cursor().execute("SELECT key, value FROM meta").fetchall())
    assert meta["data_version"] and meta["as_of"] == "2026-11-24"
    per_day = (
        appdb.cursor()
        .execute("SELECT sum(paid_orders) FROM rollup_orders WHERE day = DATE '2026-11-24'")
        .fetchall()[0][0]
    )
    direct = (
        appdb.cursor()
        .execute(
            "SELECT count(*) FROM orders WHERE order_date = DATE '2026-11-24' AND status = 'paid'"
        )
        .fetchall()[0][0]
    )
    assert per_day == direct

    app.button(key="data_import").click()
    app.run()
    assert any("此前已导入" in i for i in texts(app, "info"))


def test_bad_file_shows_clear_error(app):
    """An empty upload gives a translated error, not a traceback."""
    app.file_uploader(key="data_upload").set_value(("empty.csv", b"", "text/csv"))
    app.run()
    assert not app.exception
    assert any("文件为空" in e for e in texts(app, "error"))


@pytest.mark.slow
def test_regenerate_demo_world(app):
    """The regenerate button writes a new small world next to the database and says how to use it."""
    app.selectbox(key="data_demo_scale").set_value("small")
    app.button(key="data_regenerate").click()
    app.run(timeout=300)
    assert not app.exception
    assert any("已生成" in s for s in texts(app, "success"))
    made = list(
        Path(appdb.connection().execute("PRAGMA database_list").fetchall()[0][2]).parent.glob(
            "linli-small-seed7-*.duckdb"
        )
    )
    assert len(made) == 1
