"""The outbox: every message that leaves Linli, queued in the database and sent in the background.

A caller *enqueues* a message under an idempotency key (the same key twice queues one message)
in its own transaction, and returns at once: sending never blocks a page. A sender (one per
process that owns the database; built in :mod:`ops.actions`) *claims* due messages, hands each
to a ``send`` callable and records the outcome:

- success: ``sent`` with its time; it is never claimed again;
- failure: ``queued`` again with an exponential back-off (``Retry``), and ``dead`` after
  ``Retry.max_attempts`` attempts with the last error kept (an admin may requeue it).

A claimed message is ``sending`` under a lease. The status is committed after each message, so
a sender stopped between two messages (a restart) leaves every message either ``sent`` or still
due: nothing is lost and nothing is sent again. A process killed *during* one delivery leaves
that one message ``sending``; :func:`recover` (called when a sender starts: only one process
owns a DuckDB file) or the lease's expiry makes it due again. That one message may then reach
its receiver twice, always with the same key, which the channels pass along (``X-Linli-Key``)
so the receiver can drop the repeat.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Event

import duckdb
import pandas as pd

STATUSES = ("queued", "sending", "sent", "dead")
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Retry:
    """Back-off of failed deliveries: ``base_s × factor^(attempt-1)``, at most ``max_s``.

    Attributes
    ----------
    base_s, factor, max_s
        The back-off after the first failure, its growth per failure and its ceiling.
    max_attempts
        Attempts before a message is ``dead``.
    lease_s
        How long a claimed message stays with its sender before another may take it.
    """

    base_s: float = 10.0
    factor: float = 2.0
    max_s: float = 3600.0
    max_attempts: int = 8
    lease_s: float = 300.0

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.factor < 1 or self.max_s < self.base_s:
            raise ValueError("back-off needs base_s ≥ 0, factor ≥ 1 and max_s ≥ base_s")
        if self.max_attempts < 1 or self.lease_s <= 0:
            raise ValueError("max_attempts must be ≥ 1 and lease_s > 0")

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure."""
        return min(self.base_s * self.factor ** max(attempts - 1, 0), self.max_s)


@dataclass(frozen=True)
class Message:
    """A claimed message, as the sender hands it to a channel."""

    key: str
    kind: str
    channel: str
    recipient: str
    subject: str
    body: str
    attachments: tuple[tuple[str, bytes], ...]
    attempts: int


@dataclass(frozen=True)
class Delivery:
    """What one :func:`deliver` pass did."""

    sent: int
    retried: int
    dead: int
    released: int


def enqueue(
    con: duckdb.DuckDBPyConnection,
    *,
    key: str,
    kind: str,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    attachments: list[tuple[str, bytes]] | None = None,
) -> bool:
    """Queue one message unless a message with the same key exists.

    Parameters
    ----------
    con
        Writable connection; an open transaction of the caller covers the insert.
    key
        Idempotency key: the same key is queued (and sent) once, whatever its content.
    kind
        What the message is (``plan_listing``, ``supplier_order``, ``digest``, ``alarm``, …).
    channel
        A channel name, ``role`` or ``role@<region_id>`` (see :mod:`engine.actions.channels`),
        or an apprise URL.
    recipient
        Who it is for: a name, or an e-mail address that mail channels send to.
    subject, body
        Title and text.
    attachments
        ``(filename, content)`` pairs.

    Returns
    -------
    bool
        True if the message was newly queued, False if the key was already there.

    Raises
    ------
    ValueError
        For an empty key, kind or channel, or a bad attachment.
    """
    for name, value in (("key", key), ("kind", kind), ("channel", channel)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"outbox message needs a non-empty {name}")
    files = list(attachments or [])
    for item in files:
        if (
            not isinstance(item, tuple)
            or len(item) != 2
            or not isinstance(item[0], str)
            or not item[0].strip()
            or not isinstance(item[1], bytes | bytearray)
        ):
            raise ValueError("attachments must be (filename, bytes) pairs with a filename")
        if len(item[1]) > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"attachment {item[0]!r} is over {MAX_ATTACHMENT_BYTES} bytes")
    now = datetime.now()
    # One statement, message and files together: atomic on its own and inside the caller's
    # transaction alike.
    new = con.execute(
        "INSERT INTO outbox (msg_key, kind, channel, recipient, subject, body, status, attempts, "
        "created_at, next_attempt_at, attachments) VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, "
        "?::STRUCT(filename VARCHAR, content BLOB)[]) ON CONFLICT DO NOTHING RETURNING msg_key",
        [
            key,
            kind,
            channel,
            recipient or "",
            subject or "",
            body or "",
            now,
            now,
            [{"filename": n, "content": bytes(c)} for n, c in files],
        ],
    ).fetchall()
    return bool(new)


