"""Supervision notes against real databases: agreed actions, edits with history, the export."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from tailoring.storage.errors import CaseNotFound, NoteNotFound, StaleNote
from tailoring.storage.tables import supervision_note_history, supervision_notes
from tests.integration.helpers import make_case, run_together
from tests.store import Store

TEXT = "Bond low since session 3; patient finds homework hard — ü"
ACTION = "Shorter homework; check the bond next session"


def test_notes_are_added_and_listed(store: Store) -> None:
    case_id = store.cases.create(make_case())
    before = store.cases.get(case_id)

    first = store.supervision.add_note(case_id, "sup.a", TEXT, ACTION)
    second = store.supervision.add_note(case_id, "sup.b", "Discharge planned", "", status="done")

    notes = store.supervision.notes(case_id)
    assert [n.id for n in notes] == [first, second]
    note = notes[0]
    assert (note.case_id, note.author, note.text, note.action, note.status, note.version) == (
        case_id,
        "sup.a",
        TEXT,
        ACTION,
        "open",
        1,
    )
    assert note.created_at == note.updated_at
    assert note.created_at.tzinfo is not None
    assert (notes[1].action, notes[1].status) == ("", "done")
    assert store.supervision.note_history(first) == []
    # Notes are about the case, not edits of it: the editor's version stays current.
    assert store.cases.get(case_id).version == before.version


def test_notes_that_do_not_fit_are_refused(store: Store) -> None:
    case_id = store.cases.create(make_case())

    with pytest.raises(ValueError, match="text"):
        store.supervision.add_note(case_id, "sup.a", "  ", ACTION)
    with pytest.raises(ValueError, match="author"):
        store.supervision.add_note(case_id, "", TEXT, ACTION)
    with pytest.raises(ValueError, match="status"):
        store.supervision.add_note(case_id, "sup.a", TEXT, ACTION, status="closed")  # type: ignore[arg-type]
    with pytest.raises(CaseNotFound):
        store.supervision.add_note(404, "sup.a", TEXT, ACTION)
    with pytest.raises(CaseNotFound):
        store.supervision.notes(404)
    assert store.supervision.notes(case_id) == []


def test_edits_keep_the_old_values_in_the_history(store: Store) -> None:
    case_id = store.cases.create(make_case())
    note_id = store.supervision.add_note(case_id, "sup.a", TEXT, ACTION)

    assert store.supervision.edit_note(note_id, "sup.b", 1, action="Homework halved") == 2
    assert (
        store.supervision.edit_note(note_id, "sup.a", 2, status="done", text="Bond repaired") == 3
    )

    [note] = store.supervision.notes(case_id)
    assert (note.text, note.action, note.status, note.version) == (
        "Bond repaired",
        "Homework halved",
        "done",
        3,
    )
    assert note.author == "sup.a"
    assert note.updated_at > note.created_at
    history = store.supervision.note_history(note_id)
    assert [(v.text, v.action, v.status, v.editor) for v in history] == [
        (TEXT, ACTION, "open", "sup.b"),
        (TEXT, "Homework halved", "open", "sup.a"),
    ]
    assert history[0].edited_at <= history[1].edited_at == note.updated_at
    assert {v.note_id for v in history} == {note_id}


def test_an_edit_that_changes_nothing_keeps_the_version(store: Store) -> None:
    case_id = store.cases.create(make_case())
    note_id = store.supervision.add_note(case_id, "sup.a", TEXT, ACTION)

    assert store.supervision.edit_note(note_id, "sup.b", 1, text=TEXT, status="open") == 1
    assert store.supervision.edit_note(note_id, "sup.b", 1) == 1

    assert store.supervision.note_history(note_id) == []
    assert store.supervision.notes(case_id)[0].version == 1


def test_a_stale_edit_is_refused_and_saves_nothing(store: Store, other_store: Store) -> None:
    case_id = store.cases.create(make_case())
    note_id = store.supervision.add_note(case_id, "sup.a", TEXT, ACTION)
    [seen] = other_store.supervision.notes(case_id)

    store.supervision.edit_note(note_id, "sup.a", seen.version, text="First editor's text")
    with pytest.raises(StaleNote) as stale:
        other_store.supervision.edit_note(
            note_id, "sup.b", seen.version, text="Second editor's text"
        )

    assert stale.value.version == seen.version + 1
    assert "Someone else changed this supervision note" in str(stale.value)
    assert "editor's text" not in str(stale.value)
    [note] = store.supervision.notes(case_id)
    assert (note.text, note.version) == ("First editor's text", 2)
    assert [v.editor for v in store.supervision.note_history(note_id)] == ["sup.a"]
    # Having seen the change, the second editor may knowingly replace it.
    assert other_store.supervision.edit_note(note_id, "sup.b", 2, text="Second editor's text") == 3


def test_simultaneous_edits_of_one_version_save_one(store: Store) -> None:
    case_id = store.cases.create(make_case())
    note_id = store.supervision.add_note(case_id, "sup.a", TEXT, ACTION)
    outcomes: list[str] = []

    def edit(editor: str) -> None:
        try:
            store.supervision.edit_note(note_id, editor, 1, text=f"Text by {editor}")
            outcomes.append("saved")
        except StaleNote:
            outcomes.append("stale")

    run_together(edit, [f"sup.{n}" for n in range(5)])

    assert sorted(outcomes) == ["saved"] + ["stale"] * 4
    [note] = store.supervision.notes(case_id)
    [old] = store.supervision.note_history(note_id)
    assert (note.version, note.text, old.text) == (2, f"Text by {old.editor}", TEXT)


def test_edits_that_do_not_fit_are_refused(store: Store) -> None:
    case_id = store.cases.create(make_case())
    note_id = store.supervision.add_note(case_id, "sup.a", TEXT, ACTION)

    with pytest.raises(ValueError, match="text"):
        store.supervision.edit_note(note_id, "sup.a", 1, text="")
    with pytest.raises(ValueError, match="status"):
        store.supervision.edit_note(note_id, "sup.a", 1, status="closed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="editor"):
        store.supervision.edit_note(note_id, "e" * 81, 1, action="")
    with pytest.raises(NoteNotFound):
        store.supervision.edit_note(404, "sup.a", 1, text="x")
    with pytest.raises(NoteNotFound):
        store.supervision.note_history(404)
    assert store.supervision.notes(case_id)[0].version == 1
    # An agreed action may be emptied.
    assert store.supervision.edit_note(note_id, "sup.a", 1, action="") == 2


def test_all_notes_carry_their_case_for_the_export(store: Store) -> None:
    theirs = store.cases.create(make_case("B-CASE", therapist="dr.b"))
    mine = store.cases.create(make_case("A-CASE", therapist="dr.a"))
    archived = store.cases.create(make_case("C-CASE", therapist="dr.a", status="archived"))
    attempt = store.cases.create(make_case("TRY-1"), kind="attempt", scenario_id="s1")
    for case_id in (theirs, mine, archived, attempt):
        store.supervision.add_note(case_id, "sup.a", f"About case {case_id}", "")
    store.supervision.add_note(mine, "sup.a", "Second note", "Review")

    everything = store.supervision.all_notes()

    assert [(n.therapist, n.reference, n.text) for n in everything] == [
        ("dr.a", "A-CASE", f"About case {mine}"),
        ("dr.a", "A-CASE", "Second note"),
        ("dr.a", "C-CASE", f"About case {archived}"),
        ("dr.b", "B-CASE", f"About case {theirs}"),
    ]
    assert {n.case_id for n in store.supervision.all_notes("dr.b")} == {theirs}
    assert store.supervision.all_notes("nobody") == []
    assert everything[1].action == "Review"


def test_notes_and_their_history_go_with_their_case(store: Store, engine: Engine) -> None:
    doomed = store.cases.create(make_case("DOOMED"))
    kept = store.cases.create(make_case("KEPT"))
    for case_id in (doomed, kept):
        note_id = store.supervision.add_note(case_id, "sup.a", TEXT, ACTION)
        store.supervision.edit_note(note_id, "sup.a", 1, status="done")
    doomed_note = store.supervision.notes(doomed)[0].id

    store.cases.delete(doomed)

    with pytest.raises(NoteNotFound):
        store.supervision.note_history(doomed_note)
    with engine.connect() as connection:
        for table in (supervision_notes, supervision_note_history):
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 1
    assert len(store.supervision.notes(kept)) == 1
