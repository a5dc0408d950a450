"""Spreadsheet-safe cells: text that Excel or WPS would run as a formula is neutralised.

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is run as a
formula by Excel and WPS (CSV/formula injection, OWASP). Every such text cell gets a leading
apostrophe, which spreadsheets show as plain text. Numbers stay numbers: a negative number is
not text and is left alone. Every export (the storefront and download files, the dispatch
workbooks of :mod:`engine.routing.export`) goes through :func:`neutralise`.
"""

from __future__ import annotations

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
        value = ", ".join(map(str, value))
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
        with ``", "`` (and then neutralised).
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            out[col] = s.map(_flat, na_action="ignore")
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out
