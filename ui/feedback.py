"""Graded feedback on a practice attempt, and the trainee's progress over attempts and themes."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from tailoring.model.grade import Grade
from ui.report import SEVERITY_ICONS

AGREEMENT_WORDS = {"exact": "Exact", "close": "Close", "far": "Far", "missing": "Not answered"}


def grade_summary(result: Grade) -> None:
    mark, items, flags, pr = st.columns(4)
    mark.metric("Overall mark", f"{result.mark:.0f} / 100", help="Half items, half flags (F1).")
    items.metric(
        "Answers",
        f"{result.item_score:.0f} / 100",
        help="Agreement with the reference: exact 1, close ½, far or missing 0.",
    )
    flags.metric("Flags", f"{result.flag_score:.0f} / 100", help="F1 of flags found.")
    pr.metric(
        "Precision · recall",
        f"{result.flags.precision:.2f} · {result.flags.recall:.2f}",
        help="Precision: share of your flags that were expected. Recall: share of the "
        "expected flags you raised.",
    )


# What the two agreement columns of "Answer by answer" mean (engine/grading.py has the rules).
ITEM_COLUMNS = (
    "**Agreement** compares your answer with the reference's: exact; close (one point apart on a "
    "scale, or at least half the same choices); far; or not answered.  \n"
    "**Importance** compares how much you judged a preference matters to the patient with the "
    "reference's rating: exact; close (one step apart, such as “Matters a lot” for "
    "“Essential”); far; or not answered. It shows “—” where the reference does not rate "
    "importance (social context and alliance items). A preference scores ¾ for its answer and "
    "¼ for its importance."
)
IMPORTANCE_HELP = (
    "How much the preference matters to the patient, your rating against the reference's: "
    "exact, close (one step apart), far, not answered; — when the reference does not rate it."
)
AGREEMENT_HELP = "Your answer against the reference's: exact, close, far or not answered."


def found_lines(result: Grade) -> list[str]:
    """The flags the attempt found, one line each: severity, title and theme.

    A grade stored before flags were named has only their ids: those are shown instead.
    """
    if result.found:
        return [
            f"{SEVERITY_ICONS[f.severity]} {f.severity.capitalize()}: {f.title} ({f.theme_title})"
            for f in result.found
        ]
    return list(result.flags.found)


def flag_feedback(result: Grade) -> None:
    found = len(result.flags.found)
    st.markdown(
        f"**Flags:** {found} found, {len(result.flags.missed)} missed, "
        f"{len(result.flags.extra)} extra."
    )
    if found:
        with st.container(key="practice.found"):
            st.markdown(
                "**Found** (raised by your answers, as in the reference)\n"
                + "\n".join(f"- {line}" for line in found_lines(result))
            )
    if not result.flags.missed and not result.flags.extra:
        st.success(
            "Your flags match the reference."
            if found
            else "No flags, as in the reference: the plan fits this patient."
        )
    for entry in result.feedback:
        verb = "Missed" if entry.outcome == "missed" else "Extra"
        with st.expander(
            f"{verb}: {entry.title}", icon=SEVERITY_ICONS[entry.severity], expanded=True
        ):
            st.markdown(f"**Theme:** {entry.theme_title}")
            st.text(entry.explanation)
            if entry.why:
                st.caption(entry.why)


def item_table(result: Grade) -> None:
    st.caption(ITEM_COLUMNS)
    rows = [
        {
            "Item": i.title,
            "Section": i.section,
            "Agreement": AGREEMENT_WORDS[i.agreement],
            "Importance": AGREEMENT_WORDS[i.importance] if i.importance else "—",
            "Reference": i.reference,
            "Yours": i.attempt,
        }
        for i in result.items
    ]
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        key="practice.items",
        column_config={
            "Agreement": st.column_config.TextColumn(help=AGREEMENT_HELP),
            "Importance": st.column_config.TextColumn(help=IMPORTANCE_HELP),
        },
    )


def progress_charts(rows: list[dict[str, Any]], theme_titles: list[str]) -> None:
    """Marks over attempts, and the latest score on each theme."""
    marks = go.Figure()
    marks.add_scatter(
        x=[r["attempt"] for r in rows],
        y=[r["mark"] for r in rows],
        mode="lines+markers",
        name="Mark",
        line={"color": "#1f4e8c"},
    )
    marks.update_layout(
        title="Mark over attempts",
        height=260,
        yaxis={"range": [0, 105]},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    st.plotly_chart(marks, width="stretch", key="practice.progress.marks")
    themes = go.Figure()
    for row in rows[-3:]:
        themes.add_bar(x=theme_titles, y=[row.get(t) for t in theme_titles], name=row["attempt"])
    themes.update_layout(
        title="Score by theme (last three attempts)",
        height=280,
        yaxis={"range": [0, 105]},
        barmode="group",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    st.plotly_chart(themes, width="stretch", key="practice.progress.themes")
