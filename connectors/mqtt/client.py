"""paho clients for Linli: creation, connection, protocol probe, and a receiving subscription.

:func:`make_client` builds the stock paho-mqtt 2.x client, or with ``client="stream"`` in
the settings the faster :class:`connectors.mqtt.stream.StreamClient` (which overrides paho
internals; see docs/coldchain.md). :class:`Subscription` hides the difference from the
ingester and the child-process receiver: both get messages as lists of ``(topic, payload,
packet id)`` tagged with the connection's epoch, and acknowledge them in batches that never
reach a later connection.
"""

from __future__ import annotations

import logging
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from connectors.mqtt.settings import MqttSettings
from connectors.mqtt.stream import StreamClient

log = logging.getLogger(__name__)

Message = tuple[str, bytes, int]  # topic, payload, packet id (0 for QoS 0)


def make_client(
    settings: MqttSettings,
    client_id: str,
    clean: bool = False,
    *,
    manual_ack: bool = False,
) -> paho.Client:
    """Create a paho client (VERSION2 callbacks) for ``settings``.

    Parameters
    ----------
    settings
        Broker settings; ``protocol`` must be resolved (4 or 5, see :func:`resolve_protocol`);
        ``client`` picks the stock paho client or :class:`StreamClient`.
    client_id
        The MQTT client id (fixed for a persistent session).
    clean
        Start a clean session instead of resuming one.
    manual_ack
        Leave acknowledging to the caller (:meth:`Subscription.ack`).

    Returns
    -------
    paho.mqtt.client.Client
        Not yet connected; a :class:`StreamClient` when ``settings.client == "stream"``.

    Raises
    ------
    ValueError
        When the protocol is still :data:`connectors.mqtt.settings.AUTO`.
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
    client = StreamClient(**kwargs) if settings.client == "stream" else paho.Client(**kwargs)
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls:
        client.tls_set(ca_certs=settings.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        client.tls_insecure_set(settings.tls_insecure)
    client.reconnect_delay_set(min_delay=1, max_delay=8)
    return client


def connect_async(
    client: paho.Client, settings: MqttSettings, clean: bool = False, receive_max: bool = False
) -> None:
    """Start connecting ``client`` (its network loop completes the connection).

    Parameters
    ----------
    client
        A client from :func:`make_client`.
    settings
        Broker settings with a resolved protocol.
    clean
        A clean session (MQTT 5: one that expires on disconnect).
    receive_max
        Announce ``settings.receive_maximum`` (MQTT 5): the ingester lets the broker keep
        that many messages in flight.
    """
    if settings.protocol == 5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean else int(settings.session_expiry_s)
        if receive_max:
            props.ReceiveMaximum = int(settings.receive_maximum)
        client.connect_async(
            settings.host, settings.port, settings.keepalive_s, clean_start=clean, properties=props
        )
    else:
        client.connect_async(settings.host, settings.port, settings.keepalive_s)


def resolve_protocol(settings: MqttSettings, timeout: float = 3.0) -> MqttSettings:
    """Settle :data:`~connectors.mqtt.settings.AUTO` on MQTT 5 or 3.1.1 by connecting once.

    The probe uses a throw-away client id and a clean session that expires on disconnect.
    A broker that accepts it speaks MQTT 5; one that refuses the protocol version, or does
    not answer within ``timeout`` (amqtt 0.12 stays silent), gets 3.1.1. When the broker
    cannot be reached, MQTT 5 is assumed (Mosquitto ≥ 1.6, EMQX, HiveMQ, VerneMQ speak it;
    name ``protocol=3.1.1`` in the URL for an older broker).

    Parameters
    ----------
    settings
        Settings whose ``protocol`` may be ``AUTO``.
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
    connect_async(client, settings, clean=True)
    client.loop_start()
    done.wait(timeout)
    client.disconnect()
    client.loop_stop()
    return bool(ok and ok[0])


