"""The plan's demand level from the one forecaster, its price response from the pricing model."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from engine import clock, dataset, forecasting
from engine.forecasting import anchor, demand, store
from engine.pricing import response


@pytest.fixture(scope="module")
def fitted(world):
    """The forecaster's stored fit of the small world, the campaign model and the sale date."""
    cur = world.cursor()
    stored = store.ensure(cur, dataset.version(cur))
    as_of = clock.as_of(cur)
    model = response.fit(cur, end=as_of)
    return stored, model, as_of + timedelta(days=1)


@pytest.fixture(scope="module")
def anchored(world, fitted):
    """The campaign model rescaled to the forecaster on the sale date."""
    stored, model, sale = fitted
    return anchor.anchor(world.cursor(), model, sale, stored.result)


def _level(world, model, sale, ratios):
    """Units per SKU × warehouse over the recent listing mix at current prices."""
    share = anchor.listing_share(world.cursor(), sale - timedelta(days=1))
    wh = dict(zip(model.community_ids, model.warehouse_ids, strict=True))
    share["warehouse_id"] = share["community_id"].map(wh)
    share = share.loc[share["sku_id"].isin(model.sku_ids)]
    ci = model.community_index(share["community_id"].to_numpy())
    si = model.sku_index(share["sku_id"].to_numpy())
    mu = response.expected_units(
        model, share["sku_id"], share["community_id"], model.current_price[ci, si]
    )
    share["mu"] = share["share"] * mu
    got = share.groupby(["sku_id", "warehouse_id"])["mu"].sum()
    return ratios.set_index(["sku_id", "warehouse_id"]).join(got.rename("level"))


def test_plan_level_is_the_forecasters(world, fitted, anchored):
    """After anchoring, each series' expected units on the sale date follow the forecaster."""
    _, _, sale = fitted
    r = _level(world, anchored.model, sale, anchored.ratios)
    k = anchor.PRIOR_UNITS
    inside = (r["ratio"] > anchor.CLIP[0]) & (r["ratio"] < anchor.CLIP[1])
    r = r.loc[inside]
    assert len(r) > 100
    # (level + k) / (campaign model + k) is the shrunk forecaster ratio, per series.
    want = r["ratio"] * r["campaign_model"]
    # Exact except where a community's share of orders holding the SKU would pass 0.999
    # (response.with_level caps it): a handful of pairs, a few per cent off.
    off = (r["level"] / want - 1).abs()
    assert (off < 0.005).mean() >= 0.99 and off.max() < 0.05, off.describe()
    # Large series (where shrinkage is negligible) carry the forecaster's own level.
    big = r.loc[r["forecast"] > 10 * k]
    assert len(big) > 5
    assert np.allclose(big["level"], big["forecast"], rtol=k / 10 + 0.05)


def test_price_response_is_the_campaign_models(world, fitted, anchored):
    """Anchoring moves the level only: the relative effect of a price change is unchanged."""
    _, model, _ = fitted
    a = anchored.model
    assert np.array_equal(a.elasticity, model.elasticity)
    s = anchored.ratios.sort_values("forecast").iloc[-1]
    comms = model.community_ids[model.warehouse_ids == s["warehouse_id"]][:3]
    lp = model.list_price[model.sku_index([s["sku_id"]])[0]]
    before = [
        response.expected_units(m, s["sku_id"], comms, p)
        for m in (model, a)
        for p in (0.8 * lp, lp)
    ]
    ratio_raw, ratio_anchored = before[0] / before[1], before[2] / before[3]
    assert np.allclose(ratio_raw, ratio_anchored, rtol=0.05)


def test_plan_takes_its_demand_from_the_forecaster(world, fitted):
    """Tomorrow's plan uses the stored forecaster fit; a replayed past day says it cannot."""
    _, _, sale = fitted
    _, (msg, (key, params)) = anchor.plan_demand(world.cursor(), sale)
    assert key == "pl_note_demand_anchored" and 0.5 < params["ratio"] < 2, msg
    _, (_, (key, _)) = anchor.plan_demand(world.cursor(), sale - timedelta(days=7))
    assert key == "pl_note_demand_unanchored"


def test_sale_date_outside_the_forecast_raises(world, fitted):
    """Anchoring to a day the forecast does not cover is a clear error."""
    stored, model, sale = fitted
    with pytest.raises(ValueError, match="does not cover"):
        anchor.anchor(world.cursor(), model, sale + timedelta(days=400), stored.result)


def test_forecasters_price_response_agrees_with_the_campaign_model(world):
    """A 10 % price cut raises demand in every category under both models, by similar amounts.

    The forecaster given the listing plan (price as its discount column) is fitted on the
    small world; its uplift per category is compared with the campaign model's elasticity.
    """
    cur = world.cursor()
    data = demand.history(cur)
    train, future, _ = demand.split(data, 7)
    fast = dataclasses.replace(demand.SETTINGS, n_estimators=150, max_train_rows=60_000)
    m = forecasting.fit(train, 7, future_exog=future, holidays=demand.holidays(cur), settings=fast)
    listed = future["listed"] > 0
    cut = future.assign(discount=np.where(listed, 1 - (1 - future["discount"]) * 0.9, 0.0))
    cat = data.keys.set_index("unique_id")["category"]

    def by_cat(f):
        return f.groupby(f["unique_id"].map(cat))["yhat"].sum()

    base, low = forecasting.predict(m).frame, forecasting.predict(m, future_exog=cut).frame
    tree = by_cat(low) / by_cat(base)
    glm = response.fit(cur, end=train["ds"].max().date())
    # Campaign model: units ∝ pi(p), pi = 1 - exp(-exp(eta0 + b log(p / list))), at p = 0.9.
    b = pd.Series(glm.elasticity).groupby(glm.category).median()
    camp = (0.9**b).reindex(tree.index)
    assert (tree > 1).all() and (camp > 1).all(), pd.DataFrame({"tree": tree, "camp": camp})
    w = by_cat(base)
    uplift_tree = float(((tree - 1) * w).sum() / w.sum())
    uplift_camp = float(((camp - 1) * w).sum() / w.sum())
    assert 1 / 3 <= uplift_tree / uplift_camp <= 3, (uplift_tree, uplift_camp)
