"""MQTT receiving in a child process, so paho's packet handling does not share the app's GIL.

The child runs the same subscription as the in-process receiver
(:class:`connectors.mqtt.client.Subscription`: persistent session, QoS 1, reconnects) and
forwards messages in lists through a multiprocessing queue, plus connection events. The
app process keeps the single DuckDB writer. With acknowledgement after commit, the writer
sends ``(epoch, packet ids)`` back through a second queue and the child acknowledges them;
otherwise paho acknowledges a message once it is in the child's memory, as the in-process
receiver does once it is queued.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import threading
from collections.abc import Callable
from typing import Any

from connectors.mqtt.client import Message, Subscription
from connectors.mqtt.settings import MqttSettings

# The stock client hands over one message at a time: the child gathers them for this long
# before one put (a put per message would pickle and lock per message).
_GATHER_S = 0.02


def _child(settings: MqttSettings, out: Any, acks: Any, stop: Any, manual_ack: bool) -> None:
    """Child process: receive and forward until ``stop`` is set."""
    lock = threading.Lock()
    gathered: list[tuple[int, list[Message]]] = []

    def on_messages(epoch: int, msgs: list[Message]) -> None:
        with lock:
            if gathered and gathered[-1][0] == epoch:
                gathered[-1][1].extend(msgs)
            else:
                gathered.append((epoch, list(msgs)))

    def forward() -> None:
        with lock:
            items = gathered[:]
            gathered.clear()
        for item in items:
            out.put(("msgs", item))

    sub = Subscription(
        settings, on_messages, lambda kind, detail: out.put((kind, detail)), manual_ack
    )
    sub.start()
    while not stop.is_set():
        try:
            item = acks.get(timeout=_GATHER_S)
        except queue.Empty:
            item = None
        if item is not None:
            sub.ack(*item)
        forward()
    while True:  # acknowledgements sent before the stop
        try:
            item = acks.get_nowait()
        except queue.Empty:
            break
        if item is not None:
            sub.ack(*item)
    sub.stop()
    forward()
    out.put(("done", None))


class ProcessReceiver:
    """Run :func:`_child` and hand its batches and events to callbacks in this process.

    Parameters
    ----------
    settings
        Broker settings with a resolved protocol (the child connects with them).
    on_messages
        Called with ``(epoch, [(topic, payload, packet id), ...])``.
    on_event
        Called with ``(kind, detail)``: ``connected``, ``disconnected`` or ``error``.
    manual_ack
        The application acknowledges through :meth:`ack`.
    """

    def __init__(
        self,
        settings: MqttSettings,
        on_messages: Callable[[int, list[Message]], None],
        on_event: Callable[[str, str | None], None],
        manual_ack: bool = False,
    ) -> None:
        self.settings = settings
        self.on_messages = on_messages
        self.on_event = on_event
        ctx = mp.get_context("spawn")  # never fork a process that holds DuckDB and threads
        self._q = ctx.Queue()
        self._acks = ctx.Queue()
        self._stop = ctx.Event()
        self._proc = ctx.Process(
            target=_child,
            args=(settings, self._q, self._acks, self._stop, manual_ack),
            name="linli-mqtt-rx",
            daemon=True,
        )
        self._thread = threading.Thread(target=self._pump, name="linli-mqtt-rx-pump", daemon=True)

    def start(self) -> None:
        """Start the child and the pump thread."""
        self._proc.start()
        self._thread.start()

    def ack(self, epoch: int, mids: list[int]) -> None:
        """Acknowledge messages of connection ``epoch`` (sent by the child).

        After :meth:`stop` nothing is sent: the child is gone and the broker redelivers.

        Parameters
        ----------
        epoch
            The epoch the messages arrived in.
        mids
            Their packet identifiers.
        """
        if not self._stop.is_set():
            self._acks.put((epoch, mids))

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
                self.on_messages(*detail)
            elif kind == "done":
                return
            else:
                self.on_event(kind, detail)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to disconnect, forward what it holds, and end.

        Parameters
        ----------
        timeout
            Seconds to wait for the pump thread and the child each.
        """
        self._stop.set()
        self._acks.put(None)
        self._acks.cancel_join_thread()  # never block this process's exit on a dead reader
        self._thread.join(timeout)
        self._proc.join(timeout)
        if self._proc.is_alive():
            with contextlib.suppress(Exception):
                self._proc.terminate()
