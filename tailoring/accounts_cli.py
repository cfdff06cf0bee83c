"""The ``users`` command line: accounts, roles, passwords and supervision assignments of a team."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from tailoring import services
from tailoring.model.actor import ROLES, local_actor

EXIT_REFUSED = 2
# How the audit log names changes made here: whoever runs it has the database itself.
CLI_ACTOR = "command line"

Command = Callable[[argparse.Namespace], str]


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
            with services.acting_as(local_actor(CLI_ACTOR)):
                said = run(args)
            print(said)
        except (services.StorageError, ValueError) as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_REFUSED
        return 0

    return main


def _add(args: argparse.Namespace) -> str:
    services.check_new_username(args.username)
    password = None if args.no_password else _password(args)
    return services.add_account(args.username, args.roles, args.name, password)


def _list(_: argparse.Namespace) -> str:
    rows = [("username", "name", "roles", "state", "supervises")]
    for account in services.list_accounts():
        rows.append(
            (
                account.username,
                account.display_name,
                ",".join(account.roles),
                _state(account),
                ", ".join(account.supervisees),
            )
        )
    if len(rows) == 1:
        return "no accounts yet: add one with `python -m tailoring users add`"
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _disable(args: argparse.Namespace) -> str:
    return services.disable_account(args.username)


def _enable(args: argparse.Namespace) -> str:
    return services.enable_account(args.username)


def _reset_password(args: argparse.Namespace) -> str:
    services.check_account(args.username)  # say there is no such account before the prompt
    return services.reset_password(args.username, _password(args))


def _set_roles(args: argparse.Namespace) -> str:
    return services.set_account_roles(args.username, args.roles)


def _assign(args: argparse.Namespace) -> str:
    return services.assign_supervisor(args.supervisor, args.supervisee)


def _unassign(args: argparse.Namespace) -> str:
    return services.unassign_supervisor(args.supervisor, args.supervisee)


def _password(args: argparse.Namespace) -> str:
    """The new password, from standard input or typed twice at a prompt."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("The same password again: ") != password:
        raise ValueError("the two passwords differ; nothing was changed")
    return password


def _state(account: services.Account) -> str:
    state = "disabled" if account.disabled else "active"
    if account.locked_until is not None:
        state += f", locked until {account.locked_until:%Y-%m-%d %H:%M} UTC"
    if account.single_sign_on_only:
        state += ", single sign-on only"
    return state
