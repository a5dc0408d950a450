"""Live alarms reach the outbox at once: the ingester's sink signals, the alarms job runs now."""

from __future__ import annotations

import time

import pandas as pd

from connectors import mqtt
from engine import db
from engine.actions import jobs
from engine.coldchain import live
from ops import scheduler, wiring


def test_notifying_sink_signals_only_on_alarm_changes():
    """The wrapped alarm engine is still the ingester's sink; a commit with changes signals."""
    con = db.connect(":memory:")
    calls = []
    ing = wiring.live_ingester(con, mqtt.MqttSettings(protocol=4), on_alarm=lambda: calls.append(1))
    assert isinstance(ing.sink, wiring.NotifyingSink) and isinstance(ing.sink, mqtt.Sink)
    assert isinstance(ing.sink.engine, live.AlarmEngine) and ing.sink.reorder_quiet_s == 0.5
    empty = pd.DataFrame(
        columns=["device_id", "ts", "temp_c", "door_open", "battery", "received_at"]
    )
    ing.sink.on_commit(con.cursor(), empty)
    assert calls == []

    class Changed:
        def on_commit(self, cursor, rows):
            return pd.DataFrame({"alert_id": [1]})

        def pending(self):
            return 0

    sink = wiring.NotifyingSink(Changed(), lambda: calls.append(1))  # type: ignore[arg-type]
    sink.on_commit(con.cursor(), empty)
    assert calls == [1]


def test_run_soon_runs_the_alarms_job_now():
    """run_soon moves the minute job to now: its run is recorded within seconds."""
    con = db.connect(":memory:")
    sched = scheduler.build(con, environ={"LINLI_ALARM_CHECK_S": "3600"}, only={"alarms"})
    sched.start()
    try:
        scheduler.run_soon(sched, "alarms")
        deadline = time.time() + 20
        while time.time() < deadline and jobs.last_runs(con.cursor()).empty:
            time.sleep(0.1)
        runs = jobs.last_runs(con.cursor()).set_index("job")
        assert runs.loc["alarms", "ok"] and '"notified": 0' in runs.loc["alarms", "result"]
    finally:
        sched.shutdown(wait=True)
