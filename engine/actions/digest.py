"""The regional manager's daily digest: KPIs with deltas, largest anomalies, plan vs actual, alarms.

One digest per regional manager (``app_users`` with role ``regional_manager``, over their
regions), or, when no such user exists (a demo without accounts), one per region. The day is
the data set's as-of date (:func:`engine.clock.as_of`), compared with the day before.
Anomalies are communities whose GMV that day lies furthest from their own last 28 days
(z-score of the day against the mean and standard deviation of those days).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from engine import clock, kpis, planning
from engine.actions import channels, outbox
from engine.auth import Scope

KPI_ZH = {
    "gmv": "GMV",
    "paid_orders": "支付订单",
    "aov": "客单价",
    "active_buyers": "活跃买家",
    "repurchase_rate": "月复购率",
    "group_success_rate": "成团率",
    "inventory_turnover_days": "库存周转天数",
    "loss_rate": "损耗率",
    "on_time_rate": "准时履约率",
    "pickup_hours": "提货时长",
    "nps": "NPS",
    "leader_commission": "团长佣金",
}


@dataclass(frozen=True)
class Digest:
    """One manager's digest: the text and the tables it was built from."""

    recipient: str
    regions: tuple[int, ...]
    day: date
    subject: str
    body: str
    kpis: pd.DataFrame
    anomalies: pd.DataFrame
    plan: pd.DataFrame
    alarms: pd.DataFrame


@dataclass(frozen=True)
class DigestRun:
    """What :func:`send_all` queued."""

    day: str
    digests: int
    queued: int

    def as_dict(self) -> dict:
        """The counts, for the job log."""
        return asdict(self)


def anomalies(
    con: duckdb.DuckDBPyConnection, day: date, regions: tuple[int, ...], top: int = 5
) -> pd.DataFrame:
    """Communities whose GMV on ``day`` is furthest from their last 28 days (|z| largest)."""
    df = con.execute(
        "WITH d AS (SELECT community_id, day, sum(gmv) AS gmv FROM rollup_sales "
        "  WHERE day BETWEEN ? AND ? AND (len(?::INTEGER[]) = 0 "
        "  OR list_contains(?::INTEGER[], region_id)) GROUP BY ALL), "
        "h AS (SELECT community_id, avg(gmv) AS mean, stddev_samp(gmv) AS sd, count(*) AS n "
        "  FROM d WHERE day < ? GROUP BY ALL) "
        "SELECT c.community_id, c.name AS community, coalesce(t.gmv, 0) AS gmv, h.mean, h.sd "
        "FROM h JOIN communities c USING (community_id) "
        "LEFT JOIN (SELECT * FROM d WHERE day = ?) t USING (community_id) WHERE h.n >= 7",
        [day - timedelta(days=28), day, list(regions), list(regions), day, day],
    ).df()
    if df.empty:
        return df.assign(z=pd.Series(dtype=float))
    df["z"] = (df["gmv"] - df["mean"]) / df["sd"].where(df["sd"] > 0)
    df = df.dropna(subset=["z"])
    return df.reindex(df["z"].abs().sort_values(ascending=False).index).head(top)


def _plan_vs_actual(con: duckdb.DuckDBPyConnection, day: date, scope: Scope) -> pd.DataFrame:
    row = con.execute(
        "SELECT plan_id FROM group_plans WHERE status = 'approved' AND sale_date = ? "
        "ORDER BY approved_at DESC LIMIT 1",
        [day],
    ).fetchall()
    if not row:
        return pd.DataFrame()
    try:
        return planning.score(con, row[0][0], scope).tail(1)
    except ValueError:  # the plan has no community in this manager's regions
        return pd.DataFrame()


def _open_alarms(con: duckdb.DuckDBPyConnection, regions: tuple[int, ...]) -> pd.DataFrame:
    return con.execute(
        "SELECT a.alert_id, a.device_id, a.kind, a.severity, a.started_at, a.acknowledged_by "
        "FROM alerts a JOIN devices d USING (device_id) JOIN warehouses w USING (warehouse_id) "
        "WHERE a.cleared_at IS NULL AND (len(?::INTEGER[]) = 0 "
        "OR list_contains(?::INTEGER[], w.region_id)) ORDER BY a.started_at DESC",
        [list(regions), list(regions)],
    ).df()


def _fmt(unit: str, v: float | None) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    if unit == "money":
        return f"¥{v:,.0f}"
    if unit in ("rate", "pct"):
        return f"{v:.1%}"
    if unit == "count":
        return f"{v:,.0f}"
    return f"{v:,.1f}"


