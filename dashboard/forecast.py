"""The page's forecast (engine.forecasting.outlook, stored by engine.forecasting.store) and purchasing.

A fit takes tens of seconds, so pages never fit: the fit of each data version and row scope
runs in the background and is stored in the database; pages read the newest stored one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard import auth, db
from dashboard.i18n import t
from engine import purchasing, reference
from engine.auth import Scope
from engine.forecasting import outlook, store

H = outlook.H
LEVELS = outlook.LEVELS
Result = outlook.Result


@dataclass(frozen=True)
class Current:
    """What the page shows: the newest stored fit, whether it is of older data, the job."""

    result: Result | None
    stale: bool  # the stored fit belongs to an older data version
    job: store.Job
    seconds: float = 0.0  # wall time of the shown fit
    fit_id: str = ""


def current(version: str) -> Current:
    """The newest stored fit of the session's scope; starts the background fit of ``version``.

    Never fits in the page's own run: the fit runs in a background thread (one per data
    version and scope) and is stored in the database, where every page and the plan read it.
    """
    scope = auth.scope()
    job = store.refit(db.connection(), version, scope)
    found = store.fit_id(db.cursor(), scope)
    if found is None:
        return Current(None, False, job)
    got = _stored(found[0])
    return Current(got.result, found[1] != version, job, got.seconds, got.fit_id)


@st.cache_resource(show_spinner=False, max_entries=4)
def _stored(fit_id: str) -> store.Stored:
    """A stored fit, read once per fit id (the id changes with data version and scope)."""
    return store.load(db.cursor(), fit_id)


def show_status(c: Current) -> None:
    """Progress of the background fit (polled every 2 s; the page reruns when it is stored)."""
    job = c.job
    if job.error:
        st.warning(f"{t('fcs_failed')} — {job.error}", icon=":material/warning:")
    if c.result is not None and not c.stale:
        st.caption(t("fcs_fitted", seconds=f"{c.seconds:.0f}"))
    if not job.running:
        return

    @st.fragment(run_every=2)
    def poll() -> None:
        if not job.running:
            st.rerun()
        pct = f"{job.fraction:.0%}"
        st.progress(job.fraction, text=t("fcs_progress", step=t("fcs_step_" + job.step), pct=pct))
        if c.result is None:
            st.info(t("fcs_first_fit"), icon=":material/hourglass_top:")
        elif c.stale:
            st.caption(t("fcs_stale", as_of=c.result.as_of.date().isoformat()))

    poll()


def warm(version: str) -> None:
    """Start the background fit the plan reads (all rows: the plan rescales per warehouse)."""
    store.refit(db.connection(), version)


@auth.cache_scoped(show_spinner=False, max_entries=16)
def purchase_plan(
    version: str, fit_id: str, days: int, warehouses: tuple[int, ...], *, scope: Scope
) -> purchasing.PurchasePlan:
    """Purchase orders for the next ``days`` days after each supplier's lead time."""
    r = _stored(fit_id).result
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
