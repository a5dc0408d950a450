"""Synthetic cold-chain telemetry: realistic readings with planted faults, for history or live.

A reading is a deterministic function of (device, time, seed) and a fault plan, so the live
simulator (``python -m ops.simulator``, which publishes over MQTT) and :func:`history`
(used by the data generator) share one model:

- temperature holds the storage setpoint (chilled 2 °C, frozen -20 °C) with slow drift and
  sensor noise; rooms and cabinets defrost every few hours for about 12 minutes (a bump
  above the range that is shorter than the alarm hold time);
- trucks drive loops warehouse → pickup points → warehouse during the morning shift, doors
  open for a few minutes at each stop; cabinets open briefly in the pickup hours;
- planted faults: ``compressor_failure`` (slow rise towards ambient, then repair and
  recovery), ``door_left_open`` (door open 30–60 min, slow warming), ``sensor_dropout`` (no
  messages). Defrost cycles are listed with the faults as ``defrost`` (they must raise no
  alarm).

The live simulator needs only the device list: the app process holds the DuckDB write lock,
so :func:`load_devices` opens the database read-only when possible and otherwise reads
``<db>.devices.json``, which the app writes with :func:`export_devices`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from engine.coldchain import alarms

SETPOINT_C = {"chilled": 2.0, "frozen": -20.0}
AMBIENT_C = 26.0
DEFAULT_LATLON = (28.228, 112.939)  # Changsha
FAULT_KINDS = ("compressor_failure", "door_left_open", "sensor_dropout")
DEVICE_COLUMNS = [
    "device_id",
    "kind",
    "storage",
    "warehouse_id",
    "vehicle_id",
    "pickup_id",
    "lat",
    "lon",
    "interval_s",
]


@dataclass(frozen=True)
class SimSettings:
    """Physical constants of the simulation (°C, seconds)."""

    noise_c: float = 0.15
    drift_c: float = 0.25
    defrost_every_s: float = 6 * 3600.0
    defrost_s: float = 12 * 60.0
    defrost_rise_c: float = 4.0
    compressor_rise_c_per_min: float = 0.08
    recovery_tau_s: float = 20 * 60.0
    door_rise_c_per_min: float = 0.1
    shift_start_h: float = 6.0
    shift_end_h: float = 12.0
    stop_dwell_s: float = 10 * 60.0
    stop_door_s: float = 4 * 60.0


# ---------------------------------------------------------------------- devices
def export_devices(con: duckdb.DuckDBPyConnection, path: str | Path) -> Path:
    """Write the devices table as JSON records (for a simulator in another process).

    Parameters
    ----------
    con
        A connection or cursor.
    path
        Target file (usually ``<db>.devices.json``).

    Returns
    -------
    Path
        The written file.
    """
    df = con.execute(f"SELECT {', '.join(DEVICE_COLUMNS)} FROM devices ORDER BY device_id").df()
    target = Path(path)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(df.to_json(orient="records", force_ascii=False), encoding="utf-8")
    tmp.replace(target)
    return target


def load_devices(db: str | Path | None = None, devices: str | Path | None = None) -> pd.DataFrame:
    """Load the device list from a JSON/CSV file, or from the database opened read-only.

    Parameters
    ----------
    db
        DuckDB file; when another process holds it, ``<db>.devices.json`` is read instead.
    devices
        A ``.json`` (records) or ``.csv`` file with the devices table's columns.

    Returns
    -------
    pandas.DataFrame
        The devices.

    Raises
    ------
    ValueError
        When neither source is given or usable, or columns are missing.
    """
    if devices is not None:
        p = Path(devices)
        df = pd.read_csv(p) if p.suffix.lower() == ".csv" else pd.read_json(p, orient="records")
    elif db is not None:
        sidecar = Path(f"{db}.devices.json")
        fresh = (
            sidecar.exists()
            and Path(db).exists()
            and sidecar.stat().st_mtime >= Path(db).stat().st_mtime
        )
        if fresh:
            # Never touch the file the app may be opening: a read-only open would block it.
            df = pd.read_json(sidecar, orient="records")
        else:
            try:
                con = duckdb.connect(str(db), read_only=True)
            except (duckdb.IOException, duckdb.ConnectionException):
                # Held by the app (another process, or this one with write access).
                if not sidecar.exists():
                    raise ValueError(
                        f"{db} is locked by the app and {sidecar} does not exist; start the "
                        "app first (it writes that file) or pass --devices."
                    ) from None
                df = pd.read_json(sidecar, orient="records")
            else:
                try:
                    df = con.execute(f"SELECT {', '.join(DEVICE_COLUMNS)} FROM devices").df()
                finally:
                    con.close()
    else:
        raise ValueError("Give a devices file or a database.")
    missing = set(DEVICE_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"device list lacks columns: {', '.join(sorted(missing))}")
    return df[DEVICE_COLUMNS].sort_values("device_id").reset_index(drop=True)


# ---------------------------------------------------------------------- the model
class Fleet:
    """Per-device constants as arrays (index = row of the devices frame).

    Parameters
    ----------
    devices
        The devices table (:data:`DEVICE_COLUMNS`).
    seed
        Random seed of the per-device constants (setpoint offset, drift phase, defrost
        offset, battery, noise salt).
    """

    def __init__(self, devices: pd.DataFrame, seed: int) -> None:
        d = devices.reset_index(drop=True)
        rng = np.random.default_rng(seed)
        n = len(d)
        self.ids = d["device_id"].astype(str).to_numpy()
        self.kind = d["kind"].astype(str).to_numpy()
        self.storage = d["storage"].astype(str).to_numpy()
        self.warehouse = d["warehouse_id"].to_numpy()
        self.interval = d["interval_s"].astype(float).to_numpy()
        self.target = np.array([SETPOINT_C.get(s, 2.5) for s in self.storage])
        self.target = self.target + rng.normal(0, 0.2, n)
        self.phase = rng.uniform(0, 2 * math.pi, (n, 2))
        self.period = rng.uniform(2 * 3600, 9 * 3600, (n, 2))
        self.defrost_offset = rng.uniform(0, 6 * 3600, n)
        self.battery0 = np.where(self.kind == "room", 100.0, rng.uniform(55, 100, n))
        self.salt = rng.integers(1, 2**31 - 1, n)
        lat = pd.to_numeric(d["lat"], errors="coerce").to_numpy(dtype=float)
        lon = pd.to_numeric(d["lon"], errors="coerce").to_numpy(dtype=float)
        # Warehouse position: its rooms' coordinates, else the mean of its cabinets, else Changsha.
        wh_pos: dict[object, tuple[float, float]] = {}
        for w in np.unique(self.warehouse):
            for mask in ((self.warehouse == w) & (self.kind == "room"), self.warehouse == w):
                ok = mask & ~np.isnan(lat)
                if ok.any():
                    wh_pos[w] = (float(lat[ok].mean()), float(lon[ok].mean()))
                    break
            wh_pos.setdefault(w, DEFAULT_LATLON)
        self.lat = np.where(np.isnan(lat), [wh_pos[w][0] for w in self.warehouse], lat)
        self.lon = np.where(np.isnan(lon), [wh_pos[w][1] for w in self.warehouse], lon)
        # Truck loops: the cabinets of its warehouse, dealt round-robin to its trucks.
        self.routes: dict[int, np.ndarray] = {}
        for w in np.unique(self.warehouse):
            trucks = np.flatnonzero((self.warehouse == w) & (self.kind == "truck"))
            cabs = np.flatnonzero((self.warehouse == w) & (self.kind == "cabinet"))
            for j, ti in enumerate(trucks):
                stops = cabs[j :: len(trucks)][:8]
                pts = [wh_pos[w], *[(self.lat[c], self.lon[c]) for c in stops], wh_pos[w]]
                self.routes[int(ti)] = np.array(pts, dtype=float)


def _hash_noise(idx: np.ndarray, tick: np.ndarray, salt: np.ndarray) -> np.ndarray:
    """Deterministic pseudo-random numbers in [-1, 1) per (device, tick)."""
    x = (idx.astype(np.uint64) * np.uint64(0x9E3779B1)) ^ (
        tick.astype(np.int64).astype(np.uint64) * np.uint64(0x85EBCA77)
    )
    x = x ^ salt.astype(np.uint64)
    x = (x ^ (x >> np.uint64(15))) * np.uint64(0x2C1B3C6D)
    x = x ^ (x >> np.uint64(12))
    return ((x & np.uint64(0xFFFFFF)).astype(float) / float(0x800000)) - 1.0


def readings(
    fleet: Fleet,
    idx: np.ndarray,
    t: np.ndarray,
    faults: pd.DataFrame,
    s: SimSettings,
) -> pd.DataFrame:
    """Readings of devices ``idx`` at epoch seconds ``t`` (naive local time).

    Parameters
    ----------
    fleet
        The devices' constants.
    idx
        Rows of the devices frame, one per reading.
    t
        Times in epoch seconds of naive local time, one per reading.
    faults
        The fault plan (``device_id, fault, start_ts, end_ts``).
    s
        Physical constants.

    Returns
    -------
    pandas.DataFrame
        ``device_id, ts, temp_c, humidity, door_open, battery, lat, lon``; readings lost
        to a ``sensor_dropout`` are left out.
    """
    target = fleet.target[idx]
    temp = target.copy()
    for k in range(2):
        temp += (
            s.drift_c * 0.5 * np.sin(2 * math.pi * t / fleet.period[idx, k] + fleet.phase[idx, k])
        )
    temp += s.noise_c * _hash_noise(idx, t // 1, fleet.salt[idx])
    kind = fleet.kind[idx]
    sec_of_day = np.mod(t, 86400.0)
    door = np.zeros(len(idx), dtype=bool)
    lat = np.full(len(idx), np.nan)
    lon = np.full(len(idx), np.nan)
    # Defrost: a half-sine bump for rooms and cabinets.
    defrosting = kind != "truck"
    phase = np.mod(t + fleet.defrost_offset[idx], s.defrost_every_s)
    in_defrost = defrosting & (phase < s.defrost_s)
    bump = np.where(in_defrost, np.sin(math.pi * phase / s.defrost_s), 0.0)
    rise = np.where(fleet.storage[idx] == "frozen", 1.5, 1.0) * s.defrost_rise_c
    temp += bump * rise
    # Cabinets open for a minute every ~20 minutes between 16:00 and 21:00.
    cab = kind == "cabinet"
    pickup_hours = (sec_of_day >= 16 * 3600) & (sec_of_day < 21 * 3600)
    door |= cab & pickup_hours & (np.mod(t + fleet.defrost_offset[idx], 1200.0) < 60.0)
    # Trucks: loop warehouse -> stops -> warehouse during the shift.
    for ti in np.unique(idx[kind == "truck"]):
        m = idx == ti
        route = fleet.routes.get(int(ti))
        tt = sec_of_day[m]
        la = np.full(m.sum(), fleet.lat[ti])
        lo = np.full(m.sum(), fleet.lon[ti])
        dr = np.zeros(m.sum(), dtype=bool)
        if route is not None and len(route) > 2:
            legs = len(route) - 1
            shift = (s.shift_end_h - s.shift_start_h) * 3600.0
            leg_s = shift / legs
            on = (tt >= s.shift_start_h * 3600) & (tt < s.shift_end_h * 3600)
            pos = np.clip((tt - s.shift_start_h * 3600) / leg_s, 0, legs - 1e-9)
            leg = pos.astype(int)
            within = (pos - leg) * leg_s
            # Dwell at the stop that starts each leg (after the first), then drive.
            drive = np.clip((within - s.stop_dwell_s) / max(leg_s - s.stop_dwell_s, 1.0), 0, 1)
            a, b = route[leg], route[leg + 1]
            la = np.where(on, a[:, 0] + (b[:, 0] - a[:, 0]) * drive, la)
            lo = np.where(on, a[:, 1] + (b[:, 1] - a[:, 1]) * drive, lo)
            dr = on & (leg > 0) & (within < s.stop_door_s)
        lat[m], lon[m], door[m] = la, lo, dr
    temp += np.where(door & ~cab, 0.8, np.where(door, 0.3, 0.0))
    keep = np.ones(len(idx), dtype=bool)
    battery = fleet.battery0[idx] - np.mod(t / 86400.0, 30.0) * 0.5
    # Planted faults (only those touching these devices and this time span).
    if len(faults):
        t_lo, t_hi = float(t.min()), float(t.max())
        starts = (faults["start_ts"] - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
        ends = (faults["end_ts"] - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
        near = (
            faults["device_id"].isin(set(fleet.ids[np.unique(idx)]))
            & (starts <= t_hi)
            & (ends + 10 * s.recovery_tau_s >= t_lo)
        )
        faults = faults[near.to_numpy()]
    for f in faults.itertuples(index=False):
        m = fleet.ids[idx] == f.device_id
        if not m.any():
            continue
        start = alarms.epoch_seconds(f.start_ts)
        end = alarms.epoch_seconds(f.end_ts)
        tm = t[m]
        if f.fault == "sensor_dropout":
            keep[m] &= ~((tm >= start) & (tm < end))
        elif f.fault in ("compressor_failure", "door_left_open"):
            rate = (
                s.compressor_rise_c_per_min
                if f.fault == "compressor_failure"
                else s.door_rise_c_per_min
            ) / 60.0
            room = AMBIENT_C - target[m]
            during = np.clip((np.minimum(tm, end) - start) * rate, 0, None)
            excess = np.minimum(during, room) * (tm >= start)
            after = tm > end
            excess = np.where(after, excess * np.exp(-(tm - end) / s.recovery_tau_s), excess)
            temp[m] += excess
            if f.fault == "door_left_open":
                door[m] |= (tm >= start) & (tm < end)
    humidity = (
        np.where(fleet.storage[idx] == "frozen", 60.0, 85.0)
        + 3 * _hash_noise(idx, t // 7, fleet.salt[idx] + 1)
        + door * 6.0
    )
    df = pd.DataFrame(
        {
            "device_id": fleet.ids[idx],
            "ts": pd.to_datetime(np.round(t * 1e6).astype("int64"), unit="us"),
            "temp_c": np.round(temp, 2),
            "humidity": np.round(np.clip(humidity, 0, 100), 1),
            "door_open": door,
            "battery": np.round(np.clip(battery, 1, 100), 1),
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
        }
    )
    return df[keep].reset_index(drop=True)


def plan_faults(
    devices: pd.DataFrame,
    start_ts: datetime,
    end_ts: datetime,
    seed: int,
    per_device_day: float = 0.05,
) -> pd.DataFrame:
    """Plant faults at random devices and times (at least one of each kind).

    Parameters
    ----------
    devices
        The devices table.
    start_ts, end_ts
        The window (naive local time).
    seed
        Random seed.
    per_device_day
        Expected faults of each kind per device per day.

    Returns
    -------
    pandas.DataFrame
        ``device_id, fault, start_ts, end_ts`` sorted by start.
    """
    rng = np.random.default_rng(seed + 1)
    t0, t1 = alarms.epoch_seconds(start_ts), alarms.epoch_seconds(end_ts)
    days = max((t1 - t0) / 86400.0, 1e-9)
    ids = devices["device_id"].astype(str).to_numpy()
    rows = []
    durations = {
        "compressor_failure": (90 * 60, 180 * 60),
        "door_left_open": (30 * 60, 60 * 60),
        "sensor_dropout": (30 * 60, 90 * 60),
    }
    for kind in FAULT_KINDS:
        n = max(1, rng.poisson(per_device_day * days * len(ids)))
        for _ in range(n):
            lo, hi = durations[kind]
            dur = rng.uniform(lo, hi)
            if t1 - t0 <= dur + 3600:
                continue
            s = rng.uniform(t0, t1 - dur - 3600)  # leave an hour to recover inside the window
            rows.append((str(rng.choice(ids)), kind, s, s + dur))
    df = pd.DataFrame(rows, columns=["device_id", "fault", "start_ts", "end_ts"])
    for c in ("start_ts", "end_ts"):
        df[c] = pd.to_datetime(np.round(df[c].astype(float) * 1e6).astype("int64"), unit="us")
    return df.sort_values(["start_ts", "device_id"]).reset_index(drop=True)


def defrost_cycles(
    devices: pd.DataFrame,
    start_ts: datetime,
    end_ts: datetime,
    seed: int,
    settings: SimSettings | None = None,
) -> pd.DataFrame:
    """List the defrost cycles of rooms and cabinets in a window (``fault = 'defrost'``)."""
    s = settings or SimSettings()
    fleet = Fleet(devices, seed)
    t0, t1 = alarms.epoch_seconds(start_ts), alarms.epoch_seconds(end_ts)
    rows = []
    for i in np.flatnonzero(fleet.kind != "truck"):
        first = t0 - np.mod(t0 + fleet.defrost_offset[i], s.defrost_every_s)
        for st in np.arange(first, t1, s.defrost_every_s):
            if st + s.defrost_s > t0:
                rows.append((fleet.ids[i], "defrost", st, st + s.defrost_s))
    df = pd.DataFrame(rows, columns=["device_id", "fault", "start_ts", "end_ts"])
    for c in ("start_ts", "end_ts"):
        df[c] = pd.to_datetime(np.round(df[c].astype(float) * 1e6).astype("int64"), unit="us")
    return df


def history(
    devices_df: pd.DataFrame,
    start_ts: datetime,
    end_ts: datetime,
    seed: int,
    step_s: float | None = None,
    faults_per_device_day: float = 0.05,
    settings: SimSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Historical telemetry with planted faults, for the data generator.

    Parameters
    ----------
    devices_df
        The devices table.
    start_ts, end_ts
        Window ``[start_ts, end_ts)`` in naive local time.
    seed
        Random seed (same seed, same output).
    step_s
        Sampling step; default each device's ``interval_s`` (use 300 for long windows).
    faults_per_device_day
        Expected faults of each kind per device per day (at least one of each is planted).
    settings
        Physical constants.

    Returns
    -------
    tuple of pandas.DataFrame
        ``telemetry`` with the telemetry table's columns (``msg_id`` and ``received_at``
        null) and ``faults`` with ``device_id, fault, start_ts, end_ts`` (the
        ``truth_device_faults`` table), including the ``defrost`` cycles.

    Raises
    ------
    ValueError
        When the window is empty or the devices frame lacks columns.
    """
    if pd.Timestamp(end_ts) <= pd.Timestamp(start_ts):
        raise ValueError("history needs start_ts < end_ts.")
    missing = set(DEVICE_COLUMNS) - set(devices_df.columns)
    if missing:
        raise ValueError(f"devices frame lacks columns: {', '.join(sorted(missing))}")
    s = settings or SimSettings()
    faults = plan_faults(devices_df, start_ts, end_ts, seed, faults_per_device_day)
    tel = simulate(devices_df, start_ts, end_ts, faults, seed, step_s, s)
    all_faults = (
        pd.concat(
            [faults, defrost_cycles(devices_df, start_ts, end_ts, seed, s)], ignore_index=True
        )
        .sort_values(["start_ts", "device_id"])
        .reset_index(drop=True)
    )
    return tel, all_faults


