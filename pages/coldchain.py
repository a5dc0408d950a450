"""冷链监控 Cold chain: live device states, active alarms with stock at risk, map, history."""

from __future__ import annotations

import time
from datetime import timedelta

import streamlit as st

from dashboard import auth, db, gaps, maps
from dashboard import coldchain as cc
from dashboard import components as ui
from dashboard.i18n import t

STATE_RGB = {
    "alarm": [220, 53, 69],
    "offline": [128, 128, 128],
    "ok": [23, 163, 152],
    "no_data": [200, 200, 200],
}

STATE_CARDS = (("cc_in_alarm", "alarm"), ("cc_offline", "offline"))
ACTIVE_COLUMNS = [
    "device_id", "kind_device", "warehouse", "kind", "severity", "started_at", "duration_min",
    "peak_c", "degree_minutes", "value", "top_skus", "min_remaining_days", "acknowledged_by",
]  # fmt: skip
DEVICE_COLUMNS = [
    "device_id", "kind", "warehouse", "state", "temp_c", "temps", "door_open", "battery", "ts",
]  # fmt: skip

f = ui.page_header("page_coldchain")
cc.ingester()  # started by app.py; here too so the page works on its own
gaps.note(db.data_version(), "coldchain")


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
                broker=ui.md(s.broker),
                since=cc.since_text(s.since),
                received=f"{s.received:,}",
                quarantined=f"{s.quarantined:,}",
                duplicates=f"{s.duplicates:,}",
            ),
            icon=":material/sensors:",
        )
    else:
        st.warning(
            t("cc_disconnected", since=cc.since_text(s.since), broker=ui.md(s.broker)),
            icon=":material/cloud_off:",
        )
    if s is not None and s.last_error:
        st.caption(t("cc_last_error", error=ui.md(s.last_error)))

    dev = cc.devices(f.regions, tick)
    if dev.empty:
        ui.empty_note("cc_no_devices")
        return
    open_alarms = cc.active(f.regions, tick)
    counts = dev["state"].value_counts()
    critical = int((open_alarms["severity"] == "critical").sum())
    cards = [ui.card("cc_devices", len(dev)), ui.card("cc_ok", counts.get("ok", 0))]
    cards += [ui.card(k, counts.get(state, 0), good_up=False) for k, state in STATE_CARDS]
    ui.kpi_row([*cards, ui.card("cc_critical", critical, good_up=False)], per_row=5)

    st.subheader(t("cc_active_title"))
    if open_alarms.empty:
        st.success(t("cc_no_active"), icon=":material/check_circle:")
    else:
        act = open_alarms.copy()
        act["kind"] = act["kind"].map(lambda k: t("cc_kind_" + k))
        act["severity"] = act["severity"].map(lambda k: t("cc_sev_" + k))
        act["kind_device"] = act["kind_device"].map(lambda k: t("cc_dev_" + k))
        ui.table(act[ACTIVE_COLUMNS], "coldchain.active")

    left, right = st.columns([3, 2])
    with left:
        st.subheader(t("cc_devices_title"))
        view = dev.copy()
        view["state"] = view["state"].map(lambda k: t("cc_state_" + k))
        view["kind"] = view["kind"].map(lambda k: t("cc_dev_" + k))
        ui.table(view[DEVICE_COLUMNS], "coldchain.devices", height=420)
    with right:
        st.subheader(t("cc_map_title"))
        pts = dev.dropna(subset=["lat", "lon"]).copy()
        pts["color"] = pts["state"].map(STATE_RGB)
        pts["radius"] = pts["kind"].map({"truck": 260, "room": 380}).fillna(160)
        pts = pts[["device_id", "lat", "lon", "color", "radius", "state"]]
        layer = maps.scatter(pts, "radius", "color", get_position="[lon, lat]")
        lat, lon = float(pts["lat"].mean()), float(pts["lon"].mean())
        maps.show([layer], lat, lon, zoom=10.5, tooltip="{device_id}: {state}", key="cc_map")


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
ui.table(shown, "coldchain.history", download="linli_coldchain_alarms")