def _delta(unit: str, d: float | None) -> str:
    if d is None or (isinstance(d, float) and np.isnan(d)):
        return ""
    if unit in ("money", "count"):
        return f"（{d:+.1%}）"
    if unit in ("rate", "pct"):
        return f"（{d * 100:+.1f} 个百分点）"
    return f"（{d:+.1f}）"


def build(
    con: duckdb.DuckDBPyConnection,
    regions: tuple[int, ...],
    recipient: str,
    day: date | None = None,
) -> Digest:
    """The digest of one manager's regions (all regions when empty) for ``day``.

    Parameters
    ----------
    con
        A cursor with rollups.
    regions
        The manager's region ids; empty for all.
    recipient
        Who it is for (a username or a region's manager).
    day
        The day reported; default the data set's as-of date.

    Returns
    -------
    Digest
        Subject, text and the tables.
    """
    day = clock.as_of(con, day)
    scope = Scope(regions=tuple(regions) or None)
    k = kpis.summary(con, day, day, regions, scope)
    an = anomalies(con, day, regions)
    plan = _plan_vs_actual(con, day, scope)
    al = _open_alarms(con, regions)
    names = con.execute(
        "SELECT string_agg(name, '、' ORDER BY region_id) FROM regions "
        "WHERE len(?::INTEGER[]) = 0 OR list_contains(?::INTEGER[], region_id)",
        [list(regions), list(regions)],
    ).fetchall()[0][0]
    subject = f"【每日简报】{day:%Y-%m-%d} {names or '全部区域'}"
    lines = [
        f"{recipient}，您好。以下是 {day:%Y-%m-%d} 的经营简报（与前一日比较）。",
        "",
        "一、核心指标",
    ]
    for r in k.itertuples():
        label = KPI_ZH.get(r.kpi, r.kpi)
        lines.append(f"- {label}：{_fmt(r.unit, r.value)}{_delta(r.unit, r.delta)}")
    lines += ["", "二、异常小区（当日 GMV 偏离近 28 天水平最多）"]
    if an.empty:
        lines.append("- 无（近 28 天数据不足）")
    for r in an.itertuples():
        lines.append(f"- {r.community}：¥{r.gmv:,.0f}，近 28 天均值 ¥{r.mean:,.0f}，z = {r.z:+.1f}")
    lines += ["", "三、计划与实际"]
    if plan.empty:
        lines.append("- 当日没有已批准的计划")
    else:
        p = plan.iloc[0]
        lines.append(
            f"- 计划商品 {int(p['planned'])}，实际上架 {int(p['ran'])}；"
            f"预计成团率 {_fmt('pct', p['expected_success'])}，"
            f"实际 {_fmt('pct', p['realised_success'])}；"
            f"预计 GMV {_fmt('money', p['expected_gmv'])}，实际 {_fmt('money', p['realised_gmv'])}"
        )
    lines += ["", f"四、未解除的冷链告警：{len(al)} 条"]
    for r in al.head(10).itertuples():
        ack = f"，已由 {r.acknowledged_by} 确认" if r.acknowledged_by else "，未确认"
        lines.append(f"- {r.device_id} {r.kind}（{r.severity}）自 {r.started_at:%m-%d %H:%M}{ack}")
    return Digest(recipient, tuple(regions), day, subject, "\n".join(lines), k, an, plan, al)


def targets(con: duckdb.DuckDBPyConnection) -> list[tuple[str, tuple[int, ...]]]:
    """(recipient, regions) of every digest: each regional manager, else each region."""
    users = con.execute(
        "SELECT username, coalesce(regions, []) FROM app_users "
        "WHERE role = 'regional_manager' ORDER BY username"
    ).fetchall()
    if users:
        return [(u, tuple(int(r) for r in regs)) for u, regs in users]
    regions = con.execute("SELECT region_id, name FROM regions ORDER BY region_id").fetchall()
    return [(f"{name}区域经理", (int(rid),)) for rid, name in regions]


def send_all(con: duckdb.DuckDBPyConnection, day: date | None = None) -> DigestRun:
    """Build and enqueue every digest of ``day`` (key ``digest:<day>:<recipient>``)."""
    day = clock.as_of(con, day)
    queued = 0
    tg = targets(con)
    for recipient, regions in tg:
        d = build(con, regions, recipient, day)
        region = regions[0] if len(regions) == 1 else None
        queued += outbox.enqueue(
            con,
            key=f"digest:{day.isoformat()}:{recipient}",
            kind="digest",
            channel=channels.name("manager", region),
            recipient=recipient,
            subject=d.subject,
            body=d.body,
        )
    return DigestRun(day.isoformat(), len(tg), queued)