def simulate(
    devices_df: pd.DataFrame,
    start_ts: datetime,
    end_ts: datetime,
    faults: pd.DataFrame,
    seed: int,
    step_s: float | None = None,
    settings: SimSettings | None = None,
) -> pd.DataFrame:
    """Readings of every device in ``[start_ts, end_ts)`` under an explicit fault plan.

    Parameters
    ----------
    devices_df
        The devices table.
    start_ts, end_ts
        The window (naive local time).
    faults
        ``device_id, fault, start_ts, end_ts`` (for example from :func:`plan_faults`).
    seed
        Random seed.
    step_s
        Sampling step; default each device's ``interval_s``.
    settings
        Physical constants.

    Returns
    -------
    pandas.DataFrame
        Rows shaped like the telemetry table, ordered by ``ts``.
    """
    s = settings or SimSettings()
    fleet = Fleet(devices_df, seed)
    t0, t1 = alarms.epoch_seconds(start_ts), alarms.epoch_seconds(end_ts)
    parts = []
    for i in range(len(fleet.ids)):
        step = float(step_s or fleet.interval[i])
        t = np.arange(t0 + (fleet.salt[i] % max(int(step), 1)), t1, step)
        parts.append(readings(fleet, np.full(len(t), i), t, faults, s))
    tel = pd.concat(parts, ignore_index=True)
    tel["msg_id"] = None
    tel["received_at"] = pd.NaT
    return tel.sort_values(["ts", "device_id"]).reset_index(drop=True)


