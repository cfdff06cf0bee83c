"""Assembles the fit report of a case: the planned protocol's fit, flags, alternatives and plan."""

from __future__ import annotations

from tailoring.engine.fit import (
    HARD_MISMATCH_CAP,
    capped,
    dimension_fits,
    is_answered,
    raw_fits,
    weighted_fit,
)
from tailoring.engine.flags import alliance_summary, independent_flags, protocol_flags
from tailoring.engine.outcomes import RISK_FLAG, case_outcomes, session_flags, session_summaries
from tailoring.engine.plan import session_plan
from tailoring.model.case import Answers, Case
from tailoring.model.content import ContentLibrary, Protocol
from tailoring.model.report import (
    SEVERITIES,
    Alternative,
    Completeness,
    FitReport,
    Flag,
    ProtocolFit,
)


def protocol_fit(
    content: ContentLibrary,
    case: Case,
    protocol: Protocol,
    planned: bool = True,
    independent: list[Flag] | None = None,
) -> ProtocolFit:
    """The fit of one protocol to the case: dimensions, overall figure and flags."""
    raws = raw_fits(content, case.answers, protocol)
    dimensions = dimension_fits(content, protocol, raws)
    flags = protocol_flags(content, case, protocol, dimensions, planned, independent)
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
    prefs = sum(is_answered(answers.preferences.get(i.id)) for i in content.preferences)
    social = sum(
        1
        for d in content.social
        if (a := answers.social.get(d.id)) is not None and a.present is not None
    )
    alliance = sum(
        1
        for i in content.alliance
        if (a := answers.alliance.get(i.id)) is not None and a.value is not None
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


def alternatives(content: ContentLibrary, case: Case, planned: ProtocolFit) -> list[Alternative]:
    """Every other protocol, best fit first, with what it would fix and what it would break."""
    planned_ids = {f.id for f in planned.flags}
    independent = independent_flags(content, case.answers)
    rows = []
    for protocol in content.protocols:
        if protocol.id == planned.protocol_id:
            continue
        other = protocol_fit(content, case, protocol, planned=False, independent=independent)
        other_ids = {f.id for f in other.flags}
        rows.append(
            Alternative(
                protocol_id=protocol.id,
                protocol_name=protocol.name,
                step=protocol.step.replace("_", " "),
                sessions=f"{protocol.sessions.min}–{protocol.sessions.max} × "
                f"{protocol.sessions.minutes} min",
                fit=other.overall,
                change=None
                if other.overall is None or planned.overall is None
                else round(other.overall - planned.overall, 1),
                fixes=[f.title for f in planned.flags if f.id not in other_ids],
                breaks=[f.title for f in other.flags if f.id not in planned_ids],
            )
        )
    return sorted(
        rows,
        key=lambda r: (r.fit is None, -(r.fit or 0), len(r.breaks) - len(r.fixes), r.protocol_id),
    )


def assess(content: ContentLibrary, case: Case) -> FitReport:
    """The full fit report of a case against its planned protocol, with its sessions.

    Session flags join the fit's flags, most severe first, the risk-item notice leading; they
    feed the session plan too. Alternatives are compared on the fit's flags alone.
    """
    protocol = content.protocol(case.protocol_id)
    planned = protocol_fit(content, case, protocol)
    others = alternatives(content, case, planned)
    flags = sorted(
        [*session_flags(content, case, planned), *planned.flags],
        key=lambda f: (SEVERITIES.index(f.severity), f.id != RISK_FLAG),
    )
    return FitReport(
        case_reference=case.reference,
        content_version=content.version,
        protocol_id=protocol.id,
        protocol_name=protocol.name,
        sessions_available=case.sessions_available,
        overall_fit=planned.overall,
        capped=planned.capped,
        preference_fit=planned.preference_fit,
        completeness=completeness(content, case.answers),
        dimensions=planned.dimensions,
        flags=flags,
        alliance=alliance_summary(content, case.answers),
        alternatives=others,
        session_plan=session_plan(planned.model_copy(update={"flags": flags}), others),
        outcomes=case_outcomes(content, case) if case.sessions else None,
        sessions=session_summaries(content, case),
    )
