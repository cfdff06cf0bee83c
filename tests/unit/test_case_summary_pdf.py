"""The case summary PDF: it opens, holds the fit, flags, outcomes and charts, and reads by eye."""

from __future__ import annotations

import datetime
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from tailoring import services
from tailoring.engine.assess import assess
from tailoring.export import summary_pdf as summary_module
from tailoring.export.summary_pdf import CAPTION, FOOTER, case_summary_pdf
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.report import FitReport

GENERATED_ON = datetime.date(2026, 3, 2)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def _summary(content: ContentLibrary, case: Case) -> tuple[FitReport, bytes]:
    report = assess(content, case)
    measures = [content.measure("phq9"), content.measure(case.anxiety_measure)]
    return report, case_summary_pdf(report, measures, GENERATED_ON, case.therapist)


@pytest.fixture
def course(content) -> Case:
    """The demo case with six sessions: a risk item, ruptures and no reliable change."""
    path = next(p for p in services.demo_case_paths() if p.stem == "demo-05")
    return services.parse_case_file(path.read_text(encoding="utf-8"))


def test_the_summary_holds_the_case_its_fit_outcomes_and_flags(content, course) -> None:
    report, pdf = _summary(content, course)

    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    for expected in [
        "Case summary",
        course.reference,
        "2026-03-02",
        report.content_version,
        report.protocol_name,
        "Overall fit",
        f"{round(report.overall_fit)} / 100",
        "Outcome measures over sessions",
        "PHQ-9 total",
        "GAD-7 total",
        "caseness 10+",
        "caseness 8+",
        CAPTION,
        "Outcomes",
        "Open flags",
        FOOTER,
    ]:
        assert expected in text, expected
    assert report.flags
    for flag in report.flags:
        assert flag.title[:40] in text, flag.title


def test_its_pages_are_numbered_and_headed_with_the_reference(content, course) -> None:
    _, pdf = _summary(content, course)

    pages = _pages(pdf)
    assert pages == 2, "fifteen flags run onto a second page"
    text = _text(pdf)
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert text.count(f"Case summary · {course.reference}") == pages - 1


def test_a_case_with_few_flags_fits_on_one_page(content, make_case) -> None:
    case = make_case(preferences={"structure": {"value": 2, "importance": 3}})
    _, pdf = _summary(content, case)

    assert _pages(pdf) == 1
    text = _text(pdf)
    assert "No sessions recorded yet." in text
    assert "PHQ-9 total" not in text


def test_the_same_summary_gives_the_same_bytes(content, course) -> None:
    assert _summary(content, course)[1] == _summary(content, course)[1]


def test_without_dejavu_the_core_font_still_draws_it(content, course, monkeypatch) -> None:
    monkeypatch.setattr(summary_module, "dejavu_fonts", lambda: None)

    _, pdf = _summary(content, course)

    text = _text(pdf)
    assert "sessions 1-6, by session number" in text
    assert "Minimal 0-4" in text


def test_services_build_the_summary_of_a_stored_case(
    content, course, tmp_path, monkeypatch, upgrade
):
    monkeypatch.setenv("TAILORING_DATABASE_URL", f"sqlite:///{tmp_path / 'summary.db'}")
    upgrade(f"sqlite:///{tmp_path / 'summary.db'}")
    services.start(load_demo=False)
    case_id = services.import_case(services.case_file(course))

    pdf = services.case_summary_pdf(case_id, GENERATED_ON)

    assert pdf == _summary(content, course)[1]


def test_page_one_is_kept_as_a_picture_to_look_at(content, course) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: no picture of page one")
    _, pdf = _summary(content, course)
    ARTIFACTS.mkdir(exist_ok=True)
    source = ARTIFACTS / "case-summary.pdf"
    source.write_bytes(pdf)
    command = ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile"]
    subprocess.run([*command, source, ARTIFACTS / "case-summary"], check=True)
    assert (ARTIFACTS / "case-summary.png").stat().st_size > 10_000
