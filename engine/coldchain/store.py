"""Cold chain in DuckDB: alarms of loaded history, the ``alerts`` table, the live panel's reads
(device status, sparklines, alarm history), acknowledgements and the stock at risk.

The live evaluation of incoming telemetry is :class:`engine.coldchain.live.AlarmEngine`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import duckdb
import pandas as pd

from engine import clock
from engine.auth import ALL, Scope, ScopeError
from engine.coldchain import alarms
from engine.coldchain.setpoints import AlarmSettings


def history_alarms(con: duckdb.DuckDBPyConnection, settings: AlarmSettings | None = None) -> int:
    """Write the alarms of loaded historical telemetry into ``alerts``, by event time.

    The live :class:`engine.coldchain.live.AlarmEngine` follows ``received_at`` and so never sees history loaded
    by the data generator (``received_at`` null). This replays those rows through the same
    rules (:func:`engine.coldchain.alarms.excursions`: hold time, hysteresis, escalation, door,
    offline judged against the sampling step, battery) and inserts every episode, cleared
    or still open at the end of the history, with ``updated_at`` its last event. Run it
    once, right after the history is loaded.

    Parameters
    ----------
    con
        A connection with ``devices`` and ``telemetry`` filled.
    settings
        Alarm settings; defaults when ``None``.

    Returns
    -------
    int
        Alarms written.
    """
    cur = con.cursor()
    tele = cur.execute(
        "SELECT device_id, ts, temp_c, door_open, battery FROM telemetry "
        "WHERE received_at IS NULL ORDER BY device_id, ts"
    ).df()
    if tele.empty:
        return 0
    devices = cur.execute("SELECT device_id, kind, storage, interval_s FROM devices").df()
    episodes = alarms.excursions(tele, devices, settings)
    if episodes.empty:
        return 0
    first = cur.execute("SELECT coalesce(max(alert_id), 0) + 1 FROM alerts").fetchall()[0][0]
    episodes["alert_id"] = episodes["alert_id"] - episodes["alert_id"].min() + int(first)
    last_event = episodes["started_at"] + pd.to_timedelta(episodes["duration_s"], unit="s")
    episodes["updated_at"] = episodes["cleared_at"].fillna(last_event).astype("datetime64[us]")
    cur.register("_history_alerts", episodes)
    try:
        cur.execute(
            """
            INSERT INTO alerts (alert_id, device_id, kind, severity, started_at, cleared_at,
                                peak_c, degree_minutes, raised_at, updated_at)
            SELECT alert_id, device_id, kind, severity, started_at, cleared_at,
                   peak_c, degree_minutes, raised_at, updated_at
            FROM _history_alerts
            """
        )
    finally:
        cur.unregister("_history_alerts")
    return len(episodes)


def write_alerts(cur: duckdb.DuckDBPyConnection, changes: pd.DataFrame) -> None:
    """Insert new alarms and update known ones (acknowledgements are kept).

    Parameters
    ----------
    cur
        A cursor with write access.
    changes
        Frame with the columns of :data:`engine.coldchain.alarms.EPISODE_COLUMNS`.
    """
    now = clock.local_now()  # Changsha wall time, like every timestamp in the schema
    cur.register("_alert_changes", changes)
    try:
        cur.execute("BEGIN TRANSACTION")
        cur.execute(
            """
            UPDATE alerts SET severity = c.severity, cleared_at = c.cleared_at,
                   peak_c = c.peak_c, degree_minutes = c.degree_minutes,
                   updated_at = ?
            FROM _alert_changes c WHERE alerts.alert_id = c.alert_id
            """,
            [now],
        )
        cur.execute(
            """
            INSERT INTO alerts (alert_id, device_id, kind, severity, started_at, cleared_at,
                                peak_c, degree_minutes, raised_at, updated_at)
            SELECT alert_id, device_id, kind, severity, started_at, cleared_at,
                   peak_c, degree_minutes, raised_at, ?
            FROM _alert_changes c
            WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.alert_id = c.alert_id)
            """,
            [now],
        )
        cur.execute("COMMIT")
    except Exception:
        cur.execute("ROLLBACK")
        raise
    finally:
        cur.unregister("_alert_changes")


def scoped_devices(cur: duckdb.DuckDBPyConnection, scope: Scope = ALL) -> list[str] | None:
    """Device ids a row scope may see (``None`` = all).

    A pickup-point cabinet belongs to its community; warehouse rooms and trucks belong to
    their warehouse (see :meth:`engine.auth.Scope.warehouse_ids`).
    """
    if not scope.restricted:
        return None
    comms, whs = scope.communities(cur), scope.warehouse_ids(cur)
    rows = cur.execute(
        "SELECT d.device_id FROM devices d LEFT JOIN pickup_points p USING (pickup_id) "
        "WHERE CASE WHEN d.kind = 'cabinet' THEN list_contains(?::INTEGER[], p.community_id) "
        "ELSE list_contains(?::INTEGER[], d.warehouse_id) END ORDER BY d.device_id",
        [comms, whs],
    ).fetchall()
    return [r[0] for r in rows]


def acknowledge(
    cur: duckdb.DuckDBPyConnection, alert_id: int, username: str, scope: Scope = ALL
) -> bool:
    """Mark an alarm as acknowledged by a user (first acknowledgement wins).

    Parameters
    ----------
    cur
        A cursor with write access.
    alert_id
        The alarm.
    username
        Who acknowledges it.
    scope
        The caller's row scope; an alarm of a device outside it cannot be acknowledged.

    Returns
    -------
    bool
        ``True`` when the alarm existed and was not yet acknowledged.

    Raises
    ------
    ValueError
        When ``username`` is empty.
    ScopeError
        When the alarm's device lies outside ``scope``.
    """
    if not username:
        raise ValueError("acknowledge needs a username.")
    allowed = scoped_devices(cur, scope)
    if allowed is not None:
        dev = cur.execute("SELECT device_id FROM alerts WHERE alert_id = ?", [int(alert_id)])
        found = dev.fetchall()
        if found and found[0][0] not in set(allowed):
            raise ScopeError(f"alarm {alert_id} belongs to a device outside your scope")
    rows = cur.execute(
        "UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? "
        "WHERE alert_id = ? AND acknowledged_by IS NULL RETURNING alert_id",
        [username, clock.local_now(), int(alert_id)],
    ).fetchall()
    return bool(rows)


_STOCK_SQL = """
WITH dev AS (
    SELECT * FROM devices WHERE list_contains(?::VARCHAR[], device_id)
),
day AS (SELECT ?::DATE AS d),
-- Trucks carry the orders of the stops on that day's route plans.
truck_stops AS (
    SELECT DISTINCT dev.device_id, rs.pickup_id
    FROM dev JOIN route_stops rs ON rs.vehicle_id = dev.vehicle_id
    JOIN route_plans rp ON rp.plan_id = rs.plan_id AND rp.plan_date = (SELECT d FROM day)
    WHERE dev.kind = 'truck' AND rs.pickup_id IS NOT NULL
),
drops AS (
    SELECT device_id, pickup_id FROM truck_stops
    UNION ALL
    SELECT device_id, pickup_id FROM dev WHERE kind = 'cabinet' AND pickup_id IS NOT NULL
),
-- Orders placed on d-1 are delivered on d (next-day group-buying).
delivered AS (
    SELECT dr.device_id, oi.sku_id, sum(oi.qty - oi.refund_qty) AS units,
           sum((oi.qty - oi.refund_qty) * oi.unit_price) AS value
    FROM drops dr JOIN orders o ON o.pickup_id = dr.pickup_id
    JOIN order_items oi ON oi.order_id = o.order_id
    WHERE o.order_date = (SELECT d FROM day) - 1 AND o.status = 'paid'
    GROUP BY ALL
),
-- Rooms, and trucks without a route that day, hold the warehouse stock of their class.
stocked AS (
    SELECT device_id, warehouse_id FROM dev
    WHERE kind = 'room' OR (kind = 'truck' AND device_id NOT IN (SELECT device_id FROM truck_stops))
),
inv_day AS (
    SELECT warehouse_id, max(stock_date) AS sd FROM inventory
    WHERE stock_date <= (SELECT d FROM day) GROUP BY warehouse_id
),
receipts AS (
    SELECT i.warehouse_id, i.sku_id, avg(i.received) AS daily_received
    FROM inventory i JOIN inv_day x ON x.warehouse_id = i.warehouse_id
    WHERE i.stock_date > x.sd - 7 AND i.stock_date <= x.sd
    GROUP BY ALL
),
held AS (
    SELECT s.device_id, i.sku_id, i.on_hand AS units, r.daily_received
    FROM stocked s JOIN inv_day x ON x.warehouse_id = s.warehouse_id
    JOIN inventory i ON i.warehouse_id = s.warehouse_id AND i.stock_date = x.sd
    LEFT JOIN receipts r ON r.warehouse_id = i.warehouse_id AND r.sku_id = i.sku_id
    WHERE i.on_hand > 0
)
SELECT u.device_id, u.sku_id, k.name, k.category, k.storage, u.units, u.value,
       k.shelf_life_days,
       CASE WHEN u.src = 'delivered' THEN greatest(k.shelf_life_days - 1, 0)
            -- no receipt in the last week: the oldest unit is at least a week old
            ELSE greatest(k.shelf_life_days - coalesce(u.age_days, 7.0), 0)
       END AS remaining_days
