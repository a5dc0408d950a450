"""Every table header the pages show is translated: no raw column name in Chinese or English."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import nav
from tests.pages.conftest import APP

# A column name as the engine returns it (``views``, ``stock_days``, ``mentions(低糖水果)``).
RAW = re.compile(r"^[a-z][a-z0-9_]*(\(.*\))?$")


def shown_headers(table) -> list[str]:
    """The headers a st.dataframe / st.data_editor draws: labels, else column or index names."""
    config = json.loads(table.proto.columns or "{}")
    frame = table.value
    out = []
    if not config.get("_index", {}).get("hidden"):
        for name in frame.index.names:
            if name is not None:
                label = config.get("_index", {}).get("label") or config.get(str(name), {})
                out.append(label if isinstance(label, str) else label.get("label") or str(name))
    for col in frame.columns:
        cfg = config.get(str(col), {})
        if cfg.get("hidden"):
            continue
        out.append(cfg.get("label") or str(col))
    return out


def _actions(at: AppTest, stem: str) -> None:
    """Press the buttons behind which a page keeps more tables."""
    if stem == "pricing":
        for key in ("pr_run_opt", "pr_run_scen", "pr_save_scen", "pr_run_clear"):
            at.button(key=key).click().run()
    elif stem == "plan":
        at.number_input(key="pl_per").set_value(3).run()
        at.button(key="pl_run").click().run()
    elif stem == "selection":
        at.button(key="sel_bt_run").click().run()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("stem", [p.stem for p in nav.PAGES])
def test_no_raw_column_name_in_any_table(app_env, stem, lang, request):
    """Each page (after its main actions) labels every visible column in the chosen language."""
    if stem == "forecast":  # the background fit has run: the page shows its tables
        request.getfixturevalue("fitted_world_file")
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["lang"] = lang
    at.session_state["dp_limit"] = 1
    at.run()
    at.switch_page(str(nav.ROOT / "pages" / f"{stem}.py")).run()
    _actions(at, stem)
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.dataframe) or stem == "plan"
    raw = {h for table in at.dataframe for h in shown_headers(table) if RAW.match(h)}
    assert not raw, f"untranslated headers on {stem} ({lang}): {sorted(raw)}"
