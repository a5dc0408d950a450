"""Where engine and connectors meet for live telemetry: the MQTT ingester with the alarm sink.

With the lake ingesters (``python -m connectors.mqtt.lake``), a device's messages are split
between members, so alarms are evaluated from the lake instead (:func:`lake_alarms`): per
device in event-time order, whichever member stored each reading.

``engine/`` never imports ``connectors/``, and ``connectors.mqtt`` knows nothing of alarms:
its ingester hands committed rows to any :class:`connectors.mqtt.ingester.Sink`. This module
is the one place that gives it the engine's :class:`engine.coldchain.live.AlarmEngine`. The
app (``dashboard.coldchain.ingester``), the benchmark and the tests build the live ingester
here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from connectors import mqtt
from connectors.mqtt import lakefiles
from engine.coldchain import alarms, live
from engine.coldchain.setpoints import AlarmSettings

# QoS 1 does not promise order: a device's rows wait up to this long for stragglers before
# the alarm rules see them (see engine.coldchain.live.AlarmEngine).
REORDER_QUIET_S = 0.5
REORDER_MAX_S = 1.0


class NotifyingSink:
    """The alarm engine, calling ``on_alarm`` whenever a commit changed an alarm.

    ``on_alarm`` runs in the ingester's writer thread, so it should only signal (the app
    moves the ``alarms`` job, which queues notifications, to now).
    """

    def __init__(self, engine: live.AlarmEngine, on_alarm: Callable[[], None]):
        self.engine = engine
        self.on_alarm = on_alarm

    def on_commit(self, cursor: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> pd.DataFrame:
        """Evaluate the rows; signal when any alarm was raised, changed or cleared."""
        changes = self.engine.on_commit(cursor, rows)
        if changes is not None and len(changes):
            self.on_alarm()
        return changes

    def pending(self) -> int:
        """Rows the alarm engine still holds."""
        return self.engine.pending()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def live_ingester(
    con: duckdb.DuckDBPyConnection,
    settings: mqtt.MqttSettings | None = None,
    alarm_settings: AlarmSettings | None = None,
    on_alarm: Callable[[], None] | None = None,
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
    on_alarm
        Called (from the writer thread) after a commit that changed an alarm, so the
        notifications go out at once instead of at the next ``alarms`` job.
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
    if on_alarm is None:
        return mqtt.Ingester(con, settings, sink=sink, **kwargs)
    return mqtt.Ingester(con, settings, sink=NotifyingSink(sink, on_alarm), **kwargs)


def lake_alarms(
    lake: str | Path,
    devices: pd.DataFrame,
    settings: AlarmSettings | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Alarm episodes of the telemetry in the lake, whichever ingester stored each reading.

    Shared subscriptions hand a device's messages to any member, in any order, so no member
    holds a device's alarm state. The state is rebuilt per device from the lake's
    deduplicated rows in event-time order (``ts``, ties broken by ``msg_id``), which does
    not depend on which member stored a reading or when it arrived.

    Parameters
    ----------
    lake
        The lake's root.
    devices
        Columns ``device_id, kind, storage, interval_s``.
    settings
        Alarm settings; defaults when ``None``.
    now
        As for :func:`engine.coldchain.alarms.excursions` (open ``offline`` episodes).

    Returns
    -------
    pandas.DataFrame
        One row per episode (see :func:`engine.coldchain.alarms.excursions`).
    """
    rows = lakefiles.read_telemetry(lake).sort_values(["device_id", "ts", "msg_id"])
    return alarms.excursions(rows.reset_index(drop=True), devices, settings, now)
