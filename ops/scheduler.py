"""Scheduled jobs (APScheduler) and the outbox sender, in the app or as ``python -m ops.scheduler``.

Jobs, each recorded in ``job_runs`` (the admin page shows the last run and its result):

- ``alarms`` every minute: new cold-chain alarms to the duty channel, unacknowledged ones
  escalated after ``LINLI_ESCALATE_MIN`` minutes (default 15), stock at risk proposed;
- ``digest`` daily at ``LINLI_DIGEST_AT`` (default 07:30): each regional manager's digest;
- ``sql_sync`` nightly at ``LINLI_SYNC_AT`` (default 02:00) when ``LINLI_SYNC_URL`` names an
  operational database (``LINLI_SYNC_NAME``, ``LINLI_SYNC_ORDERS``, ``LINLI_SYNC_ITEMS``,
  ``LINLI_SYNC_WATERMARK`` as in :class:`connectors.sql.SyncSource`);
- ``model_refit`` nightly at ``LINLI_REFIT_AT`` (default 03:00): the demand model refitted and
  the success-probability calibration updated from realised outcomes (engine/calibration.py).

A DuckDB file has one writing process: run this command only where the app does not hold
the same file (the app runs the same scheduler itself unless ``LINLI_SCHEDULER=off``).
Usage: ``python -m ops.scheduler [--db PATH] [--jobs alarms,digest,...] [--run-now JOB]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import duckdb
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from engine import clock
from engine import db as dbmod
from engine.actions import alarms, digest, jobs, publish
from ops.actions import Sender

log = logging.getLogger(__name__)


def _hhmm(text: str) -> tuple[int, int]:
    h, _, m = text.strip().partition(":")
    hour, minute = int(h), int(m or 0)
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"bad time of day {text!r}; expected HH:MM")
    return hour, minute


def _daily(text: str) -> CronTrigger:
    hour, minute = _hhmm(text)
    return CronTrigger(hour=hour, minute=minute)


def sync_source(environ: Mapping[str, str]) -> Any:
    """The nightly sync's source from ``LINLI_SYNC_*``, or None when not configured."""
    url = environ.get("LINLI_SYNC_URL", "").strip()
    if not url:
        return None
    from connectors import sql

    return sql.SyncSource(
        name=environ.get("LINLI_SYNC_NAME", "nightly"),
        url=url,
        orders_table=environ.get("LINLI_SYNC_ORDERS", "orders"),
        items_table=environ.get("LINLI_SYNC_ITEMS", "order_items") or None,
        watermark=environ.get("LINLI_SYNC_WATERMARK", "updated_at"),
    )


def run_sql_sync(con: duckdb.DuckDBPyConnection, environ: Mapping[str, str]) -> dict:
    """The nightly SQL sync (skipped, saying so, without a source), then published listings
    settled from the orders that name them (:func:`engine.actions.publish.settle`)."""
    source = sync_source(environ)
    if source is None:
        # Orders may also arrive by file import: published listings still settle.
        return {"skipped": "LINLI_SYNC_URL is not set", "listings_settled": publish.settle(con)}
    from connectors import sql

    res = sql.sync(con, source)
    return {
        "source": res.source,
        "orders": res.orders_fetched,
        "items": res.items_fetched,
        "watermark": str(res.watermark_to),
        "listings_settled": publish.settle(con),
    }


def run_refit(con: duckdb.DuckDBPyConnection) -> dict:
    """Refit the demand model on the latest data and report its calibration."""
    from engine.pricing import data, response

    span = data.span_days(con) or 56
    m = response.fit(con, days=max(14, min(56, span)))
    return {"start": m.start.isoformat(), "end": m.end.isoformat(), "skus": len(m.sku_ids)}


def recalibrate(con: duckdb.DuckDBPyConnection) -> dict:
    """Refit the success-probability calibration on the realised outcomes so far.

    Part of the nightly refit (docs/actions-outcomes.md); with no realised plan item yet it
    reports why and keeps the current calibration.
    """
    from engine import calibration

    try:
        cal = calibration.update(con)
    except ValueError as exc:
        return {"skipped": str(exc)}
    return {"a": cal.a, "b": cal.b, "n": cal.n, "brier_after": cal.brier_after}


