"""`make run`: build the demo world if missing, start the broker and simulator, serve the app.

Usage: ``python -m ops.serve [--port N] [--no-mqtt]``. Every child process is
stopped on Ctrl-C (or SIGTERM). Environment: ``LINLI_DB`` (database file), ``LINLI_MQTT_URL``
(use that broker instead of the embedded one; ``none`` disables telemetry), ``LINLI_PORT``,
``LINLI_HOST``, ``LINLI_LANG``, ``LINLI_AUTH``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "streamlit_config" / "config.toml"


def streamlit_flags(path: Path = CONFIG) -> list[str]:
    """Turn ``streamlit_config/config.toml`` into ``--section.key=value`` flags."""
    with path.open("rb") as f:
        cfg = tomllib.load(f)
    flags = []
    for section, values in cfg.items():
        for key, value in values.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags.append(f"--{section}.{key}={text}")
    return flags


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) != 0


def _spawn(cmd: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    out = open(log, "ab") if log else None
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run Linli until interrupted; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m ops.serve")
    ap.add_argument("--port", type=int, default=int(os.environ.get("LINLI_PORT", "8501")))
    ap.add_argument("--host", default=os.environ.get("LINLI_HOST", "127.0.0.1"))
    ap.add_argument(
        "--scale",
        default=os.environ.get("LINLI_SCALE", "demo"),
        help="scale of the demo world built when the database is missing",
    )
    ap.add_argument("--no-mqtt", action="store_true", help="do not start broker or simulator")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    env.setdefault("LINLI_AUTH", "none")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    sys.path.insert(0, str(ROOT))
    from engine import db as dbmod

    db = Path(env.get("LINLI_DB") or dbmod.db_path())
    env["LINLI_DB"] = str(db)
    if not db.exists():
        print(f"Building the {args.scale} demo world into {db} (first run only)…", flush=True)
        rc = subprocess.call(
            [sys.executable, "-m", "data.generate", "--scale", args.scale, "--db", str(db)],
            cwd=ROOT,
            env=env,
        )
        if rc:
            print("Building the demo world failed; see the message above.", file=sys.stderr)
            return rc
    if not port_free(args.host, args.port):
        print(f"Port {args.port} is in use; set LINLI_PORT or pass --port.", file=sys.stderr)
        return 2

    children: list[subprocess.Popen] = []
    stopping = {"now": False}

    def request_stop(*_: object) -> None:
        stopping["now"] = True

    # Explicit handlers: a shell may start us with SIGINT ignored (background jobs).
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    logs = ROOT / "artifacts" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    mqtt_url = env.get("LINLI_MQTT_URL", "")
    have_mqtt = importlib.util.find_spec("connectors.broker") is not None
    if not args.no_mqtt and mqtt_url.lower() != "none" and have_mqtt:
        if not mqtt_url:
            from connectors.broker import free_port

            bport = free_port()
            # amqtt speaks MQTT 3.1.1 only: say so, so nobody probes for MQTT 5.
            mqtt_url = f"mqtt://linli:linli@127.0.0.1:{bport}/?protocol=3.1.1"
            env["LINLI_MQTT_URL"] = mqtt_url
            children.append(
                _spawn(
                    [sys.executable, "-m", "connectors.broker", "--port", str(bport)],
                    env,
                    logs / "broker.log",
                )
            )
            print(f"Embedded MQTT broker on 127.0.0.1:{bport}", flush=True)
            time.sleep(1.5)
        children.append(
            _spawn(
                [sys.executable, "-m", "ops.simulator", "--url", mqtt_url, "--db", str(db)],
                env,
                logs / "simulator.log",
            )
        )
        print("Telemetry simulator publishing", flush=True)

    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "dashboard" / "app.py"),
        f"--server.port={args.port}",
        f"--server.address={args.host}",
        *streamlit_flags(),
    ]
    app = _spawn(cmd, env)
    children.append(app)
    url = (
        f"http://{'localhost' if args.host in ('127.0.0.1', '0.0.0.0') else args.host}:{args.port}"
    )
    print(f"Linli is starting at {url}  (Ctrl-C stops everything)", flush=True)

    def stop(*_: object) -> None:
        for child in reversed(children):
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 10
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)

    try:
        while app.poll() is None and not stopping["now"]:
            time.sleep(0.3)
    finally:
        print("\nStopping Linli…", flush=True)
        stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
