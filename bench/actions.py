"""Actions (issue 19): a regional digest over 100 communities, and the outbox's throughput.

Usage: ``python -m bench.actions [--db PATH] [--messages 1000]`` (default: a fresh `demo`
world, seed 1, 100 communities). The outbox figure sends every message through apprise to a
local JSON webhook (``http.server`` in a thread) and counts what the receiver accepted.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.common import Figure, emit
from data import generate
from engine import db
from engine.actions import channels, digest, outbox
from ops import actions

RECEIVED: list[str] = []


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        RECEIVED.append(self.headers.get("X-Linli-Key", ""))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--messages", type=int, default=1000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    if args.db is None:
        args.db = work / "demo.duckdb"
        generate.generate(args.db, scale="demo", seed=1).close()
    path = work / "bench.duckdb"
    if args.db != path:
        shutil.copy(args.db, path)
    con = db.connect(path)
    scale = con.execute("SELECT value FROM meta WHERE key = 'scale'").fetchall()[0][0]
    n_comm = con.execute("SELECT count(*) FROM communities").fetchall()[0][0]

    t0 = time.perf_counter()
    d = digest.build(con, (), "bench")
    took_digest = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = digest.send_all(con)
    took_all = time.perf_counter() - t0

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    channels.set_channel(con, "duty", f"json://127.0.0.1:{server.server_port}/hook")
    con.execute("DELETE FROM outbox")
    for i in range(args.messages):
        outbox.enqueue(
            con,
            key=f"bench-{i}",
            kind="bench",
            channel="duty",
            recipient="desk",
            subject=f"告警 #{i}",
            body="冷链告警：温度过高，请处理。" * 4,
        )
    sender = actions.Sender(con, batch=200)
    t0 = time.perf_counter()
    while len(RECEIVED) < args.messages and time.perf_counter() - t0 < 120:
        if sender.run_once().sent == 0:
            time.sleep(0.01)
    took_send = time.perf_counter() - t0
    server.shutdown()
    unique = len(set(RECEIVED))
    emit(
        "actions",
        [
            Figure(
                f"digest for all {n_comm} communities (KPIs with deltas, anomalies, plan vs "
                f"actual, alarms; {len(d.body.splitlines())} lines)",
                "≤ 5 s",
                f"{took_digest:.2f} s",
                scale,
                took_digest <= 5,
            ),
            Figure(
                f"every manager's digest built and queued ({run.digests} digests)",
                "—",
                f"{took_all:.2f} s",
                scale,
            ),
            Figure(
                f"outbox sends {args.messages:,} messages to a local webhook "
                f"({unique:,} received, each once: {len(RECEIVED) == unique})",
                "≤ 10 s",
                f"{took_send:.2f} s",
                f"{args.messages:,} messages",
                took_send <= 10 and unique == args.messages,
            ),
        ],
        "Wall time on the 2-core machine; the sender commits each message's status.",
    )
    con.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
