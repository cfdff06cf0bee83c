"""Charts and badges of a case's course: measures with bands, alliance, attendance, outcomes."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import plotly.graph_objects as go
import streamlit as st

from tailoring.model.measures import Measure
from tailoring.model.report import Outcomes, SessionSummary

BadgeColour = Literal["green", "red", "gray"]
BAND_COLOURS = ["#e8f5e9", "#fffde7", "#fff3e0", "#fbe9e7", "#ffebee"]
ATTENDANCE_COLOURS = {"attended": "#2e8b57", "did_not_attend": "#c0392b", "cancelled": "#999999"}
STATUS_WORDS: dict[str, tuple[str, BadgeColour]] = {
    "yes": ("Yes", "green"),
    "no": ("No", "red"),
    "not_enough_data": ("Not enough data", "gray"),
    "not_at_caseness": ("Not at caseness at start", "gray"),
}


def sessions_key(sessions: list[SessionSummary]) -> str:
    """A digest of the sessions a chart draws: the chart caches key on it, not on the sessions.

    Streamlit hashes cache arguments by walking them, about 8 ms for 40 pydantic sessions per
    chart; pydantic's own JSON and one SHA-1 take a fraction of that.
    """
    digest = hashlib.sha1(usedforsecurity=False)
    for session in sessions:
        digest.update(session.model_dump_json().encode())
    return digest.hexdigest()


ExpectedBand = tuple[tuple[int, float, float], ...]


def measure_chart(
    measure: Measure, sessions: list[SessionSummary], expected: ExpectedBand = ()
) -> go.Figure:
    """Totals over sessions on the measure's severity bands, with the caseness line and, where
    a curve covers the patient's start, the expected change and its not-on-track boundary."""
    return _measure_chart(measure.id, sessions_key(sessions), expected, measure, sessions)


def alliance_chart(sessions: list[SessionSummary]) -> go.Figure:
    """The alliance score at each session, with rupture markers named on hover."""
    return _alliance_chart(sessions_key(sessions), sessions)


def attendance_chart(sessions: list[SessionSummary]) -> go.Figure:
    return _attendance_chart(sessions_key(sessions), sessions)


@st.cache_resource(max_entries=256, show_spinner=False)
def _measure_chart(
    measure_id: str,
    key: str,
    expected: ExpectedBand,
    _measure: Measure,
    _sessions: list[SessionSummary],
) -> go.Figure:
    measure, sessions = _measure, _sessions
    points = [
        (s.number, score.total)
        for s in sessions
        for score in s.scores
        if score.measure_id == measure.id and score.complete
    ]
    partial = [
        s.number
        for s in sessions
        for score in s.scores
        if score.measure_id == measure.id and not score.complete and score.answered
    ]
    # Bands and the caseness line as plain layout shapes: plotly's add_hrect/add_hline helpers
    # cost tens of milliseconds each, and this page draws a dozen of them.
    shapes: list[dict[str, Any]] = [
        {
            "type": "rect",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "yref": "y",
            "y0": band.min - 0.5,
            "y1": band.max + 0.5,
            "line": {"width": 0},
            "layer": "below",
            "fillcolor": BAND_COLOURS[min(index, len(BAND_COLOURS) - 1)],
        }
        for index, band in enumerate(measure.bands)
    ]
    notes: list[dict[str, Any]] = [
        {
            "xref": "paper",
            "x": 0,
            "yref": "y",
            "y": band.max + 0.5,
            "text": band.label,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "top",
            "font": {"size": 10, "color": "#777"},
        }
        for band in measure.bands
    ]
    if measure.caseness is not None:
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": measure.caseness - 0.5,
                "y1": measure.caseness - 0.5,
                "line": {"dash": "dash", "color": "#555", "width": 1},
            }
        )
        notes.append(
            {
                "xref": "paper",
                "x": 1,
                "yref": "y",
                "y": measure.caseness - 0.5,
                "text": f"caseness ≥ {measure.caseness}",
                "showarrow": False,
                "xanchor": "right",
                "yanchor": "top",
                "font": {"size": 10},
            }
        )
    fig = go.Figure(layout={"shapes": shapes, "annotations": notes})
    if expected:
        numbers = [n for n, _, _ in expected]
        fig.add_scatter(
            x=numbers,
            y=[e for _, e, _ in expected],
            mode="lines",
            name="expected for this start",
            line={"color": "#7a9cc6", "dash": "dot", "width": 1},
        )
        fig.add_scatter(
            x=numbers,
            y=[b for _, _, b in expected],
            mode="lines",
            name="not-on-track boundary",
            line={"color": "#c0392b", "dash": "dot", "width": 1},
            fill="tonexty",
            fillcolor="rgba(122, 156, 198, 0.15)",
        )
    fig.add_scatter(
        x=[n for n, _ in points],
        y=[t for _, t in points],
        mode="lines+markers",
        name=measure.short_name,
        line={"color": "#1f4e8c"},
    )
    if partial:
        fig.add_scatter(
            x=partial,
            y=[measure.min_total] * len(partial),
            mode="markers",
            name="partial (not scored)",
            marker={"symbol": "circle-open", "size": 10, "color": "#999"},
        )
    fig.update_layout(
        title=measure.short_name,
        height=280,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": "Session", "dtick": 1},
        showlegend=bool(partial),
        yaxis={"range": [measure.min_total - 0.5, measure.max_total + 0.5]},
    )
    return fig


