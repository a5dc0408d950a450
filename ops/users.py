"""Create a local user from the command line (run while the app is stopped).

Usage: ``python -m ops.users NAME --role ROLE [--regions 1,2] [--warehouses 1]``;
the password is asked for (or read from ``LINLI_NEW_PASSWORD`` for scripts).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from engine import auth
from engine import db as dbmod


def _ids(text: str | None) -> list[int] | None:
    return None if not text else [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    """Add one user; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m ops.users")
    ap.add_argument("username")
    ap.add_argument("--role", required=True, choices=auth.ROLES)
    ap.add_argument("--regions", help="comma-separated region ids (default: all)")
    ap.add_argument("--warehouses", help="comma-separated warehouse ids (default: all)")
    ap.add_argument("--name", default="", help="display name")
    args = ap.parse_args(argv)
    password = os.environ.get("LINLI_NEW_PASSWORD") or getpass.getpass("Password: ")
    try:
        con = dbmod.connect()
        auth.create_user(
            con,
            args.username,
            password,
            args.role,
            _ids(args.regions),
            _ids(args.warehouses),
            args.name,
        )
    except (ValueError, dbmod.DatabaseError) as exc:
        print(exc, file=sys.stderr)
        return 2
    con.close()
    print(f"Created {args.role} {args.username}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
