"""Coupon trials for the 用户分群 (segments) page: issue retention coupons, list and measure them.

Sending goes through the outbox (``engine.actions.outbox.enqueue``, issue 19). :func:`sender`
returns it bound to the app's connection once that module is in the code base; until then it
returns ``None`` and the page says that coupons cannot be sent yet.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

import pandas as pd

from dashboard import auth, db
from dashboard.i18n import t
from engine.actions import outbox
from engine.auth import Scope
from engine.coupons import issue, uplift


def sender() -> issue.Send:
    """The outbox's ``enqueue`` with a cursor of the app's connection bound."""
    return functools.partial(outbox.enqueue, db.cursor())


def issue_offers(
    offers: pd.DataFrame, as_of: date, holdout_share: float, valid_days: int, seed: int
) -> issue.Trial:
    """Issue the offers of ``as_of`` as a trial with a random hold-out, through the outbox.

    The coupons are valid from the day after the data's last day: the orders of ``as_of``
    were placed before anyone had a coupon.
    """
    send = sender()
    u = auth.current_user()
    s = issue.CouponSettings(holdout_share=holdout_share, valid_days=valid_days, seed=seed)
    trial = issue.issue(
        db.cursor(), offers, as_of + timedelta(days=1), send=send, username=u.username if u else "demo",
        settings=s, scope=auth.scope(),
    )  # fmt: skip
    trials.clear()  # type: ignore[attr-defined]
    return trial


@auth.cache_scoped(show_spinner=False)
def trials(version: str, *, scope: Scope) -> pd.DataFrame:
    """Issued trials inside the scope, newest first."""
    return issue.trials(db.cursor(), scope)


@auth.cache_scoped(show_spinner=False)
def measure(version: str, trial_id: str, *, scope: Scope) -> uplift.Uplift | str:
    """The trial's redemption and uplift, or the reason it cannot be measured yet."""
    try:
        return uplift.measure(db.cursor(), trial_id, scope=scope)
    except uplift.NotMeasurableError as exc:
        return str(exc)


def effects(u: uplift.Uplift) -> pd.DataFrame:
    """The measured effects as rows (orders, orders adjusted, buyers, spend) with intervals."""
    df = uplift.table(u)
    return df.assign(metric=df["metric"].map(lambda m: t("cpn_metric_" + m)))
