"""The outbox sender against real local receivers: an HTTP webhook and an aiosmtpd server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from engine import db
from engine.actions import channels, outbox
from ops import actions
from tests.receivers import SmtpReceiver, WebhookReceiver, mail_files, mail_text

ROOT = Path(__file__).resolve().parents[2]
FAST = outbox.Retry(base_s=0.05, factor=2, max_s=1, max_attempts=8)


@pytest.fixture
def con():
    c = db.connect(":memory:")
    yield c
    c.close()


@pytest.fixture
def hook():
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture
def smtp():
    r = SmtpReceiver()
    yield r
    r.close()


def _drain(sender: actions.Sender, con, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        sender.run_once()
        left = outbox.messages(con)
        if left.empty or left["status"].isin(["sent", "dead"]).all():
            return
        time.sleep(0.05)


def test_receiver_failing_three_times_gets_exactly_one_delivery(con):
    """HTTP 500 three times, then 200: the message arrives once, after four attempts."""
    hook = WebhookReceiver(fail_first=3)
    try:
        channels.set_channel(con, "duty", hook.url())
        assert outbox.enqueue(
            con, key="a1", kind="alarm", channel="duty", recipient="值班", subject="告警", body="x"
        )
        _drain(actions.Sender(con, retry=FAST), con)
        time.sleep(0.3)  # anything late would show now
        assert hook.refused == 3
        assert [(h.key, h.title, h.message) for h in hook.hits] == [("a1", "告警", "x")]
        row = outbox.messages(con).iloc[0]
        assert (row["status"], row["attempts"]) == ("sent", 4)
    finally:
        hook.close()


def test_mail_with_attachment_reaches_the_recipient(con, smtp):
    """A mail channel without to= sends to the recipient's address, with the Excel attached."""
    channels.set_channel(con, "supplier", smtp.url())
    outbox.enqueue(
        con,
        key="po-1",
        kind="supplier_order",
        channel="supplier",
        recipient="buyer@supplier.example",
        subject="采购单 PO-1",
        body="合计 12 件",
        attachments=[("po.xlsx", b"PK\x03\x04 excel")],
    )
    _drain(actions.Sender(con, retry=FAST), con)
    (mail,) = smtp.wait(1)
    assert smtp.envelopes[0][1] == ["buyer@supplier.example"]
    assert mail["Subject"] == "采购单 PO-1" and mail["X-Linli-Key"] == "po-1"
    assert "合计 12 件" in mail_text(mail)
    assert mail_files(mail) == {"po.xlsx": b"PK\x03\x04 excel"}


def test_unconfigured_channel_is_retried_and_says_why(con):
    """A message whose role has no channel is not lost: it waits with a clear error."""
    outbox.enqueue(con, key="k", kind="t", channel="manager@3", recipient="r", subject="s", body="")
    actions.Sender(con, retry=FAST, environ={}).run_once()
    row = outbox.messages(con).iloc[0]
    assert (
        row["status"] == "queued"
        and "no channel configured for role 'manager'" in (row["last_error"])
    )


def test_environment_channel_overrides_and_region_first(con, hook):
    """LINLI_CHANNEL_<ROLE>_R<n> beats LINLI_CHANNEL_<ROLE>, which beats the admin table."""
    channels.set_channel(con, "manager", "json://127.0.0.1:9/never")
    env = {"LINLI_CHANNEL_MANAGER_R2": hook.url("/r2"), "LINLI_CHANNEL_MANAGER": hook.url("/all")}
    assert channels.resolve(con, "manager@2", env) == [hook.url("/r2")]
    assert channels.resolve(con, "manager@5", env) == [hook.url("/all")]
    assert channels.resolve(con, "manager@5", {}) == ["json://127.0.0.1:9/never"]
    channels.set_channel(con, "duty", hook.url("/duty"))
    assert channels.resolve(con, "escalation@2", {}) == [hook.url("/duty")]  # falls back
    with pytest.raises(ValueError, match="unsupported channel URL"):
        channels.set_channel(con, "duty", "http://example.com")


def _run_sender(path: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ops.scheduler", "--db", str(path), "--jobs", "none"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_restart_in_the_middle_loses_nothing_and_sends_nothing_twice(tmp_path, sig):
    """Stop the sender process while it sends 40 messages, start it again: each arrives once.

    SIGTERM finishes the messages in hand: each arrives exactly once. SIGKILL may cut the
    deliveries in flight (at most one per sender worker): those are sent again after the
    restart with the same X-Linli-Key, so an idempotent receiver can drop the repeat.
    """
    hook = WebhookReceiver(delay_s=0.05)
    path = tmp_path / "outbox.duckdb"
    con = db.connect(path)
    for i in range(40):
        outbox.enqueue(
            con, key=f"m{i:02d}", kind="t", channel="duty", recipient="r", subject=f"#{i}", body=""
        )
    con.close()
    env = dict(os.environ, LINLI_CHANNEL_DUTY=hook.url())
    try:
        proc = _run_sender(path, env)
        hook.wait(10, timeout=60)
        os.killpg(proc.pid, sig)
        proc.wait(30)
        first = len(hook.hits)
        assert 10 <= first < 40
        proc = _run_sender(path, env)
        hook.wait(40, timeout=60)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    finally:
        hook.close()
    keys = Counter(h.key for h in hook.hits)
    assert set(keys) == {f"m{i:02d}" for i in range(40)}
    repeats = {k: n for k, n in keys.items() if n > 1}
    if sig == signal.SIGTERM:
        assert repeats == {}
    else:
        workers = actions.Sender(db.connect(":memory:")).workers
        assert len(repeats) <= workers and all(n == 2 for n in repeats.values())
    con = db.connect(path, read_only=True)
    assert outbox.counts(con)["status"].tolist() == ["sent"]
    con.close()
