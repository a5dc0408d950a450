"""Bottom-up roll-ups of leaf forecasts to category / region totals.

Totals are sums of the leaves, so every level is consistent with the leaves by construction.
Interval bounds are summed too (lower with lower, upper with upper). That is the interval of
the total when leaf errors move together (comonotone), the widest case: with the usual
partly independent leaf errors the summed interval is conservative, i.e. covers the total at
least as often as the nominal level and is wider than a model of the aggregate would give.
"""

from __future__ import annotations

import pandas as pd

from engine.forecasting.frames import DS, ID


def rollup(
    forecasts: pd.DataFrame, mapping: pd.DataFrame, levels: list[str] | tuple[str, ...]
) -> pd.DataFrame:
    """Sum leaf forecasts (and any ``y``) to each grouping level.

    Parameters
    ----------
    forecasts
        Leaf rows ``unique_id, ds`` plus numeric columns to sum (``yhat``, bounds, ``y`` …);
        extra key columns such as ``model`` or ``window`` are kept as keys.
    mapping
        ``unique_id`` plus one column per grouping level (e.g. ``category``, ``region``).
    levels
        Columns of ``mapping`` to roll up to; each may be a single column name. Pass
        ``"total"`` to add the grand total.

    Returns
    -------
    pandas.DataFrame
        ``level, key`` plus the other key columns, ``ds`` and the summed columns.

    Raises
    ------
    ValueError
        When a leaf has no mapping row, a mapping row is duplicated, or a level is unknown.
    """
    if ID not in mapping.columns:
        raise ValueError("mapping needs a unique_id column")
    if mapping[ID].duplicated().any():
        raise ValueError("mapping has duplicate unique_id rows")
    unknown = [lv for lv in levels if lv != "total" and lv not in mapping.columns]
    if unknown:
        raise ValueError(f"levels {unknown} are not columns of mapping")
    unmapped = set(forecasts[ID]) - set(mapping[ID])
    if unmapped:
        raise ValueError(f"{len(unmapped)} series lack a mapping row, e.g. {sorted(unmapped)[0]!r}")
    value_cols = [
        c
        for c in forecasts.columns
        if c != ID
        and c != "window"
        and pd.api.types.is_numeric_dtype(forecasts[c])
        and not pd.api.types.is_bool_dtype(forecasts[c])
    ]
    keys = [c for c in forecasts.columns if c not in value_cols and c != ID]
    merged = forecasts.merge(mapping, on=ID, how="left")
    parts = []
    for lv in levels:
        col = "__total" if lv == "total" else lv
        if lv == "total":
            merged[col] = "total"
        agg = merged.groupby([col, *keys], sort=True, dropna=False)[value_cols].sum()
        agg = agg.reset_index().rename(columns={col: "key"})
        agg.insert(0, "level", lv)
        parts.append(agg)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["level", "key", DS], ignore_index=True, key=None)