FROM (
    SELECT 'delivered' AS src, device_id, sku_id, units, value, NULL::DOUBLE AS age_days
    FROM delivered
    UNION ALL
    -- FIFO: the oldest unit on hand arrived about on_hand / daily receipts days ago.
    SELECT 'held', h.device_id, h.sku_id, h.units, h.units * k.unit_cost,
           h.units / nullif(h.daily_received, 0)
    FROM held h JOIN skus k USING (sku_id)
) AS u
JOIN dev ON dev.device_id = u.device_id
JOIN skus k ON k.sku_id = u.sku_id AND k.storage = dev.storage
WHERE u.units > 0
ORDER BY u.device_id, u.value DESC
"""


def stock_at_risk(
    cur: duckdb.DuckDBPyConnection, device_ids: Sequence[str], day: date, scope: Scope = ALL
) -> pd.DataFrame:
    """List the SKUs a device's cold space holds on a day, with value and shelf life left.

    Rooms hold the warehouse's closing stock of their storage class (value at cost; the
    oldest unit's age estimated FIFO as on-hand over mean daily receipts of the last week).
    Cabinets hold the orders delivered to their pickup point that day (placed the day
    before; value at the price paid). Trucks hold the orders of the stops on that day's
    route plans, or, when no plan names them, the warehouse stock of their class.

    Parameters
    ----------
    cur
        A cursor.
    device_ids
        Devices to look up.
    day
        The day (usually ``meta.as_of`` or today).
    scope
        The caller's row scope (see :func:`scoped_devices`); other devices are left out.

    Returns
    -------
    pandas.DataFrame
        ``device_id, sku_id, name, category, storage, units, value, shelf_life_days,
        remaining_days``, most valuable first per device.
    """
    ids = list(map(str, device_ids))
    allowed = scoped_devices(cur, scope)
    if allowed is not None:
        inside = set(allowed)
        ids = [d for d in ids if d in inside]
    return cur.execute(_STOCK_SQL, [ids, day]).df()


def risk_summary(stock: pd.DataFrame) -> pd.DataFrame:
    """Summarise :func:`stock_at_risk` per device (what an alarm may spoil).

    Parameters
    ----------
    stock
        Output of :func:`stock_at_risk`.

    Returns
    -------
    pandas.DataFrame
        ``device_id, skus, units, value, min_remaining_days, top_skus`` (three most valuable
        names joined by "、").
    """
    if stock.empty:
        return pd.DataFrame(
            columns=["device_id", "skus", "units", "value", "min_remaining_days", "top_skus"]
        )
    g = stock.sort_values("value", ascending=False).groupby("device_id", sort=True)
    out = g.agg(
        skus=("sku_id", "nunique"),
        units=("units", "sum"),
        value=("value", "sum"),
        min_remaining_days=("remaining_days", "min"),
        top_skus=("name", lambda s: "、".join(s.head(3))),
    )
    return out.reset_index()


# ---------------------------------------------------------------------- live panel queries
def device_status(
    cur: duckdb.DuckDBPyConnection,
    now: datetime,
    regions: Sequence[int] = (),
    settings: AlarmSettings | None = None,
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Latest reading and state of every device (alarm, offline, ok, no_data).

    Parameters
    ----------
    cur
        A cursor.
    now
        Naive local time the offline state is judged against.
    regions
        Region ids to keep (by the device's warehouse); empty keeps all.
    settings
        Alarm settings (offline threshold).
    scope
        The caller's row scope (see :func:`scoped_devices`); other devices are left out.

    Returns
    -------
    pandas.DataFrame
        ``device_id, kind, storage, warehouse_id, warehouse, lat, lon, ts, temp_c,
        door_open, battery, open_alarms, worst, state``; devices in alarm first.
    """
    s = settings or AlarmSettings()
    devs = scoped_devices(cur, scope)
    return cur.execute(
        """
        WITH last AS (
            SELECT device_id, max(ts) AS ts, arg_max(temp_c, ts) AS temp_c,
                   arg_max(door_open, ts) AS door_open, arg_max(battery, ts) AS battery,
                   arg_max(lat, ts) AS lat, arg_max(lon, ts) AS lon
            FROM telemetry GROUP BY device_id
        ),
        open_alarms AS (
            SELECT device_id, count(*) AS n,
                   max(CASE severity WHEN 'critical' THEN 2 ELSE 1 END) AS worst
            FROM alerts WHERE cleared_at IS NULL GROUP BY device_id
        )
        SELECT d.device_id, d.kind, d.storage, d.warehouse_id, w.name AS warehouse,
               coalesce(l.lat, d.lat) AS lat, coalesce(l.lon, d.lon) AS lon,
               l.ts, l.temp_c, l.door_open, l.battery,
               coalesce(a.n, 0) AS open_alarms,
               CASE a.worst WHEN 2 THEN 'critical' WHEN 1 THEN 'warning' END AS worst,
               CASE WHEN l.ts IS NULL THEN 'no_data'
                    WHEN a.n > 0 THEN 'alarm'
                    WHEN epoch(?::TIMESTAMP - l.ts) > ? * d.interval_s THEN 'offline'
                    ELSE 'ok' END AS state
        FROM devices d
        LEFT JOIN warehouses w ON w.warehouse_id = d.warehouse_id
        LEFT JOIN last l ON l.device_id = d.device_id
        LEFT JOIN open_alarms a ON a.device_id = d.device_id
        WHERE (len(?::INTEGER[]) = 0 OR list_contains(?::INTEGER[], w.region_id))
          AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], d.device_id))
        ORDER BY CASE state WHEN 'alarm' THEN 0 WHEN 'offline' THEN 1 WHEN 'ok' THEN 2
                 ELSE 3 END, coalesce(a.worst, 0) DESC, d.device_id
        """,
        [now, s.offline_intervals, list(regions), list(regions), devs, devs],
    ).df()


