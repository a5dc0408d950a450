"""MQTT receiving in a child process, so paho's packet parsing does not share the app's GIL.

The child runs the same paho client (persistent session, QoS 1, reconnects) and sends
batches of raw ``(topic, payload)`` every 20 ms through a multiprocessing queue, plus
connection events. The app process keeps the single DuckDB writer. paho acknowledges a
message once it is in the child's memory, as the in-process receiver does once it is queued.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from connectors import mqtt


def _child(settings: mqtt.MqttSettings, out: Any, stop: Any) -> None:
    """Child process: receive and forward until ``stop`` is set."""
    client = mqtt.make_client(settings, settings.client_id)
    buf: list[tuple[str, bytes]] = []
    lock = threading.Lock()

    def on_connect(c, u, flags, rc, p) -> None:
        if rc.is_failure:
            out.put(("error", f"connect refused: {rc}"))
            return
        c.subscribe(settings.topic, qos=settings.qos)
        out.put(("connected", None))

    def on_disconnect(c, u, flags, rc, p) -> None:
        out.put(("disconnected", f"disconnected: {rc}" if rc.is_failure else None))

    def on_message(c, u, m) -> None:
        with lock:
            buf.append((m.topic, m.payload))

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    mqtt._connect_async(client, settings)
    client.loop_start()

    def flush() -> None:
        with lock:
            batch = buf[:]
            buf.clear()
        if batch:
            out.put(("msgs", batch))

    while not stop.is_set():
        time.sleep(0.02)
        flush()
    client.disconnect()
    client.loop_stop()
    flush()
    out.put(("done", None))


class ProcessReceiver:
    """Run :func:`_child` and hand its batches and events to callbacks in this process.

    Parameters
    ----------
    settings
        Broker settings (the child connects with them).
    on_messages
        Called with each list of ``(topic, payload)``.
    on_event
        Called with ``(kind, detail)``: ``connected``, ``disconnected`` or ``error``.
    """

    def __init__(
        self,
        settings: mqtt.MqttSettings,
        on_messages: Callable[[list[tuple[str, bytes]]], None],
        on_event: Callable[[str, str | None], None],
    ) -> None:
        self.settings = settings
        self.on_messages = on_messages
        self.on_event = on_event
        ctx = mp.get_context("spawn")  # never fork a process that holds DuckDB and threads
        self._q = ctx.Queue()
        self._stop = ctx.Event()
        self._proc = ctx.Process(
            target=_child, args=(settings, self._q, self._stop), name="linli-mqtt-rx", daemon=True
        )
        self._thread = threading.Thread(target=self._pump, name="linli-mqtt-rx-pump", daemon=True)

    def start(self) -> None:
        """Start the child and the pump thread."""
        self._proc.start()
        self._thread.start()

    def _pump(self) -> None:
        while True:
            try:
                kind, detail = self._q.get(timeout=0.5)
            except queue.Empty:
                if not self._proc.is_alive():
                    self.on_event("disconnected", "receiver process ended")
                    return
                continue
            if kind == "msgs":
                self.on_messages(detail)
            elif kind == "done":
                return
            else:
                self.on_event(kind, detail)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to disconnect, forward what it holds, and end."""
        self._stop.set()
        self._thread.join(timeout)
        self._proc.join(timeout)
        if self._proc.is_alive():
            with contextlib.suppress(Exception):
                self._proc.terminate()
