"""Cold-chain ingest benchmark: sustained MQTT → DuckDB rate, loss, and alarm latency.

``python -m bench.telemetry [--rate 5000] [--seconds 20] [--devices 500] [--client paho]``

The ingester (with the alarm engine, built by ``ops.wiring``) runs in this process on a
DuckDB file, as in the app; a publisher process sends readings for ``--devices`` devices at ``--rate`` messages per second
at QoS 1 through Mosquitto on 127.0.0.1:1883 when reachable, else the embedded amqtt broker.
Alarm probes are devices primed with an out-of-range reading 21 minutes back; the probe
reading completes the hold time, and latency is the alarm row's write time minus the
probe's publish time (same clock). ``--client`` picks the paho client of the ingester and the
publisher: ``paho`` (stock, the default path), ``stream`` (the optional fast client) or
``both`` (one run each).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import psutil

from bench.common import Figure, emit
from connectors import broker, mqtt
from data import telemetry as telemetry_data
from engine import clock, db
from engine.coldchain import store
from ops import wiring

PREFIX = "benchcc"


def _mosquitto() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=0.5):
            return True
    except OSError:
        return False


def _publisher(
    settings: mqtt.MqttSettings,
    n_dev: int,
    rate: float,
    seconds: float,
    n_probes: int,
    out: mp.Queue,
) -> None:
    """Publish the load and the probes; report (sent, probe publish times)."""
    pub = mqtt.Publisher(settings, client_id=f"bench-pub-{time.time_ns()}", prefix=PREFIX)
    pub.wait_connected(10)
    # Prime the probes: out of range since 21 minutes (hold is 20 minutes).
    for p in range(n_probes):
        t = clock.local_now() - timedelta(minutes=21)
        pub.publish(1, {"device_id": f"PRB-{p:03d}", "ts": t, "temp_c": 9.0, "msg_id": f"prime{p}"})
    pub.flush(30)
    time.sleep(1.0)
    total = int(rate * seconds)
    chunk = max(int(rate / 20), 1)  # 20 chunks a second
    probe_every = max(total // (n_probes + 1), 1)
    probes: dict[str, float] = {}
    t0 = time.perf_counter()
    sent = 0
    p = 0
    while sent < total:
        now = clock.local_now()
        for _ in range(min(chunk, total - sent)):
            dev = f"BEN-{sent % n_dev:04d}"
            pub.publish(
                1,
                {
                    "device_id": dev,
                    "ts": now.isoformat(),
                    "temp_c": 2.0,
                    "battery": 90.0,
                    "msg_id": f"b{sent}",
                },
            )
            sent += 1
            if sent % probe_every == 0 and p < n_probes:
                probes[f"PRB-{p:03d}"] = time.time()
                pub.publish(
                    1,
                    {
                        "device_id": f"PRB-{p:03d}",
                        "ts": clock.local_now().isoformat(),
                        "temp_c": 9.0,
                        "msg_id": f"probe{p}",
                    },
                )
                p += 1
        lag = sent / rate - (time.perf_counter() - t0)
        if lag > 0:
            time.sleep(lag)
    elapsed = time.perf_counter() - t0
    pub.flush(60)
    pub.close()
    out.put((sent, elapsed, probes, time.process_time()))


def _broker_process() -> psutil.Process | None:
    """The Mosquitto process, to read its CPU time (None when not visible)."""
    for p in psutil.process_iter(["name"]):
        if p.info["name"] == "mosquitto":
            return p
    return None


def _cpu(proc: psutil.Process | None) -> float:
    try:
        t = proc.cpu_times() if proc is not None else None
    except psutil.Error:
        return float("nan")
    return float("nan") if t is None else t.user + t.system


def _thread_cpu(native_ids: list[int | None]) -> float:
    """CPU seconds of this process's threads with these native ids."""
    want = {i for i in native_ids if i is not None}
    return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id in want)


