"""Assembles the fit report of a case: the planned protocol's fit, flags, alternatives and plan."""

from __future__ import annotations

from tailoring.engine.alliance import alliance_summary
from tailoring.engine.fit import (
    HARD_MISMATCH_CAP,
    capped,
    dimension_fits,
    is_answered,
    raw_fits,
    weighted_fit,
)
from tailoring.engine.flags import (
    RISK_FLAG,
    independent_flags,
    indication_flags,
    protocol_flags,
    session_flags,
)
from tailoring.engine.indications import (
    STATUS_ORDER,
    Picture,
    case_picture,
    indication,
    problems_of,
    withheld,
)
from tailoring.engine.outcomes import case_outcomes, session_summaries
from tailoring.engine.plan import session_plan
from tailoring.model.answers import Answers
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary, Protocol
from tailoring.model.report import (
    SEVERITIES,
    Alternative,
    Completeness,
    DimensionFit,
    FitReport,
    Flag,
    Indication,
    ProtocolFit,
)


def protocol_fit(
    content: ContentLibrary,
    case: Case,
    protocol: Protocol,
    planned: bool = True,
    independent: list[Flag] | None = None,
    picture: Picture | None = None,
) -> ProtocolFit:
    """The fit of one protocol to the case: dimensions, overall figure and flags.

    ``picture`` passes the case's severity and contraindications in when the caller scores many
    protocols for one case. A contraindicated protocol is not counted as working on any social
    domain: "make it a focus" must not send the patient into it.
    """
    if picture is None:
        picture = case_picture(content, case)
    raws = raw_fits(content, case.answers, protocol)
    dimensions = dimension_fits(content, protocol, raws)
    judged = (
        protocol.model_copy(update={"addresses_social": []})
        if picture.rules_out(protocol)
        else protocol
    )
    flags = sorted(
        [
            *indication_flags(content, case, protocol, picture),
            *protocol_flags(content, case, judged, dimensions, planned, independent),
        ],
        key=lambda f: SEVERITIES.index(f.severity),
    )
    preference = weighted_fit(raws)
    hard = any(f.hard for f in flags)
    overall = capped(preference, hard)
    return ProtocolFit(
        protocol_id=protocol.id,
        protocol_name=protocol.name,
        overall=overall,
        preference_fit=preference,
        capped=hard and preference is not None and preference > HARD_MISMATCH_CAP,
        dimensions=dimensions,
        flags=flags,
    )


def completeness(content: ContentLibrary, answers: Answers) -> Completeness:
    """How many checklist questions have an answer, overall and by section."""
    prefs = sum(1 for i in content.preferences if is_answered(answers.preferences.get(i.id)))
    social = sum(
        1
        for d in content.social
        if (a := answers.social.get(d.id)) is not None and a.present is not None
    )
    alliance = sum(
        1
        for i in content.alliance
        if (rating := answers.alliance.get(i.id)) is not None and rating.value is not None
    )
    by_section = {
        "preferences": (prefs, len(content.preferences)),
        "social": (social, len(content.social)),
        "alliance": (alliance, len(content.alliance)),
    }
    return Completeness(
        answered=prefs + social + alliance,
        total=sum(total for _, total in by_section.values()),
        by_section=by_section,
    )


def alternatives(
    content: ContentLibrary, case: Case, planned: ProtocolFit, picture: Picture
) -> tuple[list[Alternative], list[Indication]]:
    """Every other protocol that is not contraindicated, indicated first and then by fit, with
    what it would fix and break; and the contraindicated ones, never suggested, with why."""
    planned_ids = {f.id for f in planned.flags}
    independent = independent_flags(content, case.answers)
    rows = []
    ruled_out = []
    for protocol in content.protocols:
        if protocol.id == planned.protocol_id:
            continue
        found = indication(content, case, protocol, picture)
        if found.status == "contraindicated":
            ruled_out.append(found)
            continue
        other = protocol_fit(
            content, case, protocol, planned=False, independent=independent, picture=picture
        )
        other_ids = {f.id for f in other.flags}
        rows.append(
            Alternative(
                protocol_id=protocol.id,
                protocol_name=protocol.name,
                step=protocol.step.replace("_", " "),
                sessions=f"{protocol.sessions.min}–{protocol.sessions.max} × "
                f"{protocol.sessions.minutes} min",
                indication=found.status,
                why=found.reasons,
                fit=other.overall,
                change=None
                if other.overall is None or planned.overall is None
                else round(other.overall - planned.overall, 1),
                fixes=[f.title for f in planned.flags if f.id not in other_ids],
                breaks=[f.title for f in other.flags if f.id not in planned_ids],
            )
        )
    rows.sort(
        key=lambda r: (
            STATUS_ORDER.index(r.indication),
            r.fit is None,
            -(r.fit or 0),
            len(r.breaks) - len(r.fixes),
            r.protocol_id,
        )
    )
    return rows, ruled_out


def without_withheld(
    flags: list[Flag], dimensions: list[DimensionFit], unsafe: frozenset[str]
) -> tuple[list[Flag], list[DimensionFit]]:
    """Flags and dimensions with every action a recorded contraindication makes unsafe removed."""
    if not unsafe:
        return flags, dimensions
    return (
        [
            f.model_copy(
                update={"actions": [a for a in f.actions if a.adaptation_id not in unsafe]}
            )
            for f in flags
        ],
        [
            d.model_copy(
                update={"actions": [a for a in d.actions if a.adaptation_id not in unsafe]}
            )
            for d in dimensions
        ],
    )


def assess(content: ContentLibrary, case: Case) -> FitReport:
    """The full fit report of a case against its planned protocol, with its sessions.

    A contraindicated planned protocol gets no overall fit (nor do alternatives a change from
    it). Session flags join the fit's flags, most severe first, the risk-item notice leading; they
    feed the session plan too. Alternatives are compared on the fit's flags alone.
    """
    protocol = content.protocol(case.protocol_id)
    picture = case_picture(content, case)
    planned = protocol_fit(content, case, protocol, picture=picture)
    if picture.rules_out(protocol):
        # A contraindicated protocol is not offered, so it has no fit to show, however well the
        # preferences match: the indication says why, the preference figure stays beside it.
        planned = planned.model_copy(update={"overall": None, "capped": False})
    others, ruled_out = alternatives(content, case, planned, picture)
    flags, dimensions = without_withheld(
        sorted(
            [*session_flags(content, case, planned), *planned.flags],
            key=lambda f: (SEVERITIES.index(f.severity), f.id != RISK_FLAG),
        ),
        planned.dimensions,
        withheld(content, picture),
    )
    titles = [content.problem(p).title for p in problems_of(case)]
    return FitReport(
        case_reference=case.reference,
        content_version=content.version,
        protocol_id=protocol.id,
        protocol_name=protocol.name,
        sessions_available=case.sessions_available,
        problem=titles[0] if titles else None,
        second_problem=titles[1] if len(titles) > 1 else None,
        severity=picture.severity,
        indication=indication(content, case, protocol, picture),
        ruled_out=ruled_out,
        overall_fit=planned.overall,
        capped=planned.capped,
        preference_fit=planned.preference_fit,
        completeness=completeness(content, case.answers),
        dimensions=dimensions,
        flags=flags,
        alliance=alliance_summary(content, case.answers),
        alternatives=others,
        session_plan=session_plan(
            planned.model_copy(update={"flags": flags, "dimensions": dimensions}), others
        ),
        outcomes=case_outcomes(content, case) if case.sessions else None,
        sessions=session_summaries(content, case),
    )
