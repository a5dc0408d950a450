"""An empty or unmatched scope sees no rows at any engine entry point, never every region's.

Reuses the entry-point table of ``tests/engine/test_scope.py`` (every public engine function
that reads rows): each is called with a scope that names no region, no warehouse, or only a
region without communities. It must either return no rows of any community, warehouse or
device, or refuse with :class:`engine.auth.ScopeError` (``EmptyScope``), never widen to all.
"""

from __future__ import annotations

import pytest

from engine import auth, kpis
from engine.forecasting import demand
from tests.engine import test_scope as guard

HOSTILE_SCOPES = {
    "no regions": auth.Scope(regions=()),
    "no regions from a list": auth.Scope(regions=[]),
    "no warehouses": auth.Scope(warehouses=()),
    "unknown region": auth.Scope(regions=(999,)),
    "region and warehouse that do not meet": auth.Scope(regions=(3,), warehouses=(1,)),
}


@pytest.fixture(scope="module")
def ctx(world):
    cur = world.cursor()
    everyone = set(cur.execute("SELECT community_id FROM communities").df()["community_id"])
    # Nothing is inside these scopes: the helpers' own checks compare against no rows.
    pickups = dict(cur.execute("SELECT pickup_id, community_id FROM pickup_points").fetchall())
    truth = {"communities": set(), "warehouses": set(), "devices": set(), "pickups": pickups}
    lo, hi = guard.window.__wrapped__(world)
    model = guard.pricing_model.__wrapped__(world)
    return {"truth": truth, "window": (lo, hi), "pricing_model": model, "all": everyone}


def _gmv(cur, scope, ctx):
    # The guard's own gmv helper compares with region 3 explicitly; here nothing is inside.
    lo, hi = ctx["window"]
    return guard.Rows(set(), total=kpis.gmv(cur, lo, hi, scope=scope))


ENTRY_POINTS = guard.ENTRY_POINTS | {"kpis.gmv (and every KPI, see test_auth.py)": _gmv}


@pytest.mark.parametrize("scope_name", sorted(HOSTILE_SCOPES))
@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_empty_scope_sees_no_rows(world, ctx, name, scope_name):
    """The entry point returns nothing of anyone's, or refuses with ScopeError."""
    scope = HOSTILE_SCOPES[scope_name]
    cur = world.cursor()
    try:
        rows = ENTRY_POINTS[name](cur, scope, ctx)
    except auth.ScopeError as exc:
        assert "scope" in str(exc) or "per region" in str(exc)
        return
    assert not rows.communities and not rows.warehouses and not rows.devices, rows
    assert not rows.total


@pytest.mark.parametrize("scope_name", sorted(HOSTILE_SCOPES))
@pytest.mark.parametrize("name", sorted(kpis.FUNCS))
def test_every_kpi_refuses_an_empty_scope(world, name, scope_name):
    """Every KPI with an empty scope is refused (ScopeError) or zero/None, never the total."""
    cur = world.cursor()
    lo, hi = kpis.data_range(cur)
    try:
        got = kpis.FUNCS[name](cur, lo, hi, (), HOSTILE_SCOPES[scope_name])
    except auth.ScopeError:
        return
    assert not got


def test_demand_history_of_a_scope_without_communities_is_a_clear_error(world):
    """demand.history for a region that has no communities says so instead of crashing."""
    with pytest.raises(auth.EmptyScope, match="matches no community"):
        demand.history(world.cursor(), scope=auth.Scope(regions=(999,)))


@pytest.mark.parametrize("bad", ["1,2", b"1", 3, [1.5], [True], ["1"], [None]])
def test_scope_ids_must_be_integers(bad):
    """A scope cannot be built from text, a bare number, floats, booleans or None ids."""
    with pytest.raises(TypeError):
        auth.Scope(regions=bad)


def test_scope_normalises_ids_and_knows_empty():
    """Lists become sorted distinct tuples; an empty list is an empty scope, not 'all'."""
    assert auth.Scope(regions=[3, 1, 3]).regions == (1, 3)
    assert auth.Scope(regions=[]).empty and not auth.ALL.empty
    assert auth.Scope(regions=[]).restricted
    with pytest.raises(auth.EmptyScope):
        auth.Scope(regions=[]).clip_regions([])
