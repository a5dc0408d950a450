"""Telemetry ingestion that scales out: N ingesters share a subscription and write the lake.

``python -m connectors.mqtt.lake --lake DIR --id ingester-1 [--group linli] [--url URL]``

Each ingester subscribes to ``$share/<group>/linli/+/+/telemetry`` (MQTT 5, QoS 1) with a
persistent session under the client id ``linli-lake-<group>-<id>``, writes Parquet
micro-batches through :class:`connectors.mqtt.lakefiles.LakeWriter` and acknowledges a
message only after the file holding it was renamed into place.

What Mosquitto 2.0 does when a member dies (measured, see docs/scale.md (Telemetry ingestion at scale)): it does
not hand the member's unacknowledged messages to the other members. With a clean session they
are dropped; with a persistent session they stay in the dead member's session, together with
its round-robin share of every message published until the session expires, and that share
is dropped once the session holds more than ``max_queued_messages`` (1,000 by default,
counting what was in flight). So the members watch each other: each announces itself with a
retained ``up`` on ``linli-lake/<group>/members/<id>`` from a small control connection whose
Last Will is a retained ``down``. When a member dies, the broker publishes its will and the
next live member in id order adopts the dead session: it connects with the dead member's
client id, unsubscribes the shared filter (new messages go to the live members only),
writes and acknowledges what the session held, and closes it with a session expiry of 0.
A member that stops on SIGTERM releases its own session the same way, so nothing waits for
it. Micro-batches are written every 50 ms so what a member holds unacknowledged, and so
what its dead session holds when adoption starts, stays under the broker's queue limit.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import queue
import signal
import sys
import threading
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pandas as pd
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from connectors.mqtt.client import Message, Subscription, resolve_protocol
from connectors.mqtt.lakefiles import LakeWriter, check_lake
from connectors.mqtt.settings import RECEIVE_MAXIMUM, TOPIC_FILTER, MqttSettings

log = logging.getLogger(__name__)

# Micro-batches are small and frequent: what a member holds unacknowledged when it dies stays
# well under Mosquitto's default max_queued_messages (1,000), which also bounds what the dead
# session can take of the stream until it is adopted.
BATCH_SIZE = 2000
FLUSH_S = 0.05


def adopter(alive: Collection[str], dead: str) -> str | None:
    """The live member that adopts ``dead``'s session: the next id after it, wrapping around.

    Every member sees the same retained presence, so all agree on one adopter without
    talking to each other.

    Parameters
    ----------
    alive
        Ids of the members whose presence is ``up``.
    dead
        The dead member's id.

    Returns
    -------
    str or None
        The adopter's id; ``None`` when no member is alive.
    """
    ids = sorted(alive)
    if not ids:
        return None
    return next((m for m in ids if m > dead), ids[0])


@dataclass
class LakeCounters:
    """What an ingester did so far."""

    received: int = 0
    written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    files: int = 0
    adopted: int = 0  # dead members' sessions taken over
    adopted_messages: int = 0  # messages those sessions still held


class _Source:
    """One session the writer acknowledges through: the member's own or an adopted one."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sub: Subscription | None = None
        self.enqueued = 0
        self.done = 0
        self.last_arrival = time.monotonic()
        self.events: list[tuple[str, str | None]] = []
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker's SUBACK: messages now reach us

    def drained(self, quiet_s: float) -> bool:
        return self.done >= self.enqueued and time.monotonic() - self.last_arrival >= quiet_s


