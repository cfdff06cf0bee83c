"""The role × action matrix: every action of every role, on own, supervised and others' cases."""

from __future__ import annotations

from typing import get_args

import pytest

from tailoring.access import (
    ACTIONS,
    AccessDenied,
    Action,
    CaseKind,
    allowed,
    audit_owners,
    require,
    visible_owners,
)
from tailoring.model.actor import ROLES, Actor, local_actor

SUPERVISEE = "sv.x"
OTHER = "someone.else"
# Whose case an action is tried on: none in particular (may the actor take it at all), the
# actor's own, a supervisee's of every supervisor below, or someone else's.
TARGETS = ("any", "own", "supervisee", "other")
EVERYWHERE = set(TARGETS)
GENERAL_AND_OWN = {"any", "own"}
GENERAL_AND_SUPERVISED = {"any", "supervisee"}


def actor(username: str, *roles: str) -> Actor:
    supervisees = frozenset({SUPERVISEE}) if "supervisor" in roles else frozenset()
    return Actor(username, username.title(), frozenset(roles), supervisees)  # type: ignore[arg-type]


THERAPIST = {
    "case.list": GENERAL_AND_OWN,
    "case.view": GENERAL_AND_OWN,
    "case.create": GENERAL_AND_OWN,
    "case.edit": GENERAL_AND_OWN,
    "case.delete": GENERAL_AND_OWN,
    "case.export": GENERAL_AND_OWN,
    "caseload.view": GENERAL_AND_OWN,
}
SUPERVISOR = {
    "case.list": GENERAL_AND_SUPERVISED,
    "case.view": GENERAL_AND_SUPERVISED,
    "case.export": GENERAL_AND_SUPERVISED,
    "case.review": GENERAL_AND_SUPERVISED,
    "caseload.view": GENERAL_AND_SUPERVISED,
    "attempt.view": GENERAL_AND_SUPERVISED,
    "scenario.view": EVERYWHERE,
    "audit.view": GENERAL_AND_SUPERVISED,
    "audit.export": GENERAL_AND_SUPERVISED,
}
TRAINEE = {
    "attempt.create": GENERAL_AND_OWN,
    "attempt.view": GENERAL_AND_OWN,
    "attempt.edit": GENERAL_AND_OWN,
    "scenario.view": EVERYWHERE,
}
ADMIN = {
    "accounts.manage": EVERYWHERE,
    "audit.view": EVERYWHERE,
    "audit.export": EVERYWHERE,
}


def union(*grants: dict[str, set[str]]) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for grant in grants:
        for action, targets in grant.items():
            merged[action] = merged.get(action, set()) | targets
    return merged


# Each actor and what it may do, written out: everything else must be refused.
EXPECTED: list[tuple[Actor, dict[str, set[str]]]] = [
    (actor("dr.a", "therapist"), THERAPIST),
    (actor("sup.b", "supervisor"), SUPERVISOR),
    (actor("tr.c", "trainee"), TRAINEE),
    (actor("adm.d", "admin"), ADMIN),
    # A supervisor who also has cases reads their own, and the audit of their own, but does not
    # review them: that is someone else's supervision.
    (
        actor("lead.e", "therapist", "supervisor"),
        union(THERAPIST, SUPERVISOR, {"audit.view": {"own"}, "audit.export": {"own"}}),
    ),
    (actor("adm.f", "admin", "therapist"), union(ADMIN, THERAPIST)),
    (actor("tr.g", "trainee", "therapist"), union(TRAINEE, THERAPIST)),
    (actor("tutor.h", "supervisor", "trainee"), union(SUPERVISOR, TRAINEE)),
    (actor("all.i", *ROLES), union(THERAPIST, SUPERVISOR, TRAINEE, ADMIN)),
    (local_actor(), {action: EVERYWHERE for action in ACTIONS}),
]


def owner(who: Actor, target: str) -> str | None:
    return {"any": None, "own": who.username, "supervisee": SUPERVISEE, "other": OTHER}[target]


def kinds(action: str) -> list[CaseKind | None]:
    """The kinds of row an action is tried on: its own kind and none, or none."""
    if action.startswith(("case.", "caseload.")):
        return [None, "case"]
    if action.startswith("attempt."):
        return [None, "attempt"]
    return [None]


