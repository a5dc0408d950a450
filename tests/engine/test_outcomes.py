"""Outcomes feed back: success calibration recovers planted miscalibration, plans use it,
and plan scoring adds views and conversion where browsing is loaded."""

from __future__ import annotations

import shutil
from datetime import timedelta

import numpy as np
import pytest

from engine import calibration, kpis, outcomes, planning
from engine import db as dbmod


def _planted(n: int, a: float, b: float, seed: int = 0):
    """Model probabilities and outcomes drawn from the true map sigmoid(a + b·logit(p))."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.3, 0.99, n)
    true = 1 / (1 + np.exp(-(a + b * np.log(p / (1 - p)))))
    return p, (rng.random(n) < true).astype(int)


@pytest.mark.parametrize(("a", "b"), [(-0.8, 0.6), (0.0, 1.0), (0.5, 1.4)])
def test_fit_recovers_a_planted_map(a, b):
    """With many outcomes the fitted map is the planted one, and it lowers the Brier score."""
    p, y = _planted(20_000, a, b)
    cal = calibration.fit(p, y, prior=20)
    assert cal.a == pytest.approx(a, abs=0.12)
    assert cal.b == pytest.approx(b, abs=0.12)
    assert cal.brier_after <= cal.brier_before + 1e-6
    assert cal.n == 20_000


def test_few_outcomes_stay_near_the_identity():
    """The prior keeps a handful of outcomes from swinging the map; more data moves it further."""
    p, y = _planted(20_000, -1.0, 0.5, seed=1)
    few = calibration.fit(p[:15], y[:15], prior=20)
    many = calibration.fit(p, y, prior=20)
    assert abs(few.a) + abs(few.b - 1) < abs(many.a) + abs(many.b - 1)
    assert abs(few.b - 1) < 0.4


def test_apply_is_identity_without_calibration_and_monotone_with_one():
    """No calibration leaves p as it is; a fitted map keeps the order of probabilities."""
    p = np.linspace(0.05, 0.95, 10)
    assert (calibration.apply(None, p) == p).all()
    cal = calibration.Calibration(-0.5, 0.7, 100, 20.0, 0.2, 0.18)
    q = calibration.apply(cal, p)
    assert (np.diff(q) > 0).all() and ((q > 0) & (q < 1)).all()


@pytest.mark.parametrize(
    ("p", "y", "prior", "message"),
    [([], [], 20, "non-empty"), ([0.5], [2], 20, "0 or 1"), ([0.5], [1], 0, "prior")],
)
def test_fit_refuses_bad_input(p, y, prior, message):
    """Empty inputs, non-binary outcomes and a non-positive prior are clear errors."""
    with pytest.raises(ValueError, match=message):
        calibration.fit(np.array(p), np.array(y), prior)


@pytest.fixture(scope="module")
def replay(world_file, tmp_path_factory):
    """A writable world copy with one plan for a past sale day, stored."""
    path = tmp_path_factory.mktemp("outcomes") / "w.duckdb"
    shutil.copy(world_file, path)
    con = dbmod.connect(path)
    _, hi = kpis.data_range(con)
    plan = planning.build(con, hi - timedelta(days=6), planning.PlanSettings(route=False))
    pid = planning.save(con, plan)
    yield con, pid, plan
    con.close()


def test_update_needs_outcomes_then_stores_a_map(replay, tmp_path):
    """Without realised plans update says why; with one it fits on the groups that ran."""
    empty = dbmod.connect(tmp_path / "e.duckdb")
    with pytest.raises(ValueError, match="no plan item has a realised outcome"):
        calibration.update(empty)
    assert calibration.current(empty) is None
    con, pid, _ = replay
    ran = int(planning.score(con, pid).iloc[-1]["ran"])
    cal = calibration.update(con)
    assert cal.n == ran > 0
    assert calibration.current(con) == cal
    rel = calibration.reliability(calibration.outcomes(con))
    assert rel["n"].sum() == ran


def test_plans_use_the_latest_calibration(replay):
    """After an update, a new plan's p_success is the calibrated model probability."""
    con, _, _ = replay
    con.execute(
        "INSERT INTO success_calibration VALUES (now() + INTERVAL 1 DAY, 500, -1.0, 0.8, 20, 0.1, 0.1)"
    )  # a planted, clearly overconfident-model map, newer than any fitted one
    _, hi = kpis.data_range(con)
    plan = planning.build(
        con, hi + timedelta(days=1), planning.PlanSettings(route=False, target=0.5)
    )
    it = plan.items
    assert len(it) > 0
    expect = calibration.apply(calibration.current(con), it["p_model"].to_numpy())
    assert it["p_success"].to_numpy() == pytest.approx(expect)
    assert (it["p_success"] < it["p_model"]).all()
    assert (it["p_success"] >= 0.5).all()  # the target applies to the calibrated probability
    pid = planning.save(con, plan)
    stored = con.execute(
        "SELECT p_model FROM group_plan_items WHERE plan_id = ? ORDER BY community_id, rank",
        [pid],
    ).df()["p_model"]
    assert stored.to_numpy() == pytest.approx(
        it.sort_values(["community_id", "rank"])["p_model"].to_numpy()
    )
    con.execute("DELETE FROM success_calibration")


def test_score_adds_views_and_conversion(replay):
    """Views and carts are the sale day's browsing of the planned SKUs; conversion = units/views."""
    con, pid, plan = replay
    out = outcomes.score(con, pid)
    assert out.funnel_loaded
    items = out.items
    b = con.execute(
        "SELECT community_id, sku_id, sum(views) AS v FROM browse_events WHERE event_date = ? "
        "GROUP BY ALL",
        [plan.sale_date],
    ).df()
    m = items.merge(b, on=["community_id", "sku_id"])
    assert len(m) == len(items) and (m["views"] == m["v"]).all()
    assert items["conversion"].to_numpy() == pytest.approx(
        (items["units"] / items["views"]).to_numpy()
    )
    total = out.communities.iloc[-1]
    assert total["views"] == items["views"].sum()
    assert total["ran"] == len(items)


def test_score_without_browsing_says_so(world_file, tmp_path):
    """An operator without browse data still gets the score; the funnel columns stay empty."""
    path = tmp_path / "nb.duckdb"
    shutil.copy(world_file, path)
    con = dbmod.connect(path)
    _, hi = kpis.data_range(con)
    pid = planning.save(
        con, planning.build(con, hi - timedelta(days=3), planning.PlanSettings(route=False))
    )
    con.execute("DELETE FROM browse_events")
    out = outcomes.score(con, pid)
    assert not out.funnel_loaded
    assert out.communities["views"].isna().all() and out.communities["conversion"].isna().all()
    assert out.communities.iloc[-1]["ran"] > 0
    assert isinstance(out.items["sku_id"].iloc[0], np.integer | int)
    con.close()
