"""The live telemetry simulator: the demo world's device physics published over MQTT.

``python -m ops.simulator [--url URL] [--db PATH | --devices FILE] [--speed N] [--faults F]
[--seed S]``; ``make run`` (:mod:`ops.serve`) starts it next to the app. Readings come from
:mod:`data.telemetry` (the same model as the generated history, with planted faults for the
next 24 hours) and leave through :class:`connectors.mqtt.Publisher`. The app holds the
DuckDB file, so the device list is read from ``<db>.devices.json`` when the database is
locked (see :func:`data.telemetry.load_devices`).
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import threading
import time
import uuid
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from connectors import mqtt
from data import telemetry
from engine import clock
from engine import db as dbmod
from engine.coldchain import alarms


class LiveSimulator:
    """Publish readings for every device at its interval, in real time.

    Parameters
    ----------
    devices
        The devices table.
    publisher
        Where readings go.
    seed
        Random seed.
    speed
        Reporting rate multiplier (2 = each device reports twice per interval).
    faults_per_device_day
        Planted faults of each kind per device per day (the plan covers the next 24 h).
    settings
        Physical constants of the simulation.
    """

    def __init__(
        self,
        devices: pd.DataFrame,
        publisher: mqtt.Publisher,
        seed: int = 0,
        speed: float = 1.0,
        faults_per_device_day: float = 0.5,
        settings: telemetry.SimSettings | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive.")
        self.devices = devices.reset_index(drop=True)
        self.fleet = telemetry.Fleet(self.devices, seed)
        self.pub = publisher
        self.speed = speed
        self.settings = settings or telemetry.SimSettings()
        now = clock.local_now()
        self.faults = telemetry.plan_faults(
            self.devices, now, now + timedelta(days=1), seed, faults_per_device_day
        )
        self.sent = 0
        self._next = alarms.epoch_seconds(now) + np.mod(self.fleet.salt, 10) * 0.1

    def tick(self, now: datetime | None = None) -> int:
        """Publish the readings that are due.

        Parameters
        ----------
        now
            Naive local time; default the wall clock.

        Returns
        -------
        int
            Readings sent.
        """
        t = alarms.epoch_seconds(now or clock.local_now())
        due = np.flatnonzero(self._next <= t)
        if len(due) == 0:
            return 0
        df = telemetry.readings(self.fleet, due, np.full(len(due), t), self.faults, self.settings)
        self._next[due] = t + self.fleet.interval[due] / self.speed
        wh = dict(zip(self.fleet.ids, self.fleet.warehouse, strict=True))
        for rec in df.to_dict("records"):
            body = {k: v for k, v in rec.items() if not (isinstance(v, float) and math.isnan(v))}
            body["ts"] = rec["ts"].isoformat()
            body["door_open"] = bool(rec["door_open"])
            body["msg_id"] = uuid.uuid4().hex
            self.pub.publish(wh[rec["device_id"]], body)
        self.sent += len(df)
        return len(df)

    def run(self, stop: threading.Event, period_s: float = 0.2) -> None:
        """Tick until ``stop`` is set.

        Parameters
        ----------
        stop
            Set it to end the loop.
        period_s
            Seconds between ticks.
        """
        while not stop.is_set():
            self.tick()
            stop.wait(period_s)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: publish live readings until interrupted; returns the exit code."""
    p = argparse.ArgumentParser(
        prog="python -m ops.simulator", description="Linli cold-chain telemetry simulator (MQTT)."
    )
    p.add_argument("--url", default=None, help="broker URL (default LINLI_MQTT_URL)")
    p.add_argument("--db", default=None, help="DuckDB file (read-only, or its .devices.json)")
    p.add_argument("--devices", default=None, help="devices JSON/CSV instead of --db")
    p.add_argument("--speed", type=float, default=1.0, help="reporting rate multiplier")
    p.add_argument("--faults", type=float, default=0.5, help="faults per kind per device-day")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.db is None and args.devices is None:
        args.db = str(dbmod.db_path())
    deadline = time.monotonic() + 120
    while True:
        try:
            devices = telemetry.load_devices(args.db, args.devices)
            break
        except ValueError as exc:
            # The app may still be starting: it writes <db>.devices.json when it opens the DB.
            if time.monotonic() > deadline or args.devices is not None:
                print(exc)
                return 2
            time.sleep(3)
    pub = mqtt.Publisher(mqtt.MqttSettings.from_url(args.url))
    sim = LiveSimulator(devices, pub, args.seed, args.speed, args.faults)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"simulating {len(devices)} devices to {pub.settings.describe()}", flush=True)
    t0 = time.monotonic()
    sim.run(stop)
    pub.flush(10)
    pub.close()
    print(f"published {sim.sent} readings in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
