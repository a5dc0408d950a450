"""ops.wiring: the one place where the MQTT ingester meets the engine's alarm sink."""

from __future__ import annotations

from connectors import mqtt
from engine import db
from engine.coldchain import live
from ops import wiring


def test_live_ingester_sinks_into_the_alarm_engine():
    """The live ingester is a plain connectors ingester whose sink is the engine's AlarmEngine."""
    con = db.connect(":memory:")
    ing = wiring.live_ingester(con, mqtt.MqttSettings(protocol=4), flush_s=0.05)
    assert isinstance(ing, mqtt.Ingester) and ing.flush_s == 0.05
    assert isinstance(ing.sink, live.AlarmEngine)
    assert isinstance(ing.sink, mqtt.Sink)
    assert (ing.sink.reorder_quiet_s, ing.sink.reorder_max_s) == (0.5, 1.0)
    assert ing._thread is None  # built, not started
