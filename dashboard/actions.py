"""Actions in the app: the outbox sender and scheduler singleton, publication, the admin panels.

The sender and the scheduled jobs start with the app (one per process, ``st.cache_resource``)
unless ``LINLI_SCHEDULER=off``. A page that publishes only enqueues and wakes the sender, so
it never waits for a channel.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard import components as ui
from dashboard import db, state
from dashboard.i18n import t
from engine.actions import channels, jobs, outbox, publish
from ops import actions as ops_actions
from ops import scheduler as ops_scheduler

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The process's sender and scheduler (None when switched off)."""

    sender: ops_actions.Sender | None
    scheduler: object | None


def enabled() -> bool:
    """False when ``LINLI_SCHEDULER`` is ``off`` (a separate ``python -m ops.scheduler``)."""
    return os.environ.get("LINLI_SCHEDULER", "app").strip().lower() != "off"


def _release(rt: Runtime) -> None:
    if rt.scheduler is not None:
        rt.scheduler.shutdown(wait=False)  # type: ignore[attr-defined]
    if rt.sender is not None:
        rt.sender.stop()


_current: list[Runtime] = []  # the live runtime, for the ingester thread's alarm signal


@st.cache_resource(show_spinner=False, on_release=_release)
def runtime() -> Runtime:
    """Start the outbox sender and the scheduled jobs of this process once."""
    if not enabled():
        return Runtime(None, None)
    con = db.connection()
    sender = ops_actions.Sender(con, interval_s=2.0).start()
    sched = ops_scheduler.build(con, wake=sender.wake, refit=_refit)
    sched.start()
    rt = Runtime(sender, sched)
    _current[:] = [rt]
    return rt


def alarm_changed() -> None:
    """An alarm was raised or changed (MQTT writer thread): run the ``alarms`` job now."""
    if _current and _current[0].scheduler is not None:
        ops_scheduler.run_soon(_current[0].scheduler, "alarms")  # type: ignore[arg-type]


def _refit() -> dict:
    """The nightly refit renews the demand model the pages use (one per data version)."""
    from dashboard import pricing

    version = db.data_version()
    pricing.model.clear()
    return {"version": version, **pricing.model_info(version)}


def wake() -> None:
    """Let the sender deliver what was just queued."""
    rt = runtime()
    if rt.sender is not None:
        rt.sender.wake()


def publish_plan(plan_id: str, username: str, purchase: pd.DataFrame | None) -> publish.Publication:
    """Publish an approved plan (listings, storefront file, lists, orders) and wake the sender."""
    res = publish.publish(db.cursor(), plan_id, username=username, purchase=purchase)
    st.cache_data.clear()  # new listings: cached reads of campaigns are stale
    wake()
    return res


def publications(plan_id: str) -> pd.DataFrame:
    """What the publications of a plan sent, with delivery status."""
    return publish.publications(db.cursor(), plan_id)


def channels_panel(username: str) -> None:
    """A form to set a channel per role and region, and the configured channels."""
    reg = state.regions()
    names = {None: t("adm_all"), **dict(zip(reg["region_id"], reg["name"], strict=True))}
    with st.form("act_channel", clear_on_submit=True):
        c1, c2 = st.columns(2)
        role = c1.selectbox(t("act_role"), channels.ROLES, format_func=lambda r: t("act_role_" + r))
        region = c2.selectbox(t("col_region"), list(names), format_func=names.get)
        url = st.text_input(t("act_url"), placeholder="wecombot://KEY · mailtos://… · json://…")
        c3, c4 = st.columns(2)
        save = c3.form_submit_button(t("act_save_channel"), type="primary")
        remove = c4.form_submit_button(t("act_remove_channel"))
    try:
        if save:
            channels.set_channel(db.cursor(), role, url, region, username)
            st.success(t("act_channel_saved"))
        elif remove:
            channels.remove_channel(db.cursor(), role, region)
            st.success(t("act_channel_removed"))
    except ValueError as exc:
        st.error(str(exc))
    shown = channels.channels(db.cursor())
    shown["role"] = shown["role"].map(lambda r: t("act_role_" + r))
    shown["region"] = shown["region_id"].map(lambda r: names.get(None if pd.isna(r) else int(r)))
    ui.table(shown, "actions.channels", empty="act_no_channels")


def outbox_panel() -> None:
    """Messages by kind and status, the latest messages, and requeueing a dead one."""
    cur = db.cursor()
    counts = outbox.counts(cur)
    if not counts.empty:
        tot = counts.groupby("status")["messages"].sum()
        ui.kpi_row(
            [ui.card(f"act_status_{s}", float(tot.get(s, 0)), "count") for s in outbox.STATUSES]
        )
    msgs = outbox.messages(cur, limit=200)
    msgs.insert(0, "state", msgs["status"].map(lambda s: t("act_status_" + s)))
    ui.table(msgs.drop(columns=["status"]), "actions.outbox", empty="act_outbox_empty")
    dead = msgs.loc[msgs["status"] == "dead", "msg_key"].tolist()
    if dead:
        c1, c2 = st.columns([3, 1])
        key = c1.selectbox(t("act_dead"), dead, key="act_dead")
        if c2.button(t("act_requeue"), key="act_requeue"):
            outbox.requeue(db.cursor(), key)
            wake()
            st.rerun()


def jobs_panel() -> None:
    """Each scheduled job's last run and result, with a button to run one now."""
    rt = runtime()
    ui.table(jobs.last_runs(db.cursor()), "actions.jobs", empty="act_jobs_empty")
    if rt.sender is not None:
        s = rt.sender.status()
        st.caption(t("act_sender", sent=s.sent, retried=s.retried, dead=s.dead))
    else:
        st.caption(t("act_scheduler_off"))
    if rt.scheduler is None:
        return
    c1, c2 = st.columns([3, 1])
    job = c1.selectbox(t("act_job"), jobs.JOBS, format_func=lambda j: t("act_job_" + j))
    if c2.button(t("act_run_now"), key="act_run_now"):
        with st.spinner(t("act_running")):
            ops_scheduler.run_now(rt.scheduler, job)  # type: ignore[arg-type]
        st.rerun()
