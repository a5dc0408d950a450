"""Embedded MQTT broker (amqtt, MQTT 3.1.1) on 127.0.0.1 for `make run` and tests.

amqtt keeps QoS 1 messages for a disconnected persistent session only when the session is not
anonymous, so the broker requires a username and password (an argon2 password file written
to a private temporary directory). It also keeps everything in memory: a restart forgets
sessions. To lose nothing across a restart, the broker creates the ingester's session and
subscription itself at start (:class:`PresubscribePlugin`), so messages published before the
ingester reconnects are queued for it. Production uses Mosquitto or EMQX with persistence.

Run ``python -m connectors.broker --port 1883`` (Ctrl-C stops it); it prints the
``LINLI_MQTT_URL`` to use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from amqtt.broker import Broker, BrokerContext
from amqtt.plugins.base import BasePlugin
from pwdlib.hashers.argon2 import Argon2Hasher

from connectors import mqtt

log = logging.getLogger(__name__)

DEFAULT_USER = "linli"
# Local-only default (the listener binds 127.0.0.1); set LINLI_MQTT_PASSWORD to change it.
DEFAULT_PASSWORD = "linli-local"


class PresubscribePlugin(BasePlugin[BrokerContext]):
    """Create persistent sessions with subscriptions when the broker starts."""

    @dataclass
    class Config:
        """``sessions`` maps a client id to the topic filters it subscribes at QoS 1."""

        sessions: dict[str, list[str]] = field(default_factory=dict)

    async def on_broker_post_start(self) -> None:
        """Subscribe each configured client id (creating an offline session)."""
        for client_id, topics in self.config.sessions.items():
            for topic in topics:
                await self.context.add_subscription(client_id, topic, 1)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """An amqtt broker running on its own event loop in a background thread.

    Parameters
    ----------
    port
        TCP port; 0 picks a free one.
    host
        Interface to bind (127.0.0.1: reachable from this machine only).
    username, password
        The one account; defaults ``linli`` / ``LINLI_MQTT_PASSWORD`` or ``linli-local``.
    presubscribe
        Client id -> topic filters whose sessions exist from the start (default: the
        ingester's ``linli-ingest`` on ``linli/+/+/telemetry``).
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        username: str = DEFAULT_USER,
        password: str | None = None,
        presubscribe: dict[str, list[str]] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.username = username
        self.password = password or os.environ.get("LINLI_MQTT_PASSWORD") or DEFAULT_PASSWORD
        self.presubscribe = (
            {"linli-ingest": [mqtt.TOPIC_FILTER]} if presubscribe is None else presubscribe
        )
        self._dir = tempfile.TemporaryDirectory(prefix="linli-broker-")
        self.password_file = Path(self._dir.name) / "passwd"
        self.password_file.write_text(
            f"{username}:{Argon2Hasher().hash(self.password)}\n", encoding="utf-8"
        )
        self.password_file.chmod(0o600)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Broker | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The ``LINLI_MQTT_URL`` for this broker (with credentials; amqtt speaks 3.1.1 only)."""
        return f"mqtt://{self.username}:{self.password}@{self.host}:{self.port}/?protocol=3.1.1"

    def settings(self, **overrides: object) -> mqtt.MqttSettings:
        """Return :class:`connectors.mqtt.MqttSettings` for this broker."""
        return mqtt.MqttSettings.from_url(self.url, **overrides)

    def _config(self) -> dict[str, object]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.FileAuthPlugin": {
                    "password_file": str(self.password_file)
                },
                "connectors.broker.PresubscribePlugin": {"sessions": self.presubscribe},
            },
        }

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        """Start serving; returns once the listener accepts connections.

        Parameters
        ----------
        timeout
            Seconds to wait for the listener.

        Returns
        -------
        EmbeddedBroker
            ``self``.

        Raises
        ------
        RuntimeError
            When the broker does not come up (for example the port is taken).
        """
        if self._thread is not None:
            raise RuntimeError("The broker is already running.")
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def boot() -> None:
                self._broker = Broker(self._config(), loop=loop)
                await self._broker.start()

            try:
                loop.run_until_complete(boot())
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"amqtt-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or errors:
            self._thread = None
            raise RuntimeError(
                f"Embedded MQTT broker failed to start on port {self.port}: "
                f"{errors[0] if errors else 'timeout'}"
            )
        log.info("embedded MQTT broker on %s:%d", self.host, self.port)
        return self

    def stop(self, timeout: float = 15.0, drain_s: float = 3.0) -> None:
        """Shut the broker down (sessions and queued messages are forgotten).

        amqtt acknowledges a QoS 1 PUBLISH before it forwards it, and its shutdown drops what
        is still on the way. So the stop first drains: it stops reading from publishers
        (what they send next stays unacknowledged and is resent after the restart), then
        waits until every acknowledged message reached its subscribers.

        Parameters
        ----------
        timeout
            Seconds to wait for shutdown.
        drain_s
            Longest drain; 0 stops abruptly (like a crash).
        """
        if self._thread is None or self._loop is None or self._broker is None:
            return
        if drain_s > 0:
            fut = asyncio.run_coroutine_threadsafe(self._drain(drain_s), self._loop)
            with contextlib.suppress(Exception):
                fut.result(drain_s + 5)
        fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        with contextlib.suppress(Exception):
            fut.result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread = None
        self._broker = None

    async def _drain(self, timeout: float) -> None:
        # Uses amqtt internals (0.12); any mismatch just falls through to a plain shutdown.
        b = self._broker
        assert b is not None
        subscribers = set(self.presubscribe)
        for client_id, (_session, handler) in list(b._sessions.items()):
            writer = getattr(handler, "writer", None)
            transport = getattr(getattr(writer, "_writer", None), "transport", None)
            if client_id not in subscribers and transport is not None:
                transport.pause_reading()
        # A PUBLISH read just before the pause may be acknowledged but not yet queued for
        # its subscribers: give the handlers a moment before judging the queues empty.
        await asyncio.sleep(0.2)
        end = self._loop.time() + timeout if self._loop else 0.0
        while self._loop is not None and self._loop.time() < end:
            busy = not b._broadcast_queue.empty() or any(not t.done() for t in b._tasks_queue)
            for session, _handler in b._sessions.values():
                busy |= not session.delivered_message_queue.empty()
                if session.transitions.state == "connected":
                    busy |= bool(session.inflight_out)
            if not busy:
                return
            await asyncio.sleep(0.01)

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and remove the password file."""
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    """Run the embedded broker until interrupted."""
    p = argparse.ArgumentParser(description="Embedded MQTT broker for Linli (amqtt, 127.0.0.1).")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--user", default=DEFAULT_USER)
    p.add_argument("--password", default=None, help="default: LINLI_MQTT_PASSWORD or linli-local")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    user, password = args.user, args.password
    env_url = os.environ.get("LINLI_MQTT_URL", "")
    if password is None and env_url.startswith("mqtt://"):
        # `make run` exports the URL it will give the app and the simulator: serve that account.
        settings = mqtt.MqttSettings.from_url(env_url)
        if settings.username and settings.port == args.port:
            user, password = settings.username, settings.password
    broker = EmbeddedBroker(args.port, username=user, password=password)
    try:
        broker.start()
    except RuntimeError as exc:
        print(exc)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"LINLI_MQTT_URL={broker.url}", flush=True)
    stop.wait()
    broker.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
