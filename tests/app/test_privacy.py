"""Identifiers in free text, through the pages: warned, not saved, redacted or kept on request."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tailoring import services
from tailoring.engine.identifiers import nhs_check_digit
from tests.app.conftest import open_walkthrough
from tests.store import case_id_of


def nhs_number() -> str:
    """An invented ten-digit number with a valid NHS check digit (not a real person's)."""
    for start in range(400_000_000, 400_000_100):
        digit = nhs_check_digit(str(start))
        if digit is not None:
            text = f"{start}{digit}"
            return f"{text[:3]} {text[3:6]} {text[6:]}"
    raise AssertionError("no valid number in range")


def note_with_number() -> str:
    return f"Letter to the council quoting {nhs_number()} about the damp"


def open_housing(app: AppTest, case_id: int) -> AppTest:
    """The social step with housing answered 'present', so its note box shows."""
    at = open_walkthrough(app, case_id, "social")
    return at.button_group(key="social.housing.present").set_value("yes").run()


def social_note(case_id: int, item: str) -> str | None:
    answer = services.open_case(case_id).case.answers.social.get(item)
    return None if answer is None else answer.note


def test_a_social_note_with_an_nhs_number_is_held_then_saved_redacted(app: AppTest, fresh_case):
    at = open_housing(app, fresh_case)
    at.text_area(key="social.housing.note").input(note_with_number()).run()
    assert not at.exception
    warning = at.warning[0].value
    assert "Not saved yet" in warning and "an NHS number" in warning
    assert nhs_number() not in warning  # the message names the kind, never the text
    assert social_note(fresh_case, "housing") in (None, "")
    at = at.button(key="social.housing.note.privacy.redact").click().run()
    assert not at.exception
    saved = social_note(fresh_case, "housing")
    assert saved == "Letter to the council quoting [NHS number removed] about the damp"
    assert at.text_area(key="social.housing.note").value == saved
    assert not at.warning


def test_save_as_written_keeps_a_false_alarm(app: AppTest, fresh_case):
    at = open_housing(app, fresh_case)
    text = note_with_number()
    at.text_area(key="social.housing.note").input(text).run()
    at = at.button(key="social.housing.note.privacy.keep").click().run()
    assert social_note(fresh_case, "housing") == text


def test_keep_editing_saves_nothing_and_leaves_the_text(app: AppTest, fresh_case):
    at = open_housing(app, fresh_case)
    text = note_with_number()
    at.text_area(key="social.housing.note").input(text).run()
    at = at.button(key="social.housing.note.privacy.edit").click().run()
    assert social_note(fresh_case, "housing") in (None, "")
    assert at.text_area(key="social.housing.note").value == text
    assert not at.warning


def test_a_supervision_note_with_an_email_is_held_then_redacted(app: AppTest):
    case_id = case_id_of("DEMO-002")
    at = app
    at.session_state["case_id"] = case_id
    at.switch_page("pages/review.py")
    at.run()
    at.text_area(key="review.note.text").input("Patient asked us to write to jo.bloggs@example.org")
    at = at.button(key="review.note.add").click().run()
    assert not at.exception
    assert "an email address" in at.warning[0].value
    assert services.notes(case_id) == []
    at = at.button(key="review.note.privacy.redact").click().run()
    [note] = services.notes(case_id)
    assert note.text == "Patient asked us to write to [email removed]"
    assert at.text_area(key="review.note.text").value == ""


def test_a_session_note_with_a_phone_number_is_held(app: AppTest, fresh_case):
    at = app
    at.session_state["case_id"] = fresh_case
    at.switch_page("pages/sessions.py")
    at.run()
    at.button(key="FormSubmitter:sessions.new-Add session 1").click().run()
    at.text_area(key="session.note").input("Rang her mobile 07700 900456 to rearrange").run()
    assert not at.exception
    assert any("a phone number" in w.value for w in at.warning)
    at = at.button(key="session.note.privacy.redact").click().run()
    assert not at.exception
    [session] = services.open_case(fresh_case).case.sessions
    assert session.note == "Rang her mobile [phone number removed] to rearrange"


def test_services_refuse_identifiers_unless_told_to_keep_them(fresh_case):
    import pytest

    with pytest.raises(services.IdentifiersFound):
        services.add_note(fresh_case, "Born 12/03/1961, lives at SW1A 1AA")
    assert services.notes(fresh_case) == []
    services.add_note(fresh_case, "Born 12/03/1961", allow_identifiers=True)
    assert len(services.notes(fresh_case)) == 1


def test_a_failure_is_logged_without_the_text_that_caused_it(
    app: AppTest, fresh_case, monkeypatch, caplog
):
    secret = "Patient jo@example.org said something private"

    def broken(case):
        raise ValueError(f"could not read {secret!r}")

    monkeypatch.setattr(services, "assess_case", broken)
    caplog.set_level("INFO")
    at = open_walkthrough(app, fresh_case, "report")
    assert any("Something went wrong" in e.value for e in at.error)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ValueError at" in logged
    assert "jo@example.org" not in logged and "private" not in logged