class LakeIngester:
    """One member of a shared subscription that writes telemetry into the lake.

    Parameters
    ----------
    lake
        The lake's root directory.
    ingester_id
        This member's id (letters, digits, ``_``, ``-``); unique within the group.
    settings
        Broker settings; ``None`` parses ``LINLI_MQTT_URL``. The broker must speak MQTT 5.
    group
        The shared subscription's group name.
    prefix
        First topic level of telemetry (``linli``).
    batch_size
        Most messages per micro-batch.
    flush_s
        Longest wait before a partial micro-batch is written.
    receive_maximum
        MQTT 5 Receive Maximum: unacknowledged messages the broker may send this member.
        Large (65,535) so a member that falls behind holds its backlog itself (Mosquitto
        2.0 still drops once a member is ~24,000 behind; see docs/scale.md (Telemetry ingestion at scale)).
    session_expiry_s
        How long the broker keeps the session of a member that vanished unadopted.
    known_devices
        Devices accepted (see :func:`connectors.mqtt.payload.parse_message`); ``None``: any.
    dedup_window_s
        Keys of lake files modified this long ago or later are loaded at start.
    quiet_s
        A session being released is closed once nothing arrived for this long.
    """

    def __init__(
        self,
        lake: str | Path,
        ingester_id: str,
        settings: MqttSettings | None = None,
        group: str = "linli",
        *,
        prefix: str = "linli",
        batch_size: int = BATCH_SIZE,
        flush_s: float = FLUSH_S,
        receive_maximum: int = RECEIVE_MAXIMUM,
        session_expiry_s: int = 86400,
        known_devices: Mapping[str, object] | Collection[str] | None = None,
        dedup_window_s: float = 7200.0,
        quiet_s: float = 0.5,
    ) -> None:
        for name, value in (("group", group), ("prefix", prefix)):
            if not value or not all(c.isalnum() or c in "_-" for c in value):
                raise ValueError(f"{name} {value!r}: use letters, digits, '_' and '-'.")
        self.writer = LakeWriter(lake, ingester_id, known_devices)
        self.id = ingester_id
        self.group = group
        self.prefix = prefix
        base = settings or MqttSettings.from_url()
        self.settings = replace(
            base,
            client_id=self.client_id(ingester_id),
            topic=f"$share/{group}/{prefix}/{TOPIC_FILTER.split('/', 1)[1]}",
            qos=1,
            receive_maximum=receive_maximum,
            session_expiry_s=session_expiry_s,
        )
        self.batch_size = batch_size
        self.flush_s = flush_s
        self.dedup_window_s = dedup_window_s
        self.quiet_s = quiet_s
        self.counters = LakeCounters()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._members: dict[str, str] = {}
        self._adopting: set[str] = set()
        self._adoptions: list[threading.Thread] = []
        self._own = _Source(ingester_id)
        self._writer_thread: threading.Thread | None = None
        self._ctl: paho.Client | None = None
        self._started = time.time()
        self._stopping = False

    def client_id(self, member: str) -> str:
        """The MQTT client id of ``member``'s session."""
        return f"linli-lake-{self.group}-{member}"

    def _presence(self, member: str) -> str:
        return f"linli-lake/{self.group}/members/{member}"

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 10.0) -> LakeIngester:
        """Load recent keys, start the writer, join the group and connect.

        Parameters
        ----------
        timeout
            Seconds to wait for the connection.

        Returns
        -------
        LakeIngester
            ``self``, subscribed.

        Raises
        ------
        ValueError
            When the broker does not speak MQTT 5 (shared subscriptions and per-message
            acknowledgement after the write need it).
        TimeoutError
            When the broker does not accept the connection and subscription in time.
        """
        self.settings = resolve_protocol(self.settings)
        if self.settings.protocol != 5:
            raise ValueError(
                f"The broker at {self.settings.describe()} does not speak MQTT 5; the lake "
                "ingester needs MQTT 5 shared subscriptions."
            )
        self.writer.load_keys(self.dedup_window_s)
        # A daemon, so an error on the way out cannot leave the process hanging; stop() joins it.
        self._writer_thread = threading.Thread(
            target=self._write_loop, name="lake-writer", daemon=True
        )
        self._writer_thread.start()
        self._own.sub = self._subscribe(self._own, self.settings)
        # Ready once subscribed: what is published before the SUBACK reaches no member.
        if not self._own.subscribed.wait(timeout):
            self.stop(timeout=1.0)
            why = "; ".join(d for _, d in self._own.events if d) or "no answer"
            raise TimeoutError(
                f"no subscription at {self.settings.describe()} in {timeout} s ({why})"
            )
        self._start_control()
        return self

    def _subscribe(self, source: _Source, settings: MqttSettings) -> Subscription:
        def on_messages(epoch: int, msgs: list[Message]) -> None:
            with self._lock:
                source.enqueued += len(msgs)
                source.last_arrival = time.monotonic()
            self._queue.put((source, epoch, msgs))

        def on_event(kind: str, detail: str | None) -> None:
            source.events.append((kind, detail))
            if kind == "connected":
                source.connected.set()
            elif kind == "disconnected":
                source.connected.clear()

        def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
            if all(not rc.is_failure for rc in reason_codes):
                source.subscribed.set()
            else:
                source.events.append(("error", f"subscription refused: {reason_codes}"))

        sub = Subscription(settings, on_messages, on_event, manual_ack=True)
        sub.client.on_subscribe = on_subscribe
        sub.start()
        return sub

    def _start_control(self) -> None:
        ctl = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"linli-lake-ctl-{self.group}-{self.id}-{uuid.uuid4().hex[:6]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        if self.settings.username:
            ctl.username_pw_set(self.settings.username, self.settings.password)
        if self.settings.tls:
            ctl.tls_set(ca_certs=self.settings.ca_file)
            ctl.tls_insecure_set(self.settings.tls_insecure)
        ctl.will_set(self._presence(self.id), b"down", qos=1, retain=True)

        def on_connect(c, u, flags, reason_code, properties) -> None:
            if reason_code.is_failure:
                log.error("control connection refused: %s", reason_code)
                return
            c.publish(self._presence(self.id), b"up", qos=1, retain=True)
            c.subscribe(f"linli-lake/{self.group}/members/+", qos=1)

        ctl.on_connect = on_connect
        ctl.on_message = self._on_presence
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        ctl.connect_async(
            self.settings.host,
            self.settings.port,
            self.settings.keepalive_s,
            clean_start=True,
            properties=props,
        )
        ctl.loop_start()
        self._ctl = ctl

    def _on_presence(self, client, userdata, msg: paho.MQTTMessage) -> None:
        member = msg.topic.rsplit("/", 1)[-1]
        state = bytes(msg.payload).decode("utf-8", "replace")
        with self._lock:
            if state:
                self._members[member] = state
            else:
                self._members.pop(member, None)
            self._members[self.id] = "up"
            alive = [m for m, s in self._members.items() if s == "up"]
            dead = [m for m, s in self._members.items() if s == "down" and m != self.id]
            mine = [
                d
                for d in dead
                if d not in self._adopting and not self._stopping and adopter(alive, d) == self.id
            ]
            self._adopting.update(mine)
        for member in mine:
            t = threading.Thread(target=self._adopt, args=(member,), name=f"adopt-{member}")
            self._adoptions.append(t)
            t.start()

    def _adopt(self, member: str) -> None:
        """Take over a dead member's session: drain it, then close it."""
        log.info("%s adopts the session of %s", self.id, member)
        self._queue.put(("reload", time.time() - self._started + self.dedup_window_s))
        source = _Source(member)
        source.sub = self._subscribe(
            source, replace(self.settings, client_id=self.client_id(member))
        )
        if source.connected.wait(10.0):
            self._release(source)
            with self._lock:
                self.counters.adopted += 1
                self.counters.adopted_messages += source.enqueued
            log.info(
                "%s released the session of %s (%d messages)", self.id, member, source.enqueued
            )
            if self._ctl is not None:  # the member is gone for good: no one adopts it again
                self._ctl.publish(self._presence(member), b"", qos=1, retain=True)
        else:
            source.sub.stop()
        with self._lock:
            self._adopting.discard(member)

    def _release(self, source: _Source, timeout: float = 30.0) -> None:
        """Leave the group with ``source``'s session, write and acknowledge it, then close it."""
        sub = source.sub
        assert sub is not None
        sub.client.unsubscribe(self.settings.topic)
        with self._lock:
            source.last_arrival = time.monotonic()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                done = source.drained(self.quiet_s)
            taken = any(d and "taken over" in d.lower() for _, d in source.events)
            if done or taken:
                break
            time.sleep(0.05)
        props = Properties(PacketTypes.DISCONNECT)
        props.SessionExpiryInterval = 0  # the session and its subscription end here
        sub.client.disconnect(properties=props)
        sub.client.loop_stop()

    def stop(self, timeout: float = 30.0) -> None:
        """Leave the group cleanly: release the session, write and acknowledge everything.

        Parameters
        ----------
        timeout
            Seconds to wait for the session to drain.
        """
        with self._lock:
            self._stopping = True
        if self._ctl is not None:
            info = self._ctl.publish(self._presence(self.id), b"", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):  # not connected: will says down
                info.wait_for_publish(2)
            self._ctl.disconnect()
            self._ctl.loop_stop()
        for t in self._adoptions:  # an adopted session is written and closed first
            t.join(timeout)
        if self._own.sub is not None and self._own.connected.is_set():
            self._release(self._own, timeout)
        elif self._own.sub is not None:
            self._own.sub.stop()
        self._queue.put(None)
        if self._writer_thread is not None:
            self._writer_thread.join(timeout)

    # ------------------------------------------------------------------ writer
    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch: list[Message] = []
            acks: list[tuple[_Source, int, list[int]]] = []
            deadline = time.monotonic() + self.flush_s
            stop = False
            while True:
                if item is None:
                    stop = True
                    break
                if item[0] == "reload":
                    self.writer.load_keys(item[1])
                else:
                    source, epoch, msgs = item
                    batch.extend(msgs)
                    acks.append((source, epoch, [m[2] for m in msgs]))
                if len(batch) >= self.batch_size:
                    break
                try:
                    item = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
                except queue.Empty:
                    break
            if batch:
                self._write(batch, acks)
            if stop:
                return

    def _write(self, batch: list[Message], acks: list[tuple[_Source, int, list[int]]]) -> None:
        while True:
            try:
                result = self.writer.write(batch)
                break
            except Exception:  # disk full, permissions: keep the messages, retry
                log.exception("lake write of %d messages failed; retrying", len(batch))
                time.sleep(1.0)
        for source, epoch, mids in acks:
            if source.sub is not None:
                source.sub.ack(epoch, mids)
        with self._lock:
            c = self.counters
            c.received += len(batch)
            c.written += result.written
            c.duplicates += result.duplicates
            c.quarantined += result.quarantined
            c.files += len(result.files)
            for source, _, mids in acks:
                source.done += len(mids)


