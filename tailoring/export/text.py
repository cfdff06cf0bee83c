"""Plain-text versions of the fit report, the session plan and a session, to paste into a record.

Clinical record systems take text, not PDFs: each text starts with what it is, the case
reference and the date it was made, so a pasted copy still says where it came from. No
formatting beyond line breaks and simple lists survives a paste, so none is used.
"""

from __future__ import annotations

import datetime

from tailoring.engine.indications import problem_words
from tailoring.model.content import ACTION_KIND_LABELS
from tailoring.model.report import (
    AGENDA_KIND_LABELS,
    INDICATION_LABELS,
    AgendaItem,
    DimensionFit,
    FitReport,
    SessionSummary,
)

NOTE = "Made with tailoring: supports clinical judgement, does not assess risk or diagnose."
# The preferences that say how and when the patient can attend, shown apart in the plan.
PRACTICALITIES = ("format", "availability")


def _header(title: str, report: FitReport, generated_on: datetime.date) -> list[str]:
    return [
        f"{title}, case {report.case_reference}",
        f"Date: {generated_on:%Y-%m-%d}",
        f"Planned protocol: {report.protocol_name}, {report.sessions_available} sessions available",
        f"Content version: {report.content_version}",
        *_problem_lines(report),
    ]


def _problem_lines(report: FitReport) -> list[str]:
    """The presenting problem and whether the planned protocol suits it (with the reasons)."""
    problem = problem_words(report.problem_titles) or "not recorded"
    found = report.indication
    reasons = " ".join(found.reasons)
    suits = f"{INDICATION_LABELS[found.status]}{f'. {reasons}' if reasons else ''}"
    return [f"Presenting problem: {problem}", f"Planned protocol for this problem: {suits}"]


def fit_value(report: FitReport, none: str = "not enough answers yet") -> str:
    """The overall fit as it is shown: a contraindication in place of any figure."""
    if report.contraindicated:
        return "none (contraindicated)"
    if report.overall_fit is None:
        return none
    return f"{round(report.overall_fit)} / 100"


def contraindication_words(report: FitReport) -> str:
    """Why the planned protocol is not offered, in a sentence or two; '' when it may be."""
    if not report.contraindicated:
        return ""
    return (
        f"{report.protocol_name} is contraindicated, whatever the preferences say: "
        f"{' '.join(report.indication.reasons)} Choose another protocol."
    )


def _fit_line(report: FitReport) -> str:
    done = report.completeness
    answered = f"{done.percent}% of questions answered ({done.answered} of {done.total})"
    if report.contraindicated:
        return (
            "Overall fit: none, the planned protocol is contraindicated (see above): choose "
            f"another protocol; {answered}"
        )
    capped = "; capped by a demand the patient cannot meet" if report.capped else ""
    return f"Overall fit: {fit_value(report)}; {answered}{capped}"


def practicalities(report: FitReport) -> list[str]:
    """The patient's stated ways of meeting and times they can attend: "title: answer"."""
    return [
        f"{d.title}: {'; '.join(t.answer for t in d.triggers)}"
        for d in report.dimensions
        if d.item_id in PRACTICALITIES and d.triggers
    ]


def with_where(report: FitReport) -> list[AgendaItem]:
    """The session plan with each signposting item's what and where (its action's description)
    added to its detail: the agenda alone names the action and the flags behind it."""
    where = {
        a.title: a.description for f in report.flags for a in f.actions if a.kind == "signpost"
    }
    return [
        item.model_copy(update={"detail": f"{where[item.title]} (For: {item.detail}.)"})
        if item.kind == "signpost" and item.title in where
        else item
        for item in report.session_plan
    ]


def _agenda_item(item: AgendaItem) -> list[str]:
    return [f"[ ] {item.title} ({AGENDA_KIND_LABELS[item.kind]})", f"    {item.detail}"]


def _dimension(dimension: DimensionFit) -> str:
    fit = "unanswered" if dimension.fit is None else f"{round(dimension.fit)} / 100"
    return f"- {dimension.title}: {fit} ({dimension.status}). {dimension.explanation}"


