"""The ``users`` command line on a SQLite file: accounts, passwords, roles and supervisors."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tailoring import accounts_cli
from tailoring.__main__ import main
from tailoring.auth import NAME_POLICY, verify_password
from tailoring.engine.throttle import name_bucket
from tailoring.storage.db import make_engine
from tests.store import Committing, Store

PASSWORD = "correct horse battery"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upgrade) -> str:
    """The URL of a SQLite file at the current schema, that the command line uses."""
    url = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv("TAILORING_DATABASE_URL", url)
    upgrade(url)
    return url


@pytest.fixture
def stored(database: str) -> Iterator[tuple[Committing, Committing]]:
    """The accounts and audit log the command line wrote, read back."""
    engine = make_engine(database)
    yield Store.on(engine).accounts, Store.on(engine).audit
    engine.dispose()


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["users", *argv])
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def test_add_reads_the_password_from_stdin_and_audits(
    database: str, stored, monkeypatch, capsys
) -> None:
    code, out, _ = run(
        monkeypatch,
        capsys,
        *("add", "dr.a", "--role", "therapist", "--role", "supervisor", "--name", "Dr Ä"),
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert (code, out) == (0, "added dr.a (therapist,supervisor)\n")
    accounts, audit = stored
    user = accounts.get_user("dr.a")
    assert (user.display_name, user.roles) == ("Dr Ä", {"therapist", "supervisor"})
    assert verify_password(user.password_hash, PASSWORD)
    [entry] = audit.entries()
    assert (entry.actor, entry.action, entry.detail) == (
        "command line",
        "account_changed",
        "added dr.a (therapist,supervisor)",
    )


def test_add_prompts_twice_for_the_password(database: str, stored, monkeypatch, capsys) -> None:
    typed = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr(accounts_cli.getpass, "getpass", lambda prompt: next(typed))
    code, _, err = run(monkeypatch, capsys, "add", "dr.a", "--role", "therapist")
    assert (code, err) == (2, "the two passwords differ; nothing was changed\n")
    typed = iter([PASSWORD, PASSWORD])
    assert run(monkeypatch, capsys, "add", "dr.a", "--role", "therapist")[0] == 0
    assert verify_password(stored[0].get_user("dr.a").password_hash, PASSWORD)


def test_add_without_a_password_makes_a_single_sign_on_account(
    database: str, stored, monkeypatch, capsys
) -> None:
    code, out, _ = run(monkeypatch, capsys, "add", "tr.c", "--role", "trainee", "--no-password")
    assert (code, out) == (0, "added tr.c (trainee, single sign-on only)\n")
    assert stored[0].get_user("tr.c").password_hash is None


STDIN = "--password-stdin"
# The password typed for the account each refused command below names.
WEAK = {
    "dr.b": "short",
    "dr.c": "aaaaaaaaaa",
    "dr.d": "Password2024!",
    "dr.a": "1234567890",  # reset-password; adding dr.a again is refused before the password
}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("add", "Dr A", "--role", "therapist", STDIN), "3–40 lower-case"),
        (("add", "dr.b", "--role", "therapist", STDIN), "at least 10 characters"),
        (("add", "dr.c", "--role", "therapist", STDIN), "repeats one character"),
        (("add", "dr.d", "--role", "therapist", STDIN), "common passwords"),
        (("reset-password", "dr.a", STDIN), "run of keys"),
        (("add", "dr.a", "--role", "admin", STDIN), "already an account called dr.a"),
        (("disable", "nobody"), "There is no account called nobody."),
        (("enable", "nobody"), "There is no account called nobody."),
        (("reset-password", "nobody", STDIN), "There is no account called nobody."),
        (("set-roles", "nobody", "--role", "admin"), "There is no account called nobody."),
        (("assign-supervisor", "dr.a", "dr.a"), "cannot supervise themselves"),
        (("assign-supervisor", "dr.a", "nobody"), "does not have the supervisor role"),
        (("unassign-supervisor", "dr.a", "nobody"), "There is no account called nobody."),
    ],
)
def test_refused_commands_say_why_and_change_nothing(
    database: str, stored, monkeypatch, capsys, argv: tuple[str, ...], message: str
) -> None:
    run(monkeypatch, capsys, "add", "dr.a", "--role", "therapist", STDIN, stdin=PASSWORD)
    password = WEAK.get(argv[1], PASSWORD)
    code, out, err = run(monkeypatch, capsys, *argv, stdin=password)
    assert (code, out) == (2, "")
    assert message in err
    assert [user.username for user in stored[0].list_users()] == ["dr.a"]
    assert verify_password(stored[0].get_user("dr.a").password_hash or "", PASSWORD)
    assert len(stored[1].entries()) == 1


def test_accounts_are_managed_and_listed(database: str, stored, monkeypatch, capsys) -> None:
    assert run(monkeypatch, capsys, "list")[1] == (
        "no accounts yet: add one with `python -m tailoring users add`\n"
    )
    for username, role in (("sup.b", "supervisor"), ("dr.a", "therapist"), ("tr.c", "trainee")):
        add = ("add", username, "--role", role, "--password-stdin")
        assert run(monkeypatch, capsys, *add, stdin=PASSWORD)[0] == 0
    accounts, audit = stored
    attempts = Store.on(make_engine(database)).sign_in_attempts
    for _ in range(NAME_POLICY.max_failures):
        attempts.fail(name_bucket("dr.a"), NAME_POLICY, datetime.now(UTC))

    steps = [
        (("assign-supervisor", "sup.b", "dr.a"), "sup.b now supervises dr.a"),
        (("assign-supervisor", "sup.b", "tr.c"), "sup.b now supervises tr.c"),
        (("assign-supervisor", "sup.b", "tr.c"), "sup.b already supervises tr.c"),
        (("unassign-supervisor", "sup.b", "tr.c"), "sup.b no longer supervises tr.c"),
        (("unassign-supervisor", "sup.b", "tr.c"), "sup.b did not supervise tr.c"),
        (("disable", "tr.c"), "disabled tr.c"),
        (("set-roles", "sup.b", "--role", "supervisor", "--role", "admin"), "sup.b now has"),
    ]
    for argv, said in steps:
        code, out, _ = run(monkeypatch, capsys, *argv)
        assert code == 0
        assert out.startswith(said)
    code, out, _ = run(monkeypatch, capsys, "list")
    lines = out.splitlines()
    assert lines[0].split() == ["username", "name", "roles", "state", "supervises"]
    assert lines[1].split()[:3] == ["dr.a", "dr.a", "therapist"]
    assert "locked until" in lines[1]
    assert lines[2].split() == ["sup.b", "sup.b", "supervisor,admin", "active", "dr.a"]
    assert lines[3].split() == ["tr.c", "tr.c", "trainee", "disabled"]

    code, out, _ = run(
        monkeypatch, capsys, "reset-password", "dr.a", "--password-stdin", stdin="another password"
    )
    assert (code, out) == (0, "set a new password for dr.a\n")
    user = accounts.get_user("dr.a")
    assert accounts.login_locked_until("dr.a", datetime.now(UTC)) is None
    assert verify_password(user.password_hash, "another password")
    assert run(monkeypatch, capsys, "enable", "tr.c")[1] == "enabled tr.c\n"
    assert not accounts.get_user("tr.c").disabled
    assert [entry.detail for entry in audit.entries()][:8] == [
        "enabled tr.c",
        "set a new password for dr.a",
        "sup.b now has the roles supervisor,admin",
        "disabled tr.c",
        "sup.b no longer supervises tr.c",
        "sup.b now supervises tr.c",
        "sup.b now supervises dr.a",
        "added tr.c (trainee)",
    ]


def test_a_role_must_be_given_and_known(database: str, monkeypatch, capsys) -> None:
    for argv in (["users", "add", "dr.a"], ["users", "add", "dr.a", "--role", "boss"]):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == 2
    assert "--role" in capsys.readouterr().err
