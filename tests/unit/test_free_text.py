"""Free text: control characters removed, limits held by the models, and the review PDF of a
case whose every note is as long as allowed made in bounded time."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from tailoring.engine.assess import assess
from tailoring.export.review_pdf import case_review_pdf
from tailoring.model.answers import SocialAnswer
from tailoring.model.case import Case
from tailoring.model.patient_questionnaires import parse_answer, questions
from tailoring.model.session import Session
from tailoring.model.text import (
    NAME_CHARS,
    NOTE_CHARS,
    SHORT_TEXT_CHARS,
    SUPERVISION_NOTE_CHARS,
    TextTooLong,
    checked,
    clean,
)
from tests.session_factory import case_with_sessions, session
from tests.unit.test_review_pdf import GENERATED_ON, NOTES, events

CONTROLS = "".join(chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0x85])


def test_control_characters_and_lone_surrogates_are_removed_newline_and_tab_kept() -> None:
    assert clean(f"a{CONTROLS}b\ud800c\r\nd\te\nf") == "abc\nd\te\nf"
    assert clean("Zoë’s café – 5 £") == "Zoë’s café – 5 £"


def test_checked_refuses_a_text_over_its_limit_naming_the_field() -> None:
    assert checked("\x00" * 10 + "x" * 10, 10, "note") == "x" * 10
    with pytest.raises(TextTooLong, match=r"^The note is 11 characters long; the limit is 10\."):
        checked("x" * 11, 10, "note")


def test_a_20_mb_text_is_refused_at_once() -> None:
    start = time.perf_counter()
    with pytest.raises(TextTooLong, match="20,000,000 characters"):
        checked("x" * 20_000_000, SUPERVISION_NOTE_CHARS, "note")
    assert time.perf_counter() - start < 0.5


def test_the_models_clean_their_free_text(content) -> None:
    assert SocialAnswer(note="damp\x00 flat").note == "damp flat"
    one = Session.model_validate(
        {"number": 1, "date": "2026-01-05", "attendance": "attended", "kind": "assessment",
         "note": "seen\x00 today"}
    )  # fmt: skip
    assert one.note == "seen today"
    case = Case.model_validate(
        {"reference": "TT-1", "protocol_id": "cbt_depression", "sessions_available": 12,
         "therapist": "A.\x00 Okafor"}
    )  # fmt: skip
    assert case.therapist == "A. Okafor"


@pytest.mark.parametrize(
    ("model", "field", "limit"),
    [(SocialAnswer, "note", NOTE_CHARS), (Case, "therapist", NAME_CHARS)],
)
def test_the_models_hold_free_text_to_its_limit(model, field: str, limit: int) -> None:
    base = {"reference": "TT-1", "protocol_id": "cbt_depression", "sessions_available": 12}
    data = (base if model is Case else {}) | {field: "x" * (limit + 1)}
    with pytest.raises(ValidationError, match=f"at most {limit} characters"):
        model.model_validate(data)
    assert getattr(model.model_validate(data | {field: "x" * limit}), field) == "x" * limit


def test_a_patient_answer_is_cleaned_and_held_to_its_limit(content) -> None:
    question = next(
        q
        for set_id in ("preferences", "before_session", "after_session")
        for q in questions(content, set_id, "gad7")
        if q.kind == "open"
    )
    assert parse_answer(question, {"value": "it\x00 helped"}) == {"value": "it helped"}
    with pytest.raises(TextTooLong, match="the limit is 2,000"):
        parse_answer(question, {"value": "x" * 20_000_000})


def test_the_review_pdf_of_notes_and_reasons_at_their_limits_is_made_in_bounded_time(
    content,
) -> None:
    """A 20 MB note's review PDF ran for over ten minutes. Twenty notes at the limit, written as
    one unbroken word (the slowest to wrap), take about 1.4 s here."""
    sessions = [
        session(content, 1, phq9=16, anxiety=12, kind="assessment"),
        session(content, 2, phq9=15, anxiety=11, attendance="did_not_attend"),
    ]
    report = assess(content, case_with_sessions(content, sessions, protocol_id="gsh_cbt"))
    word = "x" * SUPERVISION_NOTE_CHARS
    notes = [
        {**NOTES[0], "id": n, "text": word, "action": word[:SHORT_TEXT_CHARS]} for n in range(20)
    ]
    history = [{**e, "reason": "y" * SHORT_TEXT_CHARS} for e in events(report)]
    start = time.perf_counter()
    pdf = case_review_pdf(report, notes, history, GENERATED_ON, therapist="x" * NAME_CHARS)
    assert time.perf_counter() - start < 15
    assert pdf.startswith(b"%PDF")
