"""Tables as CSV or Excel bytes that are safe to open in a spreadsheet.

Text cells that a spreadsheet would run as a formula are neutralised by
:func:`engine.cells.neutralise` (a leading apostrophe); numbers stay numbers.
"""

from __future__ import annotations

import io

import pandas as pd

from engine import cells


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """Return ``df`` as UTF-8 CSV with a BOM (so Excel reads Chinese), injection-safe.

    Parameters
    ----------
    df
        The table to export; its index is not written.

    Returns
    -------
    bytes
        The CSV file.
    """
    return cells.neutralise(df).to_csv(index=False).encode("utf-8-sig")


def to_excel_bytes(df: pd.DataFrame, sheet_name: str = "data") -> bytes:
    """Return ``df`` as an .xlsx workbook, injection-safe.

    Parameters
    ----------
    df
        The table to export; its index is not written.
    sheet_name
        Name of the one sheet (Excel allows 31 characters).

    Returns
    -------
    bytes
        The workbook.
    """
    safe = cells.neutralise(df)
    # Excel has no time zones; write local wall-clock time.
    for col in safe.columns:
        if isinstance(safe[col].dtype, pd.DatetimeTZDtype):
            safe[col] = safe[col].dt.tz_localize(None)
    buf = io.BytesIO()
    with pd.ExcelWriter(
        buf,
        engine="xlsxwriter",
        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False}},
    ) as writer:
        safe.to_excel(writer, sheet_name=sheet_name[:31], index=False)
    return buf.getvalue()
