"""Team mode through the use cases: every action a role may not take is refused by services.

Five people: therapists Tess and Omar (one case each), Sam who supervises Tess, Tara a trainee
and Ada an administrator. Every refused pair below is tried through ``tailoring.services`` (the
API pages and the command line call) on SQLite and PostgreSQL, and nothing it refused changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tailoring import services
from tailoring.auth import hash_password
from tailoring.model.actor import Actor
from tests.store import app_store

PASSWORD = "correct horse battery"


def actor(username: str, *roles: str, supervisees: tuple[str, ...] = ()) -> Actor:
    return Actor(username, username.title(), frozenset(roles), frozenset(supervisees))


TESS = actor("tess", "therapist")
OMAR = actor("omar", "therapist")
SAM = actor("sam", "supervisor", supervisees=("tess",))
TARA = actor("tara", "trainee")
ADA = actor("ada", "admin")
PEOPLE = {"tess": TESS, "omar": OMAR, "sam": SAM, "tara": TARA, "ada": ADA}


@pytest.fixture
def team(database_url: str, monkeypatch: pytest.MonkeyPatch, upgrade) -> Iterator[dict[str, int]]:
    """Team mode on a fresh database: Tess's and Omar's cases, a flag raised on Tess's."""
    monkeypatch.setenv("TAILORING_DATABASE_URL", database_url)
    monkeypatch.setenv("TAILORING_DEMO", "0")
    upgrade(database_url)
    services.set_mode("team")
    try:
        services.start()
        for person in PEOPLE.values():
            app_store().accounts.add_user(
                person.username,
                person.roles,
                person.display_name,
                hash_password(PASSWORD, person.username),
            )
        app_store().accounts.assign_supervisor("sam", "tess")
        ids = {}
        for person, reference in ((TESS, "TT-001"), (OMAR, "OM-001")):
            with services.acting_as(person):
                ids[person.username] = services.new_case(reference, "ba_step2", 6)
                services.save_answer(
                    ids[person.username],
                    "social",
                    "housing",
                    {"present": "yes", "maintains": "yes", "helping": "no"},
                )
        yield ids
    finally:
        services.set_mode("local")


def as_(person: str, call: Callable[[], Any]) -> Any:
    with services.acting_as(PEOPLE[person]):
        return call()


NUMBERS = itertools.count(1)
# (what, who may, call(ids)) — everyone not in "who may" must be refused.
ANSWER = {"present": "no"}
ACTIONS: list[tuple[str, set[str], Callable[[dict[str, int]], Any]]] = [
    ("open Tess's case", {"tess", "sam"}, lambda ids: services.open_case(ids["tess"])),
    ("open Omar's case", {"omar"}, lambda ids: services.open_case(ids["omar"])),
    (
        "change an answer of Tess's case",
        {"tess"},
        lambda ids: services.save_answer(ids["tess"], "social", "money", ANSWER),
    ),
    (
        "record a session of Tess's case",
        {"tess"},
        lambda ids: services.record_session(
            ids["tess"],
            {"number": 1, "date": "2026-01-05", "attendance": "attended", "kind": "assessment"},
        ),
    ),
    (
        "change the plan of Tess's case",
        {"tess"},
        lambda ids: services.update_case(ids["tess"], sessions_available=8),
    ),
    ("delete Tess's case", {"tess"}, lambda ids: services.delete_case(ids["tess"])),
    (
        "create a case",
        {"tess", "omar"},
        lambda ids: services.new_case(f"NEW-{next(NUMBERS):03d}", "ba_step2", 6),
    ),
    (
        "write a supervision note on Tess's case",
        {"sam"},
        lambda ids: services.add_note(ids["tess"], "Discussed the housing problem"),
    ),
    (
        "acknowledge a flag of Tess's case",
        {"sam"},
        lambda ids: services.decide_flag(
            ids["tess"], "social.housing", "acknowledged", "Agreed a letter"
        ),
    ),
    ("read Tess's flag history", {"tess", "sam"}, lambda ids: services.flag_history(ids["tess"])),
    (
        "export Tess's case review",
        {"tess", "sam"},
        lambda ids: services.review_pdf(ids["tess"]),
    ),
    ("export Tess's notes", {"tess", "sam"}, lambda ids: services.notes_export(ids["tess"])),
    (
        "export Omar's case file",
        {"omar"},
        lambda ids: services.case_file(app_store().cases.get(ids["omar"]).case),
    ),
    (
        "start a practice attempt",
        {"tara"},
        lambda ids: services.start_attempt("cbt_depression_fit"),
    ),
    ("read the audit log", {"ada", "sam"}, lambda ids: services.audit_entries()),
    ("export the audit log", {"ada", "sam"}, lambda ids: services.audit_csv([])),
]


