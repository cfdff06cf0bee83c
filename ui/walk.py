"""The four-step walk-through frame, shared by real cases and practice attempts.

The step lives in the database with the case (or attempt), so a refresh or another device resumes
where it was; the checklist steps draw the shared checklist widgets.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from tailoring import services
from tailoring.model.answers import Section
from tailoring.model.case import ENDING_REASONS, WALK_STEPS, Case, WalkStep
from tailoring.model.content import ContentLibrary
from tailoring.model.report import Completeness
from ui import bound, checklist

STEP_TITLES: dict[str, str] = {
    "preferences": "Preferences",
    "social": "Social context",
    "alliance": "Alliance check",
    "report": "Fit report",
}
ENDING_WORDS = {
    "completed": "Completed treatment",
    "dropped_out": "Dropped out",
    "declined": "Declined treatment",
    "moved": "Moved away",
    "stepped_up": "Stepped up",
    "stepped_down": "Stepped down",
    "referred_on": "Referred on",
    "other": "Other",
}
STEP_HINTS = {
    "preferences": "What the patient wants from therapy, and how much each point matters to them.",
    "social": "Circumstances that may keep the difficulties going or get in the way of a protocol.",
    "alliance": "How the working relationship looks from the patient's side (from their feedback).",
}


def _go(case_id: int, step: WalkStep) -> None:
    services.set_step(case_id, step)
    st.session_state["walk.step"] = step


@bound.uninterrupted
def _picked(case_id: int) -> None:
    if st.session_state["walk.step"] is not None:
        services.set_step(case_id, st.session_state["walk.step"])


def step_picker(
    case_id: int, case: Case, done: Completeness, titles: dict[str, str] = STEP_TITLES
) -> WalkStep:
    """The visible progress indicator; returns the step to draw."""
    # The stored step, set from here on every run that needs it (ui/bound.py says why).
    step = bound.show(f"case:{case_id}", "walk.step", case.step)
    counts = done.by_section
    st.segmented_control(
        "Step",
        list(WALK_STEPS),
        format_func=lambda s: (
            f"{WALK_STEPS.index(s) + 1}. {titles[s]}"
            + (f" ({counts[s][0]}/{counts[s][1]})" if s in counts else "")
        ),
        default=step,
        key="walk.step",
        required=True,
        on_change=_picked,
        args=(case_id,),
        label_visibility="collapsed",
    )
    st.progress(done.percent / 100, text=f"{done.percent}% of questions answered")
    return st.session_state["walk.step"] or case.step


def step_slot(step: WalkStep) -> DeltaGenerator:
    """The container to draw ``step`` in: one per step, always drawn in the same order, the
    others left empty. A widget of one step is then never drawn at the place in the page where
    a widget of another step was, so the browser never takes one for the other when the step
    changes (React reuses what stands at the same place; issue 13 once saw the importance of one
    preference arrive with the old value of another as the step changed)."""
    slots = [st.container() for _ in WALK_STEPS]
    return slots[WALK_STEPS.index(step)]


def checklist_step(lib: ContentLibrary, step: Section, save: checklist.Saver) -> None:
    st.caption(STEP_HINTS[step] + " Every answer is saved as soon as you give it.")
    checklist.section_widgets(lib, step, save)


def step_buttons(
    case_id: int,
    step: WalkStep,
    titles: dict[str, str] = STEP_TITLES,
    widths: tuple[int, int, int] = (1, 3, 1),
) -> None:
    """Back and next, under the step; ``widths`` of back, the gap and next (wider buttons in a
    narrow column, so their step names are not cut)."""
    index = WALK_STEPS.index(step)
    back, _, forward = st.columns(list(widths))
    if index > 0:
        back.button(
            f"← {titles[WALK_STEPS[index - 1]]}",
            key="walk.back",
            width="stretch",
            on_click=_go,
            args=(case_id, WALK_STEPS[index - 1]),
        )
    if index < len(WALK_STEPS) - 1:
        forward.button(
            f"{titles[WALK_STEPS[index + 1]]} →",
            key="walk.next",
            type="primary",
            width="stretch",
            on_click=_go,
            args=(case_id, WALK_STEPS[index + 1]),
        )


def referral_fields(case: Case) -> dict[str, object]:
    """The referral date and the ending, as the plan's form fields; the values to save."""
    left, middle, right = st.columns(3)
    referral = left.date_input(
        "Referral received",
        value=case.referral_date,
        format="YYYY-MM-DD",
        key="case.referral_date",
        help="The start of every wait the caseload shows.",
    )
    ending = middle.date_input(
        "Referral ended",
        value=case.ending_date,
        format="YYYY-MM-DD",
        key="case.ending_date",
        help="Leave empty while the referral is open. Only an ended referral with two or more "
        "attended treatment appointments counts as a finished course.",
    )
    reason = right.selectbox(
        "Why it ended",
        list(ENDING_REASONS),
        index=None if case.ending_reason is None else ENDING_REASONS.index(case.ending_reason),
        format_func=ENDING_WORDS.__getitem__,
        placeholder="Open",
        key="case.ending_reason",
    )
    return {"referral_date": referral, "ending_date": ending, "ending_reason": reason}