def recover(con: duckdb.DuckDBPyConnection) -> int:
    """Make messages left ``sending`` by a stopped process due again; returns how many.

    Call only where no other sender is running (a DuckDB file has one writing process).
    """
    rows = con.execute(
        "UPDATE outbox SET status = 'queued', claimed_until = NULL "
        "WHERE status = 'sending' RETURNING msg_key"
    ).fetchall()
    return len(rows)


def claim(
    con: duckdb.DuckDBPyConnection,
    *,
    limit: int = 100,
    now: datetime | None = None,
    retry: Retry = Retry(),
) -> list[Message]:
    """Take up to ``limit`` due messages (oldest first) under a lease and return them."""
    now = now or datetime.now()
    rows = con.execute(
        "UPDATE outbox SET status = 'sending', claimed_until = ? WHERE msg_key IN ("
        "  SELECT msg_key FROM outbox WHERE (status = 'queued' AND next_attempt_at <= ?)"
        "  OR (status = 'sending' AND claimed_until < ?) ORDER BY created_at, msg_key LIMIT ?) "
        "RETURNING msg_key, kind, channel, recipient, subject, body, attempts, created_at, "
        "attachments",
        [now + timedelta(seconds=retry.lease_s), now, now, int(limit)],
    ).fetchall()
    rows.sort(key=lambda r: (r[7], r[0]))
    return [_message(r) for r in rows]


def _message(r: tuple) -> Message:
    files = tuple((f["filename"], bytes(f["content"])) for f in r[8] or ())
    return Message(r[0], r[1], r[2], r[3], r[4], r[5], files, r[6])


def mark_sent(
    con: duckdb.DuckDBPyConnection, key: str | list[str], now: datetime | None = None
) -> None:
    """Record delivered messages (one key or several, in one statement)."""
    keys = [key] if isinstance(key, str) else list(key)
    if not keys:
        return
    con.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
        "claimed_until = NULL, last_error = NULL WHERE list_contains(?::VARCHAR[], msg_key)",
        [now or datetime.now(), keys],
    )


def mark_failed(
    con: duckdb.DuckDBPyConnection,
    key: str,
    error: str,
    now: datetime | None = None,
    retry: Retry = Retry(),
) -> str:
    """Record a failed attempt: due again after the back-off, or ``dead``; returns the status."""
    now = now or datetime.now()
    row = con.execute("SELECT attempts FROM outbox WHERE msg_key = ?", [key]).fetchall()
    if not row:
        raise ValueError(f"no outbox message {key!r}")
    attempts = row[0][0] + 1
    status = "dead" if attempts >= retry.max_attempts else "queued"
    con.execute(
        "UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, claimed_until = NULL, "
        "last_error = ? WHERE msg_key = ?",
        [status, attempts, now + timedelta(seconds=retry.delay(attempts)), error[:2000], key],
    )
    return status


def release(con: duckdb.DuckDBPyConnection, keys: list[str]) -> None:
    """Give claimed messages back unsent (a stopping sender), due at once."""
    if keys:
        con.execute(
            "UPDATE outbox SET status = 'queued', claimed_until = NULL "
            "WHERE status = 'sending' AND list_contains(?::VARCHAR[], msg_key)",
            [keys],
        )


