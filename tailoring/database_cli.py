"""The ``db`` and ``audit`` command line: migrate the schema, grant the app's PostgreSQL role,
and check the audit log's hash chain. Run by whoever owns the database."""

from __future__ import annotations

import argparse
import re
import sys

from tailoring import services
from tailoring.access import AccessDenied

EXIT_BROKEN = 1
EXIT_REFUSED = 2
RECORDED = re.compile(r"(\d+):([0-9a-f]{64})")
DATABASE_HELP = "the database URL (default: TAILORING_DATABASE_URL, else data/tailoring.db)"


def add_database_parsers(commands: argparse._SubParsersAction) -> None:
    """Add ``db`` and ``audit`` and their actions to the command line's subcommands."""
    db = commands.add_parser("db", help="the database's schema and roles (as its owner)")
    actions = db.add_subparsers(dest="action", required=True)
    upgrade = actions.add_parser("upgrade", help="migrate the schema to the latest revision")
    upgrade.add_argument("--database", help=DATABASE_HELP)
    upgrade.set_defaults(run=_upgrade)
    grant = actions.add_parser(
        "grant",
        help="PostgreSQL: give ROLE what the app needs, with only SELECT and INSERT on the "
        "audit log (run as the role that owns the tables, again after each upgrade)",
    )
    grant.add_argument("role")
    grant.add_argument("--database", help=DATABASE_HELP)
    grant.set_defaults(run=_grant)

    audit = commands.add_parser("audit", help="the audit log's tamper evidence")
    checks = audit.add_subparsers(dest="action", required=True)
    verify = checks.add_parser(
        "verify",
        help="check the hash chain; exit 1 naming the first broken link, 0 when intact",
    )
    verify.add_argument("--database", help=DATABASE_HELP)
    verify.add_argument(
        "--expect",
        metavar="ID:HASH",
        help="an entry printed by an earlier check, kept elsewhere: it must still be there "
        "with that hash (finds a deleted end of the log, or a rewritten chain)",
    )
    verify.set_defaults(run=_verify)


def _upgrade(args: argparse.Namespace) -> int:
    try:
        before, after = services.upgrade_database(args.database)
    except services.StorageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    if before == after:
        print(f"the schema is already at the latest revision, {after}")
    else:
        print(f"migrated the schema from revision {before or 'none'} to {after}")
    return 0


def _grant(args: argparse.Namespace) -> int:
    try:
        services.grant_app_database_role(args.role, args.database)
    except (ValueError, services.StorageError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    print(
        f"{args.role} may now read and write the app's tables, and only read and append to "
        "the audit log"
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    expected = None
    if args.expect:
        recorded = RECORDED.fullmatch(args.expect.strip().lower())
        if recorded is None:
            print("--expect: give ID:HASH as printed by an earlier check", file=sys.stderr)
            return EXIT_REFUSED
        expected = (int(recorded[1]), recorded[2])
    try:
        check = services.check_audit_chain(expected, args.database)
    except (AccessDenied, services.StorageError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    if not check.intact:
        print(_broken(check), file=sys.stderr)
        return EXIT_BROKEN
    print(_intact(check))
    return 0


def _broken(check: services.ChainCheck) -> str:
    return (
        f"The audit log has been tampered with. The first broken link is entry "
        f"{check.broken_id}: {check.problem}. The {check.entries} entries before it are intact."
    )


def _intact(check: services.ChainCheck) -> str:
    if check.last_id is None:
        return "The audit log is empty: there is nothing to check yet."
    return (
        f"The audit log's chain is intact: {check.entries} entries, the last is entry "
        f"{check.last_id}.\n"
        f"Recorded entry: {check.last_id}:{check.last_hash}\n"
        "Keep that line where the database's users cannot change it, and check later with "
        "--expect: only then can a deleted end of the log, or a rewritten chain, be found."
    )