def sparklines(
    cur: duckdb.DuckDBPyConnection, hours: float = 6.0, bucket_min: int = 5, scope: Scope = ALL
) -> pd.DataFrame:
    """Recent temperature per device as a list of bucket means (for sparkline columns).

    The window ends at the newest reading in the table, so a historical data set shows its
    last hours as well as a live one.

    Parameters
    ----------
    cur
        A cursor.
    hours
        Window length.
    bucket_min
        Bucket width in minutes.
    scope
        The caller's row scope (see :func:`scoped_devices`); other devices are left out.

    Returns
    -------
    pandas.DataFrame
        ``device_id, temps`` (list of floats, oldest first).
    """
    if hours <= 0 or bucket_min <= 0:
        raise ValueError("hours and bucket_min must be positive.")
    devs = scoped_devices(cur, scope)
    return cur.execute(
        """
        WITH bounds AS (SELECT max(ts) AS hi FROM telemetry),
        b AS (
            SELECT device_id, time_bucket(to_minutes(?::INTEGER), ts) AS bucket,
                   avg(temp_c) AS t
            FROM telemetry, bounds
            WHERE ts > hi - to_microseconds(CAST(? * 3600e6 AS BIGINT))
              AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], device_id))
            GROUP BY ALL
        )
        SELECT device_id, list(round(t, 2) ORDER BY bucket) AS temps FROM b GROUP BY device_id
        """,
        [bucket_min, hours, devs, devs],
    ).df()