def requeue(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """Send a ``dead`` message again (after its channel was fixed), with fresh attempts."""
    rows = con.execute(
        "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ? "
        "WHERE msg_key = ? AND status = 'dead' RETURNING msg_key",
        [datetime.now(), key],
    ).fetchall()
    if not rows:
        raise ValueError(f"no dead outbox message {key!r}")


def deliver(
    con: duckdb.DuckDBPyConnection,
    send: Callable[[Message], None],
    *,
    limit: int = 100,
    retry: Retry = Retry(),
    stop: Event | None = None,
    clock: Callable[[], datetime] = datetime.now,
    workers: int = 1,
) -> Delivery:
    """Claim due messages and send them; each outcome is committed as soon as it is known.

    Parameters
    ----------
    con
        A cursor of the connection, used by this thread only (senders never touch it).
    send
        Delivers one message or raises (the exception text becomes ``last_error``).
    limit
        Messages claimed in this pass.
    retry
        Back-off and lease.
    stop
        When set, the messages in hand are finished and the rest are given back.
    clock
        The current time (tests move it).
    workers
        Messages in flight at once (channels are network-bound). A process killed in the
        middle can leave at most this many deliveries unrecorded.

    Returns
    -------
    Delivery
        Counts of sent, retried, dead and released messages.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    batch = claim(con, limit=limit, now=clock(), retry=retry)
    counts = {"sent": 0, "retried": 0, "dead": 0}

    def record(msg: Message, exc: BaseException | None) -> None:
        if exc is None:
            mark_sent(con, msg.key, clock())
            counts["sent"] += 1
        else:
            status = mark_failed(con, msg.key, f"{type(exc).__name__}: {exc}", clock(), retry)
            counts["dead" if status == "dead" else "retried"] += 1

    stopped = lambda: stop is not None and stop.is_set()  # noqa: E731
    if workers == 1 or len(batch) <= 1:
        for i, msg in enumerate(batch):
            if stopped():
                release(con, [m.key for m in batch[i:]])
                return Delivery(counts["sent"], counts["retried"], counts["dead"], len(batch) - i)
            try:
                send(msg)
            except Exception as exc:
                record(msg, exc)
            else:
                record(msg, None)
        return Delivery(counts["sent"], counts["retried"], counts["dead"], 0)
    released: list[str] = []
    queue = iter(batch)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="linli-send") as pool:
        futures: dict = {}

        def start(n: int) -> None:
            # A new delivery starts only once an earlier one's outcome is committed: at
            # most ``workers`` deliveries are ever unrecorded (in flight or just finished).
            for msg in itertools.islice(queue, n):
                futures[pool.submit(_guarded, send, msg, stop)] = msg

        start(workers)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            ok = []
            for fut in done:
                msg = futures[fut]
                res = fut.result()
                if res is _SKIPPED:
                    released.append(msg.key)
                elif isinstance(res, BaseException):
                    record(msg, res)
                else:
                    ok.append(msg.key)
            # Every outcome known is committed at once; several finished together share
            # one statement.
            mark_sent(con, ok, clock())
            counts["sent"] += len(ok)
            if stopped():
                released.extend(m.key for m in queue)
            else:
                before = set(futures)
                start(len(done))
                pending |= set(futures) - before
    release(con, released)
    return Delivery(counts["sent"], counts["retried"], counts["dead"], len(released))


_SKIPPED = object()


def _guarded(send: Callable[[Message], None], msg: Message, stop: Event | None) -> object:
    """Run one send in a worker: its exception (or None), or _SKIPPED when stopping."""
    if stop is not None and stop.is_set():
        return _SKIPPED
    try:
        send(msg)
    except Exception as exc:
        return exc
    return None


def messages(
    con: duckdb.DuckDBPyConnection,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 200,
) -> pd.DataFrame:
    """The newest messages with their delivery status (no bodies or attachments)."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    return con.execute(
        "SELECT msg_key, kind, channel, recipient, subject, status, attempts, created_at, "
        "next_attempt_at, sent_at, last_error, "
        "coalesce(len(attachments), 0) AS attachments FROM outbox WHERE (? IS NULL OR status = ?) AND (? IS NULL OR kind = ?) "
        "ORDER BY created_at DESC, msg_key LIMIT ?",
        [status, status, kind, kind, int(limit)],
    ).df()


def counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Messages per kind and status."""
    return con.execute(
        "SELECT kind, status, count(*) AS messages, max(created_at) AS latest "
        "FROM outbox GROUP BY ALL ORDER BY kind, status"
    ).df()


def message(con: duckdb.DuckDBPyConnection, key: str) -> Message:
    """One stored message with its attachments, whatever its status."""
    row = con.execute(
        "SELECT msg_key, kind, channel, recipient, subject, body, attempts, created_at, "
        "attachments FROM outbox WHERE msg_key = ?",
        [key],
    ).fetchall()
    if not row:
        raise ValueError(f"no outbox message {key!r}")
    return _message(row[0])