@pytest.mark.parametrize(("what", "may", "call"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_every_role_is_refused_what_it_may_not_do(team, what, may, call):
    for person in sorted(set(PEOPLE) - may):
        before = app_store().cases.get(team["tess"]).version
        with pytest.raises(services.AccessDenied):
            as_(person, lambda: call(team))
        assert app_store().cases.get(team["tess"]).version == before, (what, person)
    for person in sorted(may):
        as_(person, lambda: call(team))


def test_lists_show_only_what_each_person_may_see(team):
    def references(person: str) -> list[str]:
        return sorted(c.reference for c in as_(person, services.list_cases))

    assert references("tess") == ["TT-001"]
    assert references("omar") == ["OM-001"]
    assert references("sam") == ["TT-001"]
    assert references("tara") == []
    assert references("ada") == []


def test_a_therapists_new_case_is_theirs_and_the_audit_log_names_them(team):
    case = as_("tess", lambda: services.open_case(team["tess"]))
    assert case.case.therapist == "tess"
    entries = as_("ada", services.audit_entries)
    seen = {(e.actor, e.action, e.case_reference) for e in entries}
    assert ("tess", "created", "TT-001") in seen
    assert ("tess", "changed", "TT-001") in seen
    assert ("tess", "viewed", "TT-001") in seen
    # A supervisor reads only entries about the cases they may read.
    assert {e.case_reference for e in as_("sam", services.audit_entries)} <= {"TT-001", None}


def test_signing_in_checks_the_password_and_throttles(team):
    assert services.sign_in("tess", PASSWORD).username == "tess"
    from tailoring.auth import LoginRefused

    with pytest.raises(LoginRefused, match="Wrong username or password"):
        services.sign_in("tess", "wrong password!")
    app_store().accounts.disable("omar")
    with pytest.raises(LoginRefused, match="Wrong username or password"):
        services.sign_in("omar", PASSWORD)
    for _ in range(5):
        with pytest.raises(LoginRefused):
            services.sign_in("tara", "not her password")
    with pytest.raises(LoginRefused, match="Too many failed logins"):
        services.sign_in("tara", PASSWORD)


def test_a_refused_change_is_not_in_the_audit_log(team):
    def changes() -> int:
        return sum(e.action == "changed" for e in as_("ada", services.audit_entries))

    before = changes()
    with pytest.raises(services.CaseFileError):
        as_("tess", lambda: services.save_answer(team["tess"], "social", "money", {"present": 7}))
    with pytest.raises(services.StaleAnswer):
        as_("tess", lambda: services.save_answer(team["tess"], "social", "housing", ANSWER, 0))
    assert changes() == before
    as_("tess", lambda: services.save_answer(team["tess"], "social", "money", ANSWER))
    assert changes() == before + 1


def test_a_copy_of_a_supervisees_case_lands_in_the_copiers_own_caseload(team):
    """A supervisor who is also a therapist copies a supervisee's case: the copy is theirs."""
    both = actor("bea", "supervisor", "therapist", supervisees=("tess",))
    app_store().accounts.add_user("bea", both.roles, "Bea", hash_password(PASSWORD, "bea"))
    app_store().accounts.assign_supervisor("bea", "tess")
    with services.acting_as(both):
        copy_id = services.duplicate_case(team["tess"], "BE-001")
        assert services.open_case(copy_id).case.therapist == "bea"
    assert [c.reference for c in as_("tess", services.list_cases)] == ["TT-001"]
    created = [e for e in as_("ada", services.audit_entries) if e.case_reference == "BE-001"]
    assert [(e.actor, e.action) for e in created if e.action == "created"] == [("bea", "created")]
