"""One translation table for every label: dashboard/locales/*.toml, Chinese by default."""

from __future__ import annotations

import os
import tomllib
from functools import cache
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

LOCALES = Path(__file__).with_name("locales")
LANGS = ("zh", "en")


@cache
def table() -> dict[str, dict[str, str]]:
    """Return every key's translations, merged from all locale files."""
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(LOCALES.glob("*.toml")):
        with path.open("rb") as f:
            for key, val in tomllib.load(f).items():
                if key in merged:
                    raise ValueError(f"i18n key {key!r} defined twice ({path.name})")
                merged[key] = val
    return merged


_LAST = {"lang": ""}


def lang() -> str:
    """The current UI language: the session's choice, else LINLI_LANG, else Chinese."""
    default = os.environ.get("LINLI_LANG", "zh")
    default = default if default in LANGS else "zh"
    if get_script_run_ctx(suppress_warning=True) is None:
        # Outside a script run (e.g. a test harness formatting widget options afterwards),
        # use the language of the last run in this process.
        return _LAST["lang"] or default
    current = st.session_state.get("lang", default)
    _LAST["lang"] = current
    return current


def t(key: str, **fmt: object) -> str:
    """Translate ``key`` into the current language, formatting ``{placeholders}``."""
    entry = table().get(key)
    text = key if entry is None else entry.get(lang()) or entry.get("zh") or key
    return text.format(**fmt) if fmt else text
