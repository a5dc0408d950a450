"""Live alarm evaluation: the sink that turns newly stored telemetry into ``alerts`` rows.

:class:`AlarmEngine` is what ``ops.wiring`` hands the MQTT ingester as its sink: the
ingester's writer thread calls :meth:`AlarmEngine.on_commit` with the rows it committed,
and waits for :meth:`AlarmEngine.pending` to reach 0 when asked to be idle. The engine knows
nothing of MQTT; it reads and writes tables only.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from engine import clock
from engine.coldchain import alarms, store
from engine.coldchain.setpoints import AlarmSettings

_NEW_ROWS_SQL = """
SELECT device_id, ts, temp_c, door_open, battery, received_at
FROM telemetry
WHERE received_at > ?
ORDER BY device_id, ts
"""


_NO_CHANGES = alarms.episodes_frame([])


class AlarmEngine:
    """Live alarm evaluation over the ``telemetry`` table, writing ``alerts``.

    New rows are those whose ``received_at`` is later than the newest one seen; the ingester
    stamps every batch with a strictly increasing ``received_at`` and hands its writer
    thread's committed rows to :meth:`on_commit` (the ingester's sink protocol, wired in
    ``ops.wiring``), so no row is missed or seen twice. Open alarms
    found in ``alerts`` are continued; an excursion still inside its hold time when the app
    stopped starts its hold time again.

    Parameters
    ----------
    con
        A connection or cursor; the engine keeps its own cursor.
    settings
        Alarm settings; defaults when ``None``.
    reorder_quiet_s, reorder_max_s
        QoS 1 does not promise order (a broker may deliver a redelivered or queued block
        after later messages; the embedded amqtt reorders bursts). With ``reorder_quiet_s``
        > 0, a device's rows wait until the device has sent nothing for that long, or its
        oldest waiting row is ``reorder_max_s`` old, and are then evaluated in event-time
        order. The live ingester uses 0.5 s / 1.0 s; 0 evaluates every row on arrival.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: AlarmSettings | None = None,
        reorder_quiet_s: float = 0.0,
        reorder_max_s: float = 1.0,
    ) -> None:
        self.cur = con.cursor()
        self.settings = settings or AlarmSettings()
        self.reorder_quiet_s = float(reorder_quiet_s)
        self.reorder_max_s = max(float(reorder_max_s), self.reorder_quiet_s)
        self._held: list[pd.DataFrame] = []
        devices = self._devices()
        next_id = self.cur.execute("SELECT coalesce(max(alert_id), 0) + 1 FROM alerts").fetchall()[
            0
        ]
        self.tracker = alarms.AlarmTracker(devices, self.settings, int(next_id[0]))
        self.tracker.adopt(self.cur.execute("SELECT * FROM alerts WHERE cleared_at IS NULL").df())
        last = self.cur.execute(
            "SELECT device_id, max(ts) AS ts, arg_max(temp_c, ts) AS temp_c, "
            "max(received_at) AS received_at FROM telemetry GROUP BY device_id"
        ).df()
        for r in last.itertuples(index=False):
            st = self.tracker.states.get(r.device_id)
            if st is not None:
                st.last_ts = alarms.epoch_seconds(r.ts)
                if not pd.isna(r.received_at):
                    st.last_received = alarms.epoch_seconds(r.received_at)
                st.last_temp = float("nan") if pd.isna(r.temp_c) else float(r.temp_c)
        wm = last["received_at"].max() if len(last) else None
        self.watermark = pd.Timestamp("1970-01-01") if wm is None or pd.isna(wm) else wm

    def _devices(self) -> pd.DataFrame:
        return self.cur.execute("SELECT device_id, kind, storage, interval_s FROM devices").df()

    def evaluate(
        self,
        now: datetime | None = None,
        rows: pd.DataFrame | None = None,
        cur: duckdb.DuckDBPyConnection | None = None,
    ) -> pd.DataFrame:
        """Evaluate telemetry received since the last call and write alarm changes.

        Parameters
        ----------
        now
            Evaluation time for the offline check (naive local); default the wall clock.
        rows
            The rows just inserted (columns ``device_id, ts, temp_c, door_open, battery,
            received_at``), passed by the writer to save reading them back; ``None`` reads
            rows newer than the watermark from ``telemetry``.
        cur
            The cursor that writes the alarm changes; ``None`` uses the engine's own.

        Returns
        -------
        pandas.DataFrame
            The alarms raised, updated or cleared (columns of
            :data:`engine.coldchain.alarms.EPISODE_COLUMNS`).
        """
        if rows is None:
            rows = self.cur.execute(_NEW_ROWS_SQL, [self.watermark]).df()
        if len(rows):
            self.watermark = max(self.watermark, rows["received_at"].max())
            unknown = set(rows["device_id"].unique()) - set(self.tracker.states)
            if unknown:
                self._add_devices(unknown)
        arrivals = rows
        if self.reorder_quiet_s > 0:
            rows = self._release(rows)
        if len(rows):
            alarms.feed_frame(self.tracker, rows)
        if len(arrivals):
            # Arrival counts as a sign of life at once, held or not (see check_offline).
            arrived = arrivals.groupby("device_id", sort=False)["received_at"].max()
            seconds = arrived.to_numpy(dtype="datetime64[us]").astype("int64") / 1e6
            for dev, at in zip(arrived.index, seconds.tolist(), strict=True):
                st = self.tracker.states.get(dev)
                if st is not None:
                    st.last_received = at
        self.tracker.check_offline(alarms.epoch_seconds(now or clock.local_now()))
        if not self.tracker.changed:
            return _NO_CHANGES
        changes = self.tracker.take_changes()
        store.write_alerts(cur or self.cur, changes)
        return changes

    @property
    def held(self) -> int:
        """Rows waiting in the reorder hold."""
        return sum(len(f) for f in self._held)

    def _release(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Add ``rows`` to the hold; return the rows of devices whose wait is over."""
        frames = [f for f in (*self._held, rows) if len(f)]
        if not frames:
            self._held = []
            return rows
        pool = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        now = alarms.epoch_seconds(clock.local_now())
        arrived = pool["received_at"].to_numpy(dtype="datetime64[us]").astype("int64") / 1e6
        by_dev = pd.DataFrame({"device_id": pool["device_id"], "at": arrived})
        g = by_dev.groupby("device_id", sort=False)["at"]
        newest, oldest = g.transform("max").to_numpy(), g.transform("min").to_numpy()
        due = (now - newest >= self.reorder_quiet_s) | (now - oldest >= self.reorder_max_s)
        self._held = [pool.loc[~due]] if (~due).any() else []
        return pool.loc[due]

    def _add_devices(self, ids: set[str]) -> None:
        devices = self._devices()
        fresh = alarms.AlarmTracker(devices[devices["device_id"].isin(ids)], self.settings)
        self.tracker.states.update(fresh.states)

    def on_commit(self, cursor: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> pd.DataFrame:
        """The ingester's sink: evaluate rows it committed, writing alarms through its cursor.

        Parameters
        ----------
        cursor
            The writer thread's cursor (the app's single writer).
        rows
            Rows committed since the last call (columns ``device_id, ts, temp_c, door_open,
            battery, received_at``); empty about every quarter second while nothing arrives,
            which runs the offline check.

        Returns
        -------
        pandas.DataFrame
            The alarms raised, updated or cleared, as :meth:`evaluate` returns them.
        """
        return self.evaluate(rows=rows, cur=cursor)

    def pending(self) -> int:
        """Rows received but not yet evaluated (held for reordering); 0 when idle.

        Returns
        -------
        int
            The rows in the reorder hold.
        """
        return self.held
