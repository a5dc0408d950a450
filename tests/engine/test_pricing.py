"""Pricing engine: elasticities, calibrated success, what-ifs, optimiser and markdowns.

Everything is checked against the planted truth of the small world (seed 7). The demand
model is fitted once per module on all but the last 7 days, which are held out. Category
elasticities are also checked over 20 small worlds and on the demo world (slow).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine import clock
from engine.auth import Scope
from engine.pricing import data, elasticity, glm, markdown, response, whatif

HOLD_OUT = 7  # days: the planner predicts at most a week ahead


@pytest.fixture(scope="module")
def con(world):
    """A cursor on the session's small world."""
    return world.cursor()


@pytest.fixture(scope="module")
def cut(con):
    """Last training day: the last week is held out."""
    return clock.as_of(con) - timedelta(days=HOLD_OUT)


@pytest.fixture(scope="module")
def model(con, cut):
    """The demand model fitted on everything before the held-out week."""
    return response.fit(con, end=cut, days=90 - HOLD_OUT)


@pytest.fixture(scope="module")
def truth(con):
    """Planted population elasticity per category."""
    rows = con.execute(
        "SELECT category, elasticity FROM truth_elasticity WHERE persona = 'all'"
    ).fetchall()
    return dict(rows)


def _alpha_true(con) -> float:
    """Dispersion of planted demand around its planted expectation (moments)."""
    t = con.execute("SELECT expected_units, demand_units FROM truth_campaign_demand").df()
    m, y = t["expected_units"].to_numpy(), t["demand_units"].to_numpy()
    return float(max(1e-3, ((y - m) ** 2 - m).sum() / (m**2).sum()))


# ------------------------------------------------------------------ estimation
def test_glm_recovers_a_planted_slope():
    """The cloglog fixed-effects fit recovers slopes of data simulated from the model."""
    rng = np.random.default_rng(3)
    n_g, per = 400, 12
    g = np.repeat(np.arange(n_g), per)
    item = rng.integers(0, 50, len(g))
    x = np.log(rng.choice([1.0, 0.9, 0.8, 0.7], len(g)))
    slope = item % 2
    beta = np.array([-1.5, -0.7])
    eta = rng.normal(-2, 0.5, n_g)[g] + rng.normal(0, 0.5, 50)[item] + beta[slope] * x
    trials = rng.integers(5, 40, len(g))
    y = rng.binomial(trials, -np.expm1(-np.exp(eta)))
    fit = glm.cloglog(y, trials, x, slope, 2, [g, item], cluster=item)
    assert fit.converged
    assert np.all(np.abs(fit.beta - beta) < 3 * fit.se)
    assert np.all(fit.se < 0.2)


def test_poisson_glm_recovers_a_planted_slope():
    """The Poisson fit (units per line) recovers slopes with an exposure and absorbed effects."""
    rng = np.random.default_rng(4)
    n_g, per = 400, 12
    g = np.repeat(np.arange(n_g), per)
    item = rng.integers(0, 50, len(g))
    x = np.log(rng.choice([1.0, 0.9, 0.8, 0.7], len(g)))
    slope = item % 2
    beta = np.array([0.3, -0.2])
    eta = rng.normal(0.2, 0.2, n_g)[g] + rng.normal(0, 0.2, 50)[item] + beta[slope] * x
    lines = rng.integers(1, 30, len(g))
    units = rng.poisson(lines * np.exp(eta))
    fit = glm.poisson(units, lines, x, slope, 2, [g, item], cluster=item)
    assert fit.converged
    assert np.all(np.abs(fit.beta - beta) < 3 * fit.se)
    assert np.all(fit.se < 0.15)
    with pytest.raises(ValueError, match="non-negative"):
        glm.poisson(-units, lines, x, slope, 2, [g, item])


