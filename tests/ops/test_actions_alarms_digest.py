"""Cold-chain alarms that reach people, and the daily digest, captured by real local receivers."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

import pandas as pd
import pytest

from engine import clock, db, kpis
from engine.actions import alarms, channels, digest, jobs
from ops import scheduler
from tests.ops.outbox_drain import drain
from tests.receivers import SmtpReceiver, WebhookReceiver, mail_text


@pytest.fixture(scope="module")
def world_copy(world_file, tmp_path_factory):
    """A writable copy of the small world with a webhook (duty, escalation) and a mail server."""
    path = tmp_path_factory.mktemp("alarms") / "w.duckdb"
    shutil.copy(world_file, path)
    con = db.connect(path)
    hook, smtp = WebhookReceiver(), SmtpReceiver()
    cur = con.cursor()
    channels.set_channel(cur, "duty", hook.url("/duty"))
    channels.set_channel(cur, "escalation", hook.url("/escalation"))
    channels.set_channel(cur, "manager", smtp.url("managers@linli.example"))
    yield con, hook, smtp
    hook.close()
    smtp.close()
    con.close()


def _alarm(cur, alert_id: int, device: str, raised: datetime, severity: str, dm: float) -> None:
    cur.execute(
        "INSERT INTO alerts (alert_id, device_id, kind, severity, started_at, peak_c, "
        "degree_minutes, raised_at) VALUES (?, ?, 'high_temp', ?, ?, 9.5, ?, ?)",
        [alert_id, device, severity, raised - timedelta(minutes=5), dm, raised],
    )


def test_alarm_notified_once_then_escalated_with_stock_proposal(world_copy):
    """A new alarm reaches the duty desk once; unacknowledged after 15 min it escalates once."""
    con, hook, _ = world_copy
    cur = con.cursor()
    now = datetime.now().replace(microsecond=0)
    _alarm(cur, 9001, "WH01-ROOM-C", now - timedelta(minutes=5), "critical", 300.0)
    _alarm(cur, 9002, "WH02-ROOM-C", now - timedelta(minutes=40), "warning", 10.0)
    _alarm(cur, 9003, "WH01-ROOM-F", now - timedelta(minutes=40), "warning", 10.0)
    cur.execute(
        "UPDATE alerts SET acknowledged_by = 'ops', acknowledged_at = ? WHERE alert_id = 9003",
        [now],
    )
    got = alarms.check(cur, escalate_after_min=15, now=now)
    assert (got.notified, got.escalated) == (3, 1)
    assert alarms.check(cur, escalate_after_min=15, now=now) == alarms.AlarmCheck(0, 0, 0)
    drain(con)
    duty = [h for h in hook.wait(4) if h.path == "/duty"]
    esc = [h for h in hook.hits if h.path == "/escalation"]
    assert sorted(h.key for h in duty) == [f"alarm:{i}:notify" for i in (9001, 9002, 9003)]
    assert [h.key for h in esc] == ["alarm:9002:escalate"]
    assert esc[0].title.startswith("【冷链告警升级】WH02-ROOM-C") and "40" not in esc[0].title
    assert "15 分钟无人确认" in esc[0].message
    crit = next(h for h in duty if h.key == "alarm:9001:notify")
    stock = alarms.store.stock_at_risk(cur, ["WH01-ROOM-C"], (now - timedelta(minutes=5)).date())
    assert len(stock) > 0 and f"受影响库存：{len(stock)} 个商品" in crit.message
    # 300 °C·min in a critical alarm is past the write-off limit: every line says 报损.
    assert crit.message.count("建议报损") == min(len(stock), 10)
    # Later the critical one, still unacknowledged, escalates too (exactly once).
    later = alarms.check(cur, escalate_after_min=15, now=now + timedelta(minutes=11))
    assert (later.notified, later.escalated) == (0, 1)


def test_proposal_rule():
    """Markdown depth follows shelf life left; abuse past the limit or no shelf life: write-off."""
    stock = pd.DataFrame({"remaining_days": [0, 1, 2, 5], "units": 1, "value": 1.0, "name": "x"})
    p = alarms.propose(stock, "warning", 10.0)
    assert p["action"].tolist() == ["write_off", "markdown", "markdown", "markdown"]
    assert p["discount"].tolist() == [1.0, 0.5, 0.3, 0.2]
    assert (alarms.propose(stock, "critical", 500.0)["action"] == "write_off").all()
    with pytest.raises(ValueError):
        alarms.check(None, escalate_after_min=-1)  # type: ignore[arg-type]


def test_digest_per_region_finds_a_planted_anomaly(world_copy):
    """Each region's manager gets one digest; KPIs match the engine; a planted spike leads."""
    con, _, smtp = world_copy
    cur = con.cursor()
    day = clock.as_of(cur)
    spiked = cur.execute(
        "SELECT community_id, name FROM communities WHERE region_id = 2 ORDER BY community_id LIMIT 1"
    ).fetchall()[0]
    cur.execute(
        "UPDATE rollup_sales SET gmv = gmv * 8 WHERE community_id = ? AND day = ?", [spiked[0], day]
    )
    run = jobs.run(cur, "digest", lambda: digest.send_all(cur).as_dict())
    assert run == {"day": day.isoformat(), "digests": 3, "queued": 3}
    assert digest.send_all(cur).queued == 0  # same day again: nothing twice
    drain(con)
    mails = smtp.wait(3)
    assert len(mails) == 3 and all(to == ["managers@linli.example"] for _, to in smtp.envelopes)
    by_region = {m["Subject"].split()[-1]: mail_text(m) for m in mails}
    text = by_region["芙蓉区"]
    first_anomaly = text.split("二、异常小区")[1].splitlines()[1]
    assert first_anomaly.startswith(f"- {spiked[1]}：")
    gmv = kpis.summary(cur, day, day, (2,)).set_index("kpi").at["gmv", "value"]
    assert f"- GMV：¥{gmv:,.0f}" in text
    assert "三、计划与实际" in text and "四、未解除的冷链告警" in text
    last = jobs.last_runs(cur).set_index("job").loc["digest"]
    assert bool(last["ok"]) and '"queued": 3' in last["result"]


def test_failed_job_is_recorded(world_copy):
    """A job that raises is recorded as failed with its error; the scheduler keeps running."""
    con, *_ = world_copy
    cur = con.cursor()
    sched = scheduler.build(con, environ={"LINLI_SYNC_URL": "oracle://x"}, only={"sql_sync"})
    scheduler.run_now(sched, "sql_sync")
    last = jobs.last_runs(cur).set_index("job").loc["sql_sync"]
    assert not last["ok"] and "Unsupported database URL scheme" in last["result"]
    sched = scheduler.build(con, environ={}, only={"sql_sync"})
    scheduler.run_now(sched, "sql_sync")
    last = jobs.last_runs(cur).set_index("job").loc["sql_sync"]
    assert last["ok"] and "LINLI_SYNC_URL is not set" in last["result"] and last["runs"] == 2