def alarm_history(
    cur: duckdb.DuckDBPyConnection,
    since: datetime,
    regions: Sequence[int] = (),
    scope: Scope = ALL,
) -> pd.DataFrame:
    """Alarms started since a time or still open, open ones first.

    Parameters
    ----------
    cur
        A cursor.
    since
        Earliest ``started_at`` of cleared alarms to include.
    regions
        Region ids to keep; empty keeps all.
    scope
        The caller's row scope (see :func:`scoped_devices`); other devices are left out.

    Returns
    -------
    pandas.DataFrame
        ``alert_id, device_id, kind_device, warehouse, kind, severity, started_at, raised_at,
        cleared_at, duration_min, peak_c, degree_minutes, acknowledged_by, acknowledged_at``.
    """
    devs = scoped_devices(cur, scope)
    return cur.execute(
        """
        SELECT a.alert_id, a.device_id, d.kind AS kind_device, w.name AS warehouse, a.kind,
               a.severity, a.started_at, a.raised_at, a.cleared_at,
               round(epoch(coalesce(a.cleared_at, ?::TIMESTAMP) - a.started_at) / 60, 1)
                   AS duration_min,
               a.peak_c, a.degree_minutes, a.acknowledged_by, a.acknowledged_at
        FROM alerts a
        JOIN devices d USING (device_id)
        LEFT JOIN warehouses w ON w.warehouse_id = d.warehouse_id
        WHERE (a.cleared_at IS NULL OR a.started_at >= ?)
          AND (len(?::INTEGER[]) = 0 OR list_contains(?::INTEGER[], w.region_id))
          AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], a.device_id))
        ORDER BY a.cleared_at IS NULL DESC, a.severity = 'critical' DESC, a.started_at DESC
        """,
        [clock.local_now(), since, list(regions), list(regions), devs, devs],
    ).df()
