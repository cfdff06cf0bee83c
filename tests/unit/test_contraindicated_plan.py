"""A contraindicated planned protocol is never presented as fitting, on any surface.

The engine gives it no overall fit; the report, the texts to paste, the plan and review PDFs,
the case summary, the FHIR narrative, the CLI and the caseload say "contraindicated" where the
figure would be, with the reason, and a protocol one answer away from it keeps its figure.
"""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from tailoring.__main__ import main
from tailoring.engine.assess import assess
from tailoring.engine.caseload import case_metrics
from tailoring.export.fhir import fit_report_narrative
from tailoring.export.pdf import session_plan_pdf
from tailoring.export.review_pdf import case_review_pdf
from tailoring.export.summary_pdf import case_summary_pdf
from tailoring.export.text import fit_report_text, session_plan_text
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.report import FitReport
from tests.unit.test_indications import ABUSE, SAFEGUARDING_EDGES

ON = datetime.date(2026, 12, 7)
PARTNER = {"present": "yes", "maintains": "yes", "helping": "no", "details": ["partner_conflict"]}
# Preferences couple therapy for depression meets in full: a fit of 100 if it were offered.
PREFERENCES = {
    "structure": {"value": 2, "importance": 3},
    "directiveness": {"value": 2, "importance": 2},
}


def _case(
    content: ContentLibrary,
    safeguarding: dict | None,
    protocol_id: str = "couple_therapy",
    problem: str = "depression",
    **social: dict,
) -> Case:
    if protocol_id == "couple_therapy":
        social.setdefault("relationships", PARTNER)
    if safeguarding is not None:
        social["safeguarding"] = safeguarding
    return Case.model_validate(
        {
            "reference": "CONTRA-01",
            "protocol_id": protocol_id,
            "problem": problem,
            "sessions_available": 16,
            "answers": {"preferences": PREFERENCES, "social": social},
        },
        context={"content": content},
    )


def _pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture
def ruled_out(content) -> FitReport:
    """Couple therapy planned with domestic abuse recorded; the preferences match it fully."""
    return assess(content, _case(content, ABUSE))


# The engine -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("safeguarding", "contraindicated"), SAFEGUARDING_EDGES)
def test_a_contraindicated_plan_has_no_overall_fit_and_one_answer_away_it_has(
    content, safeguarding, contraindicated
):
    report = assess(content, _case(content, safeguarding))
    assert report.contraindicated == contraindicated
    assert report.preference_fit == 100.0
    if contraindicated:
        assert report.overall_fit is None
        assert not report.capped
        assert all(a.change is None for a in report.alternatives)
    else:
        assert report.overall_fit == 100.0


def test_abuse_recorded_does_not_take_the_fit_of_a_protocol_it_does_not_rule_out(content):
    report = assess(content, _case(content, ABUSE, protocol_id="cbt_depression"))
    assert not report.contraindicated
    assert report.overall_fit is not None


def test_ongoing_danger_takes_the_fit_of_trauma_focused_cbt(content):
    danger = {"present": "yes", "details": ["ongoing_danger"]}
    report = assess(content, _case(content, danger, protocol_id="tf_cbt", problem="ptsd"))
    assert report.contraindicated and report.overall_fit is None


# What is shown ---------------------------------------------------------------------------------


def test_the_texts_to_paste_say_contraindicated_in_place_of_the_fit(ruled_out):
    for text in (session_plan_text(ruled_out, ON), fit_report_text(ruled_out, ON)):
        lines = text.splitlines()
        fit_line = next(line for line in lines if line.startswith("Overall fit"))
        assert "contraindicated" in fit_line and "/ 100" not in fit_line
        indication = next(i for i, line in enumerate(lines) if "Contraindicated." in line)
        assert indication < lines.index(fit_line), "the contraindication comes first"
        assert "Domestic abuse or controlling behaviour recorded" in text


def test_the_session_plan_pdf_shows_the_contraindication_where_the_fit_would_be(ruled_out):
    text = _pdf_text(session_plan_pdf(ruled_out, ON))
    assert "Overall fit Contraindicated" in text
    assert "/ 100" not in text.split("Agenda")[0]
    assert "is contraindicated, whatever the preferences say" in text


def test_the_review_and_summary_pdfs_show_the_contraindication_where_the_fit_would_be(ruled_out):
    for pdf in (
        case_review_pdf(ruled_out, [], [], ON, "A. Therapist"),
        case_summary_pdf(ruled_out, [], ON, "A. Therapist"),
    ):
        text = _pdf_text(pdf)
        header = text.split("Open flags")[0]
        assert "Overall fit" in header and "Contraindicated" in header
        assert "100 / 100" not in header
        assert "Choose another protocol" in header


def test_the_fhir_narrative_says_contraindicated_first(ruled_out):
    narrative = fit_report_narrative(ruled_out)
    assert "Overall fit:</b> none (contraindicated)" in narrative
    assert narrative.index("is contraindicated") < narrative.index("Overall fit")
    assert "/ 100" not in narrative


def test_the_cli_gives_no_fit_for_a_contraindicated_plan(content, tmp_path: Path, capsys):
    path = tmp_path / "case.json"
    path.write_text(_case(content, ABUSE).model_dump_json())
    assert main(["assess", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["overall_fit"] is None
    assert printed["indication"]["status"] == "contraindicated"
    assert "Domestic abuse" in printed["indication"]["reasons"][0]


def test_the_caseload_row_has_no_fit_for_a_contraindicated_plan(content, ruled_out):
    assert case_metrics(ruled_out, _case(content, ABUSE)).fit is None


def test_a_plan_that_is_not_contraindicated_still_shows_its_figure(content):
    report = assess(content, _case(content, None))
    assert "Overall fit: 100 / 100" in session_plan_text(report, ON)
    assert "100 / 100" in _pdf_text(session_plan_pdf(report, ON))
    assert "contraindicated" not in fit_report_narrative(report).lower()
