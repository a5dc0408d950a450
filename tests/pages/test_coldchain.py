"""冷链监控 page: live panel with alarms and stock at risk, acknowledge, broker status."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from connectors import broker
from dashboard import db
from engine import clock

PAGE = "../pages/coldchain.py"  # relative to dashboard/app.py
LIVE_ALERT = 9001  # above the ids of the alarms the generated history carries


@pytest.fixture
def cold_world(world_file, tmp_path, monkeypatch):
    """A copy of the small world with readings for every device and one open critical alarm."""
    path = tmp_path / "cold.duckdb"
    shutil.copy(world_file, path)
    now = clock.local_now()
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO telemetry (device_id, ts, temp_c, door_open, battery, received_at) "
        "SELECT device_id, ?::TIMESTAMP - INTERVAL 30 SECOND, "
        "CASE WHEN device_id = 'CAB-0001' THEN 9.5 WHEN storage = 'frozen' THEN -20 ELSE 2 END, "
        "false, 90, ? FROM devices",
        [now, now],
    )
    con.execute(
        "INSERT INTO alerts (alert_id, device_id, kind, severity, started_at, raised_at, "
        "peak_c, degree_minutes) VALUES (?, 'CAB-0001', 'high_temp', 'critical', "
        "?::TIMESTAMP - INTERVAL 40 MINUTE, ?::TIMESTAMP - INTERVAL 20 MINUTE, 9.5, 180)",
        [LIVE_ALERT, now, now],
    )
    con.close()
    monkeypatch.setenv("LINLI_DB", str(path))
    return path


def _open(app, lang="zh"):
    at = app(lang)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_active_alarm_first_with_stock_at_risk(app, cold_world):
    """The open alarm is listed with its device, a critical tile and the stock it may spoil."""
    at = _open(app, "en")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["In alarm"] == "1" and metrics["Critical alarms"] == "1"
    active = at.dataframe[0].value
    assert list(active["device_id"]) == ["CAB-0001"]
    assert active["kind"].iloc[0] == "Too warm"
    assert active["value"].iloc[0] > 0 and isinstance(active["top_skus"].iloc[0], str)
    devices = at.dataframe[1].value
    assert devices["device_id"].iloc[0] == "CAB-0001"  # devices in alarm come first
    assert at.info  # MQTT is off in tests: the page says so instead of failing


def test_acknowledge_writes_user_and_time(app, cold_world):
    """Pressing acknowledge stores who acknowledged the alarm."""
    at = _open(app, "en")
    at.button(key="cc_ack_btn").click().run()
    assert not at.exception
    row = (
        db.cursor()
        .execute(
            "SELECT acknowledged_by, acknowledged_at FROM alerts WHERE alert_id = ?", [LIVE_ALERT]
        )
        .fetchall()[0]
    )
    assert row[0] == "demo" and row[1] is not None


def test_chinese_labels_by_default(app, cold_world):
    """The page title and tiles are Chinese by default."""
    at = _open(app)
    assert at.title[0].value == "冷链监控"
    assert "告警中" in [m.label for m in at.metric]


@pytest.mark.integration
def test_disconnected_since_shown_when_broker_is_gone(app, cold_world, monkeypatch):
    """With the broker down the panel says since when it is disconnected, and keeps working."""
    b = broker.EmbeddedBroker()  # a port nobody listens on until started
    monkeypatch.setenv("LINLI_MQTT_URL", b.url)
    at = _open(app, "en")
    assert any("disconnected since" in w.value for w in at.warning)
    assert at.dataframe[0].value["device_id"].iloc[0] == "CAB-0001"
    b.close()
