"""Where each role's messages go: channels per role and region, from the admin page or the env.

A message names a channel, not an address: ``leader@3`` is "the leaders' channel of region 3",
``duty`` the cold-chain duty desk, ``supplier`` the purchasing inbox. At send time the name
resolves to apprise URLs (``wecombot://``, ``dingtalk://``, ``feishu://``, ``mailto://``,
``json://``), looked up in this order:

1. ``LINLI_CHANNEL_<ROLE>_R<region_id>`` then ``LINLI_CHANNEL_<ROLE>`` (deployment overrides;
   several URLs separated by spaces or commas);
2. the ``action_channels`` table (the admin page): the region's row, else the all-regions row.

A channel that is itself an apprise URL (``json://host/hook``) is used as it is. A role with
nothing configured falls back as :data:`FALLBACK` says (escalations go to the duty desk).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime

import duckdb
import pandas as pd

ROLES = ("leader", "supplier", "manager", "duty", "escalation", "storefront", "customer")
SCHEMES = (
    "wecombot",
    "dingtalk",
    "feishu",
    "lark",
    "mailto",
    "mailtos",
    "json",
    "jsons",
)
# A role without a channel of its own uses another's: an escalation reaches at least the duty desk.
FALLBACK = {"escalation": "duty"}
_NAME = re.compile(r"^(?P<role>[a-z_]+)(@(?P<region>\d+))?$")


class ChannelError(LookupError):
    """No channel is configured for a message's channel name."""


def name(role: str, region_id: int | None = None) -> str:
    """The channel name of a role, in one region or all (``leader@3``, ``duty``)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    return role if region_id is None else f"{role}@{int(region_id)}"


def is_url(channel: str) -> bool:
    """True when the channel is an apprise URL rather than a name."""
    return "://" in channel


def check_url(url: str) -> str:
    """Return ``url`` stripped, or raise ValueError when its scheme is not a supported channel."""
    url = url.strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        raise ValueError(
            f"unsupported channel URL {url[:40]!r}; use one of "
            + ", ".join(f"{s}://" for s in SCHEMES)
        )
    return url


def _env_urls(environ: Mapping[str, str], var: str) -> list[str]:
    text = environ.get(var, "").strip()
    return [check_url(u) for u in re.split(r"[\s,]+", text) if u]


def resolve(
    con: duckdb.DuckDBPyConnection, channel: str, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The apprise URLs a channel name stands for.

    Raises
    ------
    ChannelError
        When nothing is configured for the name (the message is retried, then ``dead``).
    ValueError
        For a malformed name or URL.
    """
    if is_url(channel):
        return [check_url(channel)]
    m = _NAME.match(channel)
    if not m:
        raise ValueError(f"bad channel name {channel!r}; expected role or role@<region_id>")
    role, region = m["role"], m["region"]
    env = os.environ if environ is None else environ
    var = f"LINLI_CHANNEL_{role.upper()}"
    for v in ([f"{var}_R{region}"] if region else []) + [var]:
        if urls := _env_urls(env, v):
            return urls
    rows = con.execute(
        "SELECT url, region_id FROM action_channels WHERE role = ? "
        "AND (region_id = ? OR region_id IS NULL) ORDER BY url",
        [role, None if region is None else int(region)],
    ).fetchall()
    regional = [u for u, r in rows if r is not None]
    if rows:
        return regional or [u for u, _ in rows]
    if role in FALLBACK:
        return resolve(con, FALLBACK[role] + (f"@{region}" if region else ""), env)
    where = f" in region {region}" if region else ""
    raise ChannelError(
        f"no channel configured for role {role!r}{where}: set {var} or add it on the admin page"
    )


def set_channel(
    con: duckdb.DuckDBPyConnection,
    role: str,
    url: str,
    region_id: int | None = None,
    username: str | None = None,
) -> None:
    """Configure (replace) the channel of a role in one region, or all regions when None."""
    name(role, region_id)
    url = check_url(url)
    region_id = None if region_id is None else int(region_id)
    con.execute(
        "DELETE FROM action_channels WHERE role = ? AND region_id IS NOT DISTINCT FROM ?",
        [role, region_id],
    )
    con.execute(
        "INSERT INTO action_channels VALUES (?, ?, ?, ?, ?)",
        [role, region_id, url, username, datetime.now()],
    )


def remove_channel(con: duckdb.DuckDBPyConnection, role: str, region_id: int | None = None) -> None:
    """Remove the configured channel of a role in one region (or the all-regions one)."""
    region_id = None if region_id is None else int(region_id)
    con.execute(
        "DELETE FROM action_channels WHERE role = ? AND region_id IS NOT DISTINCT FROM ?",
        [role, region_id],
    )


def channels(
    con: duckdb.DuckDBPyConnection, environ: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Every configured channel, from the table and the environment, URLs with secrets masked."""
    rows = con.execute(
        "SELECT role, region_id, url, 'admin' AS source, updated_by, updated_at "
        "FROM action_channels ORDER BY role, region_id NULLS FIRST"
    ).df()
    env = os.environ if environ is None else environ
    extra = []
    for var, value in sorted(env.items()):
        m = re.match(r"^LINLI_CHANNEL_([A-Z_]+?)(?:_R(\d+))?$", var)
        if m and m[1].lower() in ROLES and value.strip():
            region = int(m[2]) if m[2] else None
            extra += [(m[1].lower(), region, u, "env", None, None) for u in _env_urls(env, var)]
    out = pd.concat([rows, pd.DataFrame(extra, columns=rows.columns)], ignore_index=True)
    out["url"] = out["url"].map(mask)
    return out


def mask(url: str) -> str:
    """An apprise URL with its credentials and tokens hidden, for display."""
    scheme, _, rest = url.partition("://")
    host, sep, query = rest.partition("?")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    parts = host.split("/")
    parts = [parts[0], *("***" if len(p) > 6 else p for p in parts[1:])]
    query = re.sub(r"(pass|password|token|secret)=[^&]*", r"\1=***", query)
    return f"{scheme}://{'/'.join(parts)}{sep}{query}"


def set_contact(con: duckdb.DuckDBPyConnection, target: str, address: str) -> None:
    """Give a leader or supplier (``supplier:<id>``, ``leader:<id>``) its own address.

    A mail channel without ``to=`` then sends that target's messages to this address.
    """
    if not re.match(r"^(leader|supplier):\d+$", target or ""):
        raise ValueError(f"bad target {target!r}; expected leader:<id> or supplier:<id>")
    if not address or not address.strip():
        raise ValueError("an address is required")
    con.execute("INSERT OR REPLACE INTO action_contacts VALUES (?, ?)", [target, address.strip()])
