"""The ``users`` command line: accounts, roles, passwords and supervision assignments of a team."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from tailoring.auth import hash_password
from tailoring.model.actor import ROLES
from tailoring.storage.accounts import AccountRepository, User, check_username
from tailoring.storage.audit import AuditLog
from tailoring.storage.db import database_url, make_engine
from tailoring.storage.errors import StorageError, UnknownUser, UsernameTaken
from tailoring.storage.unit_of_work import unit_of_work

EXIT_REFUSED = 2
# How the audit log names changes made here: whoever runs it has the database itself.
CLI_ACTOR = "command line"

Command = Callable[[argparse.Namespace, AccountRepository, AuditLog], str]


def add_users_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``users`` and its actions to the command line's subcommands."""
    users = commands.add_parser(
        "users",
        help="team accounts: add, list, disable, enable, reset a password, set roles, "
        "assign supervisors (in the configured database)",
    )
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add an account; prompts for its password")
    add.add_argument("username", help="3–40 lower-case letters, digits, dots, dashes, underscores")
    _add_roles(add)
    add.add_argument("--name", default="", help="the name people see (default: the username)")
    password = add.add_mutually_exclusive_group()
    _add_password_stdin(password)
    password.add_argument(
        "--no-password",
        action="store_true",
        help="no password: the account signs in through single sign-on only",
    )
    add.set_defaults(run=_command(_add))
    listing = actions.add_parser("list", help="every account, its roles, state and supervisees")
    listing.set_defaults(run=_command(_list))
    for name, change, what in (
        ("disable", _disable, "stop an account from signing in (nothing is deleted)"),
        ("enable", _enable, "let a disabled account sign in again"),
    ):
        parser = actions.add_parser(name, help=what)
        parser.add_argument("username")
        parser.set_defaults(run=_command(change))
    reset = actions.add_parser(
        "reset-password", help="set a new password (prompted) and lift any login lock"
    )
    reset.add_argument("username")
    _add_password_stdin(reset)
    reset.set_defaults(run=_command(_reset_password))
    roles = actions.add_parser("set-roles", help="replace an account's roles")
    roles.add_argument("username")
    _add_roles(roles)
    roles.set_defaults(run=_command(_set_roles))
    for name, change, what in (
        ("assign-supervisor", _assign, "let SUPERVISOR read the cases of SUPERVISEE"),
        ("unassign-supervisor", _unassign, "end SUPERVISOR's supervision of SUPERVISEE"),
    ):
        parser = actions.add_parser(name, help=what)
        parser.add_argument("supervisor")
        parser.add_argument("supervisee")
        parser.set_defaults(run=_command(change))


def _add_roles(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--role",
        dest="roles",
        action="append",
        required=True,
        choices=ROLES,
        help="a role of the account; repeat for several",
    )


def _add_password_stdin(parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (for scripts)",
    )


def _command(run: Command) -> Callable[[argparse.Namespace], int]:
    """A subcommand that runs ``run`` on the configured database and prints what it says."""

    def main(args: argparse.Namespace) -> int:
        try:
            engine = make_engine(database_url())
        except StorageError as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_REFUSED
        try:
            with unit_of_work(engine) as uow:
                said = run(args, uow.accounts, uow.audit)
            print(said)
        except (StorageError, ValueError) as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_REFUSED
        finally:
            engine.dispose()
        return 0

    return main


def _add(args: argparse.Namespace, accounts: AccountRepository, audit: AuditLog) -> str:
    # Refuse the name before asking for a password.
    check_username(args.username)
    try:
        accounts.get_user(args.username)
    except UnknownUser:
        pass
    else:
        raise UsernameTaken(args.username)
    password_hash = None if args.no_password else hash_password(_password(args), args.username)
    user = accounts.add_user(args.username, args.roles, args.name, password_hash)
    roles = _roles(user)
    sso = ", single sign-on only" if password_hash is None else ""
    return _audited(audit, f"added {user.username} ({roles}{sso})")


def _list(_: argparse.Namespace, accounts: AccountRepository, __: AuditLog) -> str:
    rows = [("username", "name", "roles", "state", "supervises")]
    for user in accounts.list_users():
        supervisees = accounts.supervisees(user.username) if "supervisor" in user.roles else []
        rows.append(
            (
                user.username,
                user.display_name,
                _roles(user),
                _state(user, accounts.login_locked_until(user.username, datetime.now(UTC))),
                ", ".join(supervisees),
            )
        )
    if len(rows) == 1:
        return "no accounts yet: add one with `python -m tailoring users add`"
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _disable(args: argparse.Namespace, accounts: AccountRepository, audit: AuditLog) -> str:
    accounts.disable(args.username)
    return _audited(audit, f"disabled {args.username}")


def _enable(args: argparse.Namespace, accounts: AccountRepository, audit: AuditLog) -> str:
    accounts.enable(args.username)
    return _audited(audit, f"enabled {args.username}")


def _reset_password(args: argparse.Namespace, accounts: AccountRepository, audit: AuditLog) -> str:
    accounts.get_user(args.username)  # say there is no such account before asking for a password
    accounts.set_password_hash(args.username, hash_password(_password(args), args.username))
    return _audited(audit, f"set a new password for {args.username}")


def _set_roles(args: argparse.Namespace, accounts: AccountRepository, audit: AuditLog) -> str:
    accounts.set_roles(args.username, args.roles)
    roles = _roles(accounts.get_user(args.username))
    return _audited(audit, f"{args.username} now has the roles {roles}")


def _assign(args: argparse.Namespace, accounts: AccountRepository, audit: AuditLog) -> str:
    if accounts.assign_supervisor(args.supervisor, args.supervisee):
        return _audited(audit, f"{args.supervisor} now supervises {args.supervisee}")
    return f"{args.supervisor} already supervises {args.supervisee}"


def _unassign(args: argparse.Namespace, accounts: AccountRepository, audit: AuditLog) -> str:
    if accounts.unassign_supervisor(args.supervisor, args.supervisee):
        return _audited(audit, f"{args.supervisor} no longer supervises {args.supervisee}")
    return f"{args.supervisor} did not supervise {args.supervisee}"


def _audited(audit: AuditLog, change: str) -> str:
    """Record ``change`` (usernames and roles only) in the audit log, and return it."""
    audit.record(CLI_ACTOR, "account_changed", detail=change)
    return change


def _password(args: argparse.Namespace) -> str:
    """The new password, from standard input or typed twice at a prompt."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("The same password again: ") != password:
        raise ValueError("the two passwords differ; nothing was changed")
    return password


def _roles(user: User) -> str:
    return ",".join(sorted(user.roles, key=ROLES.index))


def _state(user: User, locked_until: datetime | None) -> str:
    state = "disabled" if user.disabled else "active"
    if locked_until is not None:
        state += f", locked until {locked_until:%Y-%m-%d %H:%M} UTC"
    if user.password_hash is None:
        state += ", single sign-on only"
    return state
