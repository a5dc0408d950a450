"""Two lake ingester processes sharing a subscription on the local Mosquitto, one killed mid-stream.

Every test uses its own shared-subscription group and topic prefix, so a shared Mosquitto is
safe; the ingesters release their sessions when they stop, and the killed one's session is
adopted and closed by the survivor.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from connectors import mqtt
from connectors.mqtt import lakefiles
from engine import clock
from tests.connectors.conftest import mosquitto_up

pytestmark = [pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]
URL = "mqtt://127.0.0.1:1883/?protocol=5"
# Messages per second: one ingester keeps up with it on a shared 2-core machine, so the
# survivor of a kill does (Mosquitto drops for a member far behind), and what the killed one
# holds unacknowledged stays under the dead session's limit (max_queued_messages, 1,000 by
# default); see docs/scale.md (Telemetry ingestion at scale).
RATE = 3000.0


@pytest.fixture(scope="module", autouse=True)
def _broker():
    """Skip, saying why, unless Mosquitto (MQTT 5, shared subscriptions) is on 127.0.0.1:1883."""
    if not mosquitto_up():
        pytest.skip("Mosquitto is not reachable on 127.0.0.1:1883 (shared subscriptions need it)")


class Ingesters:
    """Lake ingester processes started with ``python -m connectors.mqtt.lake``."""

    def __init__(self, lake: Path, group: str, prefix: str) -> None:
        self.lake, self.group, self.prefix = lake, group, prefix
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(self, member: str) -> None:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "connectors.mqtt.lake", "--lake", str(self.lake)),
                *("--id", member, "--group", self.group, "--prefix", self.prefix),
                *("--url", URL, "--session-expiry", "120"),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=(self.lake.parent / f"{member}.log").open("a"),
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ingesting"), line
        self.procs[member] = proc

    def kill(self, member: str, sig: int = signal.SIGKILL) -> str:
        proc = self.procs[member]
        proc.send_signal(sig)
        return proc.communicate(timeout=60)[0]

    def stop_all(self) -> dict[str, str]:
        out = {}
        for member, proc in self.procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                out[member] = proc.communicate(timeout=60)[0]
        return out


def _publish(
    prefix: str,
    n: int,
    n_dev: int,
    rate: float,
    sent: list[str],
    ready: threading.Event,
    start: int = 0,
) -> None:
    pub = mqtt.Publisher(mqtt.MqttSettings.from_url(URL), prefix=prefix)
    assert pub.wait_connected(10)
    ts = clock.local_now() - timedelta(hours=1)
    t0 = time.monotonic()
    for i in range(n):
        dev = i % n_dev
        msg_id = f"m{start + i}"
        pub.publish(
            1 + dev % 4,
            {
                "device_id": f"D{dev:04d}",
                "ts": ts + timedelta(milliseconds=start + i),
                "temp_c": 2.0 + (i % 50) / 10,
                "msg_id": msg_id,
            },
        )
        sent.append(msg_id)
        if i == n // 3:
            ready.set()
        ahead = i / rate - (time.monotonic() - t0)
        if ahead > 0.01:
            time.sleep(ahead)  # a steady stream at ``rate`` rather than one burst
    assert pub.flush(60)
    pub.close()


def _wait_rows(lake: Path, n: int, timeout: float) -> int:
    end = time.monotonic() + timeout
    got = 0
    while time.monotonic() < end:
        got = lakefiles.file_rows(lake)[1]
        if got >= n:
            return got
        time.sleep(0.25)
    return got


def _run(tmp_path: Path, n: int, kill: int | None, restart: bool = False) -> None:
    prefix, group = f"lk{uuid.uuid4().hex[:6]}", f"g{uuid.uuid4().hex[:6]}"
    lake = tmp_path / "lake"
    ing = Ingesters(lake, group, prefix)
    ing.start("a")
    ing.start("b")
    sent: list[str] = []
    halfway = threading.Event()
    pub = threading.Thread(target=_publish, args=(prefix, n, 500, RATE, sent, halfway))
    try:
        pub.start()
        assert halfway.wait(60)
        if kill:
            # Wait until "b" has written something, so it dies holding part of the stream.
            end = time.monotonic() + 20
            while time.monotonic() < end and not list(lake.glob("telemetry/*/*/b-*.parquet")):
                time.sleep(0.05)
            b_log = ing.kill("b", kill)
            if restart:  # b comes back under its id once its session was adopted
                time.sleep(1.0)
                ing.start("b")
        pub.join(300)
        if restart:  # a second stream once b is back: round robin gives it a share
            _publish(prefix, 1000, 500, RATE, sent, threading.Event(), start=n)
            n += 1000
        assert len(sent) == n
        _wait_rows(lake, n, timeout=max(30, n / 1000))
    finally:
        logs = ing.stop_all()
    df = lakefiles.read_telemetry(lake)
    rows, distinct = lakefiles.file_rows(lake)
    assert set(df["msg_id"]) == set(sent), f"lost {len(set(sent) - set(df['msg_id']))}"
    assert len(df) == n  # the product's reader: 0 stored twice
    assert rows == distinct == n, f"{rows - distinct} duplicate file rows"  # none written twice
    written = {p.name.split("-")[0] for p in lake.glob("telemetry/*/*/*.parquet")}
    assert written == {"a", "b"}
    if restart:  # the new b joined the group again and got its share of the rest
        assert re.search(r"stopped: [1-9]\d* rows written", logs["b"]), logs
    if kill == signal.SIGTERM:  # b left cleanly: wrote, acknowledged, released its session
        assert "stopped:" in b_log and "0 sessions adopted" in logs["a"], logs
    elif kill:
        adopted = re.search(r"1 sessions adopted \((\d+) messages\)", logs["a"])
        assert adopted and int(adopted[1]) > 0, logs  # the takeover carried part of the stream


@pytest.mark.timeout(90)
def test_two_ingesters_5k_messages_one_killed_lose_and_repeat_nothing(tmp_path):
    """5,000 messages, two ingesters, one kill -9 mid-stream: the lake holds each exactly once."""
    _run(tmp_path, 5000, kill=signal.SIGKILL)


@pytest.mark.timeout(90)
def test_a_killed_ingester_restarted_under_its_id_rejoins(tmp_path):
    """kill -9, adoption, then the member restarts under its id: 0 lost, 0 stored twice."""
    _run(tmp_path, 6000, kill=signal.SIGKILL, restart=True)


@pytest.mark.timeout(90)
def test_an_ingester_stopped_mid_stream_hands_over_its_share(tmp_path):
    """SIGTERM mid-stream: the member writes what it holds and leaves; nothing lost or twice."""
    _run(tmp_path, 5000, kill=signal.SIGTERM)


@pytest.mark.scale
@pytest.mark.timeout(900)
def test_two_ingesters_100k_messages_lose_and_repeat_nothing(tmp_path):
    """100,000 messages through two ingesters: 0 lost, 0 stored twice."""
    _run(tmp_path, 100_000, kill=None)


@pytest.mark.scale
@pytest.mark.timeout(900)
def test_two_ingesters_100k_messages_one_killed_lose_and_repeat_nothing(tmp_path):
    """100,000 messages, one ingester killed mid-stream: the other takes over, 0 lost, 0 twice."""
    _run(tmp_path, 100_000, kill=signal.SIGKILL)
