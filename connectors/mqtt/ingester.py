"""The telemetry ingester: subscribe, validate, deduplicate, write to DuckDB, hand on to a sink.

The ingester subscribes to ``linli/<warehouse>/<device>/telemetry`` at QoS 1 with a
persistent session (fixed client id, no clean start; MQTT 5 with a session expiry), so a
broker that keeps sessions queues what is published while the app is away. The network
side is a :class:`connectors.mqtt.client.Subscription` (the stock paho client by default,
the stream client on request) in this process or in a child process; it hands messages to
one writer thread, which validates, deduplicates, writes batches into DuckDB through its
own cursor (the app's single writer) and then hands the committed rows to its
:class:`Sink` (the alarm engine, wired by ``ops.wiring.live_ingester``).

Acknowledgement. With MQTT 5 the ingester announces a Receive Maximum of 65,535, so the
broker may keep that many messages in flight instead of queueing them (Mosquitto applies a
v5 client's Receive Maximum instead of its ``max_inflight_messages``, 20 by default, and
drops what exceeds ``max_queued_messages`` beyond that), and PUBACKs are sent only after the
batch holding the message is committed: a crash loses nothing, the broker redelivers what
was not acknowledged and the writer drops the redeliveries. With MQTT 3.1.1 (amqtt, the
embedded broker) the broker's in-flight window is small, so messages are acknowledged on
receipt, as paho does by default, and :meth:`Ingester.stop` drains the queue; only a crash
of the app process can then lose the last batch (at most ``flush_s`` of messages).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import duckdb
import paho.mqtt.client as paho
import pandas as pd

from connectors.mqtt import payload
from connectors.mqtt.client import Message, Subscription, resolve_protocol
from connectors.mqtt.receiver import ProcessReceiver
from connectors.mqtt.settings import MqttSettings
from engine import clock

log = logging.getLogger(__name__)

SINK_COLUMNS = ["device_id", "ts", "temp_c", "door_open", "battery", "received_at"]
_EMPTY_ROWS = pd.DataFrame({c: [] for c in SINK_COLUMNS})


@runtime_checkable
class Sink(Protocol):
    """What the writer thread hands committed telemetry to (``ops.wiring`` gives the alarm engine).

    The ingester knows nothing of alarms: it calls :meth:`on_commit` from its writer thread
    with the rows committed since the last call (columns :data:`SINK_COLUMNS`), at most every
    ``sink_every_s`` while messages stream in and with an empty frame about every quarter
    second while nothing arrives; :meth:`Ingester.wait_idle` waits until :meth:`pending` is 0.
    """

    def on_commit(self, cursor: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> object:
        """Take rows committed since the last call; ``cursor`` is the writer's own."""

    def pending(self) -> int:
        """Rows taken but not yet dealt with (0 when idle)."""


@dataclass(frozen=True)
class IngestStatus:
    """What the UI shows about live ingestion."""

    broker: str
    connected: bool
    since: datetime | None  # connected since, or disconnected since
    received: int
    inserted: int
    duplicates: int
    quarantined: int
    queued: int
    last_message_at: datetime | None
    last_error: str | None


@dataclass
class _Counters:
    received: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    last_message_at: datetime | None = None
    last_error: str | None = None
    connected: bool = False
    since: datetime | None = field(default_factory=clock.local_now)