@st.cache_resource(max_entries=256, show_spinner=False)
def _alliance_chart(key: str, _sessions: list[SessionSummary]) -> go.Figure:
    sessions = _sessions
    rated = [s for s in sessions if s.alliance is not None and s.alliance.score is not None]
    fig = go.Figure()
    scores = [s.alliance.score for s in rated if s.alliance is not None]
    fig.add_scatter(
        x=[s.number for s in rated],
        y=scores,
        mode="lines+markers",
        name="Alliance score",
        line={"color": "#2e8b57"},
    )
    marked = [s.alliance for s in sessions if s.alliance is not None and s.alliance.ruptures]
    fig.add_scatter(
        x=[s.number for s in sessions if s.alliance is not None and s.alliance.ruptures],
        # On the session's own score where it has one, so the sign sits on the line it explains.
        y=[a.score if a.score is not None else 0 for a in marked],
        text=[", ".join(a.ruptures) for a in marked],
        hovertemplate="Session %{x}: %{text}<extra></extra>",
        mode="markers",
        name="Rupture signs",
        marker={"symbol": "x", "size": 14, "color": "#c0392b"},
    )
    fig.update_layout(
        title="Alliance check",
        height=260,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": "Session", "dtick": 1},
        yaxis={"range": [0, 105]},
    )
    return fig


@st.cache_resource(max_entries=256, show_spinner=False)
def _attendance_chart(key: str, _sessions: list[SessionSummary]) -> go.Figure:
    sessions = _sessions
    fig = go.Figure()
    for attendance, colour in ATTENDANCE_COLOURS.items():
        shown = [s for s in sessions if s.attendance == attendance]
        fig.add_scatter(
            x=[s.number for s in shown],
            y=[s.kind.replace("_", "-") for s in shown],
            mode="markers",
            name=attendance.replace("_", " "),
            marker={"size": 14, "color": colour, "symbol": "square"},
        )
    fig.update_layout(
        title="Attendance",
        height=200,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": "Session", "dtick": 1},
    )
    return fig


@st.cache_resource(max_entries=256, show_spinner=False)
def fit_chart(points: list[tuple[str, float | None]]) -> go.Figure:
    shown = [(label, fit) for label, fit in points if fit is not None]
    fig = go.Figure()
    fig.add_scatter(
        x=[label for label, _ in shown],
        y=[fit for _, fit in shown],
        mode="lines+markers",
        name="Fit",
        line={"color": "#1f4e8c"},
    )
    fig.update_layout(
        title="Fit of the planned protocol, as recorded at each session",
        height=240,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        yaxis={"range": [0, 105], "title": "Fit"},
    )
    return fig


def outcome_badges(outcomes: Outcomes) -> None:
    """The case's outcome status by the NHS Talking Therapies definitions."""
    statuses = {
        "Caseness at start": outcomes.caseness_at_start,
        "Reliable improvement": outcomes.reliable_improvement,
        "Reliable deterioration": outcomes.reliable_deterioration,
        "Recovery": outcomes.recovery,
        "Reliable recovery": outcomes.reliable_recovery,
    }
    # Bottom-aligned, so the badges stay in one row when a label wraps onto two lines.
    columns = st.columns(len(statuses) + 1, vertical_alignment="bottom")
    for column, (label, status) in zip(columns, statuses.items(), strict=False):
        words, colour = STATUS_WORDS[status]
        if label == "Reliable deterioration" and status == "yes":
            colour = "red"
        elif label == "Reliable deterioration" and status == "no":
            colour = "green"
        column.caption(label)
        column.badge(words, color=colour)
    columns[-1].caption("Finished course")
    open_words = "" if outcomes.ended else ", referral open"
    columns[-1].badge(
        f"{'Yes' if outcomes.finished else 'No'} "
        f"({outcomes.treatment_sessions_attended} attended{open_words})",
        color="blue" if outcomes.finished else "gray",
    )
    for note in outcomes.notes:
        st.caption(note)
