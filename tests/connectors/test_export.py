"""Tests for connectors/export.py: CSV/Excel bytes safe against formula injection."""

import io

import pandas as pd

from connectors import export

HOSTILE = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", '=HYPERLINK("http://x")']


def _frame():
    return pd.DataFrame({"name": [*HOSTILE, "正常", None], "amount": [-1.5, 2, -3, 4, 5, 6, 7, 8]})


def test_csv_neutralises_text_not_numbers():
    """CSV text cells are prefixed, numbers (even negative) and blanks are left alone."""
    data = export.to_csv_bytes(_frame())
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False)
    assert list(back["name"][: len(HOSTILE)]) == ["'" + v for v in HOSTILE]
    assert back["name"][len(HOSTILE)] == "正常"
    assert back["amount"].tolist()[0] == -1.5


def test_excel_cells_are_text_not_formulas():
    """The workbook stores the hostile strings as text, never as formulas."""
    data = export.to_excel_bytes(_frame())
    import openpyxl

    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = [ws.cell(row=i + 2, column=1) for i in range(len(HOSTILE))]
    assert all(c.data_type == "s" for c in cells)
    assert [c.value for c in cells] == ["'" + v for v in HOSTILE]
    assert ws.cell(row=2, column=2).value == -1.5


def test_headers_neutralised():
    """A hostile column name is neutralised too."""
    data = export.to_csv_bytes(pd.DataFrame({"=cmd": [1]}))
    assert data.decode("utf-8-sig").splitlines()[0] == "'=cmd"
