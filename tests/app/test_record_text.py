"""Copy as text for the clinical record, and exports audited only when downloaded (issue 17)."""

from __future__ import annotations

import datetime

from streamlit.testing.v1 import AppTest

from tailoring import services
from tests.app.conftest import open_walkthrough
from tests.store import case_id_of

TODAY = f"{datetime.date.today():%Y-%m-%d}"


def demo_case(reference: str) -> int:
    return case_id_of(reference)


def code_texts(at: AppTest) -> list[str]:
    return [c.value for c in at.code]


def test_showing_the_report_exports_nothing(app: AppTest):
    at = open_walkthrough(app, demo_case("DEMO-002"), "report")
    assert not at.exception
    assert services.audit_entries(action="exported") == []


def test_the_session_plan_and_report_open_as_headed_dated_text(app: AppTest):
    at = open_walkthrough(app, demo_case("DEMO-002"), "report")
    assert not at.code  # built only when opened
    at.session_state["report.text.plan"] = True
    at.session_state["report.text.report"] = True
    at.run()
    assert not at.exception
    plan, report = code_texts(at)
    assert plan.startswith(f"Session plan, case DEMO-002\nDate: {TODAY}\n")
    assert "Agenda\n[ ] " in plan
    assert report.startswith(f"Fit report, case DEMO-002\nDate: {TODAY}\n")
    assert "Flags, with what to do" in report
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels.count("Download (.txt)") == 2
    assert services.audit_entries(action="exported") == []


def test_a_text_download_is_audited_as_an_export(app: AppTest):
    stored = services.open_case(demo_case("DEMO-002"))
    fit = services.assess_case(stored.case)
    text = services.report_text_download(fit, "plan")
    assert text == services.report_text(fit, "plan")
    [entry] = services.audit_entries(action="exported")
    assert (entry.detail, entry.case_id) == ("plan text", stored.id)


def test_a_session_summary_opens_as_text(app: AppTest):
    case_id = demo_case("DEMO-005")
    number = services.open_case(case_id).case.sessions[-1].number
    at = app
    at.session_state["case_id"] = case_id
    at.switch_page("pages/sessions.py")
    at.run()
    at.selectbox(key="sessions.pick").set_value(number).run()
    at.session_state["sessions.text"] = True
    at.run()
    assert not at.exception
    [text] = code_texts(at)
    assert text.startswith(f"Session {number} summary, case DEMO-005\nDate: {TODAY}")
    assert "PHQ-9" in text
    assert services.audit_entries(action="exported") == []
