"""Cases: create, list, open, change, copy, delete and import one; save their answers."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from tailoring import access
from tailoring.model.answers import (
    AllianceAnswer,
    PreferenceAnswer,
    Section,
    SocialAnswer,
    answer_problems,
    unknown_problems,
)
from tailoring.model.case import REFERENCE_PATTERN, Case, WalkStep, referral_problems
from tailoring.services.figures import refresh_case
from tailoring.services.files import case_from_fhir, is_fhir_bundle, parse_case_file
from tailoring.services.identifiers import check_identifiers
from tailoring.services.shared import (
    CaseFileError,
    audit,
    changing,
    content,
    current_actor,
    guard,
    require_on,
    team_mode,
    unit_of_work,
    validated_case,
    validation_problems,
)
from tailoring.storage.cases import CaseOwner, CaseSummary, StoredCase

# Case fields checked against the sessions' dates when they change.
REFERRAL_FIELDS = frozenset({"referral_date", "ending_date", "ending_reason"})

ANSWER_MODELS: dict[Section, type[PreferenceAnswer] | type[SocialAnswer] | type[AllianceAnswer]] = {
    "preferences": PreferenceAnswer,
    "social": SocialAnswer,
    "alliance": AllianceAnswer,
}


def reference_problems(reference: str) -> list[str]:
    """Why a case reference cannot be used; references must be pseudonymous codes, not names."""
    reference = reference.strip()
    if not re.fullmatch(REFERENCE_PATTERN, reference):
        return ["Use 2–32 letters, digits, dots or dashes, starting with a letter or digit."]
    if not any(c.isdigit() for c in reference):
        return ["Include at least one digit (e.g. TT-0423), so a reference cannot be a name."]
    if re.fullmatch(r"\d{10}", reference.replace("-", "").replace(".", "")):
        return ["That looks like an NHS number. Use your service's pseudonymous case code."]
    return []


def new_case(reference: str, protocol_id: str, sessions_available: int) -> int:
    """Create an empty case; raise CaseFileError or ReferenceTaken with a clear message."""
    problems = reference_problems(reference)
    if problems:
        raise CaseFileError([f"reference: {p}" for p in problems])
    actor = current_actor()
    access.require(actor, "case.create", actor.username, "case")
    case = validated_case(
        {
            "reference": reference.strip(),
            "protocol_id": protocol_id,
            "sessions_available": sessions_available,
            **({} if actor.local else {"therapist": actor.username}),
        }
    )
    with unit_of_work() as uow:
        case_id = uow.cases.create(case)
        refresh_case(case_id)
        audit("created", uow.cases.owner(case_id))
        return case_id


def list_cases(include_archived: bool = False) -> list[CaseSummary]:
    """The cases the current actor may see (all of them in local mode)."""
    with unit_of_work() as uow:
        listed = uow.cases.summaries(include_archived=include_archived)
    owners = access.visible_owners(current_actor())
    return listed if owners is None else [c for c in listed if c.therapist in owners]


def open_case(case_id: int) -> StoredCase:
    """A case or attempt, if the current actor may open it; the view is logged.

    The stored case names its holder, so the access check needs no query of its own (pages
    open the case on every rerun).
    """
    current_actor()  # NotSignedIn before anything is read
    with unit_of_work() as uow:
        stored = uow.cases.get(case_id)
        holder = CaseOwner(stored.id, stored.case.reference, stored.case.therapist, stored.kind)
        require_on("case.view", holder)
        audit("viewed", holder)
        return stored


def update_case(case_id: int, expected_version: int | None = None, **fields: Any) -> None:
    """Change the planned protocol, presenting problems, whether the patient chose low
    intensity after discussion, sessions available, anxiety measure, step, status, reference,
    referral date or ending."""
    if "anxiety_measure" in fields:
        measure = fields["anxiety_measure"]
        if measure not in {m.id for m in content().measures if m.role == "anxiety"}:
            raise CaseFileError([f"anxiety_measure: {measure!r} is not an anxiety measure"])
    if "reference" in fields:
        problems = reference_problems(fields["reference"])
        if problems:
            raise CaseFileError([f"reference: {p}" for p in problems])
    if "protocol_id" in fields:
        content().protocol(fields["protocol_id"])
    named = {k: v for k, v in fields.items() if k in ("problem", "second_problem")}
    unknown = unknown_problems(content(), **named)
    if unknown:
        raise CaseFileError(unknown)
    if "therapist" in fields and team_mode():
        raise access.AccessDenied("accounts.manage")
    with changing(case_id, "plan: " + ", ".join(sorted(fields))) as uow:
        if REFERRAL_FIELDS & set(fields):
            _check_referral(case_id, fields)
        uow.cases.update_case(case_id, expected_version, **fields)
        refresh_case(case_id)


def _check_referral(case_id: int, fields: dict[str, Any]) -> None:
    """CaseFileError when the new referral or ending disagrees with itself or the sessions."""
    with unit_of_work() as uow:
        case = uow.cases.get(case_id).case
    try:
        changed = Case.model_validate({**case.model_dump(), **fields})
    except ValidationError as exc:
        raise CaseFileError(validation_problems(exc)) from None
    problems = referral_problems(changed)
    if problems:
        raise CaseFileError(problems)


def set_step(case_id: int, step: WalkStep) -> None:
    """Remember the walk-through step the case is at; not logged (it changes nothing clinical)."""
    with unit_of_work() as uow:
        guard("case.edit", case_id)
        uow.cases.update_case(case_id, None, step=step)


def archive_case(case_id: int, archived: bool = True) -> None:
    with changing(case_id, "archived" if archived else "restored") as uow:
        uow.cases.update_case(case_id, None, status="archived" if archived else "active")


def duplicate_case(case_id: int, new_reference: str) -> int:
    """Copy a case the actor may see into the actor's own caseload (a supervisor's copy of a
    supervisee's case is the supervisor's, never a case made in someone else's caseload)."""
    problems = reference_problems(new_reference)
    if problems:
        raise CaseFileError([f"reference: {p}" for p in problems])
    actor = current_actor()
    with unit_of_work() as uow:
        guard("case.view", case_id)
        access.require(actor, "case.create", actor.username, "case")
        holder = None if actor.local else actor.username
        copy_id = uow.cases.duplicate(case_id, new_reference.strip(), therapist=holder)
        refresh_case(copy_id)
        audit("created", uow.cases.owner(copy_id), f"copy of case {case_id}")
        return copy_id