def run(
    rate: float,
    seconds: float,
    n_dev: int,
    n_probes: int = 20,
    receiver: str = "thread",
    protocol: int = mqtt.AUTO,
    client: str = "paho",
) -> list[Figure]:
    """Run the benchmark and return its figures."""
    use_mosquitto = _mosquitto()
    emb = None
    client_id = f"bench-ing-{time.time_ns()}"
    topic = f"{PREFIX}/+/+/telemetry"
    if use_mosquitto:
        # The app's default (MQTT 5 when the broker speaks it); the session is purged at the end.
        sub = mqtt.MqttSettings(client_id=client_id, topic=topic, protocol=protocol, client=client)
        pub = mqtt.MqttSettings(protocol=protocol, client=client)
        where = "Mosquitto 127.0.0.1:1883"
    else:
        emb = broker.EmbeddedBroker(presubscribe={client_id: [topic]}).start()
        sub = emb.settings(client_id=client_id, topic=topic, client=client)
        pub = emb.settings(client=client)
        where = "embedded amqtt"
    broker_proc = _broker_process() if use_mosquitto else None
    tmp = tempfile.TemporaryDirectory()
    con = db.connect(Path(tmp.name) / "bench.duckdb")
    devices = pd.DataFrame(
        {
            "device_id": [f"BEN-{i:04d}" for i in range(n_dev)]
            + [f"PRB-{p:03d}" for p in range(n_probes)],
            "kind": "cabinet",
            "storage": "chilled",
            "warehouse_id": 1,
            "vehicle_id": None,
            "pickup_id": None,
            "lat": 28.2,
            "lon": 112.9,
            # probes report hourly so they never look offline during the run
            "interval_s": [60] * n_dev + [3600] * n_probes,
        }
    )
    con.register("d", devices)
    con.execute("INSERT INTO devices SELECT * FROM d")
    ing = wiring.live_ingester(con, sub, receiver=receiver).start()
    end = time.monotonic() + 10
    while not ing.status().connected and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.3)
    proto = "MQTT 5, ack after commit" if ing.ack_after_commit else "MQTT 3.1.1, ack on receipt"
    if ing.settings.protocol == 5 and not ing.ack_after_commit:
        proto = "MQTT 5, ack on receipt"

    def rx_cpu() -> float:
        if ing._rx is not None:
            return _cpu(psutil.Process(ing._rx._proc.pid))
        return _thread_cpu([ing.client._thread.native_id if ing.client._thread else None])

    load0 = os.getloadavg()[0]
    cpu0 = (time.process_time(), rx_cpu(), _thread_cpu([ing._thread.native_id]))
    broker0 = _cpu(broker_proc)
    q: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(
        target=_publisher, args=(pub, n_dev, rate, seconds, n_probes, q)
    )
    proc.start()
    sent, pub_elapsed, probes, pub_cpu = q.get(timeout=seconds * 10 + 120)
    proc.join(30)
    expected = sent + 2 * n_probes
    deadline = time.monotonic() + 60
    while (
        ing.status().inserted + ing.status().duplicates < expected and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    ing.wait_idle(30)
    time.sleep(1.0)
    rx_s = rx_cpu() - cpu0[1]
    writer_s = _thread_cpu([ing._thread.native_id]) - cpu0[2]
    app_s = time.process_time() - cpu0[0]
    broker_s = _cpu(broker_proc) - broker0
    load1 = os.getloadavg()[0]
    ing.stop()
    if use_mosquitto:
        mqtt.purge_session(ing.settings)  # drop the persistent session
    cur = con.cursor()
    first_load, last_load, n_rows, n_distinct = cur.execute(
        "SELECT min(received_at), max(received_at), count(*), count(DISTINCT msg_id) "
        "FROM telemetry WHERE device_id LIKE 'BEN-%'"
    ).fetchall()[0]
    ingest_s = max((last_load - first_load).total_seconds(), 1e-9)
    alarms = cur.execute(
        "SELECT device_id, updated_at FROM alerts WHERE kind = 'high_temp' AND device_id LIKE 'PRB-%'"
    ).fetchall()
    lat = []
    for dev, written in alarms:
        if dev in probes:
            # updated_at is naive local time; turn it into epoch seconds like time.time().
            w = written.replace(tzinfo=clock.TZ).timestamp()
            lat.append(w - probes[dev])
    lat.sort()
    p95 = lat[min(round(0.95 * (len(lat) - 1)), len(lat) - 1)] if lat else float("nan")
    lost = sent - n_distinct  # distinct msg_ids stored: a redelivery never hides a loss
    doubled = n_rows - n_distinct  # a redelivery stored twice
    con.close()
    tmp.cleanup()
    if emb is not None:
        emb.close()
    scale = (
        f"{n_dev} devices, {sent:,} msgs, {where}, {proto}, {receiver} receiver, {client} client"
    )
    per_msg = 1e6 / max(sent, 1)
    cpu_note = (
        f"receiver {rx_s:.2f}, writer+alarms {writer_s:.2f}, whole app process {app_s:.2f}, "
        f"publisher {pub_cpu:.2f}, broker {broker_s:.2f} CPU s "
        f"(app {app_s * per_msg:.0f} µs/msg); load {load0:.1f}→{load1:.1f}"
    )
    return [
        Figure(
            "publish rate achieved (msg/s)", f"{rate:,.0f}", f"{sent / pub_elapsed:,.0f}", scale
        ),
        Figure(
            "ingest rate achieved into DuckDB (msg/s)",
            f"≥ {min(rate, 5000):,.0f}",
            f"{n_rows / ingest_s:,.0f}",
            scale,
            n_rows / ingest_s >= 0.9 * min(rate, 5000),
        ),
        Figure(
            "messages lost (published − distinct stored)",
            "0",
            f"{lost} ({n_distinct:,} distinct stored, {doubled} stored twice)",
            scale,
            lost == 0 and doubled == 0,
        ),
        Figure(
            "alarm latency p95 (s)",
            "≤ 2",
            f"{p95:.2f} (median {statistics.median(lat):.2f}, {len(lat)}/{len(probes)} probes)"
            if lat
            else "no alarms",
            scale,
            bool(lat) and p95 <= 2.0 and len(lat) == len(probes),
        ),
        Figure("CPU time while streaming (s)", "—", cpu_note, scale),
    ]


def writer_path(n_msgs: int, n_dev: int) -> Figure:
    """Validation + dedup + DuckDB insert + alarm evaluation without the network."""
    tmp = tempfile.TemporaryDirectory()
    con = db.connect(Path(tmp.name) / "w.duckdb")
    ids = [f"BEN-{i:04d}" for i in range(n_dev)]
    con.execute(
        "INSERT INTO devices SELECT unnest(?::VARCHAR[]), 'cabinet', 'chilled', 1, NULL, NULL, "
        "28.2, 112.9, 60",
        [ids],
    )
    ing = wiring.live_ingester(con, mqtt.MqttSettings(port=1))
    ing._known = set(ids)
    now = clock.local_now().isoformat()
    msgs = [
        (
            f"linli/1/{ids[i % n_dev]}/telemetry",
            json.dumps(
                {"device_id": ids[i % n_dev], "ts": now, "temp_c": 2.0, "msg_id": f"w{i}"}
            ).encode(),
            i % 65535 + 1,
        )
        for i in range(n_msgs)
    ]
    cur = con.cursor()
    t0 = time.perf_counter()
    for k in range(0, n_msgs, 1000):
        ing._write(cur, msgs[k : k + 1000])
        ing._sink(cur)
    rate = n_msgs / (time.perf_counter() - t0)
    con.close()
    tmp.cleanup()
    return Figure(
        "writer path: validate + dedup + insert + alarms (msg/s, no network)",
        "≥ 5,000",
        f"{rate:,.0f}",
        f"{n_dev} devices, {n_msgs:,} msgs, file DB",
        rate >= 5000,
    )


def _cabinets(ids: list[str]) -> pd.DataFrame:
    """Chilled pickup-point cabinets of warehouse 1, rows shaped like ``devices``."""
    return pd.DataFrame(
        {
            "device_id": ids,
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


def panel_queries(n_dev: int, hours: float = 6.0) -> Figure:
    """The live panel's reads (device states, sparklines, alarms) on a file DB."""
    from bench.common import median_ms

    tmp = tempfile.TemporaryDirectory()
    con = db.connect(Path(tmp.name) / "p.duckdb")
    devices = _cabinets([f"CAB-{i:04d}" for i in range(n_dev)])
    con.register("d", devices)
    con.execute("INSERT INTO devices SELECT * FROM d")
    end = pd.Timestamp(clock.local_now()).floor("min")
    tel, _ = telemetry_data.history(devices, end - pd.Timedelta(hours=hours), end, seed=1)
    con.register("t", tel)
    con.execute("INSERT INTO telemetry SELECT * FROM t")
    con.unregister("t")
    cur = con.cursor()
    now = clock.local_now()

    def reads() -> None:
        store.device_status(cur, now)
        store.sparklines(cur, hours)
        store.alarm_history(cur, now - timedelta(days=7))

    ms = median_ms(reads, repeat=7, warmup=1)
    con.close()
    tmp.cleanup()
    return Figure(
        "live panel reads, uncached (ms; the page caches them 2 s)",
        "≤ 300",
        f"{ms:,.0f}",
        f"{n_dev} devices, {len(tel):,} readings ({hours:.0f} h)",
        ms <= 300,
    )


def page_rerun(n_dev: int, hours: float = 6.0, reruns: int = 5) -> Figure:
    """The 冷链监控 page in AppTest on a small world grown to ``n_dev`` devices.

    Each timed rerun waits for the page's 2 s read cache to expire, so it re-reads device
    states, sparklines and alarms as a live refresh does (the warm part is the process:
    imports, connection, the app's cached resources).
    """
    from streamlit.testing.v1 import AppTest

    from data import generate

    tmp = tempfile.TemporaryDirectory()
    path = Path(tmp.name) / "cc.duckdb"
    con = generate.generate(path, scale="small", seed=7)
    have = con.execute("SELECT count(*) FROM devices").fetchall()[0][0]
    extra = _cabinets([f"CAB-B{i:04d}" for i in range(max(0, n_dev - have))])
    con.register("d", extra)
    con.execute("INSERT INTO devices SELECT * FROM d")
    con.unregister("d")
    devices = con.execute("SELECT * FROM devices").df()
    end = pd.Timestamp(clock.local_now()).floor("min")
    tel, _ = telemetry_data.history(devices, end - pd.Timedelta(hours=hours), end, seed=1)
    con.register("t", tel)
    con.execute("INSERT INTO telemetry SELECT * FROM t")
    con.unregister("t")
    con.close()
    env = {"LINLI_DB": str(path), "LINLI_MQTT_URL": "none", "LINLI_AUTH": "none"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        app = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
        at = AppTest.from_file(str(app), default_timeout=300)
        at.run()
        at.switch_page(str(app.parent.parent / "pages" / "coldchain.py")).run()
        times = []
        for _ in range(reruns):
            time.sleep(2.1)  # past the page's 2 s read cache
            t0 = time.perf_counter()
            at.run()
            times.append((time.perf_counter() - t0) * 1000)
        assert not at.exception, at.exception
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        tmp.cleanup()
    ms = statistics.median(times)
    return Figure(
        "冷链监控 page rerun, live reads re-run (ms, AppTest, median)",
        "≤ 300",
        f"{ms:,.0f}",
        f"{len(devices)} devices, {len(tel):,} readings ({hours:.0f} h)",
        ms <= 300,
    )


def main(argv: list[str] | None = None) -> int:
    """Run from the command line."""
    ap = argparse.ArgumentParser(prog="python -m bench.telemetry")
    ap.add_argument("--rate", type=float, default=5000)
    ap.add_argument(
        "--safe-rate",
        type=float,
        default=500,
        help="a second run at a rate the subscriber sustains here (0: skip)",
    )
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--receiver", choices=["thread", "process"], default="thread")
    ap.add_argument(
        "--client",
        choices=[*mqtt.CLIENTS, "both"],
        default="paho",
        help="paho client of ingester and publisher (paho: stock, the default path)",
    )
    ap.add_argument(
        "--protocol",
        choices=["auto", "5", "3.1.1"],
        default="auto",
        help="MQTT version of the ingester and publisher (auto: 5 when the broker speaks it)",
    )
    ap.add_argument("--stream-only", action="store_true", help="skip the no-network figures")
    ap.add_argument("--no-save", action="store_true", help="print, do not write results")
    args = ap.parse_args(argv)
    protocol = {"auto": mqtt.AUTO, "5": 5, "3.1.1": 4}[args.protocol]
    load = os.getloadavg()[0]
    figures = [] if args.stream_only else [writer_path(50_000, args.devices)]
    figures += [] if args.stream_only else [panel_queries(args.devices)]
    clients = list(mqtt.CLIENTS) if args.client == "both" else [args.client]
    for client in clients:
        for rate in (args.rate, args.safe_rate):
            if rate:
                figures += run(
                    rate,
                    args.seconds,
                    args.devices,
                    receiver=args.receiver,
                    protocol=protocol,
                    client=client,
                )
    # Last: AppTest replaces sys.modules["__main__"], which the publisher process needs.
    figures += [] if args.stream_only else [page_rerun(args.devices)]
    note = (
        f"Load average {load:.1f} at the start on {os.cpu_count()} cores (each run's CPU line "
        "gives the load during it; on a busy machine these are floors). Publisher in its own process; ingester and alarm engine in this "
        "one. Loss counts distinct msg_ids stored against messages published."
    )
    if args.no_save:
        for f in figures:
            print(f"{f.figure}: {f.measured} [{f.scale}] ok={f.ok}")
        return 0
    emit("telemetry", figures, note=note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
