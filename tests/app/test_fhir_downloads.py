"""The FHIR and case summary downloads, and the import next to them, are on their pages."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tailoring import services
from tests.app.conftest import open_walkthrough


def downloads(at: AppTest) -> dict[str, str]:
    """The page's download buttons: label by widget id (AppTest has no accessor for them)."""
    return {el.proto.id: el.proto.label for el in at.get("download_button")}


def test_the_report_step_offers_the_fhir_bundle(app: AppTest, fresh_case: int) -> None:
    at = open_walkthrough(app, fresh_case, "report")
    assert not at.exception
    labels = list(downloads(at).values())
    assert labels == [
        "Session plan (PDF)",
        "Whole report (JSON)",
        "Case file (JSON)",
        "FHIR bundle (JSON)",
    ]


def test_the_library_offers_the_questionnaires(app: AppTest) -> None:
    at = app.switch_page("pages/library.py").run()
    assert not at.exception
    assert "Questionnaires (FHIR)" in downloads(at).values()


def test_the_timeline_offers_the_case_summary(app: AppTest) -> None:
    demo = next(c for c in services.list_cases() if c.sessions)
    app.session_state["case_id"] = demo.id
    at = app.switch_page("pages/timeline.py").run()
    assert not at.exception
    assert "Case summary (PDF)" in downloads(at).values()


def test_the_cases_page_has_the_import(app: AppTest) -> None:
    assert "Import a case file or FHIR bundle" in [e.label for e in app.expander]
    assert app.button(key="cases.import").disabled
