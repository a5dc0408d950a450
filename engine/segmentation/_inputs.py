"""Shared input checks for the segmentation modules: windows and community restrictions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import duckdb

from engine.auth import ALL, Scope, ScopeError


def window(end: date, days: int) -> tuple[date, date]:
    """The closed date range of ``days`` days ending on ``end``."""
    if int(days) < 1:
        raise ValueError(f"a window needs at least one day, got {days}")
    return end - timedelta(days=int(days) - 1), end


def check_range(start: date, end: date) -> None:
    """Raise ValueError for an empty date range."""
    if start > end:
        raise ValueError(f"empty date range: start {start} is after end {end}")


def ids(values: Sequence[int] | None, what: str) -> list[int]:
    """Integer ids from a sequence, or a clear ValueError."""
    if values is None:
        return []
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be integer ids, got {values!r}") from None


def communities(
    con: duckdb.DuckDBPyConnection,
    regions: Sequence[int] | None = (),
    community_ids: Sequence[int] | None = (),
    scope: Scope = ALL,
) -> list[int]:
    """The community ids in scope, checking that every requested id exists.

    Requested ids are limited to the user's row ``scope``.

    Raises
    ------
    ValueError
        For an unknown region or community id.
    ScopeError
        When ids were requested and none lies inside ``scope``.
    """
    reg = ids(regions, "regions")
    com = ids(community_ids, "communities")
    known = con.execute("SELECT community_id, region_id FROM communities").fetchall()
    by_id = dict(known)
    unknown = sorted(set(com) - set(by_id))
    if unknown:
        raise ValueError(f"unknown community id(s): {unknown}")
    if reg:
        regs = {r for (r,) in con.execute("SELECT region_id FROM regions").fetchall()}
        bad = sorted(set(reg) - regs)
        if bad:
            raise ValueError(f"unknown region id(s): {bad}")
    out = sorted(by_id) if not com else sorted(set(com))
    if reg:
        out = [c for c in out if by_id[c] in set(reg)]
    allowed = scope.communities(con)
    if allowed is not None:
        inside = set(allowed)
        narrowed = [c for c in out if c in inside]
        if (reg or com) and out and not narrowed:
            raise ScopeError("the requested regions or communities are outside your scope")
        out = narrowed
    return out


def restriction(
    con: duckdb.DuckDBPyConnection,
    regions: Sequence[int] | None = (),
    community_ids: Sequence[int] | None = (),
    scope: Scope = ALL,
) -> list[int] | None:
    """Community ids to filter on, or ``None`` when neither request nor scope restricts."""
    comms = communities(con, regions, community_ids, scope)
    return comms if (regions or community_ids or scope.restricted) else None
