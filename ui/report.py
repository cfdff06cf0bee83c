"""Draws a fit report: overall fit, per-dimension chart, flags, alternatives and session plan."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from tailoring.export.text import (
    contraindication_words,
    practicalities,
    problem_words,
    with_where,
)
from tailoring.model.report import (
    AGENDA_KIND_LABELS,
    INDICATION_LABELS,
    DimensionFit,
    FitReport,
    Flag,
)
from ui.common import wrapped_table

SEVERITY_HEADINGS = {
    "high": ("High", "Act on these before or in the next session."),
    "medium": ("Medium", "Plan for these over the next sessions."),
    "low": ("Low", "Keep in mind."),
}
SEVERITY_ICONS = {
    "high": ":material/error:",
    "medium": ":material/warning:",
    "low": ":material/info:",
}
STATUS_WORDS = {
    "fit": "Fits",
    "adapt": "Fits; adapt within",
    "mismatch": "Mismatch",
    "unanswered": "Not answered",
}


def source_note(used: str, where: str = "Change it on the Patient questionnaires page.") -> None:
    """Say whose answers the fit uses, when they are not the therapist's alone."""
    if used == "therapist":
        return
    st.caption(
        "This fit uses the patient's answers"
        + (" where given, else the therapist's" if used == "patient_where_present" else " only")
        + f". {where}"
    )


def severity_words(report: FitReport) -> str:
    """The latest measures in a line, e.g. 'PHQ-9 22 (severe, more severe depression)'."""
    parts = []
    for found in (report.severity.depression, report.severity.anxiety):
        if found is None:
            continue
        split = f", {found.split.replace('_', ' ')} depression" if found.split else ""
        parts.append(
            f"{found.short_name} {found.total} ({found.band.lower()}{split}; session "
            f"{found.session})"
        )
    return "; ".join(parts) or "no complete measure recorded yet"


def problem_and_indication(report: FitReport, contraindication_shown: bool = False) -> None:
    """The presenting problem, its severity and whether the planned protocol suits it.

    ``contraindication_shown``: the headline above already says the protocol is contraindicated.
    """
    problem = (
        problem_words(report.problem_titles)
        or "not recorded (record it in the walk-through's plan)"
    )
    st.markdown(f"**Presenting problem:** {problem}  \n**Severity:** {severity_words(report)}")
    found = report.indication
    words = f"{report.protocol_name}: {INDICATION_LABELS[found.status].lower()}."
    reasons = " ".join(found.reasons)
    if found.status == "indicated":
        st.success(words, icon=":material/check_circle:")
    elif found.status == "contraindicated":
        if not contraindication_shown:
            contraindication(report)
    elif found.status == "not_indicated":
        st.error(f"{words} {reasons}", icon=":material/block:")
    else:
        st.warning(f"{words} {reasons}", icon=":material/warning:")


def contraindication(report: FitReport) -> None:
    """The planned protocol is ruled out: said first, in place of any fit."""
    st.error(contraindication_words(report), icon=":material/block:")


def headline(report: FitReport) -> None:
    if report.contraindicated:
        contraindication(report)
    fit_col, flags_col, done_col, alliance_col = st.columns(4)
    if report.contraindicated:
        fit_col.metric(
            "Overall fit",
            "Contraindicated",
            help="A contraindicated protocol is not offered, so no fit is given for it however "
            "the preferences compare.",
        )
    elif report.overall_fit is None:
        fit_col.metric("Overall fit", "—", help="Answer preferences that matter to the patient.")
    else:
        fit_col.metric(
            "Overall fit",
            f"{report.overall_fit:.0f} / 100",
            help="Fit of the patient's preferences to the planned protocol: the "
            "importance-weighted mean of the dimensions answered. Social context and the "
            "alliance show as flags, not in this figure.",
        )
    counts = {s: len(f) for s, f in report.flags_by_severity().items()}
    flags_col.metric(
        "Flags",
        f"{counts['high']} high" if counts["high"] else str(len(report.flags)),
        help=f"{counts['high']} high, {counts['medium']} medium, {counts['low']} low.",
    )
    done_col.metric(
        "Answers complete",
        f"{report.completeness.percent}%",
        help=f"{report.completeness.answered} of {report.completeness.total} questions.",
    )
    score = report.alliance.score
    alliance_col.metric(
        "Alliance check",
        "—" if score is None else f"{score:.0f} / 100",
        help=f"{report.alliance.answered} of {report.alliance.total} ratings answered.",
    )
    if report.capped:
        st.warning(
            f"The preferences alone fit {report.preference_fit:.0f}, but the patient cannot meet a "
            "demand of this protocol, so the overall fit is capped at 40."
        )
    missing = [f"{s} {a}/{t}" for s, (a, t) in report.completeness.by_section.items() if a < t]
    if report.problem is None:
        missing.append("the presenting problem (so the indication is not checked)")
    if missing:
        st.caption(
            "Unanswered questions are left out of the fit, never counted as agreement: "
            + ", ".join(missing)
            + "."
        )


