"""Patient questionnaires: links a therapist sends, and the patient's side of them.

A therapist sends the patient a questionnaire by link (docs/patient-questionnaires.md). The code
is shown once and stored only as a hash. The patient has no account: on their side the code is the
only key, so those use cases never ask who is signed in, and they show nothing but the
questionnaire. The therapist's side is guarded and audited like every other use of a case.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from tailoring import access
from tailoring.engine import patient_questionnaires as link_codes
from tailoring.model.actor import local_actor
from tailoring.model.patient_content import PatientWording, SetId
from tailoring.model.patient_questionnaires import (
    AskedQuestionnaire,
    PatientLink,
    Question,
    asked_questionnaires,
    parse_answer,
)
from tailoring.services.figures import refresh_case
from tailoring.services.identifiers import check_identifiers
from tailoring.services.shared import (
    PATIENT_USER,
    UNKNOWN_CODE,
    CaseFileError,
    acting_as,
    audit,
    changing,
    content,
    current_actor,
    current_user,
    guard,
    unit_of_work,
)
from tailoring.storage.audit import AuditAction
from tailoring.storage.errors import (
    LinkClosed,
    PatientLinkNotFound,
)
from tailoring.storage.patient_questionnaires import (
    CaseLink,
    RiskAnswer,
)

LinkRefused = link_codes.LinkRefused
TooManyAttempts = link_codes.TooManyAttempts
DEFAULT_LINK_DAYS = link_codes.DEFAULT_LIFETIME.days


def risk_item_keys() -> list[str]:
    """The answer keys of the risk items (PHQ-9 item 9) in a patient's questionnaire."""
    return [f"measure.{m.id}.{m.risk_item}" for m in content().measures if m.risk_item]


def link_risks(therapist: str | None = None) -> list[RiskAnswer]:
    """Risk items answered above 0 by link, finished or partly answered, on the active cases
    the current actor may see, newest first. The app does not assess risk: each one points to
    the local risk procedure."""
    with unit_of_work() as uow:
        found = uow.patient_questionnaires.risk_answers(risk_item_keys(), therapist)
    owners = access.visible_owners(current_actor())
    return [r for r in found if owners is None or r.therapist in owners]


def case_link_risks(case_id: int) -> list[RiskAnswer]:
    """The risk answers above 0 given by link on one case, finished or partly answered."""
    with unit_of_work():
        guard("case.view", case_id)
        return [r for r in link_risks() if r.case_id == case_id]


def create_patient_link(
    case_id: int,
    questionnaires: Mapping[SetId, int | None],
    days: int = DEFAULT_LINK_DAYS,
) -> tuple[PatientLink, str]:
    """A new link for the case's patient carrying these questionnaires (each set mapped to the
    session it is about, None for the preferences), in this order, and its code: the only time
    the code is known (only its hash is stored). ValueError for a set, session or lifetime that
    does not fit; CaseFileError for a practice attempt."""
    with unit_of_work() as uow:
        holder = guard("case.edit", case_id)
        assert holder is not None
        if holder.kind != "case":
            raise CaseFileError(
                ["patient questionnaires are for real cases, not practice attempts"]
            )
        now = link_codes.utc_now()
        code = link_codes.new_code()
        link = uow.patient_questionnaires.create_link(
            case_id,
            questionnaires,
            link_codes.token_hash(code),
            current_user(),
            link_codes.expiry(now, timedelta(days=days)),
            now,
        )
        sets = ", ".join(q.set_id for q in link.questionnaires)
        audit("changed", holder, f"patient link {link.id} created ({sets})")
    return link, link_codes.format_code(code)


def link_sessions(case_id: int) -> dict[SetId, int]:
    """The session each questionnaire about a session is first offered for in a new link:
    before the next one not yet recorded, after the last one recorded."""
    with unit_of_work() as uow:
        guard("case.view", case_id)
        recorded = [s.number for s in uow.cases.get(case_id).case.sessions]
    return link_codes.suggested_sessions(recorded)


def patient_links(case_id: int) -> list[PatientLink]:
    """Every questionnaire link of the case, newest first, with how many items were answered."""
    with unit_of_work() as uow:
        guard("case.view", case_id)
        return uow.patient_questionnaires.links(case_id)


def extend_patient_link(link_id: int, days: int = DEFAULT_LINK_DAYS) -> PatientLink:
    """Give the patient ``days`` more (from the expiry, or from now once expired; at most 42 days
    from now). ValueError for a revoked link."""
    with unit_of_work() as uow:
        link = uow.patient_questionnaires.link(link_id)
        new_expiry = link_codes.extended_expiry(link, link_codes.utc_now(), timedelta(days=days))
        with changing(link.case_id, f"patient link {link_id} extended"):
            return uow.patient_questionnaires.extend(link_id, new_expiry)


