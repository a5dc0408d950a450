"""Cold chain for the app: the MQTT ingester singleton and cached reads for the live panel."""

from __future__ import annotations

import logging
import os
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd
import streamlit as st

from connectors import mqtt
from dashboard import actions, auth, db
from data import telemetry as telemetry_data
from engine import clock
from engine import db as dbmod
from engine.auth import Scope
from engine.coldchain import store
from ops import wiring

log = logging.getLogger(__name__)


def mqtt_enabled() -> bool:
    """False when ``LINLI_MQTT_URL`` is ``none`` (telemetry switched off)."""
    return os.environ.get("LINLI_MQTT_URL", "").strip().lower() != "none"


def _release(ing: mqtt.Ingester | None) -> None:
    if ing is not None:
        ing.stop()


@st.cache_resource(show_spinner=False, on_release=_release)
def ingester() -> mqtt.Ingester | None:
    """Start the one MQTT ingester of this process (None when MQTT is switched off).

    It also writes ``<db>.devices.json`` so the simulator (another process) never needs the
    database file this process holds.
    """
    con = db.connection()
    path = dbmod.db_path()
    try:
        telemetry_data.export_devices(con.cursor(), f"{path}.devices.json")
    except OSError as exc:  # a read-only directory must not stop the app
        log.warning("cannot write the devices file for the simulator: %s", exc)
    if not mqtt_enabled():
        return None
    return wiring.live_ingester(
        con, mqtt.MqttSettings.from_url(), on_alarm=actions.alarm_changed
    ).start()


def status() -> mqtt.IngestStatus | None:
    """Connection status and counters of the ingester, or None when MQTT is off."""
    ing = ingester()
    return None if ing is None else ing.status()


@auth.cache_scoped(show_spinner=False, ttl=2, max_entries=8)
def devices(regions: tuple[int, ...], tick: int, *, scope: Scope) -> pd.DataFrame:
    """Devices with their latest reading, state and recent temperatures (refreshed ~2 s)."""
    cur = db.cursor()
    df = store.device_status(cur, clock.local_now(), regions, scope=scope)
    spark = store.sparklines(cur, scope=scope)
    return df.merge(spark, on="device_id", how="left")


@auth.cache_scoped(show_spinner=False, ttl=2, max_entries=16)
def alarms(regions: tuple[int, ...], days: int, tick: int, *, scope: Scope) -> pd.DataFrame:
    """Open alarms and those started in the last ``days`` days."""
    since = clock.local_now() - timedelta(days=days)
    return store.alarm_history(db.cursor(), since, regions, scope)


@auth.cache_scoped(show_spinner=False, ttl=30, max_entries=8)
def at_risk(device_ids: tuple[str, ...], day: date, *, scope: Scope) -> pd.DataFrame:
    """What each device's cold space holds (value, shelf life), summarised per device."""
    stock = store.stock_at_risk(db.cursor(), device_ids, day, scope)
    return store.risk_summary(stock)


def active(regions: tuple[int, ...], tick: int) -> pd.DataFrame:
    """Open alarms, each with what its device's cold space may spoil."""
    open_alarms = alarms(regions, 1, tick)
    open_alarms = open_alarms[open_alarms["cleared_at"].isna()]
    if open_alarms.empty:
        return open_alarms
    risk = at_risk(tuple(sorted(open_alarms["device_id"].unique())), world_today())
    return open_alarms.merge(risk, on="device_id", how="left")


def world_today() -> date:
    """The data set's 'today' (meta.as_of), else the calendar date."""
    return clock.world_today(db.cursor())


def acknowledge(alert_id: int, username: str) -> bool:
    """Acknowledge an alarm; False when it was already acknowledged or is being written."""
    try:
        ok = store.acknowledge(db.cursor(), alert_id, username, auth.scope())
    except duckdb.TransactionException:  # the ingester updated the same row just now
        return False
    alarms.clear()
    return ok


def since_text(moment: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM:SS`` or '—'."""
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