MATRIX = [
    pytest.param(
        who,
        action,
        target,
        kind,
        target in grants.get(action, set()),
        id=f"{who.username}-{action}-{target}-{kind}",
    )
    for who, grants in EXPECTED
    for action in ACTIONS
    for target in TARGETS
    for kind in kinds(action)
]


def test_the_matrix_names_every_action_and_role() -> None:
    assert set(ACTIONS) == set(get_args(Action))
    assert {role for who, _ in EXPECTED for role in who.roles} == set(ROLES)
    for _, grants in EXPECTED:
        assert set(grants) <= set(ACTIONS)


@pytest.mark.parametrize(("who", "action", "target", "kind", "expected"), MATRIX)
def test_role_action_matrix(
    who: Actor, action: Action, target: str, kind: CaseKind | None, expected: bool
) -> None:
    case_owner = owner(who, target)
    assert allowed(who, action, case_owner, kind) is expected
    if expected:
        require(who, action, case_owner, kind)
    else:
        with pytest.raises(AccessDenied) as refused:
            require(who, action, case_owner, kind)
        assert refused.value.action == action
        assert str(refused.value).startswith(f"You cannot {ACTIONS[action]}")


WRONG_KIND = [
    pytest.param(who, action, wrong, id=f"{who.username}-{action}-{wrong}")
    for who, _ in EXPECTED
    for action in ACTIONS
    for wrong in (("attempt",) if action.startswith(("case.", "caseload.")) else ())
    + (("case",) if action.startswith("attempt.") else ())
]


@pytest.mark.parametrize(("who", "action", "kind"), WRONG_KIND)
def test_an_action_on_the_other_kind_of_row_is_refused_to_everyone(
    who: Actor, action: Action, kind: CaseKind
) -> None:
    # A trainee's attempt is not a case, and a real case is never a trainee's attempt.
    for target in TARGETS:
        assert not allowed(who, action, owner(who, target), kind)
        with pytest.raises(AccessDenied):
            require(who, action, owner(who, target), kind)


def test_a_supervisor_without_the_therapist_role_does_not_read_cases_in_their_name() -> None:
    supervisor = actor("sup.b", "supervisor")
    assert not allowed(supervisor, "case.view", "sup.b", "case")
    assert allowed(actor("lead.e", "therapist", "supervisor"), "case.view", "lead.e", "case")


def test_a_lost_supervisor_role_ends_reading_the_supervisees_cases() -> None:
    former = Actor("sup.b", "Sup", frozenset({"therapist"}), frozenset({SUPERVISEE}))
    assert not allowed(former, "case.view", SUPERVISEE, "case")
    assert visible_owners(former) == {"sup.b"}


@pytest.mark.parametrize(
    ("who", "cases", "attempts", "audit"),
    [
        (actor("dr.a", "therapist"), {"dr.a"}, set(), set()),
        (actor("sup.b", "supervisor"), {SUPERVISEE}, {SUPERVISEE}, {SUPERVISEE}),
        (actor("tr.c", "trainee"), set(), {"tr.c"}, set()),
        (actor("adm.d", "admin"), set(), set(), None),
        (
            actor("lead.e", "therapist", "supervisor"),
            {"lead.e", SUPERVISEE},
            {SUPERVISEE},
            {"lead.e", SUPERVISEE},
        ),
        (actor("adm.f", "admin", "therapist"), {"adm.f"}, set(), None),
        (local_actor("dr.local"), None, None, None),
    ],
    ids=lambda value: value.username if isinstance(value, Actor) else None,
)
def test_whose_cases_attempts_and_audit_entries_each_actor_lists(
    who: Actor, cases: set[str] | None, attempts: set[str] | None, audit: set[str] | None
) -> None:
    assert visible_owners(who) == cases
    assert visible_owners(who, "attempt") == attempts
    assert audit_owners(who) == audit


def test_unknown_actions_and_kinds_are_errors_not_refusals() -> None:
    therapist = actor("dr.a", "therapist")
    with pytest.raises(ValueError, match="unknown action"):
        allowed(therapist, "case.burn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown case kind"):
        allowed(therapist, "case.view", "dr.a", "scenario")  # type: ignore[arg-type]


def test_the_refusal_is_plain() -> None:
    with pytest.raises(AccessDenied) as refused:
        require(actor("sup.b", "supervisor"), "case.edit", SUPERVISEE, "case")
    assert str(refused.value) == (
        "You cannot change the answers, sessions or plan of this case: your account's roles do "
        "not allow it. Ask an administrator if you need access."
    )
