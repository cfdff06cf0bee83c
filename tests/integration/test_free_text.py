"""Free text against real databases: control characters (a NUL among them, which PostgreSQL
refuses in text) are removed before saving, and text over its limit is refused at once."""

from __future__ import annotations

import time

import pytest

from tailoring import services
from tailoring.demo import demo_cases
from tailoring.export.caseload import cases_csv
from tailoring.model.text import SHORT_TEXT_CHARS, SUPERVISION_NOTE_CHARS
from tests.store import app_store

DIRTY = "Agreed\x00 a lighter\x07 task\r\nnext week\tonly\x1b"
CLEAN = "Agreed a lighter task\nnext week\tonly"


@pytest.fixture
def app_database(database_url: str, monkeypatch: pytest.MonkeyPatch, upgrade) -> str:
    """The services on the test's database (SQLite, and PostgreSQL when configured)."""
    monkeypatch.setenv("TAILORING_DATABASE_URL", database_url)
    monkeypatch.setenv("TAILORING_DEMO", "0")
    upgrade(database_url)
    return database_url


@pytest.fixture
def flagged_case(app_database: str) -> int:
    """A demo case, stored with the flags it raises."""
    return services.import_case(services.demo_case_paths()[1].read_text(encoding="utf-8"))


def test_a_supervision_note_is_saved_without_control_characters(flagged_case: int) -> None:
    note_id = services.add_note(flagged_case, DIRTY, DIRTY)
    [note] = services.notes(flagged_case)
    assert (note.text, note.action) == (CLEAN, CLEAN)

    services.edit_note(note_id, note.version, f"{DIRTY}!", "", "done")
    [edited] = services.notes(flagged_case)
    assert edited.text == f"{CLEAN}!"


def test_a_flag_reason_is_saved_without_control_characters(flagged_case: int) -> None:
    flag = services.flag_statuses(flagged_case)[0]
    services.decide_flag(flagged_case, flag.flag_id, "acknowledged", DIRTY)
    assert services.flag_history(flagged_case)[-1].reason == CLEAN


def test_session_and_social_notes_are_saved_without_control_characters(app_database) -> None:
    case_id = services.new_case("NUL-1", "cbt_depression", 12)
    services.save_answer(case_id, "social", "housing", {"present": "yes", "note": DIRTY})
    services.record_session(
        case_id,
        {"number": 1, "date": "2026-01-05", "attendance": "attended", "kind": "assessment",
         "note": DIRTY},
    )  # fmt: skip
    stored = services.open_case(case_id).case
    assert stored.answers.social["housing"].note == CLEAN
    assert stored.sessions[0].note == CLEAN


def test_a_display_name_is_saved_without_control_characters(app_database: str) -> None:
    accounts = app_store().accounts
    user = accounts.add_user("tess", ["therapist"], "Tess\x00 Okafor\x1b")
    assert user.display_name == "Tess Okafor"
    with pytest.raises(ValueError, match="username is 3–40"):
        accounts.add_user("te\x00ss", ["therapist"])


@pytest.mark.parametrize(
    ("field", "limit"), [("text", SUPERVISION_NOTE_CHARS), ("action", SHORT_TEXT_CHARS)]
)
def test_a_20_mb_note_is_refused_at_once_and_nothing_is_stored(
    flagged_case: int, field: str, limit: int
) -> None:
    texts = {"text": "Fine.", "action": ""} | {field: "x" * 20_000_000}
    start = time.perf_counter()
    with pytest.raises(
        services.TextTooLong, match=f"20,000,000 characters long; the limit is {limit:,}"
    ):
        services.add_note(flagged_case, texts["text"], texts["action"])
    assert time.perf_counter() - start < 1
    assert services.notes(flagged_case) == []


def test_a_reason_over_its_limit_is_refused(flagged_case: int) -> None:
    flag = services.flag_statuses(flagged_case)[0]
    with pytest.raises(services.TextTooLong, match="The reason is 501 characters long"):
        services.decide_flag(flagged_case, flag.flag_id, "acknowledged", "x" * 501)
    events = services.flag_history(flagged_case)
    assert all(event.event != "acknowledged" for event in events)


def test_notes_over_their_limit_are_refused_by_the_model(app_database: str) -> None:
    case_id = services.new_case("LONG-1", "cbt_depression", 12)
    with pytest.raises(services.CaseFileError, match="at most 2000 characters"):
        services.save_answer(
            case_id, "social", "housing", {"present": "yes", "note": "x" * 20_000_000}
        )
    with pytest.raises(services.CaseFileError, match="at most 2000 characters"):
        services.record_session(
            case_id,
            {"number": 1, "date": "2026-01-05", "attendance": "attended", "kind": "assessment",
             "note": "x" * 2001},
        )  # fmt: skip
    assert services.open_case(case_id).case.sessions == []


@pytest.mark.parametrize("username", ["te\x00ss", "tess\u200b", "x" * 100_000])
def test_a_sign_in_with_a_name_no_account_can_have_is_refused_as_a_wrong_name(
    app_database: str, username: str
) -> None:
    """On PostgreSQL a NUL in the name failed the query: 'database cannot be used right now'."""
    app_store().accounts.add_user("tess", ["therapist"], password_hash=None)
    with pytest.raises(services.LoginRefused, match="Wrong username or password"):
        services.sign_in(username, "correct horse battery")
    with pytest.raises(services.LoginRefused):
        services.signed_in_elsewhere(username)


def test_audit_filters_with_a_nul_find_what_the_rest_names(flagged_case: int) -> None:
    reference = services.open_case(flagged_case).case.reference
    found = services.audit_entries(reference=f"{reference}\x00")
    assert found and {entry.case_reference for entry in found} == {reference}
    assert services.audit_entries(actor="local\x00 user")


def test_a_caseload_file_with_a_nul_in_a_reference_reports_that_row(app_database: str) -> None:
    lib = services.content()
    text = cases_csv(demo_cases(lib, 2, seed=1, first=30001), lib)
    report = services.check_caseload_file(
        "caseload.csv", text.replace("DEMO-30001", "D\x00-1").encode()
    )
    assert {(e.field, e.reference) for e in report.errors} == {("reference", "D\x00-1")}
    assert report.valid_cases == 1