@st.cache_resource(max_entries=256, show_spinner=False)
def scale_chart(
    titles: list[str],
    low: list[float],
    high: list[float],
    default: list[float],
    patient: list[DimensionFit] | None = None,
) -> go.Figure:
    """Protocol default and flexibility per scale; with the patient's positions when given."""
    fig = go.Figure()
    fig.add_bar(
        y=titles,
        x=[h - lo + 0.2 for lo, h in zip(low, high, strict=True)],
        base=[lo - 0.1 for lo in low],
        orientation="h",
        name="Protocol's flexibility",
        marker_color="rgba(80, 130, 200, 0.25)",
        customdata=high,
        hovertemplate="%{y}: protocol can stretch %{base:.0f}–%{customdata}<extra></extra>",
    )
    fig.add_scatter(
        y=titles,
        x=default,
        mode="markers",
        name="Protocol default",
        marker={"symbol": "diamond", "size": 12, "color": "#1f4e8c"},
    )
    answered = [d for d in patient or [] if d.patient is not None]
    if answered:
        fig.add_scatter(
            y=[d.title for d in answered],
            x=[d.patient for d in answered],
            mode="markers",
            name="Patient preference (size = importance)",
            marker={
                "size": [10 + 5 * d.weight for d in answered],
                "color": ["#c0392b" if d.status == "mismatch" else "#2e8b57" for d in answered],
                "line": {"width": 1, "color": "white"},
            },
            hovertemplate="%{y}: patient at %{x}<extra></extra>",
        )
    fig.update_layout(
        height=90 + 42 * len(titles),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"range": [0.5, 5.5], "dtick": 1, "title": "1 ← scale → 5"},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "y": 1.12},
    )
    return fig


def dimension_chart(report: FitReport) -> go.Figure:
    """Patient position against the protocol's default and flexibility range, per scale."""
    scales = [d for d in report.dimensions if d.protocol_low is not None]
    return scale_chart(
        [d.title for d in scales],
        [d.protocol_low or 0 for d in scales],
        [d.protocol_high or 0 for d in scales],
        [d.protocol_default or 0 for d in scales],
        scales,
    )


def dimensions_table(dimensions: list[DimensionFit]) -> None:
    with_source = any(d.source is not None for d in dimensions)
    rows = [
        {
            "Dimension": d.title,
            **({"Answer from": SOURCE_WORDS[d.source] if d.source else "—"} if with_source else {}),
            "Status": STATUS_WORDS[d.status],
            "Fit": _number(d.fit),
            "Weight": f"{d.weight:g}",
            "Why": d.explanation,
        }
        for d in dimensions
    ]
    wrapped_table(rows, "report.dimensions")


def _number(value: float | None, sign: str = "") -> str:
    return "—" if value is None else f"{value:{sign}.0f}"


SOURCE_WORDS = {"patient": "Patient", "therapist": "Therapist"}


def flag_card(flag: Flag) -> None:
    with st.expander(
        flag.title, expanded=flag.severity == "high", icon=SEVERITY_ICONS[flag.severity]
    ):
        st.markdown(f"**Theme:** {flag.theme_title}" + (" · hard mismatch" if flag.hard else ""))
        st.text(flag.explanation)
        st.markdown("**Answers behind it**")
        for trigger in flag.triggers:
            st.text(f"• {trigger.question}\n  → {trigger.answer}")
        st.markdown("**What to do**")
        for act in flag.actions:
            st.markdown(f"- **{AGENDA_KIND_LABELS[act.kind]}:** {act.title}")
            st.caption(act.description)


def flags_section(report: FitReport) -> None:
    if not report.flags:
        st.success("No flags: the plan fits what has been answered so far.")
        return
    for severity, flags in report.flags_by_severity().items():
        if not flags:
            continue
        heading, hint = SEVERITY_HEADINGS[severity]
        st.markdown(f"#### {heading} ({len(flags)})")
        st.caption(hint)
        for flag in flags:
            flag_card(flag)


def alternatives_table(report: FitReport) -> None:
    rows = [
        {
            "Protocol": a.protocol_name,
            "Indication": INDICATION_LABELS[a.indication],
            "Why": " ".join(a.why) or "—",
            "Step": a.step,
            "Sessions": a.sessions,
            "Fit": _number(a.fit),
            "Change": _number(a.change, "+"),
            "Would fix": "; ".join(a.fixes) or "—",
            "Would break": "; ".join(a.breaks) or "—",
        }
        for a in report.alternatives
    ]
    wrapped_table(rows, "report.alternatives")
    if report.ruled_out:
        st.markdown("**Ruled out** (contraindicated: never suggested)")
        for found in report.ruled_out:
            st.caption(f"{found.protocol_name}: {' '.join(found.reasons)}")


def session_plan(report: FitReport) -> None:
    stated = practicalities(report)
    if stated:
        st.markdown("**Practicalities, as the patient stated them:** " + " · ".join(stated))
    if not report.session_plan:
        st.info("Nothing to add to the agenda from the answers so far.")
    for number, item in enumerate(with_where(report), start=1):
        st.markdown(f"{number}. **{item.title}** — _{AGENDA_KIND_LABELS[item.kind]}_")
        st.caption(item.detail)


def full_report(report: FitReport, with_headline: bool = True) -> None:
    """The whole report, in the order a clinician reads it (the headline figures first)."""
    if with_headline:
        headline(report)
    problem_and_indication(report, contraindication_shown=with_headline)
    st.subheader("Dimension by dimension")
    if report.contraindicated:
        st.caption(
            "These compare the patient's preferences with the protocol, nothing more: it is "
            "contraindicated, so it is not offered however well they match."
        )
    st.plotly_chart(dimension_chart(report), width="stretch", key="report.chart")
    with st.expander("Figures and explanations for every dimension"):
        dimensions_table(report.dimensions)
    st.subheader("Flags")
    flags_section(report)
    st.subheader("Alternative protocols")
    st.caption(
        "Ranked by indication for the recorded problem first, then by fit. 'Would fix' lists "
        "the plan's flags the alternative avoids; 'would break' lists flags it raises that the "
        "plan does not."
    )
    alternatives_table(report)
    st.subheader("Session plan")
    session_plan(report)