class Ingester:
    """Subscribe to telemetry and write it into DuckDB from one background thread.

    Parameters
    ----------
    con
        The app's connection; the writer thread takes its own cursor.
    settings
        Broker settings; ``None`` parses ``LINLI_MQTT_URL``. An ``AUTO`` protocol is
        resolved when the ingester starts; ``settings.client`` picks the paho client.
    batch_size
        Most rows per insert.
    flush_s
        Longest wait before a partial batch is written.
    sink
        Where committed rows go next (see :class:`Sink`); ``None`` stores only.
    sink_every_s
        Least time between :meth:`Sink.on_commit` calls under load.
    dedup_size
        How many recent message keys are remembered to drop QoS 1 redeliveries.
    receiver
        ``thread`` (paho in this process) or ``process`` (paho in a child process, see
        :mod:`connectors.mqtt.receiver`; more throughput on a multi-core machine).
    ack_after_commit
        Acknowledge a message only once its batch is committed; ``None`` (default) does so
        with MQTT 5, where the broker's in-flight window is the announced Receive Maximum,
        and acknowledges on receipt with 3.1.1.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: MqttSettings | None = None,
        *,
        batch_size: int = 5000,
        flush_s: float = 0.2,
        sink: Sink | None = None,
        sink_every_s: float = 0.5,
        dedup_size: int = 500_000,
        receiver: str = "thread",
        ack_after_commit: bool | None = None,
    ) -> None:
        if receiver not in ("thread", "process"):
            raise ValueError("receiver must be 'thread' or 'process'.")
        self.settings = settings or MqttSettings.from_url()
        self.receiver = receiver
        self._ack_after_commit = ack_after_commit
        self.ack_after_commit = False  # settled in start(), once the protocol is known
        self._con = con
        self.batch_size = batch_size
        self.flush_s = flush_s
        self.sink_every_s = sink_every_s
        self.sink = sink
        # Items: (epoch, [(topic, payload, mid), ...]) per hand-over, or None to stop.
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._c = _Counters()
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._dedup_size = dedup_size
        self._known: dict[str, int] = {}  # device_id -> warehouse_id
        self._last_received = datetime.min
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._enqueued = 0
        self._unsunk: list[pd.DataFrame] = []
        self._processed = 0
        self.acks_skipped = 0  # acknowledgements dropped because the connection changed
        self.on_batch: Callable[[int], None] | None = None
        self._rx: ProcessReceiver | None = None
        self._sub: Subscription | None = None
        self.client: paho.Client | None = None  # the in-process receiver's paho client

    # ------------------------------------------------------------------ receiver callbacks
    def _on_batch(self, epoch: int, batch: list[Message]) -> None:
        with self._lock:
            self._enqueued += len(batch)
        self._queue.put((epoch, batch))

    def _on_event(self, kind: str, detail: str | None) -> None:
        with self._lock:
            if kind == "connected":
                self._c.connected = True
                self._c.since = clock.local_now()
                self._c.last_error = None
            elif kind == "disconnected":
                if self._c.connected:
                    self._c.since = clock.local_now()
                self._c.connected = False
                self._c.last_error = detail or self._c.last_error
            else:
                self._c.last_error = detail

    def _ack(self, epoch: int, mids: list[int]) -> None:
        if self._rx is not None:
            self._rx.ack(epoch, mids)
        elif self._sub is not None and not self._sub.ack(epoch, mids):
            self.acks_skipped += len(mids)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Ingester:
        """Load devices and recent message ids, start the writer and connect (non-blocking).

        Returns
        -------
        Ingester
            ``self``.
        """
        self.settings = resolve_protocol(self.settings)
        self.ack_after_commit = (
            self.settings.protocol == 5
            if self._ack_after_commit is None
            else bool(self._ack_after_commit)
        )
        cur = self._con.cursor()
        self._known = _devices(cur)
        # Keys as in _write: per device, so two devices' own counters never collide.
        recent = cur.execute(
            "SELECT CASE WHEN msg_id IS NULL "
            "THEN device_id || '@' || strftime(ts, '%Y-%m-%dT%H:%M:%S.%f') "
            "ELSE device_id || '#' || msg_id END "
            "FROM telemetry WHERE received_at > ? ORDER BY received_at DESC LIMIT ?",
            [clock.local_now() - timedelta(hours=2), self._dedup_size],
        ).fetchall()
        self._remember(r[0] for r in reversed(recent))
        last = cur.execute("SELECT max(received_at) FROM telemetry").fetchall()[0][0]
        if last is not None:
            self._last_received = last
        cur.close()
        self._stop.clear()
        self._thread = threading.Thread(target=self._writer, name="linli-mqtt-writer", daemon=True)
        self._thread.start()
        if self.receiver == "process":
            self._rx = ProcessReceiver(
                self.settings, self._on_batch, self._on_event, manual_ack=self.ack_after_commit
            )
            self._rx.start()
        else:
            self._sub = Subscription(
                self.settings, self._on_batch, self._on_event, manual_ack=self.ack_after_commit
            )
            self.client = self._sub.client
            self._sub.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect, write what is queued and stop the writer thread.

        With acknowledgement after commit, what arrived but was not yet committed when the
        connection closed is written all the same; the broker redelivers it at the next
        start and the writer recognises it.

        Parameters
        ----------
        timeout
            Seconds to wait for the writer to finish.
        """
        if self._rx is not None:
            self._rx.stop(timeout)
        elif self._sub is not None:
            self._sub.stop()
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            self._c.connected = False
            self._c.since = clock.local_now()

    def status(self) -> IngestStatus:
        """Return a snapshot of the connection and counters (thread-safe)."""
        with self._lock:
            c = self._c
            return IngestStatus(
                broker=self.settings.describe(),
                connected=c.connected,
                since=c.since,
                received=c.received,
                inserted=c.inserted,
                duplicates=c.duplicates,
                quarantined=c.quarantined,
                queued=self._enqueued - self._processed,
                last_message_at=c.last_message_at,
                last_error=c.last_error,
            )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is empty and the last batch is written (for tests and tools).

        Parameters
        ----------
        timeout
            Seconds to wait.

        Returns
        -------
        bool
            ``True`` when idle before the timeout.
        """
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                done = self._processed >= self._enqueued
            # The sink may hold rows back (the alarm engine's reorder hold).
            held = self.sink.pending() if self.sink is not None else 0
            if done and self._idle.is_set() and not held:
                return True
            time.sleep(0.02)
        return False

    # ------------------------------------------------------------------ writer thread
    def _remember(self, keys: Iterable[str]) -> None:
        for k in keys:
            self._seen.add(k)
            self._seen_order.append(k)
        while len(self._seen_order) > self._dedup_size:
            self._seen.discard(self._seen_order.popleft())

    def _writer(self) -> None:
        cur = self._con.cursor()
        last_sink = 0.0
        last_devices = time.monotonic()
        stopping = False
        while not stopping:
            self._idle.set()
            try:
                item = self._queue.get(timeout=0.25)
            except queue.Empty:
                if self._stop.is_set():
                    break
                self._sink(cur)  # the sink's offline checks while nothing arrives
                last_sink = time.monotonic()
                continue
            self._idle.clear()
            batch: list[Message] = []
            acks: list[tuple[int, list[int]]] = []
            deadline = time.monotonic() + self.flush_s
            while True:
                if item is None:
                    stopping = True
                    break
                self._take(item, batch, acks)
                if len(batch) >= self.batch_size:
                    break
                try:
                    item = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
                except queue.Empty:
                    break
            if time.monotonic() - last_devices > 30:
                self._known = _devices(cur)
                last_devices = time.monotonic()
            if batch:
                self._write_safely(cur, batch, acks)
            now = time.monotonic()
            if batch and (now - last_sink >= self.sink_every_s or self._queue.empty()):
                self._sink(cur)
                last_sink = now
        batch, acks = [], []
        while True:  # anything paho delivered after the stop sentinel
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._take(item, batch, acks)
        if batch:
            self._write_safely(cur, batch, acks)
        self._sink(cur)
        self._idle.set()
        cur.close()

    @staticmethod
    def _take(
        item: tuple[int, list[Message]],
        batch: list[Message],
        acks: list[tuple[int, list[int]]],
    ) -> None:
        epoch, msgs = item
        batch.extend(msgs)
        mids = [m[2] for m in msgs]
        if acks and acks[-1][0] == epoch:
            acks[-1][1].extend(mids)
        else:
            acks.append((epoch, mids))

    def _write_safely(
        self,
        cur: duckdb.DuckDBPyConnection,
        batch: list[Message],
        acks: list[tuple[int, list[int]]],
    ) -> None:
        try:
            self._write(cur, batch)
        except Exception as exc:  # keep ingesting; the UI shows the error
            # Not acknowledged: after commit-acks the broker redelivers on reconnection.
            log.exception("telemetry batch of %d messages failed", len(batch))
            with self._lock:
                self._c.last_error = f"write failed: {exc}"
                self._processed += len(batch)
            return
        if self.ack_after_commit:
            for epoch, mids in acks:
                self._ack(epoch, mids)

    def _sink(self, cur: duckdb.DuckDBPyConnection) -> None:
        if self.sink is None:
            return
        frames, self._unsunk = self._unsunk, []
        rows = pd.concat(frames, ignore_index=True) if frames else _EMPTY_ROWS
        try:
            self.sink.on_commit(cur, rows)
        except Exception as exc:
            log.exception("the telemetry sink failed")
            with self._lock:
                self._c.last_error = f"alarm evaluation failed: {exc}"

    def _write(self, cur: duckdb.DuckDBPyConnection, batch: list[Message]) -> None:
        now = clock.local_now()
        # Strictly increasing per batch: the alarm engine reads rows newer than its watermark.
        received_at = max(now, self._last_received + timedelta(microseconds=1))
        self._last_received = received_at
        rows: list[tuple[Any, ...]] = []
        sources: list[tuple[str, bytes]] = []
        bad: list[tuple[Any, ...]] = []
        dups = 0
        keys: list[str] = []
        batch_keys: set[str] = set()
        seen = self._seen
        known = self._known
        parse = payload.parse_message
        for topic, body, _mid in batch:
            # Per-message isolation: whatever one message does costs that message only.
            try:
                row = parse(topic, body, known, now)
            except payload.RejectedError as exc:
                bad.append(quarantine_row(received_at, topic, body, str(exc)))
                continue
            except Exception as exc:  # a parser bug must not lose the batch
                log.warning("telemetry parser failed on a message", exc_info=True)
                reason = f"internal_error: {type(exc).__name__}: {exc}"
                bad.append(quarantine_row(received_at, topic, body, reason))
                continue
            key = dedup_key(row)
            if key in seen or key in batch_keys:
                dups += 1
                continue
            batch_keys.add(key)
            keys.append(key)
            rows.append((*row, received_at))
            sources.append((topic, body))
        try:
            df = self._commit(cur, rows, bad)
        except Exception:
            # The database refused the batch: find the rows it refuses, quarantine those and
            # store the rest (slow, but only when something slipped past the parser).
            log.warning("telemetry batch refused; screening its rows", exc_info=True)
            kept, kept_keys = [], []
            for row, key, (topic, body) in zip(rows, keys, sources, strict=True):
                problem = self._refused(cur, row)
                if problem is None:
                    kept.append(row)
                    kept_keys.append(key)
                else:
                    bad.append(quarantine_row(received_at, topic, body, problem))
            rows, keys = kept, kept_keys
            df = self._commit(cur, rows, bad)
        if df is not None and self.sink is not None:
            self._unsunk.append(df[SINK_COLUMNS])
        self._remember(keys)
        with self._lock:
            c = self._c
            c.received += len(batch)
            c.inserted += len(rows)
            c.duplicates += dups
            c.quarantined += len(bad)
            c.last_message_at = now
            self._processed += len(batch)
        if self.on_batch is not None:
            self.on_batch(len(rows))

    @staticmethod
    def _insert(cur: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> pd.DataFrame:
        df = pd.DataFrame(rows, columns=payload.TELEMETRY_COLUMNS)
        df["ts"] = df["ts"].astype("datetime64[us]")
        df["received_at"] = df["received_at"].astype("datetime64[us]")
        df["door_open"] = df["door_open"].astype("boolean")
        cur.register("_telemetry_batch", df)
        try:
            cur.execute(
                f"INSERT INTO telemetry ({', '.join(payload.TELEMETRY_COLUMNS)}) "
                f"SELECT {', '.join(payload.TELEMETRY_COLUMNS)} FROM _telemetry_batch"
            )
        finally:
            cur.unregister("_telemetry_batch")
        return df

    def _commit(
        self,
        cur: duckdb.DuckDBPyConnection,
        rows: list[tuple[Any, ...]],
        bad: list[tuple[Any, ...]],
    ) -> pd.DataFrame | None:
        df = None
        cur.execute("BEGIN TRANSACTION")
        try:
            if rows:
                df = self._insert(cur, rows)
            if bad:  # one statement: a flood of bad messages costs no more than good ones
                cols = ["received_at", "topic", "payload", "reason"]
                cur.register("_telemetry_bad", pd.DataFrame(bad, columns=cols))
                try:
                    cur.execute(
                        f"INSERT INTO telemetry_quarantine ({', '.join(cols)}) "
                        f"SELECT {', '.join(cols)} FROM _telemetry_bad"
                    )
                finally:
                    cur.unregister("_telemetry_bad")
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise
        return df

    def _refused(self, cur: duckdb.DuckDBPyConnection, row: tuple[Any, ...]) -> str | None:
        """Why the database refuses this one row (tried and rolled back), or ``None``."""
        cur.execute("BEGIN TRANSACTION")
        try:
            self._insert(cur, [row])
        except Exception as exc:
            return f"refused: {type(exc).__name__}: {exc}"
        finally:
            cur.execute("ROLLBACK")
        return None


def _devices(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Known devices and their warehouses (the topic's warehouse segment is checked)."""
    return dict(cur.execute("SELECT device_id, warehouse_id FROM devices").fetchall())


