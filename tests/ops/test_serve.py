"""`make run` (ops.serve) on an operator's database: served as it is, no demo world over it."""

from __future__ import annotations

from connectors import load
from engine import db
from ops import serve


def test_an_existing_database_is_served_as_it_is(tmp_path, monkeypatch):
    """With LINLI_DB naming a database made by `connectors.load --new`, the generator is
    never started; only a missing file gets the demo world."""
    path = tmp_path / "own.duckdb"
    assert load.main(["--db", str(path), "--new"]) == 0
    calls = []
    monkeypatch.setenv("LINLI_DB", str(path))
    monkeypatch.setattr(serve.subprocess, "call", lambda cmd, **kw: calls.append(cmd) or 0)
    monkeypatch.setattr(serve, "port_free", lambda host, port: False)  # stop before serving
    assert serve.main(["--no-mqtt"]) == 2
    assert calls == []
    con = db.connect(path)
    assert con.execute("SELECT count(*) FROM orders").fetchall()[0][0] == 0
    con.close()

    monkeypatch.setenv("LINLI_DB", str(tmp_path / "missing.duckdb"))
    assert serve.main(["--no-mqtt"]) == 2
    assert calls and "data.generate" in calls[0]