def _devices(path: str | None) -> dict[str, object] | None:
    if path is None:
        return None
    p = Path(path)
    df = pd.read_json(p) if p.suffix == ".json" else pd.read_csv(p)
    if not {"device_id", "warehouse_id"} <= set(df.columns):
        raise ValueError(f"{path}: the device list needs device_id and warehouse_id columns")
    return dict(zip(df["device_id"].astype(str), df["warehouse_id"], strict=True))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ingest into the lake until SIGTERM/SIGINT; returns the exit code."""
    p = argparse.ArgumentParser(
        prog="python -m connectors.mqtt.lake",
        description="Linli telemetry ingester into the Parquet lake (MQTT 5 shared subscription).",
    )
    p.add_argument("--lake", required=True, help="lake root directory")
    p.add_argument("--id", required=True, help="this ingester's id, unique in the group")
    p.add_argument("--group", default="linli", help="shared subscription group (linli)")
    p.add_argument("--prefix", default="linli", help="first topic level (linli)")
    p.add_argument("--url", default=None, help="broker URL (default LINLI_MQTT_URL)")
    p.add_argument("--devices", default=None, help="CSV/JSON of device_id, warehouse_id")
    p.add_argument("--session-expiry", type=int, default=86400, help="seconds (86400)")
    p.add_argument("--receive-maximum", type=int, default=RECEIVE_MAXIMUM)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        check_lake(args.lake)
        ing = LakeIngester(
            args.lake,
            args.id,
            MqttSettings.from_url(args.url),
            args.group,
            prefix=args.prefix,
            known_devices=_devices(args.devices),
            session_expiry_s=args.session_expiry,
            receive_maximum=args.receive_maximum,
        )
        ing.start()
    except (ValueError, TimeoutError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"ingesting {ing.settings.topic} into {ing.writer.lake} as {ing.id}", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        ing.stop()
    c = ing.counters
    print(
        f"stopped: {c.written} rows written, {c.duplicates} redeliveries dropped, "
        f"{c.quarantined} quarantined, {c.files} files, {c.adopted} sessions adopted "
        f"({c.adopted_messages} messages)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
