"""Cached wrappers around the page's forecast (engine.forecasting.outlook) and purchasing.

A fit takes tens of seconds, so it is cached per database file, data version and row scope.
"""

from __future__ import annotations

import functools

import pandas as pd

from dashboard import auth, db
from engine import db as dbmod
from engine import purchasing, reference
from engine.auth import Scope
from engine.forecasting import outlook

H = outlook.H
LEVELS = outlook.LEVELS
Result = outlook.Result


@auth.cache_scoped(show_spinner=False, max_entries=4)
def result(version: str, seed: int = 0, *, scope: Scope) -> Result:
    """Fit the model on the scope's history and forecast 28 days ahead."""
    return _fitted(str(dbmod.db_path()), version, seed, scope)


# A fit takes tens of seconds, so it also outlives st.cache_data.clear() (the page tests clear
# caches per test); the key holds the database path, its data version and the row scope.
@functools.lru_cache(maxsize=4)
def _fitted(path: str, version: str, seed: int, scope: Scope) -> Result:
    """Fit and forecast for one database file, data version and row scope."""
    return outlook.compute(db.cursor(), scope, seed)


@auth.cache_scoped(show_spinner=False, max_entries=16)
def purchase_plan(
    version: str, days: int, warehouses: tuple[int, ...], *, scope: Scope
) -> purchasing.PurchasePlan:
    """Purchase orders for the next ``days`` days after each supplier's lead time."""
    r = result(version)
    cur = db.cursor()
    stock = purchasing.stock(cur, scope)
    keys = r.keys
    if warehouses:
        keys = keys.loc[keys["warehouse_id"].isin(warehouses)]
    return purchasing.plan(r.forecast, keys, stock, purchasing.suppliers(cur), r.as_of, days=days)


@auth.cache_scoped(show_spinner=False)
def warehouses(version: str, *, scope: Scope) -> pd.DataFrame:
    """Warehouses inside the row scope, with their region and the regions they serve."""
    return reference.warehouses(db.cursor(), scope=scope)[
        ["warehouse_id", "name", "region_id", "serves"]
    ]


def select(r: Result, category: str | None, sku: int | None, whs: tuple[int, ...]) -> list[str]:
    """The series ids matching the page's choices."""
    return outlook.select(r, category, sku, whs)


def totals(r: Result, ids: list[str], days: int = 56) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summed history (last ``days``) and summed forecast with calibrated bands."""
    return outlook.totals(r, ids, days)


def accuracy(r: Result, ids: list[str]) -> pd.DataFrame:
    """WAPE and bias of the model and each baseline on the hold-out, chosen series."""
    return outlook.accuracy(r, ids)


def accuracy_by_category(r: Result, ids: list[str]) -> pd.DataFrame:
    """Hold-out WAPE per category and model, wide (one column per model)."""
    return outlook.accuracy_by_category(r, ids)
