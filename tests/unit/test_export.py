"""The session plan PDF and the JSON export of a fit report."""

from __future__ import annotations

import datetime
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from tailoring.engine.assess import assess
from tailoring.export import pdf as pdf_module
from tailoring.export.pdf import FOOTER, session_plan_pdf, to_latin1
from tailoring.export.report_json import report_json
from tailoring.model.report import (
    Action,
    AgendaItem,
    AllianceSummary,
    Alternative,
    Completeness,
    DimensionFit,
    FitReport,
    Flag,
    Indication,
    Trigger,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
GENERATED_ON = datetime.date(2025, 11, 27)


THEME_TITLES = {
    "personalisation": "Personalised care",
    "alliance": "Therapeutic alliance",
    "depth": "Depth",
    "skills_agency": "Life skills and agency",
    "pace": "Time and pace",
    "heard": "Being heard",
}


def _flag(flag_id: str, severity: str, theme: str, title: str, kind: str) -> Flag:
    return Flag(
        id=flag_id,
        severity=severity,
        theme=theme,
        theme_title=THEME_TITLES[theme],
        title=title,
        explanation=f"{title}: the plan and the patient’s answers pull apart.",
        hard=severity == "high",
        triggers=[
            Trigger(
                section="preferences",
                item_id=flag_id.split(".")[-1],
                question="How much structure would you like in sessions?",
                answer="Very little – I’d rather talk freely",
            )
        ],
        actions=[
            Action(
                adaptation_id=f"{flag_id.split('.')[-1]}_adapt",
                kind=kind,
                title=f"Respond to {title.lower()}",
                description="Agree together how to use the protocol’s flexibility.",
            )
        ],
    )


def _report(
    case_reference: str,
    flags: list[Flag],
    agenda: list[AgendaItem],
    overall_fit: float | None,
    protocol_name: str = "Behavioural activation (guided self-help)",
) -> FitReport:
    return FitReport(
        case_reference=case_reference,
        content_version="2025.11-1",
        protocol_id="ba_step2",
        protocol_name=protocol_name,
        sessions_available=6,
        indication=Indication(
            protocol_id="ba_step2", protocol_name=protocol_name, status="indicated"
        ),
        overall_fit=overall_fit,
        capped=any(f.hard for f in flags),
        preference_fit=overall_fit,
        completeness=Completeness(
            answered=17, total=20, by_section={"preferences": (10, 12), "social": (7, 8)}
        ),
        dimensions=[
            DimensionFit(
                item_id="structure",
                title="Structure",
                theme="personalisation",
                status="mismatch" if flags else "unanswered",
                fit=30.0 if flags else None,
                weight=3.0,
                patient=1.0 if flags else None,
                protocol_default=4.0,
                protocol_low=3.0,
                protocol_high=5.0,
                explanation="The patient wants little structure; the protocol sets a fixed agenda.",
            )
        ],
        flags=flags,
        alliance=AllianceSummary(score=72.5, answered=4, total=5, ruptures=["Going quiet"]),
        alternatives=[
            Alternative(
                protocol_id="cfd",
                protocol_name="Counselling for depression",
                step="step_3",
                sessions="6–20",
                indication="indicated",
                fit=81.0,
                change=19.0,
                fixes=["Structure ≥ preference"],
                breaks=[],
            )
        ],
        session_plan=agenda,
    )


@pytest.fixture
def typical_report() -> FitReport:
    flags = [
        _flag("social.housing", "high", "personalisation", "Damp housing unaddressed", "signpost"),
        _flag("pref.structure", "medium", "personalisation", "Structure too rigid", "adapt_within"),
        _flag("pref.depth", "medium", "depth", "Wish to understand roots", "review_protocol"),
        _flag("alliance.scripted", "low", "alliance", "Technique feels scripted", "discuss"),
    ]
    agenda = [
        AgendaItem(
            title="Ask about the housing repairs",
            detail="Offer the housing advice service; agree who contacts the landlord – today.",
            kind="signpost",
            flag_id="social.housing",
        ),
        AgendaItem(
            title="Loosen the session agenda",
            detail="Keep the activity diary but let the patient set the first 15 minutes.",
            kind="adapt_within",
            flag_id="pref.structure",
        ),
        AgendaItem(
            title="Talk about what feels scripted",
            detail="Name the worksheets openly and ask how they land.",
            kind="discuss",
            flag_id="alliance.scripted",
        ),
        AgendaItem(
            title="Check the risk question",
            detail="Item 9 was above 0: follow the local risk procedure.",
            kind="local_procedure",
        ),
    ]
    return _report("CASE-7F3K", flags, agenda, overall_fit=63.4)


@pytest.fixture
def empty_report() -> FitReport:
    return _report("CASE-EMPTY1", [], [], overall_fit=None)


@pytest.fixture
def huge_report() -> FitReport:
    long_text = (
        "Über-long détail – with “quotes”, ≥ 3 sessions, naïve façade, Ελληνικά, "
        "кириллица and ‘smart’ apostrophes… repeated to overflow the page. "
    ) * 6
    agenda = [
        AgendaItem(
            title=f"Agenda item {n:02d} – prüfen, whether the plan’s pace ≥ the patient’s " * 2,
            detail=long_text,
            kind=("adapt_within", "discuss", "review_protocol", "signpost", "review")[n % 5],
        )
        for n in range(1, 41)
    ]
    flags = [
        _flag(f"pref.item{n}", ("high", "medium", "low")[n % 3], "pace", f"Flag {n} – ü", "discuss")
        for n in range(14)
    ]
    return _report(
        "CASE-HUGE99", flags, agenda, overall_fit=12.0, protocol_name="Protokoll – " + "ü" * 200
    )


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def _render_png(pdf: bytes, name: str) -> None:
    """Page one as a PNG in test-artifacts/, to look at the layout by eye."""
    if shutil.which("pdftoppm") is None:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    source = ARTIFACTS / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            source,
            ARTIFACTS / name,
        ],
        check=True,
    )
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 0


