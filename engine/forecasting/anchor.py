"""The plan's demand level from the one forecaster; the price response from the pricing model.

The pricing engine's campaign model (engine/pricing/response.py) knows how units move with
price and threshold in one community, but not the weather forecast, holidays, topic trends
or the platform's growth. The gradient-boosted forecaster (the page's model, stored per data
version by :mod:`engine.forecasting.store`) knows those, per SKU × warehouse. :func:`anchor`
rescales the campaign model so that, for each SKU and warehouse on the sale date, its
expected units at current prices, over the communities in their usual listing mix, equal
the forecaster's: the level is the forecaster's, the response to a price change around it
is the campaign model's (checked against the forecaster's own discount response in
tests/engine/test_anchor.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from engine import clock, dataset
from engine.forecasting import outlook, store
from engine.pricing import response

LOOKBACK = 28  # days of listings that give each community's share of a warehouse's series
CLIP = (1 / 3, 3.0)  # a ratio outside this says the two models disagree on what is listed
PRIOR_UNITS = 2.0  # units of prior weight pulling a small series' ratio towards 1


@dataclass(frozen=True)
class Anchor:
    """What the anchoring did.

    Attributes
    ----------
    model
        The rescaled campaign model.
    ratios
        ``sku_id, warehouse_id, forecast, campaign_model, ratio`` for each series forecast
        on the sale date; ratio ``(forecast + k) / (campaign_model + k)`` with
        ``k =`` :data:`PRIOR_UNITS`, clipped to :data:`CLIP`.
    """

    model: response.DemandModel
    ratios: pd.DataFrame

    @property
    def median_ratio(self) -> float:
        """Median forecaster / campaign-model ratio (1 when nothing was anchored)."""
        return float(self.ratios["ratio"].median()) if len(self.ratios) else 1.0


def listing_share(
    con: duckdb.DuckDBPyConnection, as_of: date, days: int = LOOKBACK
) -> pd.DataFrame:
    """Share of the last ``days`` days on which each community listed each SKU.

    Parameters
    ----------
    con
        An open Linli database.
    as_of
        Last day counted.
    days
        Days counted.

    Returns
    -------
    pandas.DataFrame
        ``community_id, sku_id, share``.
    """
    return con.execute(
        "SELECT community_id, sku_id, count(DISTINCT sale_date) / ?::DOUBLE AS share "
        "FROM campaigns WHERE sale_date BETWEEN ? AND ? GROUP BY ALL",
        [days, as_of - timedelta(days=days - 1), as_of],
    ).df()


def anchor(
    con: duckdb.DuckDBPyConnection,
    model: response.DemandModel,
    sale_date: date,
    forecast: outlook.Result,
) -> Anchor:
    """Rescale a campaign model to the forecaster's demand on ``sale_date``.

    Parameters
    ----------
    con
        An open Linli database (for the recent listings).
    model
        The campaign model fitted up to ``sale_date - 1``.
    sale_date
        The day planned; must lie inside the forecast.
    forecast
        The forecaster's result (SKU × warehouse series with keys), from the same data.

    Returns
    -------
    Anchor
        The rescaled model and the ratio per series; pairs without a forecast keep factor 1.

    Raises
    ------
    ValueError
        When ``sale_date`` is not a forecast day.
    """
    day = pd.Timestamp(sale_date)
    fc = forecast.forecast.loc[forecast.forecast["ds"] == day, ["unique_id", "yhat"]]
    if fc.empty:
        raise ValueError(f"the forecast (as of {forecast.as_of.date()}) does not cover {sale_date}")
    fc = fc.merge(forecast.keys[["unique_id", "sku_id", "warehouse_id"]], on="unique_id")
    share = listing_share(con, sale_date - timedelta(days=1))
    comm = pd.DataFrame({"community_id": model.community_ids, "warehouse_id": model.warehouse_ids})
    share = share.merge(comm, on="community_id")
    share = share.loc[share["sku_id"].isin(model.sku_ids)]
    ci = model.community_index(share["community_id"].to_numpy())
    si = model.sku_index(share["sku_id"].to_numpy())
    # Units of a listed campaign at the current price, as the plan's optimiser computes them.
    mu = response.expected_units(
        model,
        share["sku_id"].to_numpy(),
        share["community_id"].to_numpy(),
        model.current_price[ci, si],
    )
    share["mu"] = share["share"].to_numpy() * mu
    glm = share.groupby(["sku_id", "warehouse_id"], as_index=False)["mu"].sum()
    both = fc.merge(glm, on=["sku_id", "warehouse_id"])
    both = both.loc[(both["mu"] > 0) & (both["yhat"] > 0)].copy()
    # (forecast + k) / (campaign model + k): a series of a unit or two a day is mostly noise.
    k = PRIOR_UNITS
    both["ratio"] = np.clip((both["yhat"] + k) / (both["mu"] + k), *CLIP)
    factor = np.ones_like(model.eta0)
    wh = pd.Series(np.arange(len(model.community_ids))).groupby(model.warehouse_ids)
    for r in both.itertuples():
        rows = wh.get_group(r.warehouse_id).to_numpy() if r.warehouse_id in wh.groups else []
        factor[rows, model.sku_index([r.sku_id])[0]] = r.ratio
    ratios = both.rename(columns={"yhat": "forecast", "mu": "campaign_model"})[
        ["sku_id", "warehouse_id", "forecast", "campaign_model", "ratio"]
    ]
    return Anchor(response.with_level(model, factor), ratios.reset_index(drop=True))


def plan_demand(
    con: duckdb.DuckDBPyConnection, sale_date: date
) -> tuple[response.DemandModel, tuple[str, tuple[str, dict]]]:
    """The plan's demand: level from the one forecaster, price response from the pricing model.

    The forecaster's fit of the current data version (stored, fitted once; fitted here only
    when nothing is stored yet) gives each SKU × warehouse's demand on the sale date; the
    campaign model is rescaled to it (engine/forecasting/anchor.py). A plan for a day the
    stored forecast does not cover (a replay of a past day) keeps the campaign model's own
    level and says so.
    """
    as_of = sale_date - timedelta(days=1)
    model = response.fit(con, end=as_of)
    stored = store.latest(con, version=dataset.version(con))
    if stored is None and as_of == clock.as_of(con):
        stored = store.ensure(con, dataset.version(con))
    if stored is None or stored.result.as_of.date() != as_of:
        msg = "demand level from the pricing model: no forecaster fit covers this sale date"
        return model, (msg, ("pl_note_demand_unanchored", {}))
    a = anchor(con, model, sale_date, stored.result)
    ratio = round(a.median_ratio, 2)
    msg = f"demand level from the forecaster (median ratio to the pricing model {ratio})"
    return a.model, (msg, ("pl_note_demand_anchored", {"ratio": ratio}))
