"""The caseload table and its summary charts."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from tailoring.export.caseload import caseload_csv
from tailoring.model.caseload import OUTCOME_WORDS, CaseloadSummary, Rate

TREND_WORDS = {"up": "↑ up", "down": "↓ down", "steady": "→ steady", "none": "—"}


def display(frame: pd.DataFrame) -> pd.DataFrame:
    """The table's columns, in words."""
    return pd.DataFrame(
        {
            "Therapist": frame["therapist"],
            "Reference": frame["reference"],
            "Protocol": frame["protocol_name"],
            "Sessions": frame["sessions_attended"],
            "Fit": frame["fit"].round(0),
            "High": frame["flags_high"],
            "Medium": frame["flags_medium"],
            "Low": frame["flags_low"],
            "Alliance trend": frame["alliance_trend"].map(TREND_WORDS),
            "Outcome": frame["outcome"].map(OUTCOME_WORDS),
            "Last session": frame["last_session_date"],
        }
    )


def table(frame: pd.DataFrame) -> None:
    st.dataframe(
        display(frame),
        hide_index=True,
        width="stretch",
        key="caseload.table",
        column_config={
            "Fit": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f")
        },
    )


def csv(frame: pd.DataFrame) -> str:
    return caseload_csv(display(frame).to_dict("records"))


def _rate_text(rate: Rate) -> str:
    return rate.text() + (" (small number)" if rate.small else "")


def summary(overview: CaseloadSummary) -> None:
    """Fit distribution, flags by theme, outcome rates and the funnel."""
    left, right = st.columns(2)
    fit = go.Figure(
        go.Bar(
            x=[b.label for b in overview.fit.bins],
            y=[b.count for b in overview.fit.bins],
            marker_color="#1f4e8c",
        )
    )
    fit.update_layout(
        title=f"Fit ({overview.fit.unscored} without enough answers)",
        height=260,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    left.plotly_chart(fit, width="stretch", key="caseload.fit")
    themes = go.Figure(
        go.Bar(
            x=[t.title for t in overview.flags_by_theme],
            y=[t.flags for t in overview.flags_by_theme],
            marker_color="#c0392b",
        )
    )
    themes.update_layout(
        title="Open flags by theme", height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10}
    )
    right.plotly_chart(themes, width="stretch", key="caseload.themes")
    rates = overview.rates
    st.markdown("**Outcomes** (each over the denominator NHS Talking Therapies uses)")
    st.dataframe(
        [
            {
                "Figure": "Reliable improvement (of finished courses)",
                "Value": _rate_text(rates.reliable_improvement),
            },
            {
                "Figure": "Recovery (of finished courses at caseness)",
                "Value": _rate_text(rates.recovery),
            },
            {
                "Figure": "Reliable deterioration (of finished courses)",
                "Value": _rate_text(rates.deterioration),
            },
            {
                "Figure": "Drop-out after the first session (of those who started)",
                "Value": _rate_text(rates.dropout_after_first),
            },
        ],
        hide_index=True,
        width="stretch",
        key="caseload.rates",
    )
    st.markdown(
        "**Funnel**: " + " → ".join(f"{stage.label} {stage.count}" for stage in overview.funnel)
    )
    st.markdown("**By therapist**")
    st.dataframe(
        [
            {
                "Therapist": t.therapist,
                "Cases": f"{t.cases}" + (" (small number)" if t.small else ""),
                "Median fit": t.fit.median,
                "High flags": t.flags_by_severity.get("high", 0),
                "Reliable improvement": _rate_text(t.rates.reliable_improvement),
                "Recovery": _rate_text(t.rates.recovery),
                "Drop-out after first": _rate_text(t.rates.dropout_after_first),
            }
            for t in overview.therapists
        ],
        hide_index=True,
        width="stretch",
        key="caseload.therapists_table",
    )