def test_typical_plan_is_one_page_with_everything_on_it(typical_report: FitReport) -> None:
    pdf = session_plan_pdf(typical_report, GENERATED_ON)

    assert pdf.startswith(b"%PDF")
    assert _pages(pdf) == 1
    text = _text(pdf)
    for expected in [
        "Session plan",
        "CASE-7F3K",
        "2025-11-27",
        "Behavioural activation (guided self-help)",
        "2025.11-1",
        "63 / 100",
        "85% of questions answered",
        "Signpost",
        "Adapt within the protocol",
        "Discuss with the patient",
        "Follow local procedure",
        FOOTER,
    ]:
        assert expected in text
    for item in typical_report.session_plan:
        assert item.title in text
    for flag in typical_report.flags:
        assert flag.title in text
    _render_png(pdf, "session-plan-typical")


def test_flags_are_listed_high_then_medium_then_low(typical_report: FitReport) -> None:
    text = _text(session_plan_pdf(typical_report, GENERATED_ON))

    order = [text.index(word) for word in ("High", "Medium", "Low")]
    assert order == sorted(order)
    assert text.index("Damp housing unaddressed") < text.index("Technique feels scripted")


def test_empty_report_says_there_is_not_enough_yet(empty_report: FitReport) -> None:
    pdf = session_plan_pdf(empty_report, GENERATED_ON)

    assert _pages(pdf) == 1
    text = _text(pdf)
    assert "CASE-EMPTY1" in text
    assert "not enough answers yet" in text
    assert "No flags raised." in text
    assert FOOTER in text
    _render_png(pdf, "session-plan-empty")


def test_huge_report_still_fits_on_one_page(huge_report: FitReport) -> None:
    pdf = session_plan_pdf(huge_report, GENERATED_ON)

    assert _pages(pdf) == 1
    text = _text(pdf)
    assert "CASE-HUGE99" in text
    shown = sum(f"{n}. Agenda item {n:02d} – prüfen" in text for n in range(1, 41))
    assert shown >= 5
    assert f"+{40 - shown} more in the app" in text
    assert "more flags in the app" in text
    assert FOOTER in text
    _render_png(pdf, "session-plan-huge")


