"""Scale-out ingest benchmark: MQTT → Parquet lake with 1 and 2 lake ingesters.

``python -m bench.lake_ingest [--messages 100000] [--devices 500] [--rate 0] [--members 1 2]``

For each member count, that many ``python -m connectors.mqtt.lake`` processes share one
subscription on Mosquitto 127.0.0.1:1883 (MQTT 5; the benchmark stops with the reason when
it is not running) and a publisher process sends ``--messages`` readings of ``--devices``
devices at QoS 1, as fast as it can (``--rate 0``) or paced. The ingest rate is the messages
over the time from the first publish to the moment the lake holds them all (polled every
0.25 s); lost and stored-twice are counted over the lake with the product's reader
(:func:`connectors.mqtt.lakefiles.read_telemetry`), and the duplicate file rows that reader
hides are shown too.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from bench.common import Figure, emit
from connectors import mqtt
from connectors.mqtt import lakefiles
from engine import clock

ROOT = Path(__file__).resolve().parents[1]
URL = "mqtt://127.0.0.1:1883/?protocol=5"


def _publisher(prefix: str, n: int, n_dev: int, rate: float, out: mp.Queue) -> None:
    """Publish ``n`` readings; report (start time, seconds spent)."""
    pub = mqtt.Publisher(mqtt.MqttSettings.from_url(URL), prefix=prefix)
    pub.wait_connected(10)
    ts = clock.local_now() - timedelta(hours=1)
    t0 = time.time()
    m0 = time.monotonic()
    for i in range(n):
        dev = i % n_dev
        pub.publish(
            1 + dev % 4,
            {
                "device_id": f"BEN-{dev:04d}",
                "ts": ts + timedelta(milliseconds=i),
                "temp_c": 2.0 + (i % 50) / 10,
                "msg_id": f"m{i}",
            },
        )
        if rate > 0:
            ahead = i / rate - (time.monotonic() - m0)
            if ahead > 0.01:
                time.sleep(ahead)
        elif i % 1000 == 999 and not pub.flush(60):
            # paho rescans its whole outgoing queue per acknowledgement: 100,000 queued
            # messages would take minutes, so the publisher waits for each thousand.
            raise RuntimeError("the broker did not acknowledge the publisher's messages")
    if not pub.flush(300):
        raise RuntimeError("the broker did not acknowledge the publisher's messages")
    out.put((t0, time.monotonic() - m0))
    pub.close()


def run(n: int, n_dev: int, members: int, rate: float, drain: bool = False) -> list[Figure]:
    """One run with ``members`` lake ingesters; returns its figures.

    With ``drain`` the members are paused (SIGSTOP) while everything is published and then
    resumed: the rate is then the members' own, from the resume to the last row stored.
    """
    tmp = tempfile.TemporaryDirectory()
    lake = Path(tmp.name) / "lake"
    prefix, group = f"bl{uuid.uuid4().hex[:6]}", f"bench{uuid.uuid4().hex[:6]}"
    procs = []
    for k in range(members):
        p = subprocess.Popen(
            [
                *(sys.executable, "-m", "connectors.mqtt.lake", "--lake", str(lake)),
                *("--id", f"m{k}", "--group", group, "--prefix", prefix, "--url", URL),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert p.stdout is not None
        p.stdout.readline()
        procs.append(p)
    if drain:
        for p in procs:
            p.send_signal(signal.SIGSTOP)
    q: mp.Queue = mp.get_context("spawn").Queue()
    pub = mp.get_context("spawn").Process(target=_publisher, args=(prefix, n, n_dev, rate, q))
    pub.start()
    t0, pub_s = q.get(timeout=900)
    pub.join(30)
    if drain:
        time.sleep(1.0)  # the broker has sent what it could; the rest waits in its queues
        t0 = time.time()
        for p in procs:
            p.send_signal(signal.SIGCONT)
    # Until every message is stored, or nothing more arrived for 10 s (the broker dropped
    # the rest: a member that falls too far behind loses messages, see the docs).
    done_at, seen, last_change = time.time(), -1, time.monotonic()
    while time.monotonic() - last_change < 10:
        stored = lakefiles.file_rows(lake)[1]
        if stored != seen:
            done_at, seen, last_change = time.time(), stored, time.monotonic()
        if stored >= n:
            break
        time.sleep(0.25)
    for p in procs:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=120)
    df = lakefiles.read_telemetry(lake)
    rows, distinct = lakefiles.file_rows(lake)
    files = len(list(lake.glob("telemetry/*/*/*.parquet")))
    tmp.cleanup()
    lost = n - df["msg_id"].nunique()
    twice = len(df) - df["msg_id"].nunique()
    scale = f"{n:,} msgs, {n_dev} devices, {members} lake ingester(s), Mosquitto 2 local"
    pace = "as fast as it can" if rate <= 0 else f"paced at {rate:,.0f}/s"
    what = "drain rate of a backlog (msg/s)" if drain else "ingest rate into the lake (msg/s)"
    return [
        Figure("publish rate (msg/s)", pace, f"{n / pub_s:,.0f}", scale),
        Figure(
            what,
            "2 members faster than 1",
            f"{(n - lost) / max(done_at - t0, 1e-9):,.0f} ({files} files)",
            scale,
        ),
        Figure("messages lost", "0", f"{lost}", scale, lost == 0),
        Figure(
            "stored twice (product reader); duplicate file rows hidden",
            "0",
            f"{twice}; {rows - distinct}",
            scale,
            twice == 0,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    p = argparse.ArgumentParser(prog="python -m bench.lake_ingest", description=__doc__)
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--devices", type=int, default=500)
    p.add_argument("--rate", type=float, default=0.0, help="msg/s, 0 = as fast as possible")
    p.add_argument("--members", type=int, nargs="+", default=[1, 2])
    p.add_argument(
        "--drain",
        type=int,
        default=20_000,
        help="also measure draining this many messages published while the members were "
        "paused (0: skip; Mosquitto 2.0 drops beyond about 24,000 for a paused member)",
    )
    args = p.parse_args(argv)
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=0.5).close()
    except OSError:
        print("Mosquitto is not reachable on 127.0.0.1:1883: nothing measured.")
        return 2
    figures: list[Figure] = []
    for m in args.members:
        figures += run(args.messages, args.devices, m, args.rate)
    for m in args.members if args.drain else []:
        figures += run(args.drain, args.devices, m, 0.0, drain=True)
    emit(
        "lake_ingest",
        figures,
        "Lake ingesters are `python -m connectors.mqtt.lake` processes on the same machine "
        "as the broker and the publisher.",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
