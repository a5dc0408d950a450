"""Spreadsheet-safe cells (engine.cells): formula triggers neutralised, numbers and lists kept."""

import pandas as pd
import pytest

from engine import cells

HOSTILE = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", '=HYPERLINK("http://x")']
# A carriage return survives the files only escaped (CSV quoting, Excel's _x000D_), so it
# is checked on the cell function alone.
TRIGGERS = [*HOSTILE, "\r=x"]


@pytest.mark.parametrize("value", TRIGGERS)
def test_cell_neutralised(value):
    """Every trigger character gets an apostrophe prefix."""
    assert cells.neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["正常", "a=b", "", 3, -1.5, None])
def test_harmless_cells_untouched(value):
    """Text not starting with a trigger, numbers (even negative) and blanks stay as they are."""
    assert cells.neutralise_cell(value) == value


def test_frame_text_headers_and_lists():
    """Text columns and headers are neutralised, list cells joined, numbers left as numbers."""
    df = pd.DataFrame({"=h": ["=x", "ok"], "n": [-1, 2], "tags": [["=a", "b"], []]})
    out = cells.neutralise(df)
    assert list(out.columns) == ["'=h", "n", "tags"]
    assert out["'=h"].tolist() == ["'=x", "ok"]
    assert out["n"].tolist() == [-1, 2]
    assert out["tags"].tolist() == ["'=a, b", ""]  # a joined list is text like any other
    assert df.columns[0] == "=h"  # the input is not changed
