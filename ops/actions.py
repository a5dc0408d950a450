"""Where the outbox meets the channels: the background sender.

``engine.actions.outbox`` keeps the messages and ``connectors.channels`` speaks apprise; the
:class:`Sender` joins them in one daemon thread with its own cursor, so a page that enqueues
a message returns at once. The app starts one sender (``dashboard.actions``), as does
``python -m ops.scheduler``; only one process owns a DuckDB file, so there is one sender per
file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import duckdb

from connectors import channels as transport
from engine.actions import channels, outbox

log = logging.getLogger(__name__)
DEFAULT_RETRY = outbox.Retry()


def send_one(
    con: duckdb.DuckDBPyConnection,
    msg: outbox.Message,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Resolve the message's channel and deliver it (raises when it was not delivered)."""
    urls = channels.resolve(con, msg.channel, environ)
    transport.send(
        urls,
        key=msg.key,
        recipient=msg.recipient,
        subject=msg.subject,
        body=msg.body,
        attachments=msg.attachments,
    )


@dataclass(frozen=True)
class SenderStatus:
    """Counters of a running sender."""

    running: bool
    passes: int
    sent: int
    retried: int
    dead: int
    last_pass: datetime | None
    last_error: str | None


class Sender:
    """Delivers due outbox messages every ``interval_s`` (or at once after :meth:`wake`).

    Parameters
    ----------
    con
        The process's connection; the thread uses its own cursor.
    interval_s
        Pause between passes when nothing is due.
    retry
        Back-off, attempts and lease (:class:`engine.actions.outbox.Retry`).
    batch
        Messages claimed per pass.
    environ
        Where ``LINLI_CHANNEL_*`` variables are read; default the process environment.
    workers
        Deliveries in flight at once (see :func:`engine.actions.outbox.deliver`).
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        interval_s: float = 2.0,
        retry: outbox.Retry = DEFAULT_RETRY,
        batch: int = 100,
        environ: Mapping[str, str] | None = None,
        workers: int = 8,
    ):
        self._cur = con.cursor()
        self._resolve_cur = con.cursor()
        self._resolve_lock = threading.Lock()
        self._urls: dict[str, list[str] | Exception] = {}
        self.workers = workers
        self.interval_s = interval_s
        self.retry = retry
        self.batch = batch
        self.environ = environ
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._passes = self._sent = self._retried = self._dead = 0
        self._last_pass: datetime | None = None
        self._last_error: str | None = None

    def start(self) -> Sender:
        """Make messages a stopped process left ``sending`` due, then start the thread."""
        n = outbox.recover(self._cur)
        if n:
            log.info("outbox: %d message(s) left sending by a stopped process are due again", n)
        self._thread = threading.Thread(target=self._run, name="linli-outbox", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Start the next pass now (after enqueueing)."""
        self._wake.set()

    def run_once(self) -> outbox.Delivery:
        """One pass in the calling thread (tests, the benchmark)."""
        with self._lock:
            self._urls = {}  # channels are looked up once per pass (the admin may change them)
            d = outbox.deliver(
                self._cur,
                self._send,
                limit=self.batch,
                retry=self.retry,
                stop=self._stop,
                workers=self.workers,
            )
            self._passes += 1
            self._sent += d.sent
            self._retried += d.retried
            self._dead += d.dead
            self._last_pass = datetime.now()
        return d

    def _resolve(self, channel: str) -> list[str]:
        with self._resolve_lock:  # worker threads share one cursor for the look-ups
            if channel not in self._urls:
                try:
                    self._urls[channel] = channels.resolve(self._resolve_cur, channel, self.environ)
                except (channels.ChannelError, ValueError) as exc:
                    self._urls[channel] = exc
            found = self._urls[channel]
        if isinstance(found, Exception):
            raise found
        return found

    def _send(self, msg: outbox.Message) -> None:
        transport.send(
            self._resolve(msg.channel),
            key=msg.key,
            recipient=msg.recipient,
            subject=msg.subject,
            body=msg.body,
            attachments=msg.attachments,
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                d = self.run_once()
            except Exception as exc:  # a locked or closed database must not kill the thread
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox pass failed: %s", self._last_error)
                d = outbox.Delivery(0, 0, 0, 0)
            if d.sent + d.retried + d.dead == self.batch:
                continue  # more may be due
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the message in hand, give the rest of the batch back, and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> SenderStatus:
        """Counters since start."""
        alive = self._thread is not None and self._thread.is_alive()
        return SenderStatus(
            alive,
            self._passes,
            self._sent,
            self._retried,
            self._dead,
            self._last_pass,
            self._last_error,
        )