def _attached_world(seed: int = 5) -> pd.DataFrame:
    """Campaign frame of order-level draws where buying SKU 0 adds SKU 8 70 % of the time.

    Two categories of eight SKUs share the elasticity -1.5; every price is an independent
    discount. SKU 8 (the "sauce") is also bought on its own; its lines that come with SKU 0
    (the "steak") are counted in ``attached_lines`` as :func:`data.campaigns` does.
    """
    rng = np.random.default_rng(seed)
    k = 16
    popularity = rng.normal(0, 0.4, k)
    popularity[[0, 8]] = [0.8, 0.3]
    rows = []
    for cd in range(600):
        n = int(rng.integers(30, 80))
        disc = rng.choice([1.0, 0.9, 0.8, 0.7, 0.6], k)
        p = -np.expm1(-np.exp(rng.normal(-2.3, 0.3) + popularity - 1.5 * np.log(disc)))
        pick = rng.random((n, k)) < p
        pick[:, 8] |= pick[:, 0] & (rng.random(n) < 0.7)
        together = int((pick[:, 0] & pick[:, 8]).sum())
        for s in range(k):
            rows.append(
                {
                    "community_id": cd % 20,
                    "sale_date": pd.Timestamp("2026-01-01") + pd.Timedelta(days=cd // 20),
                    "sku_id": s,
                    "category": "meat" if s < 8 else "sauce",
                    "price": 10.0 * disc[s],
                    "list_price": 10.0,
                    "lines": int(pick[:, s].sum()),
                    "attached_lines": together if s in (0, 8) else 0,
                    "n_orders": n,
                    "sold_out": False,
                }
            )
    return pd.DataFrame(rows)


def test_lines_bought_with_a_complement_are_left_out():
    """An add-on bought because of its partner flattens the slope; leaving it out recovers it."""
    frame = _attached_world()
    fixed = elasticity.by_category(frame).table.set_index("category")
    raw = elasticity.by_category(frame.drop(columns="attached_lines")).table
    raw = raw.set_index("category")
    assert raw.loc["sauce", "elasticity"] > -1.4, raw  # flattened by the add-ons
    err = np.abs(fixed["elasticity"] + 1.5)
    assert np.all((err < 3 * fixed["se"]) & (err < 0.1)), fixed


def test_attachments_find_the_planted_pairs(con, cut):
    """The planted basket affinities are found, and few other pairs pass the bar."""
    start = cut - timedelta(days=82)
    pairs = data.attachments(con, start, cut)
    found = {frozenset((int(a), int(c))) for a, c in zip(pairs["a"], pairs["c"], strict=True)}
    planted = con.execute("SELECT antecedent_sku, consequent_sku FROM truth_affinity").fetchall()
    for a, c in planted:
        assert frozenset((int(a), int(c))) in found, (a, c, pairs)
    assert len(found) <= 2 * len(planted)
    assert (pairs["attach_rate"] >= data.ATTACH_RATE).all()
    camp = data.campaigns(con, start, cut)
    assert (camp["attached_lines"] <= camp["lines"]).all()
    assert camp.loc[camp["attached_lines"] > 0, "sku_id"].nunique() >= 3
    # A regional scope counts only its own communities' orders.
    region = con.execute("SELECT min(region_id) FROM communities").fetchone()[0]
    part = data.attachments(con, start, cut, Scope(regions=(region,)))
    both = pairs.merge(part, on=["a", "c"], suffixes=("", "_part"))
    assert len(both) and (both["n_part"] < both["n"]).all()


def test_category_elasticities_cover_the_planted_ones(model, truth):
    """95 % intervals cover the planted elasticity for >= 80 % of categories."""
    cat = model.categories.set_index("category")
    true = cat.index.map(truth).to_numpy(float)
    covered = (cat["ci_low"] <= true) & (true <= cat["ci_high"])
    assert covered.mean() >= 0.8, cat.assign(truth=true)


# Recovery over many small worlds: one world's error is a single draw (in 8 of 30 worlds some
# category with SE <= 0.15 is off by more than 0.3), so the rules hold over RECOVERY_SEEDS.
RECOVERY_SEEDS = range(1, 21)
WELL_MEASURED_CAMPAIGNS = 900


def well_measured(df: pd.DataFrame) -> pd.DataFrame:
    """Estimates of the categories with >= 900 campaigns in the median world.

    Chosen by the data, not by the fit's SE: keeping an estimate when its SE is small keeps
    the worlds (or the fits) where a bias happened to be small too. The old fit's complement
    bias on 粮油调味 (+0.20) came with SEs above 0.15 and would have passed unseen.
    At small scale these are 乳品, 时蔬, 水果, 母婴, 粮油调味 and 肉禽蛋 (990-3,460 campaigns;
    the next, 休闲零食, has 760).
    """
    med = df.groupby("category")["n_campaigns"].median()
    return df[df["category"].isin(med[med >= WELL_MEASURED_CAMPAIGNS].index)]


def recovery_failures(df: pd.DataFrame) -> list[str]:
    """Rules broken by category estimates of many worlds (``elasticity, se, truth, category``).

    Over the well-measured categories (:func:`well_measured`), in all worlds: every category's
    mean error is within ±0.15; >= 80 % of the 95 % intervals cover the truth; >= 90 % of the
    estimates are within ±0.3. Thresholds from ``python -m bench.elasticity_worlds --frame``
    (30 worlds, every window of 20 consecutive seeds): largest category bias <= 0.094 (时蔬),
    coverage >= 87.5 %, within ±0.3 >= 95 %. The line fit without the complement filter (main
    before it) breaks the first rule: 粮油调味 +0.20 over seeds 1-20. Lines against units (a
    0.03-0.07 difference) is below what small worlds resolve; the demo-scale test checks it.
    """
    good = well_measured(df)
    err = good["elasticity"] - good["truth"]
    per = err.groupby(good["category"]).mean()
    out = [f"{c}: mean error {m:+.3f}" for c, m in per.items() if abs(m) > 0.15]
    cover = float((err.abs() <= 1.96 * good["se"]).mean())
    if cover < 0.8:
        out.append(f"95 % intervals cover the truth for {cover:.0%} (< 80 %)")
    within = float((err.abs() <= 0.3).mean())
    if within < 0.9:
        out.append(f"{within:.0%} of the estimates within ±0.3 (< 90 %)")
    return out


def _world_categories(seed: int, fit=elasticity.by_category) -> pd.DataFrame:
    """Category fit of one small world on the model fixture's window, with its truth."""
    from data import generate

    con = generate.generate(":memory:", scale="small", seed=seed)
    try:
        cut = clock.as_of(con) - timedelta(days=HOLD_OUT)
        start, stop = data.window(con, cut, 90 - HOLD_OUT)
        table = fit(data.campaigns(con, start, stop)).table
        truth = dict(
            con.execute(
                "SELECT category, elasticity FROM truth_elasticity WHERE persona = 'all'"
            ).fetchall()
        )
    finally:
        con.close()
    return table.assign(truth=table["category"].map(truth), seed=seed)


def test_recovery_rules_catch_a_category_bias():
    """The many-worlds rules flag a category biased by +0.2 and intervals that are too narrow."""
    rng = np.random.default_rng(0)
    cats = ["A", "B", "C", "D"]
    df = pd.DataFrame(
        {
            "category": np.repeat(cats, 20),
            "truth": -1.2,
            "se": 0.1,
            "n_campaigns": np.repeat([3000, 2000, 1000, 500], 20),
        }
    )
    df["elasticity"] = df["truth"] + rng.normal(0, 0.1, len(df))
    assert recovery_failures(df) == []
    biased = df.assign(elasticity=df["elasticity"] + np.where(df["category"] == "B", 0.2, 0))
    assert recovery_failures(biased) == [
        f"B: mean error {biased['elasticity'][20:40].mean() + 1.2:+.3f}"
    ]
    # A thin category (500 campaigns in the median world) is not held to the rules.
    thin = df.assign(elasticity=df["elasticity"] + np.where(df["category"] == "D", 0.5, 0))
    assert recovery_failures(thin) == []
    narrow = df.assign(se=0.03)
    assert any("intervals cover" in r for r in recovery_failures(narrow))


@pytest.mark.slow
def test_well_measured_categories_recover_the_truth_over_many_worlds():
    """Well-measured category elasticities are unbiased and covered over 20 small worlds."""
    df = pd.concat([_world_categories(s) for s in RECOVERY_SEEDS], ignore_index=True)
    assert well_measured(df)["category"].nunique() >= 4  # the rules are about a real sample
    assert recovery_failures(df) == [], well_measured(df).assign(err=df["elasticity"] - df["truth"])


def test_sku_elasticities_shrink_towards_category(model, truth):
    """Shrunk per-SKU elasticities are closer to the (category-wide) truth than raw ones."""
    sk = model.skus.dropna(subset=["raw"])
    true = sk["category"].map(truth).to_numpy(float)
    raw_err = np.abs(sk["raw"].to_numpy() - true).mean()
    shrunk_err = np.abs(sk["elasticity"].to_numpy() - true).mean()
    assert len(sk) >= 50
    assert shrunk_err < raw_err
    assert shrunk_err < 0.35


def test_segment_elasticities_recover_persona_multipliers(con, cut):
    """Per-persona elasticities land within ±0.35 of each persona's unit-weighted truth."""
    seg = con.execute("SELECT user_id, persona AS segment FROM truth_user_persona").df()
    start = cut - timedelta(days=59)
    est = elasticity.by_segment(con, seg, start, cut).set_index("segment")
    want = con.execute(
        """
        SELECT p.persona, sum(i.qty * e.elasticity) / sum(i.qty) AS elasticity
        FROM order_items i JOIN orders o USING (order_id)
        JOIN truth_user_persona p ON p.user_id = o.user_id
        JOIN skus s ON s.sku_id = i.sku_id
        JOIN truth_elasticity e ON e.category = s.category AND e.persona = p.persona
        WHERE o.order_date BETWEEN ? AND ? GROUP BY 1
        """,
        [start, cut],
    ).df()
    want = want.set_index("persona")["elasticity"]
    assert est.loc["price_sensitive", "elasticity"] < est.loc["hv_family", "elasticity"] - 0.8
    for persona in ("hv_family", "price_sensitive"):
        assert abs(est.loc[persona, "elasticity"] - want[persona]) <= 0.35, (persona, est, want)


def test_estimate_rejects_unknown_grouping(con):
    """An unknown grouping, a missing segments frame or a non-whitelisted column is an error."""
    with pytest.raises(ValueError, match="unknown grouping"):
        elasticity.estimate(con, by="brand")
    with pytest.raises(ValueError, match="segments"):
        elasticity.estimate(con, by="segment")
    with pytest.raises(ValueError, match="unknown segment column"):
        data.user_segments(con, "user_id; DROP TABLE users")


# ------------------------------------------------------------------ success probability
def test_success_probability_is_calibrated_on_held_out_campaigns(con, cut, model):
    """Held-out 成团 predictions: Brier >= 20 % better than the base rate, slope 0.8-1.2."""
    test = data.campaigns(con, cut + timedelta(days=1), clock.as_of(con))
    pred = response.predict_campaigns(model, test)
    y = pred["success"].to_numpy(bool)
    base = y.mean() * (1 - y.mean())
    score = response.brier(pred["p_success"].to_numpy(), y)
    assert score <= 0.8 * base, (score, base)
    assert 0.8 <= response.reliability_slope(pred["p_success"].to_numpy(), y) <= 1.2


def test_success_falls_with_threshold_and_price(model):
    """P(success) decreases as the threshold or the price rises."""
    sku = int(model.sku_ids[0])
    lo = whatif.curve(model, sku, threshold=1)
    hi = whatif.curve(model, sku, threshold=4)
    assert (hi["p_success"] < lo["p_success"]).all()
    assert (np.diff(lo["p_success"]) <= 1e-12).all()
    assert (np.diff(lo["units"]) < 0).all()


# ------------------------------------------------------------------ what-if
def test_unchanged_scenario_has_zero_deltas(model):
    """The empty scenario reproduces the current plan exactly."""
    w = whatif.simulate(model, model.sku_ids[:20], model.community_ids[:5])
    assert len(w.rows) == 100
    assert np.allclose(w.rows[[m + "_delta" for m in whatif.METRICS]].to_numpy(), 0)


def test_price_cut_sells_more_at_lower_unit_margin(model):
    """A 10 % cut raises expected units everywhere, by roughly the elasticity."""
    w = whatif.simulate(model, model.sku_ids, scenario=whatif.Scenario(price_change=-0.1))
    r = w.rows
    assert (r["units"] > r["units_now"]).all()
    assert np.allclose(r["price"], r["price_now"] * 0.9)
    lift = np.log(r["units"] / r["units_now"]) / np.log(0.9)
    el = pd.Series(model.elasticity, index=model.sku_ids).reindex(r["sku_id"]).to_numpy()
    assert np.all(lift >= el - 1e-9) and np.all(lift <= 1e-9)  # saturation only dampens
    tot = w.totals.set_index("metric")
    assert tot.loc["units", "delta"] > 0


def test_coupon_and_commission(model):
    """A coupon lowers the price paid, raises units and the leader is paid on net GMV."""
    sku = model.sku_ids[:3]
    w = whatif.simulate(model, sku, scenario=whatif.Scenario(coupon=1.0))
    r = w.rows
    assert (r["units"] > r["units_now"]).all()
    com = model.commission[model.community_index(r["community_id"])]
    assert np.allclose(r["commission"], com * r["net"])
    assert np.allclose(r["net"], (r["price"] - 1.0) * r["sold"])


# ------------------------------------------------------------------ optimiser
def _busiest(con, cut, n):
    return [
        r[0]
        for r in con.execute(
            "SELECT sku_id FROM campaigns WHERE sale_date <= ? GROUP BY 1 "
            "ORDER BY count(*) DESC LIMIT ?",
            [cut, n],
        ).fetchall()
    ]


def test_optimiser_meets_every_constraint(con, cut, model):
    """Chosen prices and thresholds respect bounds, success target and minimum margin."""
    s = whatif.OptimiseSettings(target=0.9, price_min=0.7, price_max=1.1, min_margin=0.1)
    for sku in _busiest(con, cut, 8):
        opt = whatif.optimise(model, sku, settings=s)
        ok = opt[opt["feasible"]]
        assert len(ok) >= 1
        stay = opt[~opt["feasible"]]  # nothing meets the target there: the plan is unchanged
        assert np.allclose(stay["price"], stay["price_now"])
        j = model.sku_index([sku])[0]
        lp, cost = model.list_price[j], model.unit_cost[j]
        assert (ok["p_success"] >= 0.9 - 1e-9).all()
        assert (ok["price"] >= 0.7 * lp - 1e-9).all() and (ok["price"] <= 1.1 * lp + 1e-9).all()
        assert ((ok["price"] - cost) / ok["price"] >= 0.1 - 1e-9).all()
        assert (ok["threshold"] >= 1).all()


def test_optimiser_beats_current_prices_on_planted_margin(con, cut, model, truth):
    """On the planted demand, the optimiser's plans earn more gross margin than current ones."""
    alpha = _alpha_true(con)
    last = con.execute(
        """
        SELECT c.community_id, c.sku_id, c.price, c.threshold, s.category, s.unit_cost,
               t.expected_units
        FROM campaigns c JOIN truth_campaign_demand t USING (campaign_id)
        JOIN skus s USING (sku_id)
        WHERE c.sale_date <= ?
        QUALIFY row_number() OVER (PARTITION BY c.community_id, c.sku_id
                                   ORDER BY c.sale_date DESC) = 1
        """,
        [cut],
    ).df()

    def planted_margin(rows, price, threshold):
        e = rows["category"].map(truth).to_numpy(float)
        mu = rows["expected_units"].to_numpy() * (price / rows["price"].to_numpy()) ** e
        sold = response.nb_partial(threshold, mu, alpha)
        return float(((price - rows["unit_cost"].to_numpy()) * sold).sum())

    gains = []
    for sku in _busiest(con, cut, 10):
        opt = whatif.optimise(model, sku)
        rows = last[last["sku_id"] == sku].merge(opt, on=["community_id", "sku_id"])
        rows = rows.rename(columns={"price_x": "price", "threshold_x": "threshold"})
        assert np.allclose(rows["price"], rows["price_now"])  # current plan = last campaign
        new = planted_margin(rows, rows["price_y"].to_numpy(), rows["threshold_y"].to_numpy())
        now = planted_margin(rows, rows["price"].to_numpy(), rows["threshold"].to_numpy())
        gains.append(new - now)
    assert sum(gains) > 0
    assert np.mean(np.array(gains) > 0) >= 0.8, gains


# ------------------------------------------------------------------ markdown
def test_markdown_beats_fixed_policies_on_planted_demand(con, model, truth):
    """The DP path recovers more value than no markdown and than 30 % off, on planted demand."""
    sku = con.execute(
        "SELECT sku_id FROM skus WHERE category = '水果' ORDER BY sku_id LIMIT 1"
    ).fetchone()[0]
    days = 4
    d = markdown.DISCOUNTS
    dem_model, price, alpha = markdown.demand_for_sku(model, sku, days)
    base = dem_model[0, 0]
    planted = markdown.constant_elasticity(base, truth["水果"], d, days)
    on_hand = round(2.0 * float(base) * days)
    p = markdown.plan(on_hand, days, price, dem_model, d, dispersion=alpha)
    value = markdown.evaluate(p.policy, on_hand, price, planted, d, alpha)[0]
    for disc in (0.0, 0.3):
        pol = markdown.fixed_policy(days, on_hand, d, disc)
        fixed = markdown.evaluate(pol, on_hand, price, planted, d, alpha)[0]
        assert value > fixed, (disc, value, fixed)
    assert (np.diff(p.path["discount"]) >= 0).all()  # discounts never go back up


def test_markdown_evaluation_matches_simulation():
    """Forward valuation of a fixed policy matches a seeded Monte Carlo within 1 %."""
    d = markdown.DISCOUNTS
    dem = markdown.constant_elasticity(10, -1.6, d, 5)
    pol = markdown.fixed_policy(5, 90, d, 0.3)
    exact = markdown.evaluate(pol, 90, 12.0, dem, d, 0.2)[0]
    rng = np.random.default_rng(0)
    r = 1 / 0.2
    u = rng.negative_binomial(r, r / (r + dem[0, 3]), size=(20_000, 5))
    q = np.full(20_000, 90)
    rev = np.zeros(20_000)
    for t in range(5):
        s = np.minimum(u[:, t], q)
        q -= s
        rev += s * 12.0 * 0.7
    assert abs(rev.mean() - exact) / exact < 0.01


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: whatif.simulate(m, [1], scenario=whatif.Scenario(price=0)), "positive"),
        (lambda m: whatif.simulate(m, [1], scenario=whatif.Scenario(price=-3)), "positive"),
        (lambda m: whatif.simulate(m, [1], scenario=whatif.Scenario(price={1: 0.0})), "positive"),
        (lambda m: whatif.simulate(m, [1], scenario=whatif.Scenario(threshold=0)), "threshold"),
        (lambda m: whatif.simulate(m, [1], scenario=whatif.Scenario(threshold=2.5)), "threshold"),
        (lambda m: whatif.simulate(m, [99_999]), "unknown SKU"),
        (lambda m: whatif.simulate(m, [1], [99_999]), "unknown community"),
        (lambda m: whatif.optimise(m, 99_999), "unknown SKU"),
        (lambda m: whatif.curve(m, 1, prices=[0.0, 1.0]), "positive"),
        (lambda m: whatif.curve(m, 1, threshold=0), "threshold"),
        (lambda m: response.expected_units(m, 1, 1, -1.0), "positive"),
        (lambda m: whatif.OptimiseSettings(target=0), "target"),
        (lambda m: whatif.OptimiseSettings(target=1), "target"),
        (lambda m: whatif.OptimiseSettings(target=1.5), "target"),
        (lambda m: whatif.OptimiseSettings(objective="volume"), "objective"),
        (lambda m: markdown.plan(10, 3, 0.0, np.ones((3, 8))), "price"),
        (lambda m: markdown.plan(10, 0, 5.0, np.ones((0, 8))), "days"),
        (lambda m: markdown.plan(-1, 3, 5.0, np.ones((3, 8))), "stock"),
        (lambda m: markdown.plan(10, 3, 5.0, np.ones((2, 8))), "shape"),
    ],
)
def test_bad_input_is_a_clear_error(model, call, match):
    """Prices <= 0, thresholds < 1, unknown ids, targets outside (0, 1) raise ValueError."""
    with pytest.raises(ValueError, match=match):
        call(model)


