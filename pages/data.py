"""数据管理 Data: import files (mapping, validation report, import), database status, demo world."""

from __future__ import annotations

import streamlit as st

from connectors import tables
from connectors.validation import ImportFileError
from dashboard import columns, dataio, db, gaps
from dashboard import components as ui
from dashboard.i18n import t

ui.page_header("page_data")
tab_import, tab_status, tab_demo = st.tabs(
    [t("data_tab_import"), t("data_tab_status"), t("data_tab_demo")]
)

with tab_import:
    upload = st.file_uploader(
        t("data_upload"),
        type=["csv", "txt", "xlsx", "parquet", "geojson"],
        key="data_upload",
        help=t("data_upload_help"),
    )
    with st.expander(t("data_templates")):
        tpl = st.selectbox(
            t("data_target"),
            tables.LOAD_ORDER,
            format_func=lambda x: t("data_table_" + x),
            key="data_tpl",
        )
        ui.download_buttons(dataio.template(tpl), f"template_{tpl}", key="data_tpl")
    if upload is not None and upload.name.lower().endswith(".geojson"):
        dataio.import_boundaries(upload.getvalue(), upload.name, st.session_state.get("username"))
    elif upload is not None:
        try:
            content = dataio.read_upload(upload.getvalue(), upload.name)
        except ImportFileError as exc:
            st.error(dataio.error_text(exc), icon=":material/error:")
            st.stop()
        st.caption(
            t(
                "data_file_read",
                sheets=len(content.sheets),
                rows=sum(s.data.num_rows for s in content.sheets),
                encoding=content.encoding or "—",
            )
        )
        targets, mappings = {}, {}
        options = ["", *tables.LOAD_ORDER]
        for i, sheet in enumerate(content.sheets):
            st.subheader(f"{ui.md(sheet.name)} · {sheet.data.num_rows:,} {t('data_rows')}")
            table = st.selectbox(
                t("data_target"),
                options,
                index=options.index(sheet.table or ""),
                format_func=lambda x: t("data_table_" + x) if x else t("data_skip_sheet"),
                key=f"data_table_{i}",
            )
            targets[sheet.name] = table
            if table:
                frame = dataio.mapping_frame(sheet, table)
                targets_cfg = st.column_config.SelectboxColumn(
                    t("data_col_column"), options=["", *dataio.table_columns(table)]
                )
                edited = st.data_editor(
                    frame,
                    column_config=columns.config("data", frame, {"column": targets_cfg}),
                    disabled=["header", "sample"],
                    hide_index=True,
                    key=f"data_map_{i}_{table}",
                )
                mappings[sheet.name] = dict(
                    zip(edited["header"], edited["column"].fillna(""), strict=True)
                )
                st.caption(t("data_required", cols=", ".join(tables.spec(table).required)))
        on_error = st.radio(
            t("data_on_error"),
            ["quarantine", "abort"],
            format_func=lambda x: t("data_on_error_" + x),
            horizontal=True,
            key="data_on_error",
        )
        c1, c2, _ = st.columns([1, 1, 3])
        check = c1.button(t("data_validate"), icon=":material/rule:", key="data_validate")
        load = c2.button(
            t("data_import"), type="primary", icon=":material/upload:", key="data_import"
        )
        if check or load:
            try:
                with st.spinner(t("data_working")):
                    if load:
                        report = dataio.run_import(
                            content, targets, mappings, on_error, st.session_state.get("username")
                        )
                    else:
                        report = dataio.validate(content, targets, mappings, on_error)
            except ImportFileError as exc:
                st.error(dataio.error_text(exc), icon=":material/error:")
            else:
                dataio.show_report(report)

with tab_status:
    info = dataio.status(db.data_version())
    scale = f"{info['scale']} · seed {info['seed']}"
    cards = [ui.card("data_schema_version", info["schema_version"], "text")]
    cards += [
        ui.card("data_scale", scale, "text"),
        ui.card("data_as_of_label", info["as_of"], "text"),
    ]
    ui.kpi_row([*cards, ui.card("data_quarantined", info["quarantined"], good_up=False)])
    st.caption(t("data_db_path", path=info["path"]))
    gaps.summary(db.data_version())
    health = gaps.health(db.data_version())
    ui.table(health, "data.health", download="data_health", key="data_health")
    st.subheader(t("data_recent_imports"))
    if info["imports"].empty:
        ui.empty_note("data_no_imports")
    else:
        ui.table(info["imports"], "data")
    if info["quarantined"]:
        st.subheader(t("data_quarantine"))
        q = dataio.quarantine()
        ui.table(q, "data", download="quarantine", key="data_quarantine")

with tab_demo:
    st.markdown(t("data_demo_intro"))
    c1, c2 = st.columns(2)
    scale = c1.selectbox(
        t("data_scale"),
        dataio.SCALES,
        format_func=lambda s: t("data_scale_" + s),
        key="data_demo_scale",
    )
    seed = c2.number_input(
        t("data_seed"), min_value=0, max_value=2**31 - 1, value=7, step=1, key="data_demo_seed"
    )
    if st.button(t("data_regenerate"), icon=":material/autorenew:", key="data_regenerate"):
        bar = st.progress(0.0, text=t("data_working"))
        path = dataio.regenerate(
            scale,
            int(seed),
            progress=lambda stage, frac: bar.progress(min(max(frac, 0.0), 1.0), text=stage),
        )
        bar.empty()
        st.success(t("data_regenerated", path=str(path)), icon=":material/check_circle:")
        st.code(f"LINLI_DB={path} make run", language="bash")
