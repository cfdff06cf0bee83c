"""The case review page through AppTest: flag decisions with reasons, supervision notes."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tailoring import services
from tailoring.model.text import SHORT_TEXT_CHARS, SUPERVISION_NOTE_CHARS
from tests.store import case_id_of


def open_review(at: AppTest, case_id: int) -> AppTest:
    at.session_state["case_id"] = case_id
    at.switch_page("pages/review.py")
    return at.run()


@pytest.fixture
def demo_case(app: AppTest) -> int:
    """DEMO-002: flags raised, no sessions."""
    return case_id_of("DEMO-002")


def decide(at: AppTest, flag_id: str, decision: str, reason: str) -> AppTest:
    at.selectbox(key="review.decide.flag").set_value(flag_id)
    at.selectbox(key="review.decide.decision").set_value(decision)
    at.text_input(key="review.decide.reason").input(reason)
    return at.button(key="review.decide.record").click().run()


def test_the_review_lists_every_flag_the_case_raises(app: AppTest, demo_case: int):
    at = open_review(app, demo_case)
    assert not at.exception
    assert at.title[0].value == "Case review · DEMO-002"
    report = services.assess_case(services.open_case(demo_case).case)
    shown = at.table[0].value
    assert sorted(shown["Flag"]) == sorted(f.title for f in report.flags)
    assert set(shown["Status"]) == {"Open · not reviewed yet"}


def test_acknowledging_a_flag_records_who_when_and_why(app: AppTest, demo_case: int):
    at = open_review(app, demo_case)
    flag_id = services.flag_statuses(demo_case)[0].flag_id
    at = decide(at, flag_id, "acknowledged", "Discussed in supervision; housing letter agreed")
    assert not at.exception
    assert not at.error
    latest = services.flag_history(demo_case)[-1]
    assert (latest.flag_id, latest.event, latest.actor) == (flag_id, "acknowledged", "local user")
    assert latest.reason == "Discussed in supervision; housing letter agreed"
    table = at.table[0].value
    assert "Acknowledged" in set(table["Status"])
    history = at.table[1].value
    assert history["Event"][0] == "acknowledged"
    assert any("acknowledged" in s.value for s in at.success)
    # Also as a toast: the box at the top is out of view from the form at the bottom.
    assert any("acknowledged" in t.value for t in at.toast)


def test_a_decision_needs_a_reason_and_must_follow_from_the_status(app: AppTest, demo_case: int):
    at = open_review(app, demo_case)
    flag_id = services.flag_statuses(demo_case)[0].flag_id
    before = len(services.flag_history(demo_case))
    at = decide(at, flag_id, "resolved", "   ")
    assert "Give a reason" in at.error[0].value
    at = decide(at, flag_id, "reopened", "")
    assert "cannot be reopened" in at.error[0].value
    assert len(services.flag_history(demo_case)) == before


def test_a_note_is_added_edited_and_its_history_kept(app: AppTest, demo_case: int):
    at = open_review(app, demo_case)
    at.text_area(key="review.note.text").input("Talked through the housing problem")
    at.text_input(key="review.note.action").input("Write to the housing officer")
    at = at.button(key="review.note.add").click().run()
    assert not at.exception
    [note] = services.notes(demo_case)
    assert (note.text, note.action, note.status, note.author) == (
        "Talked through the housing problem",
        "Write to the housing officer",
        "open",
        "local user",
    )
    at.text_area(key=f"review.edit.{note.id}.text").input("Talked through housing and damp")
    at.selectbox(key=f"review.edit.{note.id}.status").set_value("done")
    at = at.button(key=f"review.edit.{note.id}.save").click().run()
    assert not at.exception
    [edited] = services.notes(demo_case)
    assert (edited.text, edited.status, edited.version) == (
        "Talked through housing and damp",
        "done",
        2,
    )
    [before] = services.note_history(note.id)
    assert before.text == "Talked through the housing problem"
    assert before.status == "open"
    texts = [t.value for t in at.text]
    assert "Talked through housing and damp" in texts


def test_an_empty_note_is_refused(app: AppTest, demo_case: int):
    at = open_review(app, demo_case)
    at.text_area(key="review.note.text").input("   ")
    at = at.button(key="review.note.add").click().run()
    assert "empty note" in at.error[0].value
    assert services.notes(demo_case) == []


def test_a_stale_edit_is_refused_and_the_wording_kept(app: AppTest, demo_case: int):
    note_id = services.add_note(demo_case, "First wording", "")
    at = open_review(app, demo_case)
    # Someone else edits the note after this page showed it.
    services.edit_note(note_id, 1, "Their wording", "", "open")
    at.text_area(key=f"review.edit.{note_id}.text").input("My wording")
    at = at.button(key=f"review.edit.{note_id}.save").click().run()
    assert not at.exception
    assert "Someone else changed this supervision note" in at.warning[0].value
    assert services.notes(demo_case)[0].text == "Their wording"
    assert at.text_area(key=f"review.edit.{note_id}.text").value == "My wording"
    # Discarding shows the stored note again.
    at = at.button(key=f"review.edit.{note_id}.reload").click().run()
    assert at.text_area(key=f"review.edit.{note_id}.text").value == "Their wording"
    assert not at.warning


def test_the_caseload_opens_a_case_in_review(app: AppTest):
    at = app
    at.switch_page("pages/caseload.py")
    at.run()
    at.selectbox(key="caseload.open_pick").set_value("DEMO-005")
    at = at.button(key="caseload.open").click().run()
    assert at.title[0].value == "Case review · DEMO-005"


def test_notes_export_has_every_note(app: AppTest, demo_case: int):
    services.add_note(demo_case, "Plan agreed, with a comma", "Review in two weeks")
    text = services.notes_export(demo_case)
    header, row = text.splitlines()[:2]
    assert header.split(",")[:3] == ["reference", "therapist", "note"]
    assert "DEMO-002" in row and '"Plan agreed, with a comma"' in row
    assert "DEMO-002" in services.notes_export()


def test_the_review_pdf_has_the_notes_and_decisions(app: AppTest, demo_case: int):
    from io import BytesIO

    from pypdf import PdfReader

    flag_id = services.flag_statuses(demo_case)[0].flag_id
    services.decide_flag(demo_case, flag_id, "resolved", "Referred to housing advice")
    services.add_note(demo_case, "Reviewed the plan", "Check progress next week")
    pdf = services.review_pdf(demo_case)
    text = " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    text = " ".join(text.split())
    for expected in ("DEMO-002", "Referred to housing advice", "Reviewed the plan"):
        assert expected in text


def test_each_free_text_box_shows_the_limit_the_services_hold_it_to(app: AppTest, demo_case: int):
    at = open_review(app, demo_case)
    services.add_note(demo_case, "First wording", "")
    at.run()
    limits = {
        "review.note.text": SUPERVISION_NOTE_CHARS,
        "review.note.action": SHORT_TEXT_CHARS,
        "review.decide.reason": SHORT_TEXT_CHARS,
    }
    boxes = {box.key: box.proto.max_chars for box in [*at.text_area, *at.text_input]}
    assert {key: boxes[key] for key in limits} == limits
    edit = {key: limit for key, limit in boxes.items() if key.startswith("review.edit.")}
    assert sorted(edit.values()) == [SHORT_TEXT_CHARS, SUPERVISION_NOTE_CHARS]
