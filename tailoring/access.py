"""Who may do what to which case: the access rules of team mode, as plain data and functions.

A rule grants an action to a role, over whose cases: the actor's own (``own``: the case's
therapist, or the attempt's trainee, is the actor), their supervisees' (``supervisee``), the cases
a supervisor reads (``supervised_or_own``: their supervisees', and their own when they are also a
therapist), or any (``any``: the action is not about one person's cases). Holding several roles
grants what each role grants. The local user of local mode may do everything.

``case_owner`` is the therapist of the case (or trainee of the attempt) the action is about; None
asks whether the actor may take the action at all (to show a page or a button), and lists must
then be narrowed with :func:`visible_owners`. ``case_kind`` is the kind of the stored row: the
``case.*`` and ``caseload.*`` actions are about real cases, the ``attempt.*`` actions about
practice attempts, and the other kind is refused to everyone, so a page that loaded the wrong
kind of row cannot show it.
"""

from __future__ import annotations

from typing import Literal

from tailoring.model.actor import Actor, Role

Action = Literal[
    "case.list",
    "case.view",
    "case.create",
    "case.edit",
    "case.delete",
    "case.export",
    "case.review",
    "caseload.view",
    "attempt.create",
    "attempt.view",
    "attempt.edit",
    "scenario.view",
    "audit.view",
    "audit.export",
    "accounts.manage",
]
CaseKind = Literal["case", "attempt"]
Whose = Literal["own", "supervisee", "supervised_or_own", "any"]

# What each action is, in the words of a refusal: "You cannot <this>."
ACTIONS: dict[Action, str] = {
    "case.list": "list cases",
    "case.view": "open this case",
    "case.create": "create this case",
    "case.edit": "change the answers, sessions or plan of this case",
    "case.delete": "delete this case",
    "case.export": "export this case",
    "case.review": "write supervision notes or flag decisions on this case",
    "caseload.view": "see this caseload",
    "attempt.create": "start a practice attempt",
    "attempt.view": "open this practice attempt",
    "attempt.edit": "change this practice attempt",
    "scenario.view": "see the practice scenarios",
    "audit.view": "read the audit log",
    "audit.export": "export the audit log",
    "accounts.manage": "manage accounts and supervision assignments",
}

# The rules: each action, and the roles it is granted to over whose cases. Anything not here
# is refused.
RULES: dict[Action, tuple[tuple[Role, Whose], ...]] = {
    "case.list": (("therapist", "own"), ("supervisor", "supervisee")),
    "case.view": (("therapist", "own"), ("supervisor", "supervisee")),
    "case.create": (("therapist", "own"),),
    "case.edit": (("therapist", "own"),),
    "case.delete": (("therapist", "own"),),
    "case.export": (("therapist", "own"), ("supervisor", "supervisee")),
    "case.review": (("supervisor", "supervisee"),),
    "caseload.view": (("therapist", "own"), ("supervisor", "supervisee")),
    "attempt.create": (("trainee", "own"),),
    "attempt.view": (("trainee", "own"), ("supervisor", "supervisee")),
    "attempt.edit": (("trainee", "own"),),
    "scenario.view": (("trainee", "any"), ("supervisor", "any")),
    "audit.view": (("admin", "any"), ("supervisor", "supervised_or_own")),
    "audit.export": (("admin", "any"), ("supervisor", "supervised_or_own")),
    "accounts.manage": (("admin", "any"),),
}

# The kind of stored row each action may be about; actions not listed are about no row.
KIND_OF: dict[Action, CaseKind] = {
    action: "attempt" if action.startswith("attempt.") else "case"
    for action in RULES
    if action.split(".")[0] in ("case", "caseload", "attempt")
}


class AccessDenied(Exception):
    """The actor may not take ``action`` (on this case), said plainly."""

    def __init__(self, action: Action) -> None:
        super().__init__(
            f"You cannot {ACTIONS[action]}: your account's roles do not allow it. "
            "Ask an administrator if you need access."
        )
        self.action = action


def allowed(
    actor: Actor,
    action: Action,
    case_owner: str | None = None,
    case_kind: CaseKind | None = None,
) -> bool:
    """Whether ``actor`` may take ``action`` on a case (or attempt) of ``case_owner``.

    ValueError for an unknown action or kind.
    """
    if action not in RULES:
        raise ValueError(f"unknown action {action!r}")
    if case_kind not in (None, "case", "attempt"):
        raise ValueError(f"unknown case kind {case_kind!r}")
    if case_kind is not None and action in KIND_OF and KIND_OF[action] != case_kind:
        return False
    if actor.local:
        return True
    return any(
        role in actor.roles and _covers(actor, whose, case_owner) for role, whose in RULES[action]
    )


def require(
    actor: Actor,
    action: Action,
    case_owner: str | None = None,
    case_kind: CaseKind | None = None,
) -> None:
    """Raise AccessDenied unless :func:`allowed`."""
    if not allowed(actor, action, case_owner, case_kind):
        raise AccessDenied(action)


def visible_owners(actor: Actor, kind: CaseKind = "case") -> set[str] | None:
    """Whose cases (or attempts) ``actor`` may list; None for everyone's (the local user).

    A therapist lists their own cases, a trainee their own attempts, a supervisor those of their
    supervisees as well; anyone else (an admin) lists none.
    """
    if actor.local:
        return None
    own_role: Role = "trainee" if kind == "attempt" else "therapist"
    owners = {actor.username} if own_role in actor.roles else set()
    if "supervisor" in actor.roles:
        owners |= actor.supervisees
    return owners


def audit_owners(actor: Actor) -> set[str] | None:
    """Whose cases' audit entries ``actor`` may read; None for the whole log.

    Admins (and the local user) read the whole log, logins and account changes included. A
    supervisor reads only the entries about the cases they may read: their supervisees', and
    their own when also a therapist. Anyone else reads none.
    """
    if actor.local or "admin" in actor.roles:
        return None
    if "supervisor" not in actor.roles:
        return set()
    return set(actor.supervisees) | ({actor.username} if "therapist" in actor.roles else set())


def _covers(actor: Actor, whose: Whose, case_owner: str | None) -> bool:
    """Whether a grant over ``whose`` cases reaches a case of ``case_owner`` (None: any case)."""
    if whose == "any" or case_owner is None:
        return True
    own = case_owner == actor.username
    if whose == "own":
        return own
    if whose == "supervisee":
        return case_owner in actor.supervisees
    return case_owner in actor.supervisees or (own and "therapist" in actor.roles)
