"""定价模拟 clearance on loaded stock lots: the near-expiry units and days are found, not typed."""

from __future__ import annotations

import shutil

from streamlit.testing.v1 import AppTest

from dashboard import nav
from engine import db
from tests.pages.conftest import APP

PAGE = str(nav.ROOT / "pages" / "pricing.py")


def test_clearance_starts_from_near_expiry_lots(world_file, tmp_path, monkeypatch):
    """With a lot of 37 units expiring two days after the last day of data, the clearance
    planner offers that SKU first with 37 units and 2 days, and says where they come from."""
    path = tmp_path / "lots.duckdb"
    shutil.copy(world_file, path)
    con = db.connect(path)
    sku, wh, hi = con.execute(
        "SELECT s.sku_id, w.warehouse_id, (SELECT max(order_date) FROM orders) FROM skus s, "
        "warehouses w ORDER BY s.shelf_life_days DESC, s.sku_id, w.warehouse_id LIMIT 1"
    ).fetchall()[0]
    con.execute(
        "INSERT INTO inventory_lots VALUES (?, ?, ?, 'LOT-1', ?::DATE - 5, ?::DATE + 2, 37)",
        [hi, wh, sku, hi, hi],
    )
    con.close()
    monkeypatch.setenv("LINLI_DB", str(path))
    monkeypatch.setenv("LINLI_AUTH", "none")
    monkeypatch.setenv("LINLI_MQTT_URL", "none")
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["lang"] = "en"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="pr_clear_sku").value == sku
    assert at.number_input(key=f"pr_clear_stock_{sku}").value == 37
    assert at.slider(key=f"pr_clear_days_{sku}").value == 2
    assert any("From stock lots: 37 units" in c.value for c in at.caption)