def test_many_flags_use_the_room_an_empty_agenda_leaves() -> None:
    flags = [
        _flag(f"pref.item{n}", "low", "heard", f"Flag {n} 😀\x00 中文", "discuss")
        for n in range(60)
    ]
    pdf = session_plan_pdf(_report("CASE-FLAGS1", flags, [], overall_fit=50.0), GENERATED_ON)

    assert _pages(pdf) == 1
    text = _text(pdf)
    shown = sum(f"Flag {n} " in text for n in range(60))
    assert 20 < shown < 60
    assert f"+{60 - shown} more flags in the app" in text
    assert FOOTER in text


def test_the_same_report_gives_the_same_bytes(typical_report: FitReport) -> None:
    assert session_plan_pdf(typical_report, GENERATED_ON) == session_plan_pdf(
        typical_report, GENERATED_ON
    )


def test_font_lookup_runs_once() -> None:
    pdf_module.dejavu_fonts.cache_clear()
    pdf_module.dejavu_fonts()
    pdf_module.dejavu_fonts()

    assert pdf_module.dejavu_fonts.cache_info().misses == 1


def test_without_dejavu_the_core_font_prints_plain_text(
    monkeypatch: pytest.MonkeyPatch, typical_report: FitReport, huge_report: FitReport
) -> None:
    monkeypatch.setattr(pdf_module, "dejavu_fonts", lambda: None)

    pdf = session_plan_pdf(typical_report, GENERATED_ON)
    huge = session_plan_pdf(huge_report, GENERATED_ON)

    assert _pages(pdf) == 1
    assert _pages(huge) == 1
    text = _text(pdf)
    assert "CASE-7F3K" in text
    assert "Offer the housing advice service; agree who contacts the landlord - today." in text
    assert FOOTER in text
    huge_text = _text(huge)
    assert "Agenda item 01 - prüfen, whether the plan's pace >= the patient's" in huge_text
    fonts = PdfReader(io.BytesIO(huge)).pages[0]["/Resources"]["/Font"]
    assert {font.get_object()["/BaseFont"] for font in fonts.values()} == {
        "/Helvetica",
        "/Helvetica-Bold",
    }
    _render_png(huge, "session-plan-huge-core-font")


def test_latin1_transliteration_keeps_what_it_can() -> None:
    assert to_latin1("a – b — ‘c’ “d” ≥ 1 ≤ 2… ü") == "a - b - 'c' \"d\" >= 1 <= 2... ü"
    assert to_latin1("Łódź 😀 中文 ő") == "ódz   o"


def test_report_json_round_trips(typical_report: FitReport) -> None:
    document = json.loads(report_json(typical_report))

    assert list(document)[:2] == ["generated_by", "schema"]
    assert document.pop("generated_by") == "tailoring"
    assert document.pop("schema") == "fit-report/1"
    assert FitReport.model_validate(document) == typical_report


def test_report_json_is_pretty_and_keeps_unicode(huge_report: FitReport) -> None:
    text = report_json(huge_report)

    assert text.startswith('{\n  "generated_by": "tailoring"')
    assert "prüfen" in text
    document = json.loads(text)
    del document["generated_by"], document["schema"]
    assert FitReport.model_validate(document) == huge_report


def test_the_plan_pdf_shows_the_problem_and_never_recommends_a_contraindicated_protocol(
    content, make_case
):
    social = {
        "relationships": {
            "present": "yes",
            "maintains": "yes",
            "helping": "no",
            "details": ["partner_conflict"],
        },
        "safeguarding": {"present": "yes", "details": ["domestic_abuse"]},
    }
    report = assess(content, make_case("couple_therapy", 16, problem="depression", social=social))
    text = _text(session_plan_pdf(report, GENERATED_ON))
    assert "Presenting problem Depression" in text
    assert "Indication Contraindicated" in text
    assert "follow your local safeguarding procedure" in text.lower()
    assert "Best-fitting alternative: Couple" not in text
    assert "relationship support" not in text.lower()
