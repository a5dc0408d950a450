"""Publishing telemetry readings at QoS 1 (the simulator, benchmarks and tests)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime
from typing import Any

import paho.mqtt.client as paho

from connectors.mqtt.client import connect_async, make_client, resolve_protocol
from connectors.mqtt.settings import MqttSettings

# A broker's acknowledgement can reach on_publish before publish() has returned the
# message's id; one recorded longer ago than this belongs to an earlier (QoS 0) message
# with the same id, since ids wrap at 65,535.
_EARLY_ACK_S = 5.0


class Publisher:
    """Publish readings at QoS 1; messages published while disconnected are sent on reconnect.

    The paho client follows ``settings.client`` (stock paho by default). :meth:`flush` counts
    the broker's acknowledgements through paho's ``on_publish`` callback.

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
        self._lock = threading.Lock()  # never held while calling into paho
        self._unacked: set[int] = set()
        self._early: dict[int, float] = {}
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
        self.client.on_publish = self._acknowledged
        connect_async(self.client, self.settings)
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
        """Publish an arbitrary payload (tests use it for malformed messages).

        Parameters
        ----------
        topic
            The topic.
        payload
            The message body.
        qos
            MQTT quality of service.

        Returns
        -------
        paho.mqtt.client.MQTTMessageInfo
            paho's handle of the message.
        """
        info = self.client.publish(topic, payload, qos=qos)
        if qos > 0:
            now = time.monotonic()
            with self._lock:
                early = self._early.pop(info.mid, None)
                if early is None or now - early > _EARLY_ACK_S:
                    self._unacked.add(info.mid)
        return info

    def _acknowledged(self, client, userdata, mid, reason_code, properties) -> None:
        """paho's on_publish: the broker acknowledged ``mid`` (QoS 1), or it was sent (QoS 0)."""
        with self._lock:
            if mid in self._unacked:
                self._unacked.discard(mid)
                return
            now = time.monotonic()
            self._early[mid] = now
            if len(self._early) > 10_000:
                self._early = {m: t for m, t in self._early.items() if now - t <= _EARLY_ACK_S}

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
            with self._lock:
                if not self._unacked:
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
