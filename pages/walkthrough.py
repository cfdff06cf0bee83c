"""Walk-through: preferences → social context → alliance check → fit report, saved as you go."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Literal

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from tailoring import services
from ui import checklist, record_text, report, walk
from ui.common import friendly_errors, require_case, require_entry

require_entry()

lib = services.content()
stored = require_case("Walk-through")


def problem_picker(
    column: DeltaGenerator,
    label: str,
    current: str | None,
    blank: str,
    key: str,
    help: str | None = None,
) -> str | None:
    """A problem descriptor, or None, chosen from the content's list."""
    choices: dict[str | None, str] = {None: blank, **{p.id: p.title for p in lib.problems}}
    return column.selectbox(
        label,
        list(choices),
        index=list(choices).index(current),
        format_func=choices.__getitem__,
        key=key,
        help=help,
    )


case_id = stored.id

with friendly_errors():
    case = stored.case
    save = checklist.case_saver(case_id)
    checklist.load_answers(f"case:{case_id}", case.answers, stored.revisions)

    st.title(f"Walk-through · {case.reference}")
    with st.expander(
        f"Plan: {services.plan_in_words(case)}, {case.sessions_available} sessions available",
        expanded=case.problem is None,
    ):
        first_col, second_col = st.columns(2)
        new_problem = problem_picker(
            first_col,
            "Presenting problem (provisional)",
            case.problem,
            "Not recorded yet",
            key="case.problem",
            help="The problem descriptor recorded at assessment. The report checks that the "
            "protocol is indicated for it.",
        )
        new_second = problem_picker(
            second_col,
            "Second problem (optional)",
            case.second_problem,
            "None",
            key="case.second_problem",
        )
        new_chosen = st.checkbox(
            "The patient chose low intensity after discussing a step up",
            case.low_intensity_chosen,
            key="case.low_intensity_chosen",
            help="Tick when the latest measure is above the range of the planned low-intensity "
            "protocol and the patient, told that a high-intensity therapy is usually offered at "
            "this severity, chose to stay at this step. The report then asks you to review the "
            "choice at each session instead of flagging a step up.",
        )
        protocols = {p.id: p for p in lib.protocols}
        new_protocol = st.selectbox(
            "Current protocol",
            list(protocols),
            index=list(protocols).index(case.protocol_id),
            format_func=lambda p: protocols[p].name,
            key="case.protocol",
        )
        new_sessions = st.number_input(
            "Sessions available", 1, 60, case.sessions_available, key="case.sessions"
        )
        anxiety = {m.id: m.name for m in lib.measures if m.role == "anxiety"}
        new_anxiety = st.selectbox(
            "Anxiety measure for outcomes",
            list(anxiety),
            index=list(anxiety).index(case.anxiety_measure),
            format_func=anxiety.__getitem__,
            key="case.anxiety_measure",
            help="GAD-7 unless your service uses a measure specific to this anxiety disorder "
            "(add it to content/measures/).",
        )
        referral = walk.referral_fields(case)
        if st.button("Save plan", key="case.save_plan"):
            try:
                services.update_case(
                    case_id,
                    stored.version,
                    protocol_id=new_protocol,
                    problem=new_problem,
                    second_problem=new_second,
                    low_intensity_chosen=new_chosen,
                    sessions_available=int(new_sessions),
                    anxiety_measure=new_anxiety,
                    **referral,
                )
            except services.StaleCase as exc:
                st.warning(f"{exc} Reload the page to see the latest plan.")
            except services.CaseFileError as exc:
                st.error("; ".join(exc.problems))
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.rerun()

    step = walk.step_picker(case_id, case, services.answer_completeness(case))
    # Notices (undo, retry) come and go: in a container of their own they never move the
    # questions below to another place in the page (ui/walk.py's step_slot says why it matters).
    with st.container():
        checklist.show_notices(save)

    with walk.step_slot(step):
        if step == "report":
            fit = services.assess_case(case)
            if services.answer_source(case_id) != "therapist":
                # The patient answered too, and the fit is to use their answers (chosen on the
                # Patient questionnaires page): each dimension says whose answer it used.
                fit, used = services.fit_with_source(case_id)
                report.source_note(used)
            report.full_report(fit)
            texts: tuple[tuple[Literal["plan", "report"], str], ...] = (
                ("plan", "Session plan"),
                ("report", "Fit report"),
            )
            for kind, label in texts:
                record_text.copy_as_text(
                    f"{label} as text, for the clinical record",
                    f"report.text.{kind}",
                    partial(services.report_text, fit, kind),
                    partial(services.report_text_download, fit, kind),
                    f"{label.lower().replace(' ', '-')}-{case.reference}"
                    f"-{date.today():%Y-%m-%d}.txt",
                )
            # Each file is built only when its button is clicked: drawing the PDF on every rerun
            # would dominate the page, and the audit log records an export only then.
            downloads: tuple[
                tuple[str, Callable[[], str | bytes], str, str, str, str | None], ...
            ] = (
                (
                    "Session plan (PDF)",
                    lambda: services.report_pdf(fit, date.today()),
                    f"session-plan-{case.reference}.pdf",
                    "application/pdf",
                    "report.pdf",
                    None,
                ),
                (
                    "Whole report (JSON)",
                    lambda: services.report_as_json(fit),
                    f"fit-report-{case.reference}.json",
                    "application/json",
                    "report.json",
                    None,
                ),
                (
                    "Case file (JSON)",
                    lambda: services.case_file(case),
                    f"case-{case.reference}.json",
                    "application/json",
                    "report.case_file",
                    None,
                ),
                (
                    "FHIR bundle (JSON)",
                    lambda: services.case_fhir(case),
                    f"case-{case.reference}.fhir.json",
                    "application/fhir+json",
                    "report.fhir",
                    "The answers as FHIR R4B QuestionnaireResponses, with the fit report, for an "
                    "electronic health record. Import it again on the Cases page.",
                ),
            )
            for column, (label, build, name, mime, key, help_text) in zip(
                st.columns(len(downloads)), downloads, strict=True
            ):
                column.download_button(
                    label,
                    build,
                    file_name=name,
                    mime=mime,
                    key=key,
                    help=help_text,
                    type="primary" if key == "report.pdf" else "secondary",
                    width="stretch",
                )
        else:
            walk.checklist_step(lib, step, save)
    walk.step_buttons(case_id, step)
