"""Where and how to reach the MQTT broker: :class:`MqttSettings`, parsed from ``LINLI_MQTT_URL``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_URL = "mqtt://127.0.0.1:1883"
TOPIC_FILTER = "linli/+/+/telemetry"
AUTO = 0  # MqttSettings.protocol: MQTT 5 when the broker accepts it, else 3.1.1
RECEIVE_MAXIMUM = 65535  # the most unacknowledged QoS 1 messages MQTT 5 lets a client allow
# MqttSettings.client: "paho" is the stock paho-mqtt client; "stream" the faster
# connectors.mqtt.stream.StreamClient, which overrides paho internals (opt in, see
# docs/coldchain.md).
CLIENTS = ("paho", "stream")


@dataclass(frozen=True)
class MqttSettings:
    """Where and how to connect; build it with :meth:`from_url`.

    ``protocol`` is 5, 4 (MQTT 3.1.1, what amqtt speaks) or :data:`AUTO` (0, the default:
    :func:`connectors.mqtt.client.resolve_protocol` tries MQTT 5 once and falls back to
    3.1.1). ``session_expiry_s`` is sent as the MQTT 5 SessionExpiryInterval; with 3.1.1 the
    broker decides how long it keeps the session. ``receive_maximum`` is the MQTT 5 Receive
    Maximum the ingester announces (how many unacknowledged messages the broker may send
    it). ``client`` picks the paho client class (:data:`CLIENTS`): the stock ``paho`` client
    by default, or the ``stream`` client for more throughput per core.
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
    client: str = "paho"

    def __post_init__(self) -> None:
        """Reject an unknown client class."""
        if self.client not in CLIENTS:
            raise ValueError(f"client must be one of {', '.join(CLIENTS)}; got {self.client!r}")

    @classmethod
    def from_url(cls, url: str | None = None, **overrides: Any) -> MqttSettings:
        """Parse ``mqtt[s]://[user[:password]@]host[:port][/?client_id=..&protocol=5&ca=..]``.

        ``protocol`` is ``5``, ``3.1.1`` (or ``4``) or ``auto`` (the default); ``client`` is
        ``paho`` (the default) or ``stream``.

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
        if "client" in q:
            values["client"] = q["client"]
        values.update(overrides)
        return cls(**values)

    def describe(self) -> str:
        """Return ``scheme://host:port`` without credentials (for logs and the UI)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"