def load_history(
    con: duckdb.DuckDBPyConnection,
    end_ts: datetime,
    days: float,
    seed: int,
    step_s: float | None = None,
) -> tuple[int, int]:
    """Fill ``telemetry`` and ``truth_device_faults`` with :func:`history` of the devices table.

    For the data generator: ``load_history(con, as_of + 1 day, days=7, seed=seed)``, then
    :func:`engine.coldchain.store.history_alarms` for the alarms the faults imply.

    Parameters
    ----------
    con
        A connection with the devices table filled.
    end_ts
        End of the window (exclusive), naive local time.
    days
        Window length in days.
    seed
        Random seed.
    step_s
        Sampling step; default each device's interval (coarser steps look like gaps to the
        offline rule of :func:`engine.coldchain.alarms.excursions`).

    Returns
    -------
    tuple of int
        Telemetry rows and fault rows written.

    Raises
    ------
    ValueError
        When ``days`` is not positive or there are no devices.
    """
    if days <= 0:
        raise ValueError("days must be positive.")
    devices = con.execute(f"SELECT {', '.join(DEVICE_COLUMNS)} FROM devices").df()
    if devices.empty:
        raise ValueError("The devices table is empty.")
    end = pd.Timestamp(end_ts)
    tel, faults = history(devices, end - pd.Timedelta(days=days), end, seed, step_s)
    con.execute(
        "CREATE TABLE IF NOT EXISTS truth_device_faults (device_id VARCHAR, fault VARCHAR, "
        "start_ts TIMESTAMP, end_ts TIMESTAMP)"
    )
    for table, df in (("telemetry", tel), ("truth_device_faults", faults)):
        con.register("_history_df", df)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _history_df")  # fixed names
        finally:
            con.unregister("_history_df")
    return len(tel), len(faults)
