"""冷链监控 Cold chain: live device states, active alarms with stock at risk, map, history."""

from __future__ import annotations

import time
from datetime import timedelta

import pydeck as pdk
import streamlit as st

from dashboard import auth, state
from dashboard import coldchain as cc
from dashboard import components as ui
from dashboard.i18n import t

STATE_RGB = {
    "alarm": [220, 53, 69],
    "offline": [128, 128, 128],
    "ok": [23, 163, 152],
    "no_data": [200, 200, 200],
}

f = state.filters()
st.title(t("page_coldchain"))
cc.ingester()  # started by app.py; here too so the page works on its own


@st.fragment(run_every=timedelta(seconds=5))
def live_panel() -> None:
    """Connection banner, status tiles, active alarms, devices and map; reruns every 5 s."""
    tick = int(time.time() // 2)
    s = cc.status()
    if s is None:
        st.info(t("cc_mqtt_off"), icon=":material/sensors_off:")
    elif s.connected:
        st.success(
            t(
                "cc_connected",
                broker=s.broker,
                since=cc.since_text(s.since),
                received=f"{s.received:,}",
                quarantined=f"{s.quarantined:,}",
                duplicates=f"{s.duplicates:,}",
            ),
            icon=":material/sensors:",
        )
    else:
        st.warning(
            t("cc_disconnected", since=cc.since_text(s.since), broker=s.broker),
            icon=":material/cloud_off:",
        )
    if s is not None and s.last_error:
        st.caption(t("cc_last_error", error=s.last_error))

    dev = cc.devices(f.regions, tick)
    if dev.empty:
        ui.empty_note("cc_no_devices")
        return
    open_alarms = cc.active(f.regions, tick)
    counts = dev["state"].value_counts()
    ui.kpi_row(
        [
            (t("cc_devices"), ui.fmt_num(len(dev)), None, True),
            (t("cc_ok"), ui.fmt_num(counts.get("ok", 0)), None, True),
            (t("cc_in_alarm"), ui.fmt_num(counts.get("alarm", 0)), None, False),
            (t("cc_offline"), ui.fmt_num(counts.get("offline", 0)), None, False),
            (
                t("cc_critical"),
                ui.fmt_num(int((open_alarms["severity"] == "critical").sum())),
                None,
                False,
            ),
        ],
        per_row=5,
    )

    st.subheader(t("cc_active_title"))
    if open_alarms.empty:
        st.success(t("cc_no_active"), icon=":material/check_circle:")
    else:
        act = open_alarms.copy()
        act["kind"] = act["kind"].map(lambda k: t("cc_kind_" + k))
        act["severity"] = act["severity"].map(lambda k: t("cc_sev_" + k))
        act["kind_device"] = act["kind_device"].map(lambda k: t("cc_dev_" + k))
        st.dataframe(
            act[
                [
                    "device_id",
                    "kind_device",
                    "warehouse",
                    "kind",
                    "severity",
                    "started_at",
                    "duration_min",
                    "peak_c",
                    "degree_minutes",
                    "value",
                    "top_skus",
                    "min_remaining_days",
                    "acknowledged_by",
                ]
            ],
            hide_index=True,
            width="stretch",
            column_config={
                "device_id": t("cc_col_device"),
                "kind_device": t("cc_col_kind_device"),
                "warehouse": t("cc_col_warehouse"),
                "kind": t("cc_col_alarm"),
                "severity": t("cc_col_severity"),
                "started_at": st.column_config.DatetimeColumn(
                    t("cc_col_started"), format="YYYY-MM-DD HH:mm"
                ),
                "duration_min": st.column_config.NumberColumn(t("cc_col_duration"), format="%.0f"),
                "peak_c": st.column_config.NumberColumn(t("cc_col_peak"), format="%.1f"),
                "degree_minutes": st.column_config.NumberColumn(t("cc_col_dm"), format="%.0f"),
                "value": st.column_config.NumberColumn(t("cc_col_risk_value"), format="¥%,.0f"),
                "top_skus": t("cc_col_risk_skus"),
                "min_remaining_days": st.column_config.NumberColumn(
                    t("cc_col_risk_days"), format="%.1f"
                ),
                "acknowledged_by": t("cc_col_ack_by"),
            },
        )

    left, right = st.columns([3, 2])
    with left:
        st.subheader(t("cc_devices_title"))
        view = dev.copy()
        view["state"] = view["state"].map(lambda k: t("cc_state_" + k))
        view["kind"] = view["kind"].map(lambda k: t("cc_dev_" + k))
        st.dataframe(
            view[
                [
                    "device_id",
                    "kind",
                    "warehouse",
                    "state",
                    "temp_c",
                    "temps",
                    "door_open",
                    "battery",
                    "ts",
                ]
            ],
            hide_index=True,
            width="stretch",
            height=420,
            column_config={
                "device_id": t("cc_col_device"),
                "kind": t("cc_col_kind_device"),
                "warehouse": t("cc_col_warehouse"),
                "state": t("cc_col_state"),
                "temp_c": st.column_config.NumberColumn(t("cc_col_temp"), format="%.1f"),
                "temps": st.column_config.LineChartColumn(t("cc_col_trend")),
                "door_open": st.column_config.CheckboxColumn(t("cc_col_door")),
                "battery": st.column_config.NumberColumn(t("cc_col_battery"), format="%.0f"),
                "ts": st.column_config.DatetimeColumn(
                    t("cc_col_last"), format="YYYY-MM-DD HH:mm:ss"
                ),
            },
        )
    with right:
        st.subheader(t("cc_map_title"))
        pts = dev.dropna(subset=["lat", "lon"]).copy()
        pts["color"] = pts["state"].map(STATE_RGB)
        pts["radius"] = pts["kind"].map({"truck": 260, "room": 380}).fillna(160)
        pts = pts[["device_id", "lat", "lon", "color", "radius", "state"]]
        deck = pdk.Deck(
            layers=[
                pdk.Layer(
                    "ScatterplotLayer",
                    data=pts,
                    get_position="[lon, lat]",
                    get_fill_color="color",
                    get_radius="radius",
                    pickable=True,
                )
            ],
            initial_view_state=pdk.ViewState(
                latitude=float(pts["lat"].mean()), longitude=float(pts["lon"].mean()), zoom=10.5
            ),
            map_provider=None,
            tooltip={"text": "{device_id}: {state}"},
        )
        st.pydeck_chart(deck, key="cc_map")


live_panel()

st.subheader(t("cc_history_title"))
days = st.segmented_control(t("cc_history_days"), [1, 7, 30], default=7, key="cc_days") or 7
hist = cc.alarms(f.regions, int(days), int(time.time() // 2))
pending = hist[hist["acknowledged_by"].isna()]
if not pending.empty:
    c1, c2 = st.columns([3, 1])
    labels = {
        r.alert_id: f"#{r.alert_id} {r.device_id} · {t('cc_kind_' + r.kind)} · "
        f"{r.started_at:%Y-%m-%d %H:%M}"
        for r in pending.itertuples()
    }
    pick = c1.selectbox(t("cc_ack_pick"), list(labels), format_func=labels.get, key="cc_ack_pick")
    if c2.button(t("cc_ack"), key="cc_ack_btn", icon=":material/done:"):
        user = auth.current_user()
        user = user.username if user else "demo"
        if cc.acknowledge(int(pick), user):
            st.toast(t("cc_ack_done", alert_id=pick))
        else:
            st.warning(t("cc_ack_failed", alert_id=pick))
shown = hist.copy()
shown["kind"] = shown["kind"].map(lambda k: t("cc_kind_" + k))
shown["severity"] = shown["severity"].map(lambda k: t("cc_sev_" + k))
shown = shown.drop(columns=["kind_device"])
st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    column_config={
        "alert_id": "#",
        "device_id": t("cc_col_device"),
        "warehouse": t("cc_col_warehouse"),
        "kind": t("cc_col_alarm"),
        "severity": t("cc_col_severity"),
        "started_at": t("cc_col_started"),
        "raised_at": t("cc_col_raised"),
        "cleared_at": t("cc_col_cleared"),
        "duration_min": t("cc_col_duration"),
        "peak_c": t("cc_col_peak"),
        "degree_minutes": t("cc_col_dm"),
        "acknowledged_by": t("cc_col_ack_by"),
        "acknowledged_at": None,
    },
)
ui.download_buttons(shown, "linli_coldchain_alarms")
