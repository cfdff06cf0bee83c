"""The scenario a trainee practises on: its vignette, kept beside the checklist while answering."""

from __future__ import annotations

import streamlit as st

from tailoring.model.content import ContentLibrary
from tailoring.model.scenario import Scenario

VIGNETTE_KEY = "practice-vignette"


def scenario_heading(lib: ContentLibrary, scenario: Scenario) -> None:
    """The scenario's title and plan: the protocol it is planned on, sessions, level, themes."""
    st.markdown(f"#### {scenario.title}")
    st.caption(
        f"Planned: {lib.protocol(scenario.protocol_id).name}, "
        f"{scenario.sessions_available} sessions · {scenario.difficulty} · themes: "
        + ", ".join(lib.theme(t).title for t in scenario.themes)
    )


def vignette_text(scenario: Scenario) -> None:
    """What the trainee reads about the patient, the patient's own words kept as written."""
    st.markdown(f"**History.** {scenario.vignette.history}")
    st.markdown(f"**Presenting problem.** {scenario.vignette.presenting_problem}")
    st.markdown(f"**Social situation.** {scenario.vignette.social_situation}")
    st.markdown("**In their own words**")
    st.text(scenario.vignette.own_words)


def vignette_beside(scenario: Scenario) -> None:
    """The vignette in a box that stays in view while the checklist beside it scrolls.

    On a wide screen the box sticks below the top of the window and scrolls by itself when it
    is taller than the window (ui/style.py); its expander's title is the first thing a keyboard
    reaches in it, and the arrow keys then scroll it. On a phone the columns stack: the vignette
    comes first, and the expander folds it away.
    """
    with st.container(key=VIGNETTE_KEY), st.expander(f"Vignette: {scenario.title}", expanded=True):
        vignette_text(scenario)