def delete_case(case_id: int) -> None:
    with unit_of_work() as uow:
        holder = guard("case.delete", case_id)
        uow.cases.delete(case_id)
        audit("deleted", holder)


def save_answer(
    case_id: int,
    section: Section,
    item_id: str,
    answer: dict[str, Any],
    expected_revision: int | None = None,
    allow_identifiers: bool = False,
) -> int:
    """Validate one answer against the content and save it; returns its new revision.

    A social-context note is checked for identifiers first (IdentifiersFound) unless
    ``allow_identifiers`` says the user saw the warning and keeps the text as written.
    """
    model = ANSWER_MODELS[section]
    with changing(case_id, f"answer {section} {item_id}") as uow:
        try:
            parsed = model.model_validate(answer)
        except ValidationError as exc:
            raise CaseFileError(validation_problems(exc, f"answers.{section}.{item_id}")) from None
        # After validation: its limit keeps an over-long note out of the identifier search.
        if isinstance(parsed, SocialAnswer) and not allow_identifiers:
            check_identifiers({"note": parsed.note})
        problems = answer_problems(content(), section, item_id, parsed)
        if problems:
            raise CaseFileError(problems)
        revision = uow.cases.save_answer(case_id, section, item_id, parsed, expected_revision)
        refresh_case(case_id)
        return revision


def import_case(text: str) -> int:
    """Store the case of a case file or a FHIR Bundle; return its id.

    CaseFileError or FhirError name what is wrong; ReferenceTaken if the reference is in use.
    """
    actor = current_actor()
    access.require(actor, "case.create", actor.username, "case")
    case = case_from_fhir(text) if is_fhir_bundle(text) else parse_case_file(text)
    if not actor.local:
        # A therapist imports into their own caseload, whoever the file names.
        case = case.model_copy(update={"therapist": actor.username})
    problems = reference_problems(case.reference)
    if problems:
        raise CaseFileError([f"reference: {p}" for p in problems])
    with unit_of_work() as uow:
        case_id = uow.cases.create(case)
        refresh_case(case_id)
        audit("created", uow.cases.owner(case_id), "imported")
        return case_id