def test_settings_load_from_toml(tmp_path):
    """Optimiser settings load from TOML and reject unknown keys."""
    good = tmp_path / "ok.toml"
    good.write_text("[pricing.optimise]\ntarget = 0.85\nobjective = 'gmv'\n", encoding="utf-8")
    s = whatif.OptimiseSettings.from_file(good)
    assert (s.target, s.objective) == (0.85, "gmv")
    bad = tmp_path / "bad.toml"
    bad.write_text("[pricing.optimise]\ntargte = 0.85\n", encoding="utf-8")
    with pytest.raises(ValueError, match="targte"):
        whatif.OptimiseSettings.from_file(bad)


def test_nb_partial_matches_direct_sum():
    """E[U 1{U >= k}] from the shifted-NB identity equals the direct sum."""
    mu, alpha = 4.2, 0.3
    r = 1 / alpha
    u = np.arange(400)
    pmf = stats.nbinom.pmf(u, r, r / (r + mu))
    for k in (1, 3, 7):
        assert response.nb_partial(k, mu, alpha) == pytest.approx((u * pmf)[k:].sum(), rel=1e-9)
        assert response.nb_sf(k, mu, alpha) == pytest.approx(pmf[k:].sum(), rel=1e-9)


# ------------------------------------------------------------------ demo scale (slow)
@pytest.fixture(scope="module")
def demo_world():
    """The demo world (seed 7): ~100 communities over ~400 days, built in memory."""
    from data import generate

    con = generate.generate(":memory:", scale="demo", seed=7)
    yield con
    con.close()


@pytest.mark.slow
def test_every_category_within_0_3_at_demo_scale(demo_world):
    """At demo scale every category's elasticity is within ±0.3 and >= 80 % of CIs cover."""
    cur = demo_world.cursor()
    truth = dict(
        cur.execute(
            "SELECT category, elasticity FROM truth_elasticity WHERE persona = 'all'"
        ).fetchall()
    )
    est = elasticity.estimate(cur, by="category", days=120).set_index("category")
    true = est.index.map(truth).to_numpy(float)
    assert (np.abs(est["elasticity"] - true) <= 0.3).all(), est.assign(truth=true)
    assert ((est["ci_low"] <= true) & (true <= est["ci_high"])).mean() >= 0.8
