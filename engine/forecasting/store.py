"""The page's forecast, fitted once per data version in the background and kept in the database.

A fit takes tens of seconds, far too long for a page to wait on. :func:`refit` starts it in a
background thread (one fit at a time per process: the machine's cores are shared) that writes
the result to the ``forecast_*`` tables (engine/schema.sql, issue 18) under the data version,
row scope and seed it was fitted for. Pages read the newest stored fit (:func:`latest`), say
when it belongs to older data while the new one is being fitted (:class:`Job` has the
progress), and the plan and purchasing read the same rows: one demand model for every
decision, fitted once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from engine.auth import ALL, Scope
from engine.forecasting import outlook

HISTORY_DAYS = 91  # days of history stored with a fit (the page charts the last 56)
KEEP = 2  # fits kept per scope and seed (the newest; older ones are deleted on save)
KEY_COLUMNS = [
    "unique_id",
    "sku_id",
    "warehouse_id",
    "name",
    "category",
    "storage",
    "shelf_life_days",
    "pack_size",
    "supplier_id",
    "unit_cost",
    "region_id",
]
BOUNDS = [f"yhat_{s}_{lv}" for lv in outlook.LEVELS for s in ("lo", "hi")]
TABLES = ("values", "history", "holdout", "keys", "importance")
Compute = Callable[..., outlook.Result]


def scope_key(scope: Scope) -> str:
    """A stable text key of a row scope (``all`` for the unrestricted one)."""
    if not scope.restricted:
        return "all"
    r = "*" if scope.regions is None else ",".join(map(str, sorted(scope.regions)))
    w = "*" if scope.warehouses is None else ",".join(map(str, sorted(scope.warehouses)))
    return f"r={r};w={w}"


@dataclass(frozen=True)
class Stored:
    """A stored fit: its result and what it was fitted on."""

    fit_id: str
    data_version: str
    result: outlook.Result
    seconds: float


def save(
    con: duckdb.DuckDBPyConnection,
    version: str,
    result: outlook.Result,
    scope: Scope = ALL,
    seed: int = 0,
    seconds: float = 0.0,
) -> str:
    """Store a fitted result under a data version, scope and seed; keep the newest :data:`KEEP`.

    Parameters
    ----------
    con
        An open Linli database (written in one transaction).
    version
        ``engine.dataset.version`` of the data the result was fitted on.
    result
        From :func:`engine.forecasting.outlook.compute`.
    scope, seed
        What it was fitted for.
    seconds
        Wall time of the fit, shown on the page.

    Returns
    -------
    str
        The new fit id.
    """
    fit_id = uuid.uuid4().hex[:12]
    key = scope_key(scope)
    r = result
    hist = r.history.loc[r.history["ds"] > r.as_of - pd.Timedelta(days=HISTORY_DAYS)]
    frames = {
        "values": r.forecast[["unique_id", "ds", "yhat", *BOUNDS]],
        "history": hist[["unique_id", "ds", "y", "censored"]],
        "holdout": r.holdout[["model", "unique_id", "ds", "yhat", "y", "censored"]],
        "keys": r.keys.reindex(columns=KEY_COLUMNS),
        "importance": r.importance[["feature", "gain", "share"]],
    }
    con.execute("BEGIN TRANSACTION")
    try:
        old = con.execute(
            "SELECT fit_id FROM forecast_fits WHERE scope_key = ? AND seed = ? "
            "ORDER BY created_at DESC OFFSET ?",
            [key, seed, KEEP - 1],
        ).fetchall()
        for table in TABLES:  # identifiers from the constant TABLES only
            for (fid,) in old:
                con.execute(f"DELETE FROM forecast_{table} WHERE fit_id = ?", [fid])
        for (fid,) in old:
            con.execute("DELETE FROM forecast_fits WHERE fit_id = ?", [fid])
        for table, frame in frames.items():
            part = frame.assign(fit_id=fit_id)
            con.register("_fc_part", part)
            con.execute(f"INSERT INTO forecast_{table} BY NAME SELECT * FROM _fc_part")
            con.unregister("_fc_part")
        con.execute(
            "INSERT INTO forecast_fits (fit_id, data_version, scope_key, seed, as_of, objective, "
            "created_at, seconds, derived, debias) VALUES (?, ?, ?, ?, ?, ?, now(), ?, ?, ?)",
            [fit_id, version, key, seed, r.as_of.date(), r.objective, float(seconds),
             ",".join(r.derived), float(r.debias)],
        )  # fmt: skip
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return fit_id


def _load(con: duckdb.DuckDBPyConnection, row: tuple) -> Stored:
    """Read one stored fit's tables back into a :class:`Stored`."""
    fit_id, version, as_of, objective, seconds, derived, debias = row

    def read(table: str, order: str) -> pd.DataFrame:
        df = con.execute(
            f"SELECT * EXCLUDE (fit_id) FROM forecast_{table} WHERE fit_id = ? ORDER BY {order}",
            [fit_id],
        ).df()
        if "ds" in df.columns:
            df["ds"] = pd.to_datetime(df["ds"])
        if "censored" in df.columns:
            df["censored"] = df["censored"].astype(bool)
        return df

    result = outlook.Result(
        history=read("history", "unique_id, ds"),
        forecast=read("values", "unique_id, ds"),
        keys=read("keys", "unique_id"),
        importance=read("importance", "gain DESC"),
        holdout=read("holdout", "model, unique_id, ds"),
        as_of=pd.Timestamp(as_of),
        objective=objective,
        derived=tuple(d for d in (derived or "").split(",") if d),
        debias=1.0 if debias is None else float(debias),
    )
    return Stored(fit_id, version, result, float(seconds))