class Subscription:
    """A persistent subscription to ``settings.topic`` that hands messages on in lists.

    Every (re)connection subscribes again (a broker that lost the session has no
    subscription) and starts a new epoch. ``on_messages(epoch, [(topic, payload, packet
    id), ...])`` runs on paho's network thread: once per network read with the stream
    client, once per message with the stock client. :meth:`ack` acknowledges messages of
    the current epoch only: a PUBACK must never reach a connection whose packet
    identifiers it does not belong to (the broker redelivers what was not acknowledged).

    Parameters
    ----------
    settings
        Broker settings with a resolved protocol; ``client_id``, ``topic``, ``qos`` and
        ``client`` are used.
    on_messages
        Receives each list of messages with the epoch they arrived in.
    on_event
        Called with ``(kind, detail)``: ``("connected", None)``, ``("error", reason)`` when
        the broker refuses a connection, ``("disconnected", reason or None)``.
    manual_ack
        Acknowledge only through :meth:`ack` (after commit); otherwise on receipt.
    """

    def __init__(
        self,
        settings: MqttSettings,
        on_messages: Callable[[int, list[Message]], None],
        on_event: Callable[[str, str | None], None],
        manual_ack: bool = False,
    ) -> None:
        self.settings = settings
        self.client = make_client(settings, settings.client_id, manual_ack=manual_ack)
        self._on_messages = on_messages
        self._on_event = on_event
        self._lock = threading.Lock()
        self._epoch = 0
        self._live = False
        self._buffer: list[Message] = []
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        if isinstance(self.client, StreamClient):
            self.client.on_raw_message = self._raw
            self.client.on_burst = self._burst
        else:
            self.client.on_pre_connect = self._pre_connect
            self.client.on_message = self._message

    @property
    def epoch(self) -> int:
        """The current connection's epoch."""
        if isinstance(self.client, StreamClient):
            return self.client.epoch
        return self._epoch

    def start(self) -> None:
        """Connect and start paho's network thread (non-blocking)."""
        connect_async(self.client, self.settings, receive_max=True)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, epoch: int, mids: list[int]) -> bool:
        """Acknowledge QoS 1 messages (``manual_ack``) received in connection ``epoch``.

        Parameters
        ----------
        epoch
            The epoch the messages arrived in.
        mids
            Their packet identifiers, in arrival order (0 for QoS 0: skipped).

        Returns
        -------
        bool
            ``False`` when the connection changed since (nothing is sent).
        """
        if isinstance(self.client, StreamClient):
            return self.client.ack_batch(epoch, mids)
        with self._lock:
            if epoch != self._epoch or not self._live:
                return False
            for mid in mids:
                if mid:
                    self.client.ack(mid, 1)
        return True

    # ------------------------------------------------------------------ paho callbacks
    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._on_event("error", f"connect refused: {reason_code}")
            return
        client.subscribe(self.settings.topic, qos=self.settings.qos)
        with self._lock:
            self._live = True
        log.info(
            "MQTT connected to %s (MQTT %s, session present: %s)",
            self.settings.describe(),
            "5" if self.settings.protocol == 5 else "3.1.1",
            flags.session_present,
        )
        self._on_event("connected", None)

    def _pre_connect(self, client, userdata) -> None:
        # A connection lost without on_disconnect (paho's select failing) still ends here.
        with self._lock:
            if self._live:
                self._epoch += 1
            self._live = False

    def _disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            if self._live:
                self._epoch += 1
            self._live = False
        self._on_event(
            "disconnected", f"disconnected: {reason_code}" if reason_code.is_failure else None
        )

    def _message(self, client, userdata, msg: paho.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # brokers refuse such topics; quarantined as a mismatch
            topic = "?"
        # bytes(b) is b itself: paho decodes payloads as bytes, and mypy sees bytearray too.
        self._on_messages(self._epoch, [(topic, bytes(msg.payload), msg.mid)])

    def _raw(self, topic: str, payload: bytes, mid: int) -> None:
        self._buffer.append((topic, payload, mid))

    def _burst(self) -> None:
        """End of one network read of the stream client: its messages as one list."""
        if self._buffer:
            burst, self._buffer = self._buffer, []
            self._on_messages(self.client.epoch, burst)  # type: ignore[attr-defined]