def expire_patient_link(link_id: int) -> PatientLink:
    """Stop the link now; it can be extended again."""
    with unit_of_work() as uow:
        link = uow.patient_questionnaires.link(link_id)
        with changing(link.case_id, f"patient link {link_id} expired"):
            return uow.patient_questionnaires.expire(link_id)


def revoke_patient_link(link_id: int) -> PatientLink:
    """Stop the link for good; its answers no longer count (it may have reached someone else)."""
    with unit_of_work() as uow:
        link = uow.patient_questionnaires.link(link_id)
        with changing(link.case_id, f"patient link {link_id} revoked"):
            return uow.patient_questionnaires.revoke(link_id)


def _visible(links: list[CaseLink]) -> list[CaseLink]:
    owners = access.visible_owners(current_actor())
    return links if owners is None else [c for c in links if c.therapist in owners]


def outstanding_links(therapist: str | None = None) -> list[CaseLink]:
    """Questionnaires still waiting for the patient, on the cases the actor may see (of one
    therapist, or all), those expiring soonest first."""
    with unit_of_work() as uow:
        return _visible(uow.patient_questionnaires.outstanding(therapist))


def returned_since_seen(therapist: str | None = None) -> list[CaseLink]:
    """Questionnaires that came back since the therapist last looked, newest first."""
    with unit_of_work() as uow:
        return _visible(uow.patient_questionnaires.returned_since_seen(therapist))


def mark_link_seen(link_id: int) -> PatientLink:
    """Record that the therapist has looked at what came back through the link."""
    with unit_of_work() as uow:
        link = uow.patient_questionnaires.link(link_id)
        guard("case.view", link.case_id)
        return uow.patient_questionnaires.mark_seen(link_id)


def open_patient_link(code: str, client: str | None) -> PatientLink:
    """The link a typed or scanned code opens, recorded as opened.

    The same LinkRefused for an unknown, mistyped, expired or revoked code; TooManyAttempts
    after repeated wrong codes from the client address ``client`` (None when not known: such
    clients share one bucket), counted in the database, right code or wrong. The audit log gets
    each opening and each refused code, with the link when the code belongs to one (never the
    code or the client); attempts while a client is paused are refused unread and not logged,
    so a guesser cannot fill the log.
    """
    now = link_codes.utc_now()
    bucket, policy = link_codes.code_client_bucket(client)
    with unit_of_work() as uow:
        locked = uow.sign_in_attempts.locked_until([bucket], now)
        if locked is not None:
            raise TooManyAttempts(locked, now)
        found: list[PatientLink] = []

        def find(token_hash: str) -> PatientLink | None:
            link = uow.patient_questionnaires.find_by_hash(token_hash)
            found.extend([link] if link else [])
            return link

        try:
            link = link_codes.resolve(code, now, find)
        except LinkRefused as wrong:
            locked = uow.sign_in_attempts.fail(bucket, policy, now).lock_at(now)
            if locked is not None:
                _audit_refused_code(found, "; too many wrong codes, client paused")
                refused: LinkRefused | TooManyAttempts = TooManyAttempts(locked, now)
            else:
                _audit_refused_code(found, "")
                refused = wrong
        else:
            opened = uow.patient_questionnaires.mark_opened(link.id)
            _audit_patient("viewed", opened, "questionnaire opened by its code")
            return opened
    # Refused once the wrong code is stored: counted towards the pause, and in the audit log.
    raise refused


def _audit_patient(action: AuditAction, link: PatientLink, detail: str) -> None:
    """Log what came through ``link``: the link stands for the anonymous patient; never answers."""
    with unit_of_work() as uow:
        holder = uow.cases.owner(link.case_id)
        uow.record(f"patient link {link.id}", action, holder.id, holder.reference, detail)


def _audit_refused_code(found: list[PatientLink], paused: str) -> None:
    if not found:
        with unit_of_work() as uow:
            uow.record(UNKNOWN_CODE, "code_refused", detail=f"no link has this code{paused}")
        return
    link = found[0]
    why = "was revoked" if link.revoked_at is not None else "has expired"
    _audit_patient("code_refused", link, f"code of a link that {why}{paused}")


def patient_link(link_id: int) -> PatientLink:
    """A link the patient opened earlier in this visit, while it still works (LinkRefused once
    it expired, was revoked or was deleted with its case)."""
    try:
        with unit_of_work() as uow:
            link = uow.patient_questionnaires.link(link_id)
    except PatientLinkNotFound:
        raise LinkRefused() from None
    if not link.usable(link_codes.utc_now()):
        raise LinkRefused()
    return link


