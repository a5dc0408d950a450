"""Row scope: which regions' and warehouses' rows a user may see.

``Scope`` is re-exported by :mod:`engine.auth` (users, roles and login), where callers take it
from. ``None`` means all, and only when said so; an empty tuple means nothing, and the methods
that turn a scope into ids raise :class:`EmptyScope` rather than hand out an empty list that a
query could read as "no restriction".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd


class ScopeError(PermissionError):
    """A request asked for rows outside the caller's scope."""


class EmptyScope(ScopeError):  # noqa: N818 - reads as "the scope is empty"
    """The caller's scope covers no rows at all (no regions, or none with a community)."""


@dataclass(frozen=True)
class Scope:
    """Rows a user may see: region ids and warehouse ids.

    ``None`` means all (only by saying so: ``Scope()`` or :data:`ALL`); an empty tuple means
    none. Ids are normalised to a sorted tuple of distinct ints, so a list or an empty
    selection can never be read as "all" further down: every method that turns the scope into
    ids raises :class:`EmptyScope` instead of returning an empty (= unrestricted) list.
    """

    regions: tuple[int, ...] | None = None
    warehouses: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("regions", "warehouses"):
            object.__setattr__(self, name, ids(getattr(self, name), name))

    @property
    def empty(self) -> bool:
        """True when the scope names no region or no warehouse: it may see no rows."""
        return self.regions == () or self.warehouses == ()

    def require_rows(self) -> None:
        """Raise :class:`EmptyScope` when the scope names no region or no warehouse."""
        if self.regions == ():
            raise EmptyScope("your scope has no regions: this account sees no rows; ask an admin")
        if self.warehouses == ():
            raise EmptyScope(
                "your scope has no warehouses: this account sees no rows; ask an admin"
            )

    def clip_regions(self, requested: Sequence[int] = ()) -> tuple[int, ...]:
        """Return the regions to query: the request limited to the scope.

        Parameters
        ----------
        requested
            Region ids asked for; empty means "all I may see".

        Returns
        -------
        tuple of int
            Region ids to filter on; empty means no restriction (only for unscoped users).

        Raises
        ------
        ScopeError
            When every requested region lies outside the scope.
        EmptyScope
            When the scope has no regions or no warehouses.
        """
        req = tuple(int(r) for r in requested)
        self.require_rows()
        if self.regions is None:
            return req
        if not req:
            return self.regions
        inside = tuple(r for r in req if r in self.regions)
        if not inside:
            raise ScopeError(f"regions {list(req)} are outside your scope {list(self.regions)}")
        return inside

    @property
    def restricted(self) -> bool:
        """True when the scope limits rows at all."""
        return self.regions is not None or self.warehouses is not None

    def communities(self, con: duckdb.DuckDBPyConnection) -> list[int] | None:
        """Community ids whose rows the scope may see (``None`` = all).

        A community is inside when its region is in ``regions`` (if set) and its serving
        warehouse is in ``warehouses`` (if set).

        Raises
        ------
        EmptyScope
            When a restricted scope matches no community (never an empty list, which callers
            could read as "no restriction").
        """
        if not self.restricted:
            return None
        self.require_rows()
        rows = con.execute(
            "SELECT community_id FROM communities "
            "WHERE (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], region_id)) "
            "AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], warehouse_id)) "
            "ORDER BY community_id",
            [*(_as_list(self.regions),) * 2, *(_as_list(self.warehouses),) * 2],
        ).fetchall()
        if not rows:
            raise EmptyScope(f"your scope {self.describe()} matches no community")
        return [int(r[0]) for r in rows]

    def warehouse_ids(self, con: duckdb.DuckDBPyConnection) -> list[int] | None:
        """Warehouse ids whose rows the scope may see (``None`` = all).

        A warehouse is inside when it is in ``warehouses`` (if set) and, for a regional
        scope, serves at least one community of the scope's regions.

        Raises
        ------
        EmptyScope
            When a restricted scope matches no warehouse.
        """
        if not self.restricted:
            return None
        self.require_rows()
        rows = con.execute(
            "SELECT warehouse_id FROM warehouses w "
            "WHERE (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], warehouse_id)) "
            "AND (?::INTEGER[] IS NULL OR EXISTS (SELECT 1 FROM communities c "
            "WHERE c.warehouse_id = w.warehouse_id AND list_contains(?::INTEGER[], c.region_id))) "
            "ORDER BY warehouse_id",
            [*(_as_list(self.warehouses),) * 2, *(_as_list(self.regions),) * 2],
        ).fetchall()
        if not rows:
            raise EmptyScope(f"your scope {self.describe()} matches no warehouse")
        return [int(r[0]) for r in rows]

    def describe(self) -> str:
        """The scope in words, for messages: ``regions [3]``, ``all``."""
        parts = [
            f"{name} {list(ids)}"
            for name, ids in (("regions", self.regions), ("warehouses", self.warehouses))
            if ids is not None
        ]
        return ", ".join(parts) or "all"

    def clip_communities(
        self, con: duckdb.DuckDBPyConnection, requested: Sequence[int] | None = ()
    ) -> list[int] | None:
        """The requested communities limited to the scope (``None`` = no restriction).

        Raises
        ------
        ScopeError
            When communities were requested and none of them lies inside the scope.
        """
        return _clip(requested, self.communities(con), "communities")

    def clip_warehouses(
        self, con: duckdb.DuckDBPyConnection, requested: Sequence[int] | None = ()
    ) -> list[int] | None:
        """The requested warehouses limited to the scope (``None`` = no restriction).

        Raises
        ------
        ScopeError
            When warehouses were requested and none of them lies inside the scope.
        """
        return _clip(requested, self.warehouse_ids(con), "warehouses")

    def mask(
        self, region_ids: Sequence[int] | np.ndarray, warehouse_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """Which communities, given their region and serving warehouse, lie inside the scope.

        Raises
        ------
        EmptyScope
            When the scope has no regions or no warehouses.
        """
        self.require_rows()
        reg = np.asarray(region_ids, dtype=np.int64)
        ok = np.ones(len(reg), dtype=bool)
        if self.regions is not None:
            ok &= np.isin(reg, np.asarray(self.regions, dtype=np.int64))
        if self.warehouses is not None:
            wh = np.asarray(warehouse_ids, dtype=np.int64)
            ok &= np.isin(wh, np.asarray(self.warehouses, dtype=np.int64))
        return ok

    def keep(
        self, con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, column: str = "community_id"
    ) -> pd.DataFrame:
        """Rows of ``frame`` whose ``column`` (community or warehouse ids) is inside the scope."""
        if not self.restricted:
            return frame
        allowed = self.warehouse_ids(con) if column == "warehouse_id" else self.communities(con)
        return frame.loc[frame[column].isin(allowed)]


def _clip(
    requested: Sequence[int] | None, allowed: list[int] | None, what: str
) -> list[int] | None:
    """``requested`` ids limited to ``allowed`` (``None`` = all); see ``Scope.clip_*``."""
    req = [int(i) for i in (requested or ())]
    if allowed is None:
        return req or None
    if not req:
        return allowed
    keep = set(allowed)
    inside = [i for i in req if i in keep]
    if not inside:
        raise ScopeError(f"{what} {req} are outside your scope")
    return inside


def ids(value: object, name: str) -> tuple[int, ...] | None:
    """``value`` as a sorted tuple of distinct integer ids (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"scope {name} must be a sequence of ids or None, got {value!r}")
    out = set()
    for v in value:  # type: ignore[attr-defined]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"scope {name} must be integer ids, got {v!r}")
        out.add(int(v))
    return tuple(sorted(out))


def _as_list(ids: tuple[int, ...] | None) -> list[int] | None:
    return None if ids is None else [int(i) for i in ids]


ALL = Scope()
