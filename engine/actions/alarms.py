"""Cold-chain alarms that reach people: notify the duty desk, escalate, propose what to do with stock.

:func:`check` (the ``alarms`` job, every minute) looks at alarms raised in the last
``lookback_h`` hours:

- every one not yet notified goes to the duty channel of its region (``duty@<region>``,
  falling back to ``duty``), key ``alarm:<id>:notify``;
- one still open and not acknowledged ``escalate_after_min`` minutes after it was raised goes
  to the escalation channel (``escalation@<region>``), key ``alarm:<id>:escalate``.

Both carry the stock the alarm puts at risk (:func:`engine.coldchain.store.stock_at_risk`)
with a proposal per SKU (:func:`propose`). The outbox keys make the check idempotent: run it
as often as you like, each alarm is notified once and escalated once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from engine.actions import channels, outbox
from engine.coldchain import store

# Temperature abuse beyond which chilled/frozen food is not sold at any price (°C·min above
# the band). A critical excursion past it, or stock at its last day, is written off.
WRITE_OFF_DEGREE_MINUTES = 120.0
# Markdown by shelf life left: the less time to sell, the deeper the cut.
MARKDOWN_STEPS = ((1, 0.5), (3, 0.3), (10_000, 0.2))
KIND_ZH = {
    "high_temp": "温度过高",
    "low_temp": "温度过低",
    "door_open": "门未关",
    "offline": "设备离线",
    "low_battery": "电量低",
}


@dataclass(frozen=True)
class AlarmCheck:
    """What one :func:`check` queued."""

    notified: int
    escalated: int
    proposals: int

    def as_dict(self) -> dict[str, int]:
        """The counts, for the job log."""
        return asdict(self)


def propose(stock: pd.DataFrame, severity: str, degree_minutes: float | None) -> pd.DataFrame:
    """Markdown or write-off per SKU at risk.

    Parameters
    ----------
    stock
        Rows of :func:`engine.coldchain.store.stock_at_risk` (``units``, ``value``,
        ``remaining_days`` …).
    severity
        The alarm's severity (``warning`` | ``critical``).
    degree_minutes
        Its accumulated °C·minutes outside the band (None when unknown).

    Returns
    -------
    pandas.DataFrame
        ``stock`` plus ``action`` (``write_off`` | ``markdown``) and ``discount`` (share of
        the price; 1.0 for a write-off).
    """
    out = stock.copy()
    abused = severity == "critical" and (degree_minutes or 0.0) >= WRITE_OFF_DEGREE_MINUTES
    rem = out["remaining_days"].astype(float) if len(out) else pd.Series(dtype=float)
    write_off = abused | (rem <= 0)
    disc = pd.Series(MARKDOWN_STEPS[-1][1], index=out.index, dtype=float)
    for limit, d in reversed(MARKDOWN_STEPS):
        disc = disc.where(rem > limit, d)
    out["action"] = ["write_off" if w else "markdown" for w in write_off]
    out["discount"] = disc.where(~write_off, 1.0)
    return out


def _text(alarm: pd.Series, props: pd.DataFrame, stage: str, after_min: float) -> tuple[str, str]:
    kind = KIND_ZH.get(alarm["kind"], alarm["kind"])
    level = "严重" if alarm["severity"] == "critical" else "警告"
    head = "【冷链告警升级】" if stage == "escalate" else "【冷链告警】"
    subject = f"{head}{alarm['device_id']} {kind}（{level}）"
    lines = [
        f"设备：{alarm['device_id']}（{alarm['warehouse']}）",
        f"类型：{kind}，级别：{level}",
        f"开始：{pd.Timestamp(alarm['started_at']):%Y-%m-%d %H:%M}",
    ]
    if pd.notna(alarm["peak_c"]):
        lines.append(f"峰值温度：{alarm['peak_c']:.1f} °C")
    if pd.notna(alarm["degree_minutes"]):
        lines.append(f"超限累计：{alarm['degree_minutes']:.0f} °C·分钟")
    if stage == "escalate":
        lines.append(f"已 {after_min:.0f} 分钟无人确认，请立即处理并在冷链页确认。")
    if props.empty:
        lines.append("受影响库存：无记录。")
    else:
        lines.append(f"受影响库存：{len(props)} 个商品，货值 ¥{props['value'].sum():,.2f}")
        for r in props.head(10).itertuples():
            act = "报损" if r.action == "write_off" else f"降价 {r.discount:.0%} 出清"
            lines.append(
                f"- {r.name}：{r.units:g} 件，¥{r.value:,.2f}，剩余保质期 {r.remaining_days:g} 天 → 建议{act}"
            )
        if len(props) > 10:
            lines.append(f"… 另有 {len(props) - 10} 个商品")
    return subject, "\n".join(lines)


def check(
    con: duckdb.DuckDBPyConnection,
    *,
    escalate_after_min: float = 15.0,
    now: datetime | None = None,
    lookback_h: float = 24.0,
) -> AlarmCheck:
    """Notify new alarms and escalate unacknowledged ones (idempotent).

    Parameters
    ----------
    con
        Writable cursor.
    escalate_after_min
        Minutes after an alarm is raised without acknowledgement before it escalates.
    now
        The current time (local, naive like the schema).
    lookback_h
        Alarms raised longer ago are left alone (the history of a loaded data set is not news).

    Returns
    -------
    AlarmCheck
        How many notifications and escalations were queued.

    Raises
    ------
    ValueError
        For a negative delay or look-back.
    """
    if escalate_after_min < 0 or lookback_h <= 0:
        raise ValueError("escalate_after_min must be ≥ 0 and lookback_h > 0")
    now = now or datetime.now()
    alarms = con.execute(
        "SELECT a.alert_id, a.device_id, a.kind, a.severity, a.started_at, a.cleared_at, "
        "a.peak_c, a.degree_minutes, a.acknowledged_at, "
        "coalesce(a.raised_at, a.started_at) AS raised, w.region_id, w.name AS warehouse, "
        "(SELECT list(o.msg_key) FROM outbox o WHERE o.msg_key IN "
        "  ('alarm:' || a.alert_id || ':notify', 'alarm:' || a.alert_id || ':escalate')) AS sent "
        "FROM alerts a JOIN devices d USING (device_id) JOIN warehouses w USING (warehouse_id) "
        "WHERE coalesce(a.raised_at, a.started_at) BETWEEN ? AND ? ORDER BY raised, alert_id",
        [now - timedelta(hours=lookback_h), now],
    ).df()
    notified = escalated = proposals = 0
    for _, a in alarms.iterrows():
        raw = a["sent"]
        sent = set(raw) if isinstance(raw, list | tuple | np.ndarray) else set()
        stages = []
        if f"alarm:{a['alert_id']}:notify" not in sent:
            stages.append("notify")
        due = pd.Timestamp(a["raised"]) + pd.Timedelta(minutes=escalate_after_min)
        if (
            f"alarm:{a['alert_id']}:escalate" not in sent
            and pd.isna(a["acknowledged_at"])
            and pd.isna(a["cleared_at"])
            and pd.Timestamp(now) >= due
        ):
            stages.append("escalate")
        if not stages:
            continue
        stock = store.stock_at_risk(con, [a["device_id"]], pd.Timestamp(a["raised"]).date())
        props = propose(stock, a["severity"], a["degree_minutes"])
        for stage in stages:
            subject, body = _text(a, props, stage, escalate_after_min)
            role = "duty" if stage == "notify" else "escalation"
            new = outbox.enqueue(
                con,
                key=f"alarm:{a['alert_id']}:{stage}",
                kind="alarm" if stage == "notify" else "alarm_escalation",
                channel=channels.name(role, int(a["region_id"])),
                recipient="冷链值班" if stage == "notify" else "冷链主管",
                subject=subject,
                body=body,
            )
            if new:
                notified += stage == "notify"
                escalated += stage == "escalate"
                proposals += len(props)
    return AlarmCheck(notified, escalated, proposals)
