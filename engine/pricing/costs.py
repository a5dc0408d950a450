"""What a formed group costs besides the goods: the cost model the threshold is chosen against.

A group (one SKU in one community on one day) that forms costs, per community:

- the leader's commission, a share of the net GMV (``leaders.commission_rate``);
- handling, CNY per order (picking, bagging, the leader's hand-out), spread over the units of
  an order (``handling_per_order / units per order``);
- delivery: the van's stop at the community's pickup point, shared by the groups delivered
  there that day (``stop_cost / groups_per_stop``).

Defaults come from the data (:func:`defaults`): the commission from ``leaders``; the cost per
stop from the routing engine's cost terms — each warehouse's vans' cost per km times the
detour-corrected distance a visit adds (the hop from the nearest other point of the same
warehouse), plus the vans' fixed day cost shared over the warehouse's pickup points; units per
order from the last weeks' orders. Handling has no source table: :data:`HANDLING_PER_ORDER` is
an assumption the page shows and lets the user change. Without vehicles or pickup points the
stop cost is 0 and :attr:`CostModel.notes` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from engine.routing import dispatch

HANDLING_PER_ORDER = 0.5  # CNY per order, an assumption (no table records it)
GROUPS_PER_STOP = 10  # groups sharing a stop when the plan does not say (its list length)


@dataclass(frozen=True)
class CostModel:
    """Per-community costs of a formed group, aligned to ``community_ids``.

    ``commission`` is a rate on net GMV, ``handling_per_unit`` CNY per unit sold and
    ``group_cost`` CNY per formed group (the group's share of the delivery stop).
    """

    community_ids: np.ndarray  # [C]
    commission: np.ndarray  # [C]
    handling_per_unit: np.ndarray  # [C]
    group_cost: np.ndarray  # [C]
    stop_cost: np.ndarray  # [C] CNY per stop at the community's pickup point
    units_per_order: np.ndarray  # [C]
    handling_per_order: float = HANDLING_PER_ORDER
    groups_per_stop: float = GROUPS_PER_STOP
    notes: tuple[str, ...] = ()

    def table(self) -> pd.DataFrame:
        """One row per community with every cost term."""
        return pd.DataFrame(
            {
                "community_id": self.community_ids,
                "commission": self.commission,
                "stop_cost": self.stop_cost,
                "group_cost": self.group_cost,
                "units_per_order": self.units_per_order,
                "handling_per_unit": self.handling_per_unit,
            }
        )

    def at(self, community_ids) -> CostModel:
        """The cost model restricted to ``community_ids`` (unknown ids raise ``ValueError``)."""
        ids = np.atleast_1d(np.asarray(community_ids, dtype=np.int64))
        pos = np.clip(np.searchsorted(self.community_ids, ids), 0, len(self.community_ids) - 1)
        if len(ids) and (self.community_ids[pos] != ids).any():
            raise ValueError("community without a cost row")
        return replace(
            self,
            community_ids=ids,
            commission=self.commission[pos],
            handling_per_unit=self.handling_per_unit[pos],
            group_cost=self.group_cost[pos],
            stop_cost=self.stop_cost[pos],
            units_per_order=self.units_per_order[pos],
        )


def build(
    community_ids,
    commission,
    stop_cost,
    units_per_order,
    handling_per_order: float = HANDLING_PER_ORDER,
    groups_per_stop: float = GROUPS_PER_STOP,
    notes: tuple[str, ...] = (),
) -> CostModel:
    """A cost model from its terms (scalars broadcast over the communities).

    Raises
    ------
    ValueError
        For a negative cost, a commission outside [0, 1), or ``groups_per_stop`` < 1.
    """
    ids = np.atleast_1d(np.asarray(community_ids, dtype=np.int64))
    order = np.argsort(ids, kind="stable")

    def arr(x) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=float), ids.shape).copy()[order]

    com, stop, upo = arr(commission), arr(stop_cost), arr(units_per_order)
    if (com < 0).any() or (com >= 1).any():
        raise ValueError("commission rates must lie in [0, 1)")
    if (stop < 0).any() or handling_per_order < 0:
        raise ValueError("costs must be non-negative")
    if groups_per_stop < 1:
        raise ValueError("groups_per_stop must be at least 1")
    upo = np.where(np.isfinite(upo) & (upo > 0), upo, 1.0)
    return CostModel(
        community_ids=ids[order],
        commission=com,
        handling_per_unit=handling_per_order / upo,
        group_cost=stop / groups_per_stop,
        stop_cost=stop,
        units_per_order=upo,
        handling_per_order=float(handling_per_order),
        groups_per_stop=float(groups_per_stop),
        notes=notes,
    )


def stop_costs(
    con: duckdb.DuckDBPyConnection, detour_factor: float | None = None
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Cost of one delivery stop per community from its warehouse's vans and pickup points.

    Returns
    -------
    tuple
        ``community_id, warehouse_id, km_per_stop, stop_cost`` and notes on missing inputs.
    """
    detour = detour_factor or dispatch.DispatchSettings().detour_factor
    pts = con.execute(
        "SELECT p.community_id, c.warehouse_id, p.lat, p.lon, w.lat AS w_lat, w.lon AS w_lon "
        "FROM pickup_points p JOIN communities c USING (community_id) "
        "JOIN warehouses w ON w.warehouse_id = c.warehouse_id "
        "WHERE p.lat IS NOT NULL AND p.lon IS NOT NULL"
    ).df()
    vans = con.execute(
        "SELECT warehouse_id, count(*) AS vans, sum(fixed_cost) AS fixed, "
        "avg(cost_per_km) AS per_km FROM vehicles GROUP BY 1"
    ).df()
    notes: list[str] = []
    if pts.empty:
        notes.append("no pickup points with coordinates: delivery cost per stop is 0")
        return pd.DataFrame(
            columns=["community_id", "warehouse_id", "km_per_stop", "stop_cost"]
        ), tuple(notes)
    rows = []
    for wid, g in pts.groupby("warehouse_id"):
        lat = np.r_[g["w_lat"].iloc[0], g["lat"].to_numpy()]
        lon = np.r_[g["w_lon"].iloc[0], g["lon"].to_numpy()]
        d = dispatch.haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
        np.fill_diagonal(d, np.inf)
        hop_km = detour * d[1:].min(axis=1) / 1000.0  # nearest other point (or the depot)
        hop_km = np.where(np.isfinite(hop_km), hop_km, 0.0)
        v = vans[vans["warehouse_id"] == wid]
        per_km = float(v["per_km"].iloc[0]) if len(v) else 0.0
        fixed = float(v["fixed"].iloc[0]) / len(g) if len(v) else 0.0
        rows.append(
            pd.DataFrame(
                {
                    "community_id": g["community_id"].to_numpy(),
                    "warehouse_id": wid,
                    "km_per_stop": hop_km,
                    "stop_cost": per_km * hop_km + fixed,
                }
            )
        )
    if vans.empty:
        notes.append("no vehicles: delivery cost per stop is 0")
    out = pd.concat(rows, ignore_index=True)
    out = out.groupby(["community_id", "warehouse_id"], as_index=False).mean()
    return out, tuple(notes)


def defaults(
    con: duckdb.DuckDBPyConnection,
    end: date,
    handling_per_order: float = HANDLING_PER_ORDER,
    groups_per_stop: float = GROUPS_PER_STOP,
    days: int = 28,
) -> CostModel:
    """The cost model with every term from the data (see the module docstring).

    Parameters
    ----------
    con
        Open Linli database.
    end
        Last day of data used (units per order over the ``days`` before it).
    handling_per_order
        CNY per order.
    groups_per_stop
        Groups delivered at one stop (the plan's list length).
    days
        Window for units per order.

    Returns
    -------
    CostModel
        Costs of every community.
    """
    comms = con.execute(
        "SELECT m.community_id, coalesce(avg(l.commission_rate), 0) AS commission "
        "FROM communities m LEFT JOIN leaders l USING (community_id) GROUP BY 1 ORDER BY 1"
    ).df()
    upo = con.execute(
        "SELECT o.community_id, sum(i.qty)::DOUBLE / count(DISTINCT o.order_id) AS upo "
        "FROM orders o JOIN order_items i USING (order_id) "
        "WHERE o.status <> 'cancelled' AND o.order_date BETWEEN ? AND ? GROUP BY 1",
        [end - timedelta(days=days - 1), end],
    ).df()
    stops, notes = stop_costs(con)
    per_stop = stops.groupby("community_id")["stop_cost"].mean()
    missing = ~comms["community_id"].isin(per_stop.index)
    if missing.any() and not stops.empty:
        notes += (f"{int(missing.sum())} communities without a pickup point: stop cost 0",)
    mean_upo = float(upo["upo"].mean()) if len(upo) else 1.0
    return build(
        comms["community_id"],
        comms["commission"],
        comms["community_id"].map(per_stop).fillna(0.0),
        comms["community_id"].map(upo.set_index("community_id")["upo"]).fillna(mean_upo),
        handling_per_order=handling_per_order,
        groups_per_stop=groups_per_stop,
        notes=notes,
    )