def _find(
    con: duckdb.DuckDBPyConnection, scope: Scope, seed: int, version: str | None
) -> tuple | None:
    """The newest fit row for a scope and seed (of one data version when given)."""
    return con.execute(
        "SELECT fit_id, data_version, as_of, objective, seconds, derived, debias FROM forecast_fits "
        "WHERE scope_key = ? AND seed = ? AND (?::VARCHAR IS NULL OR data_version = ?) "
        "ORDER BY created_at DESC LIMIT 1",
        [scope_key(scope), seed, version, version],
    ).fetchone()


def fit_id(
    con: duckdb.DuckDBPyConnection, scope: Scope = ALL, seed: int = 0, version: str | None = None
) -> tuple[str, str] | None:
    """Return ``(fit_id, data_version)`` of the newest stored fit, or ``None``.

    Parameters
    ----------
    con
        An open Linli database.
    scope, seed
        What the fit was for.
    version
        Only a fit of this data version; ``None`` for the newest of any version.

    Returns
    -------
    tuple of str or None
        The fit id and its data version.
    """
    row = _find(con, scope, seed, version)
    return None if row is None else (row[0], row[1])


def load(con: duckdb.DuckDBPyConnection, fit: str) -> Stored:
    """Return a stored fit by id.

    Parameters
    ----------
    con
        An open Linli database.
    fit
        A fit id from :func:`fit_id` or :func:`save`.

    Returns
    -------
    Stored
        The result and its data version.

    Raises
    ------
    KeyError
        When no fit has that id (deleted when newer fits were stored).
    """
    row = con.execute(
        "SELECT fit_id, data_version, as_of, objective, seconds, derived, debias FROM forecast_fits "
        "WHERE fit_id = ?",
        [fit],
    ).fetchone()
    if row is None:
        raise KeyError(f"no stored forecast fit {fit!r}")
    return _load(con, row)


def latest(
    con: duckdb.DuckDBPyConnection, scope: Scope = ALL, seed: int = 0, version: str | None = None
) -> Stored | None:
    """Return the newest stored fit for a scope and seed (of one data version when given).

    Parameters
    ----------
    con
        An open Linli database.
    scope, seed
        What the fit was for.
    version
        Only a fit of this data version; ``None`` for the newest of any version.

    Returns
    -------
    Stored or None
        ``None`` when nothing is stored yet.
    """
    row = _find(con, scope, seed, version)
    return None if row is None else _load(con, row)


