"""The plain-text fit report, session plan and session summary (issue 17: records that paste)."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from tailoring.engine.assess import assess
from tailoring.export.pdf import session_plan_pdf
from tailoring.export.text import fit_report_text, session_plan_text, session_text
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.report import FitReport

DEMO = Path(__file__).resolve().parents[2] / "content" / "demo"
ON = datetime.date(2026, 12, 7)


def demo_report(content: ContentLibrary, number: int) -> FitReport:
    case = Case.model_validate(json.loads((DEMO / f"demo-0{number}.json").read_text()))
    return assess(content, case)


@pytest.fixture
def housing(content: ContentLibrary) -> FitReport:
    """DEMO-002: a housing problem nobody is helping with, so the plan signposts."""
    return demo_report(content, 2)


def test_each_text_is_headed_with_what_it_is_the_case_and_the_date(housing: FitReport):
    plan = session_plan_text(housing, ON)
    report = fit_report_text(housing, ON)
    assert plan.splitlines()[:2] == ["Session plan, case DEMO-002", "Date: 2026-12-07"]
    assert report.splitlines()[:2] == ["Fit report, case DEMO-002", "Date: 2026-12-07"]
    for flag in housing.flags:
        assert flag.title in plan and flag.title in report
    for item in housing.session_plan:
        assert f"[ ] {item.title}" in plan


def test_a_signposting_item_says_what_and_where(housing: FitReport):
    [action] = [
        a for f in housing.flags for a in f.actions if a.title == "Signpost to housing advice"
    ]
    assert "Citizens Advice" in action.description
    plan = session_plan_text(housing, ON)
    assert " ".join(action.description.split()) in " ".join(plan.split())
    pdf = PdfReader(io.BytesIO(session_plan_pdf(housing, ON))).pages[0].extract_text()
    assert "Citizens Advice" in pdf


def test_the_patients_stated_ways_of_meeting_are_in_the_plan(content: ContentLibrary):
    report = demo_report(content, 4)
    [formats] = [d for d in report.dimensions if d.item_id == "format"]
    answer = formats.triggers[0].answer
    assert f"- {formats.title}: {answer}" in session_plan_text(report, ON)
    pdf = PdfReader(io.BytesIO(session_plan_pdf(report, ON))).pages[0].extract_text()
    assert "Practicalities" in pdf and formats.title in pdf


def test_a_session_summary_gives_each_total_with_its_band(content: ContentLibrary):
    report = demo_report(content, 5)
    session = report.sessions[-1]
    text = session_text("DEMO-005", session, ON)
    assert text.startswith(f"Session {session.number} summary, case DEMO-005\nDate: 2026-12-07")
    for score in (s for s in session.scores if s.complete):
        line = f"- {score.short_name}: {score.total} of {score.max_total} ({score.band})"
        assert line in text
