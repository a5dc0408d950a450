"""Create a local user from the command line (run while the app is stopped).

Usage: ``python -m ops.users NAME --role ROLE [--regions 1,2] [--warehouses 1] [--empty-scope]``;
the password is asked for (or read from ``LINLI_NEW_PASSWORD`` for scripts). Leaving
``--regions`` out means all regions (refused for a regional manager); ``--regions ,`` names
none and is refused unless ``--empty-scope`` says that a user who sees nothing is meant.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from engine import auth
from engine import db as dbmod


def _ids(text: str | None, what: str) -> list[int] | None:
    """Comma-separated ids; ``None`` when the option was not given, ``[]`` when it names none."""
    if text is None:
        return None
    parts = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in parts if not x.isascii() or not x.isdigit()]
    if bad:
        raise ValueError(f"--{what} takes comma-separated ids such as 1,2; not {bad[0]!r}")
    return [int(x) for x in parts]


def main(argv: list[str] | None = None) -> int:
    """Add one user; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m ops.users")
    ap.add_argument("username")
    ap.add_argument("--role", required=True, choices=auth.ROLES)
    ap.add_argument("--regions", help="comma-separated region ids (default: all)")
    ap.add_argument("--warehouses", help="comma-separated warehouse ids (default: all)")
    ap.add_argument("--name", default="", help="display name")
    ap.add_argument(
        "--empty-scope",
        action="store_true",
        help="allow an empty --regions/--warehouses list: the user sees no rows until given some",
    )
    args = ap.parse_args(argv)
    try:
        regions, warehouses = _ids(args.regions, "regions"), _ids(args.warehouses, "warehouses")
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    password = os.environ.get("LINLI_NEW_PASSWORD") or getpass.getpass("Password: ")
    try:
        con = dbmod.connect()
    except dbmod.DatabaseError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        user = auth.create_user(
            con,
            args.username,
            password,
            args.role,
            regions,
            warehouses,
            args.name,
            allow_empty_scope=args.empty_scope,
        )
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        con.close()
    print(f"Created {args.role} {user.username}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
