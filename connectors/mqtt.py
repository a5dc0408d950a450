"""MQTT telemetry: settings from ``LINLI_MQTT_URL``, the ingester and a publisher.

The ingester subscribes to ``linli/<warehouse>/<device>/telemetry`` at QoS 1 with a
persistent session (fixed client id, no clean start; MQTT 5 with a session expiry), so a
broker that keeps sessions queues what is published while the app is away. The network
side is a paho client (:class:`StreamClient`) that reads the socket in large chunks and
hands each chunk's messages to one writer thread as a list; the writer validates,
deduplicates, writes batches into DuckDB through its own cursor (the app's single writer)
and then calls an ``evaluate`` hook (the alarm engine, wired by
:func:`engine.telemetry_db.live_ingester`).

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

import json
import logging
import os
import queue
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb
import paho.mqtt.client as paho
import pandas as pd
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from connectors import telemetry_payload
from connectors.mqtt_stream import StreamClient

log = logging.getLogger(__name__)

DEFAULT_URL = "mqtt://127.0.0.1:1883"
TOPIC_FILTER = "linli/+/+/telemetry"
AUTO = 0  # MqttSettings.protocol: MQTT 5 when the broker accepts it, else 3.1.1
RECEIVE_MAXIMUM = 65535  # the most unacknowledged QoS 1 messages MQTT 5 lets a client allow


@dataclass(frozen=True)
class MqttSettings:
    """Where and how to connect; build it with :meth:`from_url`.

    ``protocol`` is 5, 4 (MQTT 3.1.1, what amqtt speaks) or :data:`AUTO` (0, the default:
    :func:`resolve_protocol` tries MQTT 5 once and falls back to 3.1.1).
    ``session_expiry_s`` is sent as the MQTT 5 SessionExpiryInterval; with 3.1.1 the broker
    decides how long it keeps the session. ``receive_maximum`` is the MQTT 5 Receive Maximum
    the ingester announces (how many unacknowledged messages the broker may send it).
    """

    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = None
    client_id: str = "linli-ingest"
    topic: str = TOPIC_FILTER
    qos: int = 1
    protocol: int = AUTO
    session_expiry_s: int = 7 * 86400
    receive_maximum: int = RECEIVE_MAXIMUM
    keepalive_s: int = 30
    ca_file: str | None = None
    tls_insecure: bool = False

    @classmethod
    def from_url(cls, url: str | None = None, **overrides: Any) -> MqttSettings:
        """Parse ``mqtt[s]://[user[:password]@]host[:port][/?client_id=..&protocol=5&ca=..]``.

        ``protocol`` is ``5``, ``3.1.1`` (or ``4``) or ``auto`` (the default).

        Parameters
        ----------
        url
            The broker URL; ``None`` reads ``LINLI_MQTT_URL`` (default ``mqtt://127.0.0.1:1883``).
        **overrides
            Fields that replace what the URL says (for example ``client_id``).

        Returns
        -------
        MqttSettings
            The parsed settings.

        Raises
        ------
        ValueError
            For another scheme, a missing host or a bad query value.
        """
        url = url or os.environ.get("LINLI_MQTT_URL") or DEFAULT_URL
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(
                f"Unsupported MQTT URL scheme {parts.scheme!r}; use mqtt:// or mqtts://"
            )
        if not parts.hostname:
            raise ValueError(f"The MQTT URL {url!r} names no host.")
        tls = parts.scheme == "mqtts"
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        values: dict[str, Any] = {
            "host": parts.hostname,
            "port": parts.port or (8883 if tls else 1883),
            "tls": tls,
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
        }
        if "client_id" in q:
            values["client_id"] = q["client_id"]
        if "protocol" in q:
            if q["protocol"] not in ("4", "5", "3.1.1", "auto"):
                raise ValueError("protocol must be 5, 3.1.1 (4) or auto.")
            values["protocol"] = {"5": 5, "auto": AUTO}.get(q["protocol"], 4)
        if "ca" in q:
            values["ca_file"] = q["ca"]
        if q.get("insecure") in ("1", "true"):
            values["tls_insecure"] = True
        values.update(overrides)
        return cls(**values)

    def describe(self) -> str:
        """Return ``scheme://host:port`` without credentials (for logs and the UI)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def make_client(
    settings: MqttSettings,
    client_id: str,
    clean: bool = False,
    *,
    manual_ack: bool = False,
) -> StreamClient:
    """Create a paho client (a :class:`StreamClient`, VERSION2 callbacks) for ``settings``.

    Parameters
    ----------
    settings
        Broker settings; ``protocol`` must be resolved (4 or 5, see :func:`resolve_protocol`).
    client_id
        The MQTT client id (fixed for a persistent session).
    clean
        Start a clean session instead of resuming one.
    manual_ack
        Leave acknowledging to the caller (:meth:`StreamClient.ack_batch`).

    Returns
    -------
    StreamClient
        Not yet connected.

    Raises
    ------
    ValueError
        When the protocol is still :data:`AUTO`.
    """
    if settings.protocol not in (4, 5):
        raise ValueError("Resolve the MQTT protocol first (resolve_protocol).")
    v5 = settings.protocol == 5
    kwargs: dict[str, Any] = {
        "callback_api_version": CallbackAPIVersion.VERSION2,
        "client_id": client_id,
        "protocol": MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        "manual_ack": manual_ack,
    }
    if not v5:
        kwargs["clean_session"] = clean
    client = StreamClient(**kwargs)
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls:
        client.tls_set(ca_certs=settings.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        client.tls_insecure_set(settings.tls_insecure)
    client.reconnect_delay_set(min_delay=1, max_delay=8)
    return client


def _connect_async(
    client: paho.Client, settings: MqttSettings, clean: bool = False, receive_max: bool = False
) -> None:
    if settings.protocol == 5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean else int(settings.session_expiry_s)
        if receive_max:  # the ingester: let the broker keep many messages in flight
            props.ReceiveMaximum = int(settings.receive_maximum)
        client.connect_async(
            settings.host, settings.port, settings.keepalive_s, clean_start=clean, properties=props
        )
    else:
        client.connect_async(settings.host, settings.port, settings.keepalive_s)


def resolve_protocol(settings: MqttSettings, timeout: float = 3.0) -> MqttSettings:
    """Settle :data:`AUTO` on MQTT 5 or 3.1.1 by connecting once with MQTT 5.

    The probe uses a throw-away client id and a clean session that expires on disconnect.
    A broker that accepts it speaks MQTT 5; one that refuses the protocol version, or does
    not answer within ``timeout`` (amqtt 0.12 stays silent), gets 3.1.1. When the broker
    cannot be reached, MQTT 5 is assumed (Mosquitto ≥ 1.6, EMQX, HiveMQ, VerneMQ speak it;
    name ``protocol=3.1.1`` in the URL for an older broker).

    Parameters
    ----------
    settings
        Settings whose ``protocol`` may be :data:`AUTO`.
    timeout
        Seconds to wait for the broker's answer.

    Returns
    -------
    MqttSettings
        ``settings`` with ``protocol`` 4 or 5.
    """
    if settings.protocol in (4, 5):
        return settings
    v5 = replace(settings, protocol=5)
    client = make_client(v5, f"linli-probe-{uuid.uuid4().hex[:12]}", clean=True)
    answer: list[Any] = []
    done = threading.Event()

    def on_connect(c, u, flags, reason_code, properties) -> None:
        answer.append(reason_code)
        done.set()

    client.on_connect = on_connect
    client.on_disconnect = lambda *a: done.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    try:
        client.connect(
            settings.host, settings.port, settings.keepalive_s, clean_start=True, properties=props
        )
    except (OSError, ssl.SSLError) as exc:
        log.info("MQTT broker %s unreachable (%s): assuming MQTT 5", settings.describe(), exc)
        return v5
    client.loop_start()
    done.wait(timeout)
    client.disconnect()
    client.loop_stop()
    if answer and not (answer[0].is_failure and answer[0].value in (0x01, 0x84)):
        return v5  # accepted, or refused for another reason the real connection will report
    log.info("MQTT broker %s does not speak MQTT 5: using 3.1.1", settings.describe())
    return replace(settings, protocol=4)


def purge_session(settings: MqttSettings, timeout: float = 5.0) -> bool:
    """Remove the broker's persistent session of ``settings.client_id`` (tools and tests).

    Connects once with a clean session (MQTT 5: expiring on disconnect) and disconnects.

    Parameters
    ----------
    settings
        Settings naming the client id.
    timeout
        Seconds to wait for the broker.

    Returns
    -------
    bool
        ``True`` when the broker accepted the connection.
    """
    settings = resolve_protocol(settings, timeout)
    client = make_client(settings, settings.client_id, clean=True)
    done = threading.Event()
    ok: list[bool] = []

    def on_connect(c, u, flags, reason_code, properties) -> None:
        ok.append(not reason_code.is_failure)
        done.set()

    client.on_connect = on_connect
    _connect_async(client, settings, clean=True)
    client.loop_start()
    done.wait(timeout)
    client.disconnect()
    client.loop_stop()
    return bool(ok and ok[0])


# ---------------------------------------------------------------------- ingester
EVALUATE_COLUMNS = ["device_id", "ts", "temp_c", "door_open", "battery", "received_at"]
_EMPTY_ROWS = pd.DataFrame({c: [] for c in EVALUATE_COLUMNS})


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
    since: datetime | None = field(default_factory=lambda: telemetry_payload.local_now())


class Ingester:
    """Subscribe to telemetry and write it into DuckDB from one background thread.

    Parameters
    ----------
    con
        The app's connection; the writer thread takes its own cursor.
    settings
        Broker settings; ``None`` parses ``LINLI_MQTT_URL``. An :data:`AUTO` protocol is
        resolved when the ingester starts.
    batch_size
        Most rows per insert.
    flush_s
        Longest wait before a partial batch is written.
    evaluate
        Called from the writer thread with the rows inserted since its last call (columns
        :data:`EVALUATE_COLUMNS`; empty while nothing arrives, about every second) — the
        alarm engine's hook, at most every ``evaluate_every_s`` while messages stream in.
    evaluate_every_s
        Least time between ``evaluate`` calls under load.
    dedup_size
        How many recent message keys are remembered to drop QoS 1 redeliveries.
    receiver
        ``thread`` (paho in this process) or ``process`` (paho in a child process, see
        :mod:`connectors.mqtt_receiver`; more throughput on a multi-core machine).
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
        evaluate: Callable[[pd.DataFrame], object] | None = None,
        evaluate_every_s: float = 0.5,
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
        self.evaluate_every_s = evaluate_every_s
        self.evaluate = evaluate
        # Items: (epoch, [(topic, payload, mid), ...]) per network read, or None to stop.
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._c = _Counters()
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._dedup_size = dedup_size
        self._known: set[str] = set()
        self._last_received = datetime.min
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._enqueued = 0
        self._unevaluated: list[pd.DataFrame] = []
        self._processed = 0
        self._burst: list[tuple[str, bytes, int]] = []
        self.acks_skipped = 0  # acknowledgements dropped because the connection changed
        self.on_batch: Callable[[int], None] | None = None
        self._rx: Any = None
        self.client: StreamClient | None = None

    # ------------------------------------------------------------------ paho callbacks
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            with self._lock:
                self._c.last_error = f"connect refused: {reason_code}"
            return
        # Subscribe on every connect: a broker that lost our session has no subscription.
        client.subscribe(self.settings.topic, qos=self.settings.qos)
        with self._lock:
            self._c.connected = True
            self._c.since = telemetry_payload.local_now()
            self._c.last_error = None
        log.info(
            "MQTT connected to %s (MQTT %s, session present: %s)",
            self.settings.describe(),
            "5" if self.settings.protocol == 5 else "3.1.1",
            flags.session_present,
        )

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            if self._c.connected:
                self._c.since = telemetry_payload.local_now()
            self._c.connected = False
            if reason_code.is_failure:
                self._c.last_error = f"disconnected: {reason_code}"

    def _on_raw_message(self, topic: str, payload: bytes, mid: int) -> None:
        self._burst.append((topic, payload, mid))

    def _on_burst(self) -> None:
        """End of one network read (paho's thread): hand its messages over as one item."""
        if self._burst:
            burst, self._burst = self._burst, []
            assert self.client is not None
            self._on_batch(self.client.epoch, burst)

    def _on_batch(self, epoch: int, batch: list[tuple[str, bytes, int]]) -> None:
        with self._lock:
            self._enqueued += len(batch)
        self._queue.put((epoch, batch))  # one queue item per read: far cheaper than per message

    def _on_event(self, kind: str, detail: str | None) -> None:
        with self._lock:
            if kind == "connected":
                self._c.connected = True
                self._c.since = telemetry_payload.local_now()
                self._c.last_error = None
            elif kind == "disconnected":
                if self._c.connected:
                    self._c.since = telemetry_payload.local_now()
                self._c.connected = False
                self._c.last_error = detail or self._c.last_error
            else:
                self._c.last_error = detail

    def _ack(self, epoch: int, mids: list[int]) -> None:
        if self._rx is not None:
            self._rx.ack(epoch, mids)
        elif self.client is not None and not self.client.ack_batch(epoch, mids):
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
        self._known = {r[0] for r in cur.execute("SELECT device_id FROM devices").fetchall()}
        recent = cur.execute(
            "SELECT coalesce(msg_id, device_id || '@' || strftime(ts, '%Y-%m-%dT%H:%M:%S.%f')) "
            "FROM telemetry WHERE received_at > ? ORDER BY received_at DESC LIMIT ?",
            [telemetry_payload.local_now() - timedelta(hours=2), self._dedup_size],
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
            from connectors import mqtt_receiver  # imports this module: import late

            self._rx = mqtt_receiver.ProcessReceiver(
                self.settings, self._on_batch, self._on_event, manual_ack=self.ack_after_commit
            )
            self._rx.start()
        else:
            client = make_client(
                self.settings,
                self.settings.client_id,
                manual_ack=self.ack_after_commit,
            )
            client.on_connect = self._on_connect
            client.on_disconnect = self._on_disconnect
            client.on_raw_message = self._on_raw_message
            client.on_burst = self._on_burst
            self.client = client
            _connect_async(client, self.settings, receive_max=True)
            client.loop_start()
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
        elif self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            self._c.connected = False
            self._c.since = telemetry_payload.local_now()

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
            # The evaluate hook may hold rows back (the alarm engine's reorder hold).
            held = getattr(self, "evaluate_pending", lambda: 0)()
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
        last_alarm = 0.0
        last_devices = time.monotonic()
        stopping = False
        while not stopping:
            self._idle.set()
            try:
                item = self._queue.get(timeout=0.25)
            except queue.Empty:
                if self._stop.is_set():
                    break
                self._evaluate()  # offline checks while nothing arrives
                last_alarm = time.monotonic()
                continue
            self._idle.clear()
            batch: list[tuple[str, bytes, int]] = []
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
                self._known = {
                    r[0] for r in cur.execute("SELECT device_id FROM devices").fetchall()
                }
                last_devices = time.monotonic()
            if batch:
                self._write_safely(cur, batch, acks)
            now = time.monotonic()
            if batch and (now - last_alarm >= self.evaluate_every_s or self._queue.empty()):
                self._evaluate()
                last_alarm = now
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
        self._evaluate()
        self._idle.set()
        cur.close()

    @staticmethod
    def _take(
        item: tuple[int, list[tuple[str, bytes, int]]],
        batch: list[tuple[str, bytes, int]],
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
        batch: list[tuple[str, bytes, int]],
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

    def _evaluate(self) -> None:
        if self.evaluate is None:
            return
        frames, self._unevaluated = self._unevaluated, []
        rows = pd.concat(frames, ignore_index=True) if frames else None
        try:
            self.evaluate(rows if rows is not None else _EMPTY_ROWS)
        except Exception as exc:
            log.exception("alarm evaluation failed")
            with self._lock:
                self._c.last_error = f"alarm evaluation failed: {exc}"

    def _write(self, cur: duckdb.DuckDBPyConnection, batch: list[tuple[str, bytes, int]]) -> None:
        now = telemetry_payload.local_now()
        # Strictly increasing per batch: the alarm engine reads rows newer than its watermark.
        received_at = max(now, self._last_received + timedelta(microseconds=1))
        self._last_received = received_at
        rows: list[tuple[Any, ...]] = []
        bad: list[tuple[Any, ...]] = []
        dups = 0
        keys: list[str] = []
        batch_keys: set[str] = set()
        seen = self._seen
        known = self._known
        parse = telemetry_payload.parse_message
        for topic, payload, _mid in batch:
            try:
                row = parse(topic, payload, known, now)
            except telemetry_payload.RejectedError as exc:
                bad.append(
                    (received_at, topic, payload.decode("utf-8", "replace")[:4000], str(exc))
                )
                continue
            key = row[8] or f"{row[0]}@{row[1]:%Y-%m-%dT%H:%M:%S.%f}"  # as in start()
            if key in seen or key in batch_keys:
                dups += 1
                continue
            batch_keys.add(key)
            keys.append(key)
            rows.append((*row, received_at))
        cur.execute("BEGIN TRANSACTION")
        try:
            if rows:
                df = pd.DataFrame(rows, columns=telemetry_payload.TELEMETRY_COLUMNS)
                df["ts"] = df["ts"].astype("datetime64[us]")
                df["received_at"] = df["received_at"].astype("datetime64[us]")
                df["door_open"] = df["door_open"].astype("boolean")
                cur.register("_telemetry_batch", df)
                cur.execute(
                    f"INSERT INTO telemetry ({', '.join(telemetry_payload.TELEMETRY_COLUMNS)}) "
                    f"SELECT {', '.join(telemetry_payload.TELEMETRY_COLUMNS)} FROM _telemetry_batch"
                )
                cur.unregister("_telemetry_batch")
            if bad:
                cur.executemany(
                    "INSERT INTO telemetry_quarantine (received_at, topic, payload, reason) "
                    "VALUES (?, ?, ?, ?)",
                    bad,
                )
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise
        if rows and self.evaluate is not None:
            self._unevaluated.append(df[EVALUATE_COLUMNS])
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


# ---------------------------------------------------------------------- publisher
class Publisher:
    """Publish readings at QoS 1; messages published while disconnected are sent on reconnect.

    Parameters
    ----------
    settings
        Broker settings; ``None`` parses ``LINLI_MQTT_URL``.
    client_id
        MQTT client id; a random one by default.
    prefix
        First topic level (``linli``).
    """

    def __init__(
        self,
        settings: MqttSettings | None = None,
        client_id: str | None = None,
        prefix: str = "linli",
    ) -> None:
        self.settings = resolve_protocol(settings or MqttSettings.from_url())
        self.prefix = prefix
        self._id_prefix = uuid.uuid4().hex[:16]
        self._sent = 0
        self.client = make_client(
            self.settings, client_id or f"linli-pub-{uuid.uuid4().hex[:10]}", clean=False
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)  # unlimited: nothing is dropped while offline
        self.connected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: (
            None if rc.is_failure else self.connected.set()
        )
        self.client.on_disconnect = lambda c, u, f, rc, p: self.connected.clear()
        _connect_async(self.client, self.settings)
        self.client.loop_start()

    def topic(self, warehouse: str | int, device_id: str) -> str:
        """Return the telemetry topic of a device."""
        return f"{self.prefix}/{warehouse}/{device_id}/telemetry"

    def publish(
        self, warehouse: str | int, reading: dict[str, Any], qos: int = 1
    ) -> paho.MQTTMessageInfo:
        """Publish one reading (a dict with at least ``device_id``, ``ts``, ``temp_c``).

        A ``msg_id`` (this publisher's random prefix and a counter) is added when missing
        so redeliveries can be recognised; a
        ``datetime`` ``ts`` is sent as ISO 8601.

        Parameters
        ----------
        warehouse
            The warehouse segment of the topic.
        reading
            The payload fields.
        qos
            MQTT quality of service.

        Returns
        -------
        paho.mqtt.client.MQTTMessageInfo
            Use ``wait_for_publish()`` to wait for the broker's acknowledgement.
        """
        body = dict(reading)
        if body.get("msg_id") is None:
            # A random per-publisher prefix and a counter: unique without a urandom call per
            # message (uuid4 took ~50 µs here, more than the rest of publish()).
            self._sent += 1
            body["msg_id"] = f"{self._id_prefix}-{self._sent}"
        if isinstance(body.get("ts"), datetime):
            body["ts"] = body["ts"].isoformat()
        return self.publish_raw(self.topic(warehouse, body["device_id"]), json.dumps(body), qos)

    def publish_raw(self, topic: str, payload: str | bytes, qos: int = 1) -> paho.MQTTMessageInfo:
        """Publish an arbitrary payload (tests use it for malformed messages)."""
        return self.client.publish(topic, payload, qos=qos)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait for the connection; ``True`` when connected."""
        return self.connected.wait(timeout)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the broker acknowledged every queued QoS 1 message.

        Parameters
        ----------
        timeout
            Seconds to wait.

        Returns
        -------
        bool
            ``True`` when nothing is left unacknowledged.
        """
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.client._out_messages:  # paho keeps unacknowledged QoS>0 here
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
