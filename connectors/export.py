"""Tables as CSV or Excel bytes that are safe to open in a spreadsheet.

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is run as a
formula by Excel and WPS (CSV/formula injection, OWASP). Every text cell is neutralised by a
leading apostrophe, which spreadsheets show as plain text. Numbers stay numbers: a negative
number is not text and is left alone.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """Return ``value`` with a leading apostrophe when it is text a spreadsheet would execute.

    Parameters
    ----------
    value
        Any cell value.

    Returns
    -------
    object
        The value, prefixed with ``'`` when it is a string starting with a trigger character.
    """
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return "'" + value
    return value


def _flat(value: object) -> object:
    # List cells (SKU tags) become "a, b": spreadsheets have no lists; the importer splits them.
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(map(str, value))
    return neutralise_cell(value)


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` whose text cells and headers cannot start a formula.

    Parameters
    ----------
    df
        Any frame.

    Returns
    -------
    pandas.DataFrame
        A copy; text (object/string) columns and column names neutralised, list cells joined
        with ``", "``.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            out[col] = s.map(_flat, na_action="ignore")
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


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
    return neutralise(df).to_csv(index=False).encode("utf-8-sig")


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
    safe = neutralise(df)
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