def patient_wording() -> PatientWording:
    """The words on every questionnaire: importance, saving, urgent help and the thank-you."""
    patient = content().patient
    if patient is None:
        raise KeyError("this content has no patient questionnaires (content/patient/)")
    return patient.wording


def link_questionnaires(link: PatientLink) -> list[AskedQuestionnaire]:
    """The link's questionnaires in order, each with its pages of questions (a question asked by
    an earlier one of the link is not asked again), with the case's own anxiety measure."""
    with unit_of_work() as uow:
        anxiety = uow.cases.get(link.case_id).case.anxiety_measure
    return asked_questionnaires(content(), link, anxiety)


def patient_questions(link: PatientLink) -> list[Question]:
    """Every question the link asks, in the order the patient meets them."""
    return [q for asked in link_questionnaires(link) for q in asked.questions]


def patient_link_answers(link_id: int) -> dict[str, dict[str, Any]]:
    """What the patient has answered through the link so far, by item key."""
    return patient_link_answers_at(link_id)[0]


def patient_link_answers_at(
    link_id: int,
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """What the patient has answered through the link so far, and the revision of each answer
    (to pass back when saving a change to it), by item key, read together."""
    with unit_of_work() as uow:
        patient_link(link_id)
        answers = uow.patient_questionnaires.answers(link_id)
    return (
        {key: answer.payload for key, answer in answers.items()},
        {key: answer.revision for key, answer in answers.items()},
    )


def save_patient_answer(
    link_id: int,
    item_key: str,
    payload: dict[str, Any],
    expected_revision: int | None = None,
) -> int:
    """Check one answer against its question and save it as given, under the questionnaire of
    the link that asks it; returns the answer's new revision.

    LinkRefused once the link stopped working, LinkClosed once it is finished, ValueError for an
    answer that does not fit the question. Free text is checked for identifiers
    (IdentifiersFound, nothing saved); patients are not offered to save it as written, only to
    remove what was found or to change the text. With ``expected_revision`` (0: not answered
    yet), StaleAnswer if the answer was saved meanwhile from another page of the same link.
    """
    with unit_of_work() as uow:
        link = patient_link(link_id)
        if not link.accepts_answers(link_codes.utc_now()):
            raise LinkClosed()
        asking = {
            q.key: (asked.set_id, q) for asked in link_questionnaires(link) for q in asked.questions
        }
        if item_key not in asking:
            raise ValueError(f"{item_key!r} is not a question of this link's questionnaires")
        set_id, question = asking[item_key]
        parsed = parse_answer(question, payload)
        if question.kind == "open" and isinstance(parsed["value"], str):
            parsed["value"] = parsed["value"].strip() or None
            if parsed["value"]:
                check_identifiers({item_key: parsed["value"]})
        revision = uow.patient_questionnaires.save_answer(
            link_id, set_id, item_key, parsed, expected_revision=expected_revision
        )
        _refresh_for_patient(link.case_id)
        _audit_patient("answered", link, f"answer {item_key}")
    return revision


def finish_patient_questionnaire(link_id: int, set_id: SetId) -> PatientLink:
    """The patient is done with one questionnaire of the link: it shows as done on their list.
    Its answers can still change until the whole link is finished. LinkRefused or LinkClosed as
    for an answer; ValueError if the link carries no such questionnaire."""
    with unit_of_work() as uow:
        link = patient_link(link_id)
        if not link.accepts_answers(link_codes.utc_now()):
            raise LinkClosed()
        done = uow.patient_questionnaires.finish_questionnaire(link_id, set_id)
        carried = link.questionnaire(set_id)
        if carried is not None and carried.done_at is None:
            _audit_patient("answered", link, f"questionnaire {set_id} done")
        return done


def complete_patient_link(link_id: int) -> PatientLink:
    """The patient has finished: the answers stop changing and the therapist is told."""
    with unit_of_work() as uow:
        link = patient_link(link_id)
        completed = uow.patient_questionnaires.complete(link_id)
        if link.completed_at is None:
            _audit_patient("answered", link, "questionnaire finished")
        return completed


def _refresh_for_patient(case_id: int) -> None:
    """Keep the case's figures current after a patient's answer, when its fit uses them."""
    with unit_of_work() as uow:
        source = uow.patient_questionnaires.answer_source(case_id) or "therapist"
    if source != "therapist":
        # The patient has no account: the flags this raises are the patient link's doing.
        with acting_as(local_actor(PATIENT_USER)):
            refresh_case(case_id)