def _flags(report: FitReport, with_actions: bool) -> list[str]:
    if not report.flags:
        return ["No flags raised."]
    lines = []
    for severity, flags in report.flags_by_severity().items():
        for flag in flags:
            lines.append(f"- {severity.capitalize()}: {flag.title} ({flag.theme_title})")
            if with_actions:
                lines.append(f"    {flag.explanation}")
                lines.extend(
                    f"    {ACTION_KIND_LABELS[a.kind]}: {a.title}. {a.description}"
                    for a in flag.actions
                )
    return lines


def session_plan_text(report: FitReport, generated_on: datetime.date) -> str:
    """The session plan as text: the fit, the patient's practicalities, the agenda and flags."""
    lines = [*_header("Session plan", report, generated_on), _fit_line(report), ""]
    stated = practicalities(report)
    if stated:
        lines += ["Practicalities (as the patient stated them)", *(f"- {p}" for p in stated), ""]
    lines.append("Agenda")
    for item in with_where(report):
        lines += _agenda_item(item)
    if not report.session_plan:
        lines.append("No agenda items yet.")
    lines += ["", "Flags", *_flags(report, with_actions=False), "", NOTE]
    return "\n".join(lines) + "\n"


def fit_report_text(report: FitReport, generated_on: datetime.date) -> str:
    """The whole fit report as text: fit by dimension, flags with what to do, alternatives."""
    lines = [*_header("Fit report", report, generated_on), _fit_line(report), ""]
    stated = practicalities(report)
    if stated:
        lines += ["Practicalities (as the patient stated them)", *(f"- {p}" for p in stated), ""]
    lines.append("Fit by dimension")
    lines += [_dimension(d) for d in report.dimensions]
    lines += ["", "Flags, with what to do", *_flags(report, with_actions=True), ""]
    alliance = report.alliance
    score = "no rating yet" if alliance.score is None else f"{round(alliance.score)} / 100"
    lines.append(f"Alliance: {score} ({alliance.answered} of {alliance.total} answered)")
    if alliance.ruptures:
        lines.append(f"Rupture signs: {', '.join(alliance.ruptures)}")
    if report.alternatives:
        lines += ["", "Alternatives"]
        for alt in report.alternatives:
            fit = "no fit yet" if alt.fit is None else f"fit {round(alt.fit)}"
            indication = INDICATION_LABELS[alt.indication].lower()
            lines.append(
                f"- {alt.protocol_name} ({alt.step}, {alt.sessions} sessions): {indication}; {fit}"
            )
            if alt.why:
                lines.append(f"    Why: {' '.join(alt.why)}")
            if alt.fixes:
                lines.append(f"    Would avoid: {'; '.join(alt.fixes)}")
            if alt.breaks:
                lines.append(f"    Would break: {'; '.join(alt.breaks)}")
    if report.ruled_out:
        lines += ["", "Ruled out (contraindicated: never suggested)"]
        lines += [f"- {r.protocol_name}: {' '.join(r.reasons)}" for r in report.ruled_out]
    lines += ["", NOTE]
    return "\n".join(lines) + "\n"


def session_text(reference: str, session: SessionSummary, generated_on: datetime.date) -> str:
    """One session as text: attendance, each measure's total and band, the alliance."""
    lines = [
        f"Session {session.number} summary, case {reference}",
        f"Date: {generated_on:%Y-%m-%d} (session held {session.date:%Y-%m-%d})",
        f"Kind: {session.kind.replace('_', ' ')}; attendance: {session.attendance}",
        "",
        "Measures",
    ]
    for score in session.scores:
        if score.complete:
            lines.append(f"- {score.short_name}: {score.total} of {score.max_total} ({score.band})")
        else:
            lines.append(
                f"- {score.short_name}: partial, {score.answered + score.not_applicable} of "
                f"{score.items} items answered (not scored)"
            )
        if score.risk:
            lines.append(
                f"    {score.short_name}: an answer above 0 on the item about thoughts of being "
                "better off dead or of self-harm: follow the service's local risk procedure."
            )
    if not session.scores:
        lines.append("No measures recorded.")
    alliance = session.alliance
    if alliance is not None and alliance.score is not None:
        lines += ["", f"Alliance: {round(alliance.score)} / 100"]
        if alliance.ruptures:
            lines.append(f"Rupture signs: {', '.join(alliance.ruptures)}")
    lines += ["", NOTE]
    return "\n".join(lines) + "\n"
