"""The outbox in the database: idempotency, claiming, back-off, dead letters, recovery."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from engine import db
from engine.actions import outbox


@pytest.fixture
def con():
    c = db.connect(":memory:")
    yield c
    c.close()


def _enqueue(con, key, **kw):
    args = dict(kind="test", channel="duty", recipient="desk", subject="s", body="b") | kw
    return outbox.enqueue(con, key=key, **args)


class Clock:
    def __init__(self):
        self.now = datetime.now() + timedelta(seconds=1)

    def __call__(self):
        return self.now


def test_enqueue_is_idempotent_per_key(con):
    """The same key queues one message, even with other content; attachments are kept."""
    assert _enqueue(con, "k1", attachments=[("a.xlsx", b"PK\x03\x04")])
    assert not _enqueue(con, "k1", body="other", attachments=[("b.txt", b"x")])
    rows = outbox.messages(con)
    assert len(rows) == 1 and rows.at[0, "attachments"] == 1
    msg = outbox.message(con, "k1")
    assert msg.body == "b" and msg.attachments == (("a.xlsx", b"PK\x03\x04"),)


def test_enqueue_inside_the_callers_transaction(con):
    """A caller's rollback removes the message it enqueued: one transaction with its rows."""
    con.begin()
    assert _enqueue(con, "k1")
    con.rollback()
    assert outbox.messages(con).empty


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(key=""), "key"),
        (dict(channel=" "), "channel"),
        (dict(attachments=[("", b"x")]), "attachments"),
        (dict(attachments=[("a.txt", "text")]), "attachments"),
    ],
)
def test_enqueue_rejects_bad_input(con, kw, match):
    """Empty keys or channels and malformed attachments are refused with a clear error."""
    args = dict(key="k", kind="t", channel="duty", recipient="r", subject="s", body="b") | kw
    with pytest.raises(ValueError, match=match):
        outbox.enqueue(con, **args)


def test_back_off_then_delivered_once(con):
    """Three failures wait base·2^(n-1) each; the fourth attempt delivers; never claimed again."""
    clock = Clock()
    retry = outbox.Retry(base_s=10, factor=2, max_attempts=8)
    _enqueue(con, "k1")
    calls = []

    def send(msg):
        calls.append(clock())
        if len(calls) <= 3:
            raise ConnectionError("receiver down")

    for _ in range(20):
        outbox.deliver(con, send, retry=retry, clock=clock)
        clock.now += timedelta(seconds=5)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(calls)]
    assert gaps == [10, 20, 40]
    row = outbox.messages(con).iloc[0]
    assert row["status"] == "sent" and row["attempts"] == 4 and row["last_error"] is None


def test_dead_after_max_attempts_and_requeue(con):
    """A message that always fails is dead after max_attempts with its error; requeue revives it."""
    clock = Clock()
    retry = outbox.Retry(base_s=1, max_attempts=3)
    _enqueue(con, "k1")

    def fail(msg):
        raise ConnectionError("refused")

    for _ in range(10):
        outbox.deliver(con, fail, retry=retry, clock=clock)
        clock.now += timedelta(seconds=10)
    row = outbox.messages(con).iloc[0]
    assert row["status"] == "dead" and row["attempts"] == 3 and "refused" in row["last_error"]
    outbox.requeue(con, "k1")
    got = []
    outbox.deliver(con, got.append, retry=retry)
    assert [m.key for m in got] == ["k1"]
    with pytest.raises(ValueError, match="no dead"):
        outbox.requeue(con, "k1")


def test_stop_releases_the_rest_of_the_batch(con):
    """A stopping sender finishes the message in hand and gives the others back, due at once."""
    import threading

    for i in range(5):
        _enqueue(con, f"k{i}")
    stop = threading.Event()
    sent = []

    def send(msg):
        sent.append(msg.key)
        if len(sent) == 2:
            stop.set()

    d = outbox.deliver(con, send, stop=stop)
    assert (d.sent, d.released) == (2, 3)
    rest = []
    outbox.deliver(con, lambda m: rest.append(m.key))
    assert sorted(sent + rest) == [f"k{i}" for i in range(5)]


def test_recover_and_lease(con):
    """A message left 'sending' by a killed process is due after recover() or after its lease."""
    clock = Clock()
    retry = outbox.Retry(lease_s=60)
    _enqueue(con, "k1")
    assert [m.key for m in outbox.claim(con, now=clock(), retry=retry)] == ["k1"]
    assert outbox.claim(con, now=clock.now + timedelta(seconds=30), retry=retry) == []
    assert [m.key for m in outbox.claim(con, now=clock.now + timedelta(seconds=61), retry=retry)]
    assert outbox.recover(con) == 1
    assert outbox.messages(con, status="queued")["msg_key"].tolist() == ["k1"]


def test_parallel_workers_deliver_each_once_and_stop_releases(con):
    """With 4 workers every message is sent once; failures are retried; a stop gives back."""
    import threading

    for i in range(40):
        _enqueue(con, f"k{i:02d}")
    seen, lock = [], threading.Lock()

    def send(msg):
        with lock:
            seen.append(msg.key)
        if msg.key.endswith("7"):
            raise ConnectionError("down")

    d = outbox.deliver(con, send, workers=4, retry=outbox.Retry(base_s=0))
    assert (d.sent, d.retried, d.released) == (36, 4, 0) and len(set(seen)) == 40 == len(seen)
    stop = threading.Event()
    stop.set()
    d = outbox.deliver(con, send, workers=4, stop=stop, retry=outbox.Retry(base_s=0))
    assert (d.sent, d.released) == (0, 4)
    assert sorted(outbox.messages(con, status="queued")["msg_key"]) == [
        "k07", "k17", "k27", "k37",
    ]  # fmt: skip
