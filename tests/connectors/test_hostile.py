"""Hostile files: each gives a clear error or report and never leaves a partial import."""

import io
from datetime import datetime

import pandas as pd
import pytest

from connectors import files
from connectors.validation import ImportFileError

NOW = datetime(2025, 6, 1)
HEADER = "订单号,用户ID,下单时间"
WRITABLE = ("orders", "order_items", "users", "import_log", "import_quarantine")


def snapshot(con):
    """Row counts of every table an import may write."""
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in WRITABLE}


def csv(*rows, header=HEADER):
    """CSV bytes from lines."""
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"", "empty", "empty"),
        (b"  \n\n", "empty", "empty"),
        (csv(), "empty", "no data rows"),
        (b"\x00\x01\x02\xff\xfe\x00garbage" * 100, "encoding", "not a text file"),
        (csv("1," + "9" * 10_000_000 + ",2025-03-01"), "line_too_long", "MB long"),
        (csv("1,1,2025-03-01", header="编号,名字"), "format", "Cannot parse"),
        (csv("1,2025-03-01", header="订单号,下单时间"), "missing_columns", "user_id"),
    ],
    ids=["zero-bytes", "blank", "header-only", "binary", "10MB-line", "ragged", "missing-col"],
)
def test_file_errors(linli, data, code, words):
    """Unusable files raise ImportFileError with a code and a readable message; nothing written."""
    before = snapshot(linli)
    with pytest.raises(ImportFileError) as err:
        files.import_file(linli, data, name="hostile.csv", now=NOW)
    assert err.value.code == code
    assert words in str(err.value)
    assert snapshot(linli) == before


def test_gbk_file_is_detected(linli):
    """A GBK file with Chinese headers and values imports as if it were UTF-8."""
    data = "用户ID,小区ID,楼栋,注册日期\n5,1,十二栋,2025年1月2日\n6,2,三栋,2025年1月3日\n"
    rep = files.import_file(linli, data.encode("gbk"), name="会员.csv", now=NOW)
    assert rep.encoding == "gb18030" and rep.rows_loaded == 2
    assert linli.execute("SELECT building FROM users WHERE user_id = 5").fetchone()[0] == "十二栋"


def test_utf8_bom(linli):
    """A UTF-8 file with a BOM (Excel's 'CSV UTF-8') keeps its first header intact."""
    rep = files.import_file(linli, b"\xef\xbb\xbf" + csv("1,1,2025-03-01"), name="o.csv", now=NOW)
    assert rep.encoding == "utf-8-sig" and rep.rows_loaded == 1


def test_wrong_forced_encoding(linli):
    """Forcing UTF-8 on a GBK file is an encoding error, not mojibake in the database."""
    data = "订单号,用户ID,下单时间\n1,1,2025-03-01\n".encode("gbk")
    before = snapshot(linli)
    with pytest.raises(ImportFileError) as err:
        files.import_file(linli, data, name="o.csv", encoding="utf-8", now=NOW)
    assert err.value.code == "encoding" and "UTF-8" in str(err.value)
    assert snapshot(linli) == before


def test_bad_dates_quarantined(linli):
    """Unparsable dates are reported with their rows and quarantined; good rows load."""
    rep = files.import_file(
        linli,
        csv("1,1,2025-03-01", "2,1,2025-13-45", "3,2,昨天", "4,2,2025/3/4"),
        name="o.csv",
        now=NOW,
    )
    t = rep.tables[0]
    assert t.problems == {"bad_type:created_at": 2}
    assert t.examples["bad_type:created_at"]["row"].tolist() == [3, 4]
    assert t.examples["bad_type:created_at"]["created_at"].tolist() == ["2025-13-45", "昨天"]
    assert rep.rows_loaded == 2
    reasons = linli.execute(
        "SELECT row_number, reason FROM import_quarantine ORDER BY 1"
    ).fetchall()
    assert reasons == [(3, "bad_type:created_at"), (4, "bad_type:created_at")]


def test_abort_mode_writes_nothing(linli):
    """With on_error='abort' one bad row keeps the whole file out."""
    before = snapshot(linli)
    rep = files.import_file(
        linli, csv("1,1,2025-03-01", "2,1,not a date"), name="o.csv", now=NOW, on_error="abort"
    )
    assert not rep.written and rep.rows_rejected == 1 and rep.rows_loaded == 0
    assert snapshot(linli) == before


