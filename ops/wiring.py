"""Where engine and connectors meet for live telemetry: the MQTT ingester with the alarm sink.

``engine/`` never imports ``connectors/``, and ``connectors.mqtt`` knows nothing of alarms:
its ingester hands committed rows to any :class:`connectors.mqtt.ingester.Sink`. This module
is the one place that gives it the engine's :class:`engine.coldchain.live.AlarmEngine`. The
app (``dashboard.coldchain.ingester``), the benchmark and the tests build the live ingester
here.
"""

from __future__ import annotations

from typing import Any

import duckdb

from connectors import mqtt
from engine.coldchain import live
from engine.coldchain.setpoints import AlarmSettings

# QoS 1 does not promise order: a device's rows wait up to this long for stragglers before
# the alarm rules see them (see engine.coldchain.live.AlarmEngine).
REORDER_QUIET_S = 0.5
REORDER_MAX_S = 1.0


def live_ingester(
    con: duckdb.DuckDBPyConnection,
    settings: mqtt.MqttSettings | None = None,
    alarm_settings: AlarmSettings | None = None,
    **kwargs: Any,
) -> mqtt.Ingester:
    """An MQTT ingester whose writer thread hands committed rows to the alarm engine.

    Parameters
    ----------
    con
        The app's connection.
    settings
        Broker settings; ``None`` parses ``LINLI_MQTT_URL``.
    alarm_settings
        Alarm settings; defaults when ``None``.
    **kwargs
        Passed to :class:`connectors.mqtt.Ingester` (``flush_s``, ``batch_size``,
        ``receiver``, ...).

    Returns
    -------
    connectors.mqtt.Ingester
        Not started; its ``sink`` is the :class:`engine.coldchain.live.AlarmEngine`.
    """
    sink = live.AlarmEngine(
        con, alarm_settings, reorder_quiet_s=REORDER_QUIET_S, reorder_max_s=REORDER_MAX_S
    )
    return mqtt.Ingester(con, settings, sink=sink, **kwargs)
