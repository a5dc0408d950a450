"""Reference listings (engine.reference) on the small world: what each lists, and the scope."""

from __future__ import annotations

import pytest

from engine import auth, reference


def test_warehouses_carry_fleet_size_and_regions_served(world):
    """Each warehouse lists its vehicle count and the sorted regions of its communities."""
    cur = world.cursor()
    table = reference.warehouses(cur)
    fleet = cur.execute("SELECT warehouse_id, count(*) FROM vehicles GROUP BY ALL").fetchall()
    assert dict(zip(table["warehouse_id"], table["vehicles"], strict=True)) == dict(fleet)
    served = cur.execute(
        "SELECT warehouse_id, list(DISTINCT region_id ORDER BY region_id) FROM communities "
        "GROUP BY ALL"
    ).fetchall()
    assert {w: list(s) for w, s in zip(table["warehouse_id"], table["serves"], strict=True)} == {
        w: list(s) for w, s in served
    }
    own = reference.warehouses(cur, regions=[1])
    assert set(own["region_id"]) == {1}


def test_fleet_of_a_warehouse_outside_the_scope_is_refused(world):
    """A dispatcher of warehouse 1 reads its own fleet and gets ScopeError for warehouse 2."""
    cur = world.cursor()
    mine = auth.Scope(warehouses=(1,))
    assert set(reference.fleet(cur, 1, mine)["warehouse_id"]) == {1}
    with pytest.raises(auth.ScopeError):
        reference.fleet(cur, 2, mine)


def test_regions_of_a_warehouse_only_scope_are_all_listed(world):
    """A warehouse-only scope names no regions, so the region list is not cut."""
    cur = world.cursor()
    assert len(reference.regions(cur, auth.Scope(warehouses=(1,)))) == len(reference.regions(cur))
    assert reference.regions(cur, auth.Scope(regions=(2, 3)))["region_id"].tolist() == [2, 3]


def test_pickups_and_communities_match_their_tables(world):
    """Unscoped, the listings are the tables' rows (pickups of one warehouse's communities)."""
    cur = world.cursor()
    n = cur.execute(
        "SELECT count(*) FROM pickup_points p JOIN communities c USING (community_id) "
        "WHERE c.warehouse_id = 1"
    ).fetchall()[0][0]
    assert len(reference.pickups(cur, 1)) == n
    comm = reference.communities(cur)
    assert list(comm.columns) == ["community_id", "name", "type", "region_id", "warehouse_id"]
    assert len(comm) == cur.execute("SELECT count(*) FROM communities").fetchall()[0][0]
