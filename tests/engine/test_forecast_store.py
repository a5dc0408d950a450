"""The forecast fitted once per data version in the background and stored (forecasting.store)."""

from __future__ import annotations

import dataclasses
import functools

import pandas as pd
import pytest

from engine import dataset
from engine import db as dbmod
from engine.auth import Scope
from engine.forecasting import outlook, store

FAST = dataclasses.replace(outlook.SETTINGS, n_estimators=30, max_train_rows=20_000)
COMPUTE = functools.partial(outlook.compute, settings=FAST, choose=False)


@pytest.fixture(scope="module")
def con(world_file, tmp_path_factory):
    """A private copy of the small world file (the store writes to it)."""
    path = tmp_path_factory.mktemp("store") / "world.duckdb"
    path.write_bytes(world_file.read_bytes())
    c = dbmod.connect(path)
    yield c
    c.close()


@pytest.fixture(scope="module")
def stored(con):
    """One fit of the current data version, stored."""
    return store.fit_and_store(con.cursor(), dataset.version(con), compute=COMPUTE)


def test_stored_fit_reads_back_as_fitted(con, stored):
    """Forecast, hold-out, keys and drivers read back unchanged; history keeps its last days."""
    back = store.load(con.cursor(), stored.fit_id)
    a, b = stored.result, back.result
    assert b.as_of == a.as_of and b.objective == a.objective
    pd.testing.assert_frame_equal(
        b.forecast,
        a.forecast.sort_values(["unique_id", "ds"], ignore_index=True),
        check_dtype=False,
    )
    hold = a.holdout.sort_values(["model", "unique_id", "ds"], ignore_index=True)
    pd.testing.assert_frame_equal(b.holdout, hold[b.holdout.columns], check_dtype=False)
    assert set(b.keys["unique_id"]) == set(a.keys["unique_id"])
    assert b.history["ds"].min() > a.as_of - pd.Timedelta(days=store.HISTORY_DAYS)
    assert {"xgboost", "seasonal_naive", "ets", "profile"} == set(b.holdout["model"])
    # The page's totals come out the same from the stored fit.
    ids = list(a.keys["unique_id"][:20])
    pd.testing.assert_frame_equal(outlook.totals(b, ids)[1], outlook.totals(a, ids)[1])


def test_latest_is_per_version_and_scope(con, stored):
    """A fit is found for its data version and scope only; the newest of any version otherwise."""
    cur = con.cursor()
    version = dataset.version(con)
    assert store.fit_id(cur, version=version) == (stored.fit_id, version)
    assert store.latest(cur, version="another version") is None
    assert store.latest(cur, scope=Scope(regions=(1,))) is None
    assert store.latest(cur).fit_id == stored.fit_id  # newest of any version


def test_refit_runs_once_in_the_background_and_keeps_two_fits(con, stored):
    """refit() returns at once, reports progress, stores the new version and prunes old fits."""
    calls = []

    def compute(c, scope, seed, progress=None):
        calls.append(seed)
        return COMPUTE(c, scope, seed, progress=progress)

    version = dataset.version(con)
    done = store.refit(con, version, compute=compute)
    assert done.done and not calls  # already stored: nothing to fit
    jobs = [store.refit(con, v, compute=compute) for v in ("v-new", "v-new")]
    assert jobs[0] is jobs[1]  # a second page open joins the running job
    jobs[0].thread.join(timeout=300)
    assert jobs[0].done and jobs[0].error is None and jobs[0].fraction == 1.0
    assert len(calls) == 1
    newer = store.refit(con, "v-newer", compute=compute)
    newer.thread.join(timeout=300)
    cur = con.cursor()
    assert store.fit_id(cur)[1] == "v-newer"
    kept = cur.execute("SELECT data_version FROM forecast_fits").fetchall()
    assert sorted(v for (v,) in kept) == ["v-new", "v-newer"]
    orphans = cur.execute(
        "SELECT count(*) FROM forecast_values WHERE fit_id NOT IN (SELECT fit_id FROM forecast_fits)"
    ).fetchone()[0]
    assert orphans == 0


def test_failed_fit_is_reported_and_retried(con):
    """A fit that raises leaves no stored rows, says why, and the next refit() tries again."""

    def broken(c, scope, seed, progress=None):
        raise ValueError("the database has no campaigns")

    j = store.refit(con, "v-broken", compute=broken)
    j.thread.join(timeout=60)
    assert j.done and "no campaigns" in (j.error or "")
    assert store.latest(con.cursor(), version="v-broken") is None
    again = store.refit(con, "v-broken", compute=broken)
    assert again is not j
    again.thread.join(timeout=60)


def test_load_unknown_fit_raises(con):
    """Asking for a fit id that does not exist is a clear KeyError."""
    with pytest.raises(KeyError, match="no stored forecast fit"):
        store.load(con.cursor(), "nope")