def build(
    con: duckdb.DuckDBPyConnection,
    *,
    environ: Mapping[str, str] | None = None,
    only: set[str] | None = None,
    refit: Callable[[], Any] | None = None,
    wake: Callable[[], None] | None = None,
) -> BackgroundScheduler:
    """A scheduler (not started) with the jobs, each run on its own cursor and recorded.

    Parameters
    ----------
    con
        The process's connection.
    environ
        Settings (``LINLI_DIGEST_AT``, ``LINLI_ESCALATE_MIN``, …); default ``os.environ``.
    only
        Job names to schedule; default all of :data:`engine.actions.jobs.JOBS`.
    refit
        What the nightly refit does; default :func:`run_refit` (the app passes a refit that
        also renews its cached model).
    wake
        Called after a job queued messages (the sender's ``wake``).
    """
    env = os.environ if environ is None else environ
    tz = clock.TZ if hasattr(clock, "TZ") else None
    sched = BackgroundScheduler(timezone=tz) if tz else BackgroundScheduler()
    escalate = float(env.get("LINLI_ESCALATE_MIN", "15"))
    wanted = set(jobs.JOBS) if only is None else only
    unknown = wanted - set(jobs.JOBS)
    if unknown:
        raise ValueError(f"unknown jobs {sorted(unknown)}; known: {', '.join(jobs.JOBS)}")

    def recorded(name: str, fn: Callable[[duckdb.DuckDBPyConnection], Any]) -> Callable[[], None]:
        def job() -> None:
            cur = con.cursor()
            try:
                jobs.run(cur, name, lambda: fn(cur))
            except Exception as exc:
                log.warning("job %s failed: %s", name, exc)
            finally:
                cur.close()
            if wake is not None:
                wake()

        return job

    table: dict[str, tuple[Callable[[duckdb.DuckDBPyConnection], Any], Any]] = {
        "alarms": (
            lambda c: alarms.check(c, escalate_after_min=escalate, now=datetime.now()).as_dict(),
            IntervalTrigger(seconds=int(env.get("LINLI_ALARM_CHECK_S", "60"))),
        ),
        "digest": (
            lambda c: digest.send_all(c).as_dict(),
            _daily(env.get("LINLI_DIGEST_AT", "07:30")),
        ),
        "sql_sync": (
            lambda c: run_sql_sync(c, env),
            _daily(env.get("LINLI_SYNC_AT", "02:00")),
        ),
        "model_refit": (
            lambda c: {
                "model": refit() if refit is not None else run_refit(c),
                "calibration": recalibrate(c),
            },
            _daily(env.get("LINLI_REFIT_AT", "03:00")),
        ),
    }
    for name in jobs.JOBS:
        if name in wanted:
            fn, trigger = table[name]
            sched.add_job(
                recorded(name, fn), trigger, id=name, name=name, max_instances=1, coalesce=True
            )
    return sched


def run_now(sched: BackgroundScheduler, job: str) -> None:
    """Run one scheduled job at once in the calling thread (the admin page's button)."""
    found = sched.get_job(job)
    if found is None:
        raise ValueError(f"no scheduled job {job!r}")
    found.func()


def run_soon(sched: BaseScheduler, job: str) -> None:
    """Move a scheduled job's next run to now (it runs in the scheduler's own thread)."""
    found = sched.get_job(job)
    if found is not None:
        found.modify(next_run_time=datetime.now(sched.timezone))  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    """Run the sender and the scheduled jobs until SIGINT/SIGTERM."""
    ap = argparse.ArgumentParser(prog="python -m ops.scheduler")
    ap.add_argument("--db", default=None, help="database file (default LINLI_DB)")
    ap.add_argument("--jobs", default=",".join(jobs.JOBS), help="jobs to schedule, or 'none'")
    ap.add_argument("--run-now", default=None, help="run one job at once, then keep running")
    ap.add_argument("--interval", type=float, default=1.0, help="sender pause when idle, s")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    con = dbmod.connect(args.db or dbmod.db_path())
    only = set() if args.jobs == "none" else {j for j in args.jobs.split(",") if j}
    sender = Sender(con, interval_s=args.interval).start()
    sched = build(con, only=only, wake=sender.wake)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    sched.start()
    if args.run_now:
        run_now(sched, args.run_now)
    print("scheduler running", flush=True)
    done.wait()
    sched.shutdown(wait=True)
    sender.stop()
    con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
