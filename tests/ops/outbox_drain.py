"""Deliver everything queued in the outbox at once, for tests against real receivers."""

from __future__ import annotations

import time

from engine.actions import outbox
from ops import actions

FAST = outbox.Retry(base_s=0.05, max_s=0.5)  # retries in tenths of a second, not minutes


def drain(con) -> None:
    """Run the sender until nothing is queued (at most 200 rounds)."""
    sender = actions.Sender(con, retry=FAST, environ={})
    for _ in range(200):
        sender.run_once()
        if outbox.messages(con.cursor(), status="queued").empty:
            return
        time.sleep(0.02)