def test_duplicates_in_file_and_db(linli):
    """Repeated keys in a file are rejected after the first; keys in the database are skipped."""
    files.import_file(linli, csv("1,1,2025-03-01"), name="a.csv", now=NOW)
    rep = files.import_file(
        linli, csv("1,1,2025-03-01", "2,1,2025-03-02", "2,2,2025-03-03"), name="b.csv", now=NOW
    )
    t = rep.tables[0]
    assert t.problems == {"duplicate_in_db:order_id": 1, "duplicate_in_file:order_id": 1}
    assert (t.rows_valid, t.rows_rejected, t.rows_skipped) == (1, 1, 1)
    assert linli.execute("SELECT user_id FROM orders WHERE order_id = 2").fetchone()[0] == 1


def test_formula_injection_rejected(linli):
    """Text cells that a spreadsheet would execute are quarantined, not stored."""
    data = "用户ID,小区ID,楼栋,注册日期\n5,1,=HYPERLINK(\"http://evil\"),2025-01-02\n6,1,@SUM(1),2025-01-02\n7,1,-cmd|' /C calc'!A0,2025-01-02\n8,1,3栋,2025-01-02\n"
    rep = files.import_file(linli, data.encode(), name="u.csv", now=NOW)
    assert rep.tables[0].problems == {"formula:building": 3}
    assert linli.execute("SELECT count(*) FROM users WHERE building LIKE '=%'").fetchone()[0] == 0
    assert rep.rows_loaded == 1


def test_negative_and_future(linli):
    """Negative quantities and future order times are rejected with their reasons."""
    files.import_file(linli, csv("1,1,2025-03-01"), name="o.csv", now=NOW)
    items = "订单号,商品编号,数量,单价\n1,10,-1,30\n1,11,1,-9\n1,12,2,19\n"
    rep = files.import_file(linli, items.encode(), name="i.csv", now=NOW)
    assert rep.tables[0].problems == {"negative:qty": 1, "negative:unit_price": 1}
    rep = files.import_file(linli, csv("2,1,2031-01-01 08:00"), name="f.csv", now=NOW)
    assert rep.tables[0].problems == {"future:created_at": 1, "future:order_date": 1}


def test_missing_values_in_required_column(linli):
    """An empty cell in a required column is its own reason."""
    rep = files.import_file(linli, csv("1,,2025-03-01"), name="o.csv", now=NOW)
    assert rep.tables[0].problems == {"missing_value:user_id": 1}


def test_excel_hostile_sheet(linli):
    """An Excel sheet with bad rows reports them with spreadsheet row numbers."""
    buf = io.BytesIO()
    pd.DataFrame(
        {"订单号": [1, 1, 2], "用户ID": [1, 1, 2], "下单时间": ["2025-03-01", "2025-03-01", "x"]}
    ).to_excel(buf, index=False, sheet_name="订单")
    rep = files.import_file(linli, buf.getvalue(), name="o.xlsx", now=NOW)
    t = rep.tables[0]
    assert t.problems == {"duplicate_in_file:order_id": 1, "bad_type:created_at": 1}
    assert t.examples["bad_type:created_at"]["row"].tolist() == [4]


def test_unsupported_suffix(linli):
    """An unknown file type is refused by name."""
    with pytest.raises(ImportFileError, match="unsupported file type"):
        files.import_file(linli, b"x", name="orders.docx")


def test_excel_title_row_and_blank_rows(linli):
    """A title above the headers and blank rows between records are handled; row numbers match."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter") as w:
        frame = pd.DataFrame(
            {"订单号": [1, None, 2], "用户ID": [1, None, 2], "下单时间": ["2025-03-01", None, "x"]}
        )
        frame.to_excel(w, sheet_name="导出", index=False, startrow=2)
        w.sheets["导出"].write(0, 0, "订单导出 2025年3月")
    rep = files.import_file(linli, buf.getvalue(), name="export.xlsx", now=NOW)
    t = rep.tables[0]
    assert t.table == "orders" and t.rows_in == 2 and rep.rows_loaded == 1
    assert t.examples["bad_type:created_at"]["row"].tolist() == [6]
