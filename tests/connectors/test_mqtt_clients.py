"""The stock paho client (default) and the optional stream client store the same messages.

The stream client (``client=stream``) overrides paho internals for throughput; it stays
optional only while it stores exactly what the stock client stores: every message once, none
lost, none twice, the same rows quarantined. Run against Mosquitto on 127.0.0.1:1883 (MQTT 5,
acknowledgement after commit; skipped with the reason when it is not there) and against the
embedded amqtt broker (MQTT 3.1.1, acknowledgement on receipt).
"""

from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pandas as pd
import pytest

from connectors import broker, mqtt
from engine import clock, db
from ops import wiring
from tests.connectors.conftest import mosquitto_up

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

N = 3000  # at full publishing speed: many readings per network read and per batch
EVERY = 500  # every EVERY-th reading is also redelivered and followed by a non-JSON message
EXTRA = len(range(0, N, EVERY))
DEVICES = pd.DataFrame(
    {
        "device_id": [f"CAB-{i}" for i in range(20)],
        "kind": "cabinet",
        "storage": "chilled",
        "warehouse_id": 1,
        "vehicle_id": None,
        "pickup_id": None,
        "lat": 28.2,
        "lon": 112.9,
        "interval_s": 60,
    }
)


@pytest.fixture(scope="module", params=["mosquitto", "embedded"])
def target(request):
    """Settings factory (client id, topic prefix, client class) for the broker under test."""
    if request.param == "mosquitto":
        if not mosquitto_up():
            pytest.skip(
                "Mosquitto is not reachable on 127.0.0.1:1883 (or LINLI_TEST_BROKER=embedded): "
                "the MQTT 5 comparison with acknowledgement after commit did not run"
            )
        yield lambda cid, prefix, client: mqtt.MqttSettings(
            port=1883,
            protocol=5,
            session_expiry_s=60,
            client_id=cid,
            topic=f"{prefix}/+/+/telemetry",
            client=client,
        )
        return
    with broker.EmbeddedBroker(presubscribe={}) as b:
        yield lambda cid, prefix, client: b.settings(
            client_id=cid, topic=f"{prefix}/+/+/telemetry", client=client
        )


@contextmanager
def _live(target, client: str, con, ingester=wiring.live_ingester):
    """A connected ingester and publisher on a fresh topic prefix, both closed on exit."""
    prefix, cid = f"cmp{uuid.uuid4().hex[:8]}", f"ing-{uuid.uuid4().hex[:8]}"
    settings = target(cid, prefix, client)
    ing = ingester(con, settings, flush_s=0.05).start()
    end = time.monotonic() + 10
    while not ing.status().connected and time.monotonic() < end:
        time.sleep(0.02)
    assert ing.status().connected, f"{client}: the ingester did not connect"
    time.sleep(0.1)  # let the SUBACK arrive before publishing
    pub = mqtt.Publisher(target(f"pub-{cid}", prefix, client), prefix=prefix)
    try:
        assert pub.wait_connected(10)
        yield ing, pub, prefix
    finally:
        pub.close()
        ing.stop()
        if settings.protocol == 5:
            mqtt.purge_session(ing.settings)


def _stream_through(target, client: str) -> dict[str, object]:
    """Publish N readings (with redeliveries and bad messages) and return what was stored."""
    con = db.connect(":memory:")
    con.register("d", DEVICES)
    con.execute("INSERT INTO devices SELECT * FROM d")
    con.unregister("d")
    t0 = clock.local_now() - timedelta(seconds=N)
    with _live(target, client, con) as (ing, pub, prefix):
        for i in range(N):
            reading = {
                "device_id": f"CAB-{i % 20}",
                "ts": (t0 + timedelta(seconds=i)).isoformat(),
                "temp_c": 2.0 + (i % 7) / 10,
                "msg_id": f"m{i}",
            }
            pub.publish(1, reading)
            if i % EVERY == 0:  # a QoS 1 redelivery, and a message that is not JSON
                pub.publish(1, reading)
                pub.publish_raw(f"{prefix}/1/CAB-0/telemetry", b"{not json")
        assert pub.flush(60), f"{client}: the broker did not acknowledge every message"
        expected = N + 2 * EXTRA
        end = time.monotonic() + 60
        while time.monotonic() < end:
            st = ing.status()
            if st.inserted + st.duplicates + st.quarantined >= expected:
                break
            time.sleep(0.05)
        assert ing.wait_idle(30)
    stored = con.execute("SELECT msg_id FROM telemetry").df()["msg_id"]
    quarantined = con.execute("SELECT count(*) FROM telemetry_quarantine").fetchone()[0]
    con.close()
    return {
        "ids": set(stored),
        "rows": len(stored),
        "quarantined": quarantined,
        "ack_after_commit": ing.ack_after_commit,
    }


def test_stock_and_stream_clients_store_the_same_messages(target):
    """Both clients store all N readings once (0 lost, 0 twice) and quarantine the same."""
    published = {f"m{i}" for i in range(N)}
    got = {client: _stream_through(target, client) for client in mqtt.CLIENTS}
    for client, out in got.items():
        assert out["ids"] == published, f"{client}: {len(published - out['ids'])} lost"
        assert out["rows"] == N, f"{client}: {out['rows'] - N} stored twice"
        assert out["quarantined"] == EXTRA, client
    assert got["paho"] == got["stream"]


def test_stock_client_is_the_default():
    """Without ``client=`` the ingester and publisher use paho's own Client, not StreamClient."""
    from paho.mqtt.client import Client

    from connectors.mqtt.stream import StreamClient

    settings = mqtt.MqttSettings.from_url("mqtt://h/?protocol=5")
    assert settings.client == "paho"
    client = mqtt.make_client(settings, "x")
    assert type(client) is Client and not isinstance(client, StreamClient)
    fast = mqtt.MqttSettings.from_url("mqtt://h/?protocol=5&client=stream")
    assert isinstance(mqtt.make_client(fast, "x"), StreamClient)
    with pytest.raises(ValueError, match="client must be one of"):
        mqtt.MqttSettings.from_url("mqtt://h/?client=turbo")


def test_quarantined_payload_is_kept_verbatim_by_both(target):
    """A malformed payload is stored as sent, whichever client received it."""
    body = json.dumps({"device_id": "CAB-0", "ts": "yesterday", "temp_c": 2.0})
    for client in mqtt.CLIENTS:
        con = db.connect(":memory:")
        with _live(target, client, con, ingester=mqtt.Ingester) as (ing, pub, prefix):
            pub.publish_raw(f"{prefix}/1/CAB-0/telemetry", body)
            assert pub.flush(10)
            end = time.monotonic() + 10
            while ing.status().quarantined < 1 and time.monotonic() < end:
                time.sleep(0.02)
        row = con.execute("SELECT payload, reason FROM telemetry_quarantine").fetchone()
        assert row[0] == body and row[1].startswith("wrong_type: ts"), client
        con.close()
