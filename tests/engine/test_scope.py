"""Row scope across engine entry points: asking for region 1 never yields region 2's rows.

The Scope object of the signed-in user is threaded through the KPI and planning engines
(tests in test_auth.py and test_planning.py); the other engines take region ids, which the
dashboard clips to the user's scope with ``Scope.clip_regions``. Each case here calls an
entry point the way the dashboard does for a region-1 manager and checks every row.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import auth, basket_scopes, kpis
from engine.segmentation import pipeline as segmentation

MANAGER = auth.Scope(regions=(1,))


def _regions_of(cur, community_ids) -> set[int]:
    lookup = dict(cur.execute("SELECT community_id, region_id FROM communities").fetchall())
    return {lookup[int(c)] for c in community_ids}


def _segmentation(cur):
    seg = segmentation.run(cur, regions=MANAGER.clip_regions(), with_churn=False)
    return seg.users["community_id"]


def _basket(cur):
    _, hi = kpis.data_range(cur)
    tx = basket_scopes.transactions(
        cur,
        basket_scopes.Scope(regions=MANAGER.clip_regions(), start=hi - timedelta(days=13), end=hi),
    )
    ids = tx["order_id"].unique().tolist()
    return cur.execute(
        "SELECT community_id FROM orders WHERE list_contains(?, order_id)", [ids]
    ).df()["community_id"]


def _ranking(cur):
    lo, hi = kpis.data_range(cur)
    return kpis.community_ranking(cur, lo, hi, scope=MANAGER)["community_id"]


ENTRY_POINTS = {
    "segmentation.run": _segmentation,
    "basket_scopes.transactions": _basket,
    "kpis.community_ranking": _ranking,
}


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_region_manager_sees_only_own_region(world, name):
    """Every community behind the rows returned lies in region 1, and some rows exist."""
    cur = world.cursor()
    communities = ENTRY_POINTS[name](cur)
    assert len(communities) > 0
    assert _regions_of(cur, communities) == {1}


def test_clip_never_widens_a_request():
    """Clipping keeps requested regions inside the scope and defaults to the whole scope."""
    assert MANAGER.clip_regions() == (1,)
    assert MANAGER.clip_regions([1, 2]) == (1,)
    assert auth.ALL.clip_regions([2]) == (2,)