def fit_and_store(
    con: duckdb.DuckDBPyConnection,
    version: str,
    scope: Scope = ALL,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
    compute: Compute | None = None,
) -> Stored:
    """Fit the page's model now and store it (what the background job runs).

    Parameters
    ----------
    con
        An open Linli database.
    version
        The data version being fitted (stored with the result).
    scope, seed
        Row scope and seed of the fit.
    progress
        Called with (step, fraction done).
    compute
        The fitting function; default :func:`engine.forecasting.outlook.compute`.

    Returns
    -------
    Stored
        The stored fit.

    Raises
    ------
    ValueError
        For a database without orders or campaigns.
    """
    t0 = time.perf_counter()
    run = compute or outlook.compute
    result = run(con, scope, seed, progress=progress)
    seconds = time.perf_counter() - t0
    try:
        fid = save(con, version, result, scope, seed, seconds)
    except duckdb.Error as e:
        # A read-only connection (a benchmark, a replica) still gets the fit, unstored.
        if "read-only" not in str(e).lower() and "read only" not in str(e).lower():
            raise
        fid = ""
    return Stored(fid, version, result, seconds)


def ensure(
    con: duckdb.DuckDBPyConnection, version: str, scope: Scope = ALL, seed: int = 0
) -> Stored:
    """Return the stored fit of a data version, fitting it now if there is none.

    For callers that cannot go on without the model (the plan, benchmarks, command lines);
    pages use :func:`latest` and :func:`refit` instead. A background fit of the same version
    that is under way is waited for rather than duplicated. On a read-only connection the
    fit is returned unstored (``fit_id`` empty).
    """
    got = latest(con, scope, seed, version)
    if got is not None:
        return got
    running = job(con, version, scope, seed)
    if running is not None and running.thread is not None and running.running:
        running.thread.join()
        got = latest(con, scope, seed, version)
        if got is not None:
            return got
    return fit_and_store(con, version, scope, seed)


@dataclass
class Job:
    """A background fit: its key, progress and outcome (read by the page, written by the job)."""

    key: tuple[str, str, str, int]  # database, data version, scope key, seed
    step: str = "queued"
    fraction: float = 0.0
    error: str | None = None
    done: bool = False
    started: float = field(default_factory=time.time)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        """True until the fit has been stored or has failed."""
        return not self.done


_JOBS: dict[tuple[str, str, str, int], Job] = {}
_JOBS_LOCK = threading.Lock()
_FIT_LOCK = threading.Lock()  # one fit at a time per process


def _database(con: duckdb.DuckDBPyConnection) -> str:
    """The file behind a connection (``memory`` for an in-memory database)."""
    row = con.execute(
        "SELECT coalesce(path, database_name) FROM duckdb_databases() "
        "WHERE database_name = current_database()"
    ).fetchone()
    return str(row[0]) if row else "memory"


def job(con: duckdb.DuckDBPyConnection, version: str, scope: Scope = ALL, seed: int = 0):
    """Return the background job of a data version, scope and seed, or ``None``."""
    with _JOBS_LOCK:
        return _JOBS.get((_database(con), version, scope_key(scope), seed))


def refit(
    con: duckdb.DuckDBPyConnection,
    version: str,
    scope: Scope = ALL,
    seed: int = 0,
    compute: Compute | None = None,
) -> Job:
    """Start the background fit of a data version once; return its job.

    Calling it again for the same database, version, scope and seed returns the same job
    (running or finished), so every page open may call it. A failed job is retried by the
    next call.

    Parameters
    ----------
    con
        An open Linli database; the job works on its own cursor of it.
    version
        The current data version.
    scope, seed
        Row scope and seed of the fit.
    compute
        The fitting function; default :func:`engine.forecasting.outlook.compute`.

    Returns
    -------
    Job
        Progress and outcome; ``done`` at once when the version is already stored.
    """
    key = (_database(con), version, scope_key(scope), seed)
    with _JOBS_LOCK:
        old = _JOBS.get(key)
        if old is not None and old.error is None:
            return old
        if fit_id(con, scope, seed, version) is not None:
            j = Job(key, step="stored", fraction=1.0, done=True)
            _JOBS[key] = j
            return j
        j = Job(key)
        cur = con.cursor()

        def report(step: str, frac: float) -> None:
            j.step, j.fraction = step, frac

        def work() -> None:
            try:
                with _FIT_LOCK:
                    if fit_id(cur, scope, seed, version) is None:
                        fit_and_store(cur, version, scope, seed, report, compute)
                j.step, j.fraction = "stored", 1.0
            except Exception as e:  # shown on the page; the next refit() retries
                j.error = f"{type(e).__name__}: {e}"
            finally:
                j.done = True
                cur.close()

        j.thread = threading.Thread(target=work, name=f"forecast-fit-{version}", daemon=True)
        _JOBS[key] = j
        j.thread.start()
        return j
