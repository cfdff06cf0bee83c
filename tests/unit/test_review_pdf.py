"""The case review PDF: it opens, says what a supervisor needs, and runs onto more pages."""

from __future__ import annotations

import datetime
import io

import pytest
from pypdf import PdfReader

from tailoring.engine.assess import assess
from tailoring.export import review_pdf as review_module
from tailoring.export.review_pdf import FOOTER, case_review_pdf
from tailoring.model.report import FitReport
from tests.session_factory import case_with_sessions, session
from tests.unit.test_export import _render_png

GENERATED_ON = datetime.date(2026, 3, 2)
GOOD = {"goals_agreement": 4, "task_agreement": 4, "bond": 4, "heard": 4}


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def report(content) -> FitReport:
    sessions = [
        session(content, 1, phq9=16, anxiety=12, kind="assessment"),
        session(content, 2, phq9=16, anxiety=12, alliance=GOOD),
        session(content, 3, attendance="did_not_attend"),
        session(content, 4, phq9=15, anxiety=11, alliance={**GOOD, "bond": 1, "heard": 1}),
        session(content, 5, phq9=14, anxiety=11, alliance={**GOOD, "rupture_withdrawal": 2}),
        session(content, 6, phq9=15, anxiety=12),
    ]
    case = case_with_sessions(
        content,
        sessions,
        protocol_id="gsh_cbt",
        preferences={"focus": {"value": 5, "importance": 3}},
        social={"housing": {"present": "yes", "maintains": "yes", "helping": "no"}},
    )
    return assess(content, case)


NOTES = [
    {
        "id": 1,
        "created_at": datetime.datetime(2026, 2, 3, 9, 15, tzinfo=datetime.UTC),
        "updated_at": datetime.datetime(2026, 2, 3, 9, 15, tzinfo=datetime.UTC),
        "author": "S. Supervisor",
        "status": "open",
        "text": "Withdrawal after session 4; the patient finds the worksheets hard to fit in.",
        "action": "Name the strain openly and agree a lighter task",
    },
    {
        "id": 2,
        "created_at": datetime.datetime(2026, 2, 17, 14, 30, tzinfo=datetime.UTC),
        "updated_at": datetime.datetime(2026, 2, 18, 8, 0, tzinfo=datetime.UTC),
        "author": "S. Supervisor",
        "status": "done",
        "text": "Repair conversation held – housing advice referral made.",
        "action": "",
    },
]


def events(report: FitReport) -> list[dict]:
    """Each flag raised on 20 January; the first acknowledged with a reason."""
    at = datetime.datetime(2026, 1, 20, 10, 0, tzinfo=datetime.UTC)
    history = [
        {
            "flag_id": f.id,
            "event": "raised",
            "severity": f.severity,
            "theme": f.theme,
            "title": f.title,
            "reason": None,
            "actor": "engine",
            "at": at,
        }
        for f in report.flags
    ]
    history.append(
        {
            **history[0],
            "event": "acknowledged",
            "reason": "Discussed in supervision; repair planned for the next session.",
            "actor": "S. Supervisor",
            "at": at + datetime.timedelta(days=14),
        }
    )
    return history


def test_the_review_holds_the_case_its_flags_outcomes_and_notes(report) -> None:
    pdf = case_review_pdf(report, NOTES, events(report), GENERATED_ON, therapist="A. Okafor")

    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    for expected in [
        "Case review",
        report.case_reference,
        "2026-03-02",
        report.protocol_name,
        "A. Okafor",
        "Open flags",
        "Outcomes",
        "PHQ-9",
        "Sessions",
        "did not attend",
        "Flag history",
        "acknowledged",
        "Reason: Discussed in supervision; repair planned for the next session.",
        "Supervision notes",
        "Withdrawal after session 4",
        "Status: open",
        "Status: done",
        "Agreed action: Name the strain openly and agree a lighter task",
        "2026-02-17 14:30 · S. Supervisor · edited 2026-02-18 08:00",
        FOOTER,
    ]:
        assert expected in text, expected
    assert report.flags
    for flag in report.flags:
        assert flag.title[:40] in text
    assert "Not on track" in text or "In progress" in text
    _render_png(pdf, "case-review")


def test_page_numbers_count_every_page(report) -> None:
    long_notes = [
        {**NOTES[0], "text": f"Note {n}: " + "a longer reflection on the work so far. " * 12}
        for n in range(12)
    ]

    pdf = case_review_pdf(report, long_notes, [], GENERATED_ON)

    pages = _pages(pdf)
    assert pages >= 2
    text = _text(pdf)
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert text.count(f"Case review · {report.case_reference}") == pages - 1
    assert all(f"Note {n}:" in text for n in range(12))


def test_a_new_case_says_what_is_missing(content, make_case) -> None:
    report = assess(content, make_case())

    text = _text(case_review_pdf(report, [], [], GENERATED_ON))

    assert "No sessions recorded yet." in text
    assert "No flag history recorded." in text
    assert "No supervision notes yet." in text
    assert "No sessions yet" in text  # the outcome word
    assert "Presenting problem not recorded" in text


def test_the_review_names_the_problem_and_a_contraindicated_plan(content, make_case) -> None:
    social = {
        "relationships": {"present": "yes", "details": ["partner_conflict"]},
        "safeguarding": {"present": "yes", "details": ["domestic_abuse"]},
    }
    report = assess(content, make_case("couple_therapy", 16, problem="depression", social=social))

    text = _text(case_review_pdf(report, [], [], GENERATED_ON))

    assert "Presenting problem Depression" in text
    assert "Indication Contraindicated" in text
    assert "relationship support" not in text.lower()


def test_the_same_review_gives_the_same_bytes(report) -> None:
    assert case_review_pdf(report, NOTES, [], GENERATED_ON) == case_review_pdf(
        report, NOTES, [], GENERATED_ON
    )


def test_without_dejavu_the_core_font_prints_plain_text(report, monkeypatch) -> None:
    monkeypatch.setattr(review_module, "dejavu_fonts", lambda: None)
    notes = [{**NOTES[1], "text": "Über “quotes” – ≥ 3 sessions, Ελληνικά"}]

    pdf = case_review_pdf(report, notes, [], GENERATED_ON)

    text = _text(pdf)
    assert 'Über "quotes" - >= 3 sessions' in text
    fonts = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    assert {f.get_object()["/BaseFont"] for f in fonts.values()} <= {
        "/Helvetica",
        "/Helvetica-Bold",
    }
