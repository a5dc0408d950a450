"""Documentation keeps up with the code: every KPI and every label is described."""

from __future__ import annotations

import re
from pathlib import Path

from dashboard import i18n, nav
from engine import kpis

ROOT = Path(__file__).resolve().parents[1]


def test_every_kpi_is_documented():
    """Each KPI key shown on the Overview has a row in docs/metrics.md."""
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))
    assert set(kpis.KPI_KEYS) <= documented, set(kpis.KPI_KEYS) - documented


def test_every_label_has_both_languages():
    """Every i18n entry has non-empty Chinese and English text."""
    for key, entry in i18n.table().items():
        assert entry.get("zh") and entry.get("en"), key


def test_every_kpi_and_page_title_is_translated():
    """KPI labels, page titles and sections exist in the i18n table."""
    keys = set(i18n.table())
    needed = {f"kpi_{k}" for k in kpis.KPI_KEYS} | {p.title_key for p in nav.PAGES}
    needed |= {p.section for p in nav.PAGES}
    assert needed <= keys, needed - keys


def test_registered_pages_exist():
    """Navigation only lists page files that exist."""
    for p in nav.PAGES:
        assert p.file.exists(), p.path


def test_env_settings_documented_in_readme():
    """The README documents every LINLI_* setting the code reads."""
    code = "\n".join(
        p.read_text(encoding="utf-8") for p in ROOT.glob("*/*.py") if ".venv" not in p.parts
    )
    used = set(re.findall(r"LINLI_[A-Z_]+", code)) - {"LINLI_TEST_MQTT_URL"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert used, "no settings found"
    missing = {u for u in used if u not in readme}
    assert not missing, missing
