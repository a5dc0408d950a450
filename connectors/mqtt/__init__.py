"""MQTT telemetry: broker settings, paho clients, the ingester, the publisher.

``from connectors import mqtt`` then ``mqtt.Ingester(con, mqtt.MqttSettings.from_url())``.
Modules: ``settings`` (:class:`MqttSettings` from ``LINLI_MQTT_URL``), ``client`` (paho
clients, protocol probe, :class:`~connectors.mqtt.client.Subscription`), ``payload``
(validation of one message), ``ingester`` (the writer into DuckDB and its
:class:`~connectors.mqtt.ingester.Sink`), ``receiver`` (receiving in a child process),
``publisher`` and ``stream`` (the optional fast client, ``?client=stream``). The package
knows nothing of alarms: ``ops.wiring`` joins the ingester to the engine's alarm sink.
"""

from connectors.mqtt import payload
from connectors.mqtt.client import (
    Subscription,
    connect_async,
    make_client,
    purge_session,
    resolve_protocol,
)
from connectors.mqtt.ingester import SINK_COLUMNS, Ingester, IngestStatus, Sink
from connectors.mqtt.publisher import Publisher
from connectors.mqtt.settings import (
    AUTO,
    CLIENTS,
    DEFAULT_URL,
    RECEIVE_MAXIMUM,
    TOPIC_FILTER,
    MqttSettings,
)

__all__ = [
    "AUTO",
    "CLIENTS",
    "DEFAULT_URL",
    "RECEIVE_MAXIMUM",
    "SINK_COLUMNS",
    "TOPIC_FILTER",
    "IngestStatus",
    "Ingester",
    "MqttSettings",
    "Publisher",
    "Sink",
    "Subscription",
    "connect_async",
    "make_client",
    "payload",
    "purge_session",
    "resolve_protocol",
]
