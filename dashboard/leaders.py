"""Cached wrappers for the 团长工作台 (leader workbench) page around engine.leaders."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from dashboard import auth, db
from engine import clock
from engine.auth import Scope
from engine.leaders import commission, pickup, ranking

TIER_ICON = {"gold": "🥇", "silver": "🥈", "bronze": "🥉", "member": ""}
SETTLE_ROLES = ("admin", "demo")  # paying leaders is a finance action


def may_settle() -> bool:
    """Whether the session may record commission payouts."""
    return auth.role() in SETTLE_ROLES


def show_phones() -> bool:
    """Whether the session's role may see customers' full phone numbers."""
    return pickup.may_see_phones(auth.role())


@auth.cache_scoped(show_spinner=False)
def points(version: str, regions: tuple[int, ...], *, scope: Scope) -> pd.DataFrame:
    """Pickup points inside the scope, limited to the sidebar's regions (all when empty)."""
    df = pickup.points(db.cursor(), scope)
    if regions:
        cur = db.cursor()
        keep = Scope(regions=tuple(regions)).communities(cur) or []
        df = df[df["community_id"].isin(keep)]
    return df.reset_index(drop=True)


@auth.cache_scoped(show_spinner=False)
def tomorrow(version: str, *, scope: Scope) -> date:
    """The next delivery day (the as-of day + 1, or today's date + 1 without orders)."""
    return clock.world_today(db.cursor()) + timedelta(days=1)


@auth.cache_scoped(show_spinner=False)
def customers(
    version: str, pickup_id: int, day: date, phones: bool, *, scope: Scope
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pickup list of ``day`` as lines and by customer (phones masked unless ``phones``)."""
    lines = pickup.pickup_list(db.cursor(), pickup_id, day, show_phones=phones, scope=scope)
    return lines, pickup.by_customer(lines)


def planned(pickup_id: int, sale_date: date) -> pd.DataFrame:
    """The approved plan's groups for the point's community on ``sale_date``.

    Not cached: approving a plan does not change the data version, and a leader must see
    the approval on the next rerun (the query reads one plan's items).
    """
    return pickup.planned_groups(db.cursor(), pickup_id, sale_date, scope=auth.scope())


def printable(point: str, day: date, by_customer: pd.DataFrame) -> bytes:
    """The printable HTML pickup list."""
    return pickup.printable(point, day, by_customer).encode("utf-8")


@auth.cache_scoped(show_spinner=False)
def near(version: str, pickup_id: int, within: float, *, scope: Scope) -> pd.DataFrame:
    """Groups of the as-of sale day within ``within`` of their threshold."""
    cur = db.cursor()
    return pickup.near_threshold(cur, pickup_id, clock.world_today(cur), within=within, scope=scope)


@auth.cache_scoped(show_spinner=False)
def statement(version: str, start: date, end: date, *, scope: Scope) -> pd.DataFrame:
    """Every leader's commission statement of the period with its settlement status."""
    return commission.statement(db.cursor(), start, end, scope=scope)


def settle(leader_id: int, start: date, end: date) -> float:
    """Record a payout for the signed-in user and drop the cached statements."""
    u = auth.current_user()
    amount = commission.settle(
        db.cursor(), leader_id, start, end, u.username if u else "demo", scope=auth.scope()
    )
    statement.clear()  # type: ignore[attr-defined]
    return amount


@auth.cache_scoped(show_spinner=False)
def leader_ranking(version: str, start: date, end: date, *, scope: Scope) -> pd.DataFrame:
    """Leaders ranked by net GMV with their tier."""
    return ranking.ranking(db.cursor(), start, end, scope=scope)


def tier_rules() -> pd.DataFrame:
    """The tier rules, top tier first."""
    return ranking.rules()
