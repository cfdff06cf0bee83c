"""Practice: invented scenarios, the same walk-through, and graded feedback against a reference."""

from __future__ import annotations

import streamlit as st

from tailoring import services
from ui import bound, checklist, feedback, practice, walk
from ui.common import friendly_errors, require_entry

require_entry()

TITLES = {**walk.STEP_TITLES, "report": "Submit and feedback"}
DIFFICULTIES = ["introductory", "intermediate", "advanced"]
RELABEL = "_practice_relabel"
# The scenario and attempt last shown: the address and the widgets forget them when the person
# visits another page, and coming back must bring them back to where they were.
PLACE = "_practice_place"


def latest_place() -> dict[str, object]:
    """Where a session starts without an address to go by: the person's latest attempt."""
    for attempt in services.attempts():
        if attempt.scenario_id:
            return {"scenario": attempt.scenario_id, attempt.scenario_id: attempt.id}
    return {}


lib = services.content()
st.title("Practice")
st.caption("Invented patients only. Attempts are kept apart from real cases everywhere.")

with friendly_errors():
    themes, protocol_col, level_col = st.columns([3, 2, 2])
    chosen_themes = themes.pills(
        "Themes",
        [t.id for t in lib.themes],
        selection_mode="multi",
        # In a column, pills stay on one scrolling row: most themes were hidden off to the right.
        wrap=True,
        key="practice.themes",
        format_func=lambda t: lib.theme(t).title,
    )
    protocols = {p.id: p.name for p in lib.protocols}
    protocol = protocol_col.selectbox(
        "Protocol",
        [None, *protocols],
        key="practice.protocol",
        format_func=lambda p: "Any" if p is None else protocols[p],
    )
    level = level_col.selectbox(
        "Difficulty",
        [None, *DIFFICULTIES],
        key="practice.level",
        format_func=lambda d: "Any" if d is None else d.capitalize(),
    )
    shown = [
        s
        for s in services.scenarios()
        if (not chosen_themes or set(chosen_themes) & set(s.themes))
        and protocol in (None, s.protocol_id)
        and level in (None, s.difficulty)
    ]
    if not shown:
        st.info("No scenario matches these filters.")
        st.stop()
    # The scenario and attempt live in the address bar too, so a reload comes back to them.
    place = st.session_state.get(PLACE) or latest_place()
    if "practice.scenario" not in st.session_state:
        wanted = st.query_params.get("scenario") or place.get("scenario")
        if wanted in {s.id for s in shown}:
            st.session_state["practice.scenario"] = wanted
    shown_ids = [s.id for s in shown]
    scenario = services.scenario(
        st.selectbox(
            f"Scenario ({len(shown)} match)",
            shown_ids,
            index=bound.kept_index("practice.scenario", shown_ids),
            key="practice.scenario",
            format_func=lambda i: (
                f"{services.scenario(i).title} · {services.scenario(i).difficulty}"
            ),
        )
    )

    # The vignette is read in full here before an attempt starts, sits beside the checklist while
    # answering, and folds away above the feedback.
    box = st.container(border=True)
    with box:
        practice.scenario_heading(lib, scenario)

    past = services.attempts(scenario.id)
    attempt_key = f"practice.attempt.{scenario.id}"
    if attempt_key not in st.session_state:
        wanted = st.query_params.get("attempt") or str(place.get(scenario.id, ""))
        ids = [a.id for a in past]
        from_url = int(wanted) if wanted.isdigit() and int(wanted) in ids else None
        st.session_state[attempt_key] = from_url or (ids[0] if ids else None)
    start, pick = st.columns([1, 3])
    if start.button(
        "Start a new attempt",
        key="practice.start",
        type="primary",
        disabled=not services.may("attempt.create"),
        help=None if services.may("attempt.create") else "Practice attempts are for trainees.",
    ):
        st.session_state[attempt_key] = services.start_attempt(scenario.id)
        st.rerun()
    if past:
        by_id = {a.id: a for a in past}
        if st.session_state.pop(RELABEL, False):
            # The mark in the chosen attempt's label changed (a grade): the browser keeps
            # showing the old label unless the value is sent again.
            st.session_state[attempt_key] = st.session_state[attempt_key]
        pick.selectbox(
            "Attempt",
            list(by_id),
            index=bound.kept_index(attempt_key, list(by_id)),
            key=attempt_key,
            format_func=lambda i: (
                f"{by_id[i].reference} · "
                + ("not submitted" if by_id[i].mark is None else f"mark {by_id[i].mark:.0f}")
            ),
        )
    attempt_id = st.session_state[attempt_key]
    st.session_state[PLACE] = {**place, "scenario": scenario.id, scenario.id: attempt_id}
    st.query_params["scenario"] = scenario.id
    if attempt_id is None:
        st.query_params.pop("attempt", None)
        with box:
            practice.vignette_text(scenario)
        st.info("Start an attempt to work through the checklist for this patient.")
        st.stop()

    st.query_params["attempt"] = str(attempt_id)
    stored = services.open_case(attempt_id)
    save = checklist.case_saver(attempt_id)
    checklist.load_answers(f"attempt:{attempt_id}", stored.case.answers, stored.revisions)
    result = services.attempt_grade(attempt_id)
    done = services.assess_case(stored.case).completeness
    step = walk.step_picker(attempt_id, stored.case, done, TITLES)
    # Notices (undo, retry) come and go: in a container of their own they leave the columns
    # below at the same place in the page, which is then updated, not drawn anew (drawn anew,
    # the page shrank for a moment and the window jumped to the top after each answer).
    with st.container():
        checklist.show_notices(save)
    if step != "report":
        story, answers = st.columns([2, 3], gap="medium")
        with story:
            practice.vignette_beside(scenario)
        # Back and next in the checklist's column: the vignette keeps its place beside them too.
        with answers:
            with walk.step_slot(step):
                walk.checklist_step(lib, step, save)
            walk.step_buttons(attempt_id, step, TITLES, widths=(2, 1, 2))
    else:
        with box, st.expander("The vignette"):
            practice.vignette_text(scenario)
        if result is None:
            st.write(
                "When you have answered what the vignette tells you, submit to compare your "
                "answers and the flags they raise with the reference."
            )
            if st.button("Submit for feedback", key="practice.submit", type="primary"):
                services.submit_attempt(attempt_id)
                st.session_state[RELABEL] = True
                st.rerun()
        else:
            feedback.grade_summary(result)
            feedback.flag_feedback(result)
            with st.expander("Answer by answer"):
                feedback.item_table(result)
            if st.button("Grade again with my current answers", key="practice.regrade"):
                services.submit_attempt(attempt_id)
                st.session_state[RELABEL] = True
                st.rerun()
        walk.step_buttons(attempt_id, step, TITLES)

    rows = services.practice_progress()
    if rows:
        st.subheader("Your progress")
        feedback.progress_charts(rows, [t.title for t in lib.themes])
        st.download_button(
            "Progress (CSV)",
            services.progress_csv(rows),
            file_name="practice-progress.csv",
            mime="text/csv",
            key="practice.export",
        )
