"""Scheduled jobs' runs: each run is recorded with its result, the admin page shows the last one."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

JOBS = ("digest", "alarms", "sql_sync", "model_refit")


def run(
    con: duckdb.DuckDBPyConnection,
    job: str,
    fn: Callable[[], Any],
    now: Callable[[], datetime] = datetime.now,
) -> Any:
    """Run ``fn`` as ``job``, recording its start, end, success and result (or error).

    Parameters
    ----------
    con
        A cursor for this thread.
    job
        The job's name (``digest``, ``alarms``, ``sql_sync``, ``model_refit``, …).
    fn
        The work; its return value, as JSON text, is the recorded result.
    now
        The clock.

    Returns
    -------
    Any
        What ``fn`` returned.

    Raises
    ------
    Exception
        Whatever ``fn`` raised, after the failed run was recorded.
    """
    if not job or not job.replace("_", "").isalnum():
        raise ValueError(f"bad job name {job!r}")
    started = now()
    con.execute("INSERT INTO job_runs VALUES (?, ?, NULL, NULL, NULL)", [job, started])
    try:
        out = fn()
    except Exception as exc:
        _finish(con, job, started, now(), False, f"{type(exc).__name__}: {exc}")
        raise
    _finish(con, job, started, now(), True, json.dumps(out, ensure_ascii=False, default=str))
    return out


def _finish(con, job: str, started: datetime, end: datetime, ok: bool, result: str) -> None:
    con.execute(
        "UPDATE job_runs SET finished_at = ?, ok = ?, result = ? WHERE job = ? AND started_at = ?",
        [end, ok, result[:4000], job, started],
    )


def last_runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Each job's latest run: ``job, started_at, finished_at, ok, result, runs, failures``."""
    return con.execute(
        "SELECT job, arg_max(started_at, started_at) AS started_at, "
        "arg_max(finished_at, started_at) AS finished_at, arg_max(ok, started_at) AS ok, "
        "arg_max(result, started_at) AS result, count(*) AS runs, "
        "count(*) FILTER (WHERE NOT ok) AS failures FROM job_runs GROUP BY job ORDER BY job"
    ).df()
