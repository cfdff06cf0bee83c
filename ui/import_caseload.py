"""The caseload import: the format, the report of a checked file, the import and its figures."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from tailoring import services
from tailoring.limits import CASELOAD_FILE_MB as MAX_MB
from tailoring.model.caseload import ImportReport

FORMAT = Path(__file__).resolve().parent.parent / "docs" / "caseload-format.md"
CASELOAD_PAGE = "pages/caseload.py"
# The problems listed on the page; the download has every one the check kept.
SHOWN_PROBLEMS = 1_000
# Session state: the report of the file last checked, and the file last imported, by its hash.
CHECKED = "import.checked"
IMPORTED = "import.done"
CONFIRMED = "import.valid_only"


def file_key(name: str, data: bytes) -> str:
    """The same file (name and bytes) gives the same key: a rerun does not check it again."""
    return hashlib.sha256(name.encode() + b"\0" + data).hexdigest()


def format_help() -> None:
    """What a caseload file holds, the template, and the whole format on request."""
    left, right = st.columns([3, 1])
    left.markdown(
        "**CSV**: one row per session, the case's columns repeated on each of its rows "
        "(`reference`, `therapist`, `protocol_id`, `sessions_available`, then `session`, "
        "`date`, `attendance`, `kind` and any measure or alliance items). **JSON**: a list of "
        f"case files as the app exports them. UTF-8, up to {MAX_MB} MB and 200,000 rows. "
        "References are pseudonymous codes: no names or NHS numbers."
    )
    right.download_button(
        "Template (CSV)",
        services.caseload_template(),
        file_name="caseload-template.csv",
        mime="text/csv",
        key="import.template",
        icon=":material/download:",
    )
    with st.expander("The format in full: every column and every check"):
        st.markdown(FORMAT.read_text(encoding="utf-8"))


def checked(name: str, data: bytes) -> ImportReport:
    """The report of a file, checked once: reruns with the same file reuse it."""
    key = file_key(name, data)
    kept = st.session_state.get(CHECKED)
    if kept is None or kept["key"] != key:
        with st.spinner("Checking every row…"):
            report = services.check_caseload_file(name, data)
        kept = st.session_state[CHECKED] = {"key": key, "report": report}
        # A confirmation is for the file it was given for, not for the next one.
        st.session_state.pop(CONFIRMED, None)
    return kept["report"]


def show_report(report: ImportReport) -> None:
    """Counts, then every problem by row and column (the first SHOWN_PROBLEMS on the page)."""
    if report.blocked:
        st.error(
            "This file cannot be imported:\n"
            + "\n".join(f"- {e.message}" for e in report.errors if e.file_level)
        )
        if all(e.file_level for e in report.errors):
            return
    unit = "cases" if report.format == "json" else "rows"
    read, valid, refused, problems = st.columns(4)
    read.metric(f"{unit.capitalize()} read", f"{report.rows_read:,}")
    valid.metric("Cases valid", f"{report.valid_cases:,}")
    refused.metric("Cases with problems", f"{len(report.invalid_references):,}")
    problems.metric("Problems", f"{report.errors_total:,}")
    if report.clean:
        st.success("Every row passed every check.", icon=":material/check_circle:")
        return
    field = "Field" if report.format == "json" else "Column"
    st.dataframe(
        pd.DataFrame(
            {
                "Row": ["file" if e.row is None else str(e.row) for e in report.errors],
                field: [e.field for e in report.errors],
                "Reference": [e.reference or "" for e in report.errors],
                "Problem": [e.message for e in report.errors],
            }
        ).head(SHOWN_PROBLEMS),
        hide_index=True,
        width="stretch",
        key="import.problems",
    )
    listed = len(report.errors)
    notes = []
    if listed > SHOWN_PROBLEMS:
        notes.append(f"The first {SHOWN_PROBLEMS:,} are shown; the download has all {listed:,}.")
    if report.errors_total > listed:
        notes.append(
            f"{report.errors_total:,} problems were found; the first {listed:,} are listed. "
            "Fix those and check the file again to see the rest."
        )
    if report.format == "csv":
        notes.append("Rows are numbered as a spreadsheet numbers them: the header is row 1.")
    st.caption(" ".join(notes))
    st.download_button(
        "Problems (CSV)",
        services.import_problems_csv(report),
        file_name="caseload-problems.csv",
        mime="text/csv",
        key="import.problems_csv",
        icon=":material/download:",
    )


def import_button(report: ImportReport, key: str) -> bool:
    """Offer the import of a checked file; True when it was imported just now.

    A clean file imports at once; one with problems only once the user confirms that its
    cases with problems are left out. Nothing is imported if a reference was taken since the
    check: the check is then made again.
    """
    if report.blocked:
        return False
    valid, refused = report.valid_cases, len(report.invalid_references)
    if not valid:
        st.warning("No case in this file can be imported: fix the problems and upload it again.")
        return False
    confirmed = report.clean or st.checkbox(
        f"Import only the {valid:,} valid cases; the {refused:,} cases with problems are left out",
        key=CONFIRMED,
    )
    clicked = st.button(
        f"Import {valid:,} cases", type="primary", disabled=not confirmed, key="import.go"
    )
    if not clicked:
        return False
    try:
        ids = services.import_caseload(report, valid_only=not report.clean)
    except services.ReferenceTaken as exc:
        st.session_state.pop(CHECKED, None)
        st.error(
            f"{exc} It was taken after this file was checked, so nothing was imported. "
            "Check the file again to see every reference in use."
        )
        st.button("Check the file again", key="import.recheck")
        return False
    except services.CaseFileError as exc:
        st.error("Nothing was imported: " + "; ".join(exc.problems))
        return False
    st.session_state.pop(CHECKED, None)
    st.session_state[IMPORTED] = {"key": key, "imported": len(ids), "left_out": refused}
    return True


def show_imported(done: dict[str, Any]) -> None:
    left_out = done["left_out"]
    st.success(
        f"Imported {done['imported']:,} cases"
        + (f"; the {left_out:,} cases with problems were left out." if left_out else ".")
        + " Upload another file to import more.",
        icon=":material/check_circle:",
    )
    st.page_link(CASELOAD_PAGE, label="Open the caseload", icon=":material/groups:")


def figures(start: bool) -> None:
    """Compute the figures of every case that has none yet, a batch at a time with progress.

    Started at once after an import, otherwise by a button. A case takes several
    milliseconds to assess, so a large import takes minutes; leaving the page stops after the
    current batch, and the caseload says how many cases still wait.
    """
    waiting = services.caseload_stamp().without_figures
    if not waiting:
        return
    if not start:
        st.info(
            f"Figures for {waiting:,} imported cases are not computed yet: until they are, "
            "those cases are not in the caseload.",
            icon=":material/hourglass_top:",
        )
        if not st.button("Compute them now", key="import.figures"):
            return
    bar = st.progress(0.0, text=f"Computing the figures of {waiting:,} cases…")
    done, began = 0, time.monotonic()
    while stored := services.compute_pending_figures():
        done += stored
        left = (waiting - done) * (time.monotonic() - began) / done
        bar.progress(
            min(1.0, done / waiting),
            text=f"Computing figures: {done:,} of {waiting:,} cases (about {left:.0f} s left)",
        )
    bar.empty()
    st.success(f"Figures computed for {done:,} cases.", icon=":material/check_circle:")
