"""The price range the data support for each SKU, and where a price leaves it.

A demand curve fitted on past listings only knows prices like those listings. Outside their
range it is an extrapolation: a constant-elasticity curve keeps rising in margin towards any
ceiling the optimiser is given. So each SKU's search range is, as fractions of its list price:

- its own listings' lowest and highest ``price / list_price`` in the training window, when it
  has at least :data:`MIN_LISTINGS` of them;
- otherwise its category's range (the 5th to 95th percentile of the category's ratios, widened
  to include the SKU's own few listings);
- capped by the highest loaded reference or competitor price of the SKU (table
  ``reference_prices``, optional) in the :data:`REFERENCE_DAYS` days up to the end of the
  window: a price above every reference price is not searched.

The user can widen the range (:class:`engine.pricing.whatif.OptimiseSettings.widen`); every
answer outside the observed range is then flagged ``extrapolated``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

MIN_LISTINGS = 5  # own listings needed to use the SKU's own range
CATEGORY_QUANTILES = (0.05, 0.95)
REFERENCE_DAYS = 30
TOLERANCE = 0.005  # a price within half a percent of list of the range counts as inside


@dataclass(frozen=True)
class PriceRange:
    """Observed price range per SKU as fractions of list price (arrays aligned to ``sku_ids``).

    ``source`` is ``sku`` (own listings), ``category`` (too few own listings) or ``none`` (no
    listing in the category either: the range is the list price alone); ``capped`` marks a
    high end lowered to a reference price.
    """

    sku_ids: np.ndarray  # [S]
    low: np.ndarray  # [S]
    high: np.ndarray  # [S]
    listings: np.ndarray  # [S] own listings in the window
    source: np.ndarray  # [S] sku | category | none
    capped: np.ndarray  # [S] bool

    def table(self) -> pd.DataFrame:
        """One row per SKU: ``sku_id, low, high, listings, source, capped``."""
        return pd.DataFrame(
            {
                "sku_id": self.sku_ids,
                "low": self.low,
                "high": self.high,
                "listings": self.listings,
                "source": self.source,
                "capped": self.capped,
            }
        )


def observed(
    frame: pd.DataFrame,
    skus: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    min_listings: int = MIN_LISTINGS,
) -> PriceRange:
    """Price ranges from past listings, capped by reference prices.

    Parameters
    ----------
    frame
        Past listings: ``sku_id, price, list_price`` (the campaigns of the training window).
    skus
        Catalogue ``sku_id, category, list_price`` (sorted by ``sku_id``).
    reference
        Optional ``sku_id, price``: reference or competitor prices (CNY).
    min_listings
        Own listings needed to use the SKU's own range.

    Returns
    -------
    PriceRange
        Ranges aligned to ``skus``.

    Raises
    ------
    ValueError
        When ``min_listings`` < 1 or a listing has a non-positive price.
    """
    if min_listings < 1:
        raise ValueError("min_listings must be at least 1")
    ids = skus["sku_id"].to_numpy(np.int64)
    ratio = pd.Series(dtype=float)
    if len(frame):
        if (frame["price"] <= 0).any() or (frame["list_price"] <= 0).any():
            raise ValueError("listing prices must be positive")
        ratio = frame["price"].astype(float) / frame["list_price"].astype(float)
    own = pd.DataFrame({"sku_id": frame["sku_id"].to_numpy(np.int64), "r": ratio.to_numpy()})
    per = own.groupby("sku_id")["r"].agg(["min", "max", "size"])
    cat_of = skus.set_index("sku_id")["category"]
    own["category"] = own["sku_id"].map(cat_of)
    q_lo, q_hi = CATEGORY_QUANTILES
    per_cat = own.groupby("category")["r"].quantile([q_lo, q_hi]).unstack()
    n = per["size"].reindex(ids).fillna(0).to_numpy(np.int64)
    lo_own = per["min"].reindex(ids).to_numpy(float)
    hi_own = per["max"].reindex(ids).to_numpy(float)
    cats = skus["category"]
    lo_cat = cats.map(per_cat[q_lo] if len(per_cat) else {}).to_numpy(float)
    hi_cat = cats.map(per_cat[q_hi] if len(per_cat) else {}).to_numpy(float)
    use_own = n >= min_listings
    has_cat = np.isfinite(lo_cat)
    low = np.where(use_own, lo_own, np.fmin(lo_cat, lo_own))
    high = np.where(use_own, hi_own, np.fmax(hi_cat, hi_own))
    source = np.where(use_own, "sku", np.where(has_cat | (n > 0), "category", "none"))
    low = np.where(np.isfinite(low), low, 1.0)
    high = np.where(np.isfinite(high), high, 1.0)
    capped = np.zeros(len(ids), dtype=bool)
    if reference is not None and len(reference):
        ref = reference.groupby("sku_id")["price"].max().reindex(ids).to_numpy(float)
        ref_ratio = ref / skus["list_price"].to_numpy(float)
        capped = np.isfinite(ref_ratio) & (ref_ratio < high)
        high = np.where(capped, ref_ratio, high)
        low = np.minimum(low, high)
    return PriceRange(ids, low, high, n, source, capped)


def reference_prices(con: duckdb.DuckDBPyConnection, end: date) -> pd.DataFrame | None:
    """Reference / competitor prices of the :data:`REFERENCE_DAYS` days up to ``end``.

    Returns
    -------
    pandas.DataFrame or None
        ``sku_id, price, competitor`` or ``None`` when the optional table is absent or empty.
    """
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'reference_prices'"
    ).fetchall()[0][0]
    if not exists:
        return None
    df = con.execute(
        "SELECT sku_id, reference_price AS price, competitor FROM reference_prices "
        "WHERE price_date BETWEEN ? AND ? AND reference_price > 0",
        [end - timedelta(days=REFERENCE_DAYS - 1), end],
    ).df()
    return df if len(df) else None


def outside(ratio: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """True where a price ratio lies outside ``[low, high]`` (beyond :data:`TOLERANCE`)."""
    return (ratio < low - TOLERANCE) | (ratio > high + TOLERANCE)