def dedup_key(row: tuple[Any, ...]) -> str:
    """Deduplication key of a parsed row: per device, by msg_id or else by timestamp.

    Parameters
    ----------
    row
        A row from :func:`connectors.mqtt.payload.parse_message`.

    Returns
    -------
    str
        ``device#msg_id``, or ``device@timestamp`` without a msg_id (also the lake's key).
    """
    device, ts, mid = row[0], row[1], row[8]
    return f"{device}#{mid}" if mid is not None else f"{device}@{ts:%Y-%m-%dT%H:%M:%S.%f}"


def quarantine_row(received_at: datetime, topic: str, body: bytes, reason: str) -> tuple[Any, ...]:
    """A telemetry_quarantine row; text is made storable whatever the message held.

    Parameters
    ----------
    received_at
        When the batch arrived.
    topic, body
        The message as received.
    reason
        Why it was rejected (``code: detail``).

    Returns
    -------
    tuple
        ``(received_at, topic, payload, reason)``, text cut to the column limits.
    """

    def clean(text: str, limit: int) -> str:
        return text[:limit].encode("utf-8", "replace").decode("utf-8")

    return (
        received_at,
        clean(topic, 1000),
        clean(body[:4000].decode("utf-8", "replace"), 4000),
        clean(reason, 500),
    )
