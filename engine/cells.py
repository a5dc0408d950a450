"""Spreadsheet-safe cells: text that Excel or WPS would run as a formula is neutralised.

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is run as a
formula by Excel and WPS (CSV/formula injection, OWASP); so is one whose leading blanks a
spreadsheet trims on import. Every such text cell gets a leading apostrophe, which
spreadsheets show as plain text. Numbers stay numbers: a negative number is not text and is
left alone. List cells (SKU tags) are neutralised element by element before they are joined,
so no element is a formula once a spreadsheet or an importer splits the cell again.

This module is the one neutraliser: every export (the storefront and download files, the
dispatch workbooks of :mod:`engine.routing.export`) goes through :func:`neutralise`, and the
file importer refuses text and list cells for which :func:`formula_sql` holds.
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
    if isinstance(value, str) and value.lstrip().startswith(TRIGGERS):
        return "'" + value
    return value


def formula_sql(text: str) -> str:
    """SQL that is true when the VARCHAR expression ``text`` would start a formula.

    The import-side twin of :func:`neutralise_cell`: ``=``, ``@``, tab or carriage return
    first, or ``+``/``-`` first unless the whole text is a plain signed number or phone
    number (``-5``, ``+86 138 0000 0000``). ``-2+3+cmd|' /C calc'!A0`` is a formula.

    Parameters
    ----------
    text
        A SQL expression of type VARCHAR (a column name or a lambda variable).

    Returns
    -------
    str
        A SQL boolean expression (NULL for NULL text).
    """
    return (
        f"(regexp_matches({text}, '^\\s*[=@\\t\\r]') OR (regexp_matches({text}, '^\\s*[+-]') "
        f"AND NOT regexp_full_match({text}, '^\\s*[+-][0-9][0-9 .,()-]*$')))"
    )


def _flat(value: object) -> object:
    # List cells (SKU tags) become "a, b": spreadsheets have no lists; the importer splits them,
    # so each element is neutralised on its own, and then the joined text as a whole.
    if isinstance(value, (list, tuple, np.ndarray)):
        value = ", ".join(str(neutralise_cell(_flat(v) if _is_list(v) else v)) for v in value)
    return neutralise_cell(value)


def _is_list(value: object) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` whose text cells and headers cannot start a formula.

    Parameters
    ----------
    df
        Any frame.

    Returns
    -------
    pandas.DataFrame
        A copy; text (object, string, categorical or Arrow) columns and column names
        neutralised, list cells joined with ``", "`` after neutralising each element (and
        then neutralised as a whole).
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, (pd.CategoricalDtype, pd.ArrowDtype)):
            # Categories and Arrow lists/strings hold text too; as plain objects they are checked.
            s = s.astype(object)
            if not s.map(lambda v: isinstance(v, str) or _is_list(v)).any():
                continue
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            out[col] = s.map(_flat, na_action="ignore")
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out
