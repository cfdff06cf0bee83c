"""Two people editing one case at once: the second save is refused and nothing is lost.

The storage tests refuse a stale answer, session or note at the store, one step at a time
and with threads sharing one engine. These go further up and further out: through the service
layer the pages call (save, then recompute the caseload figures and flag history), through the
walk-through page with two browser sessions, and with editors on engines of their own (as on
two app servers) racing in threads. Each runs on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tailoring import services
from tailoring.model.answers import Answers, PreferenceAnswer
from tailoring.storage.db import make_engine
from tailoring.storage.errors import StaleAnswer, StaleNote, StaleSession
from tests.app.conftest import APP, open_walkthrough
from tests.integration.helpers import make_case, make_session, run_together
from tests.store import CaseloadRow, Store, caseload_rows

RACERS = 8
# Preference items of cbt_depression; a 5 of high importance raises each one's flag.
ITEMS = (
    "directiveness",
    "structure",
    "focus",
    "emotional_intensity",
    "challenge",
    "practice",
    "course_length",
    "pace",
)
WANTS_MORE = {"value": 5, "importance": 3}
AS_PLANNED = {"value": 2, "importance": 3}


@pytest.fixture
def case_id(app_database: str) -> int:
    """An empty real case on CBT for depression, with its figures."""
    return services.new_case("CONC-001", "cbt_depression", 16)


@pytest.fixture
def editors(database_url: str, upgrade) -> Iterator[list[Store]]:
    """RACERS stores on the test's database, each through an engine of its own."""
    upgrade(database_url)
    engines = [make_engine(database_url) for _ in range(RACERS)]
    yield [Store.on(engine) for engine in engines]
    for engine in engines:
        engine.dispose()


def preference(answer: dict[str, Any]) -> dict[str, Any]:
    """A preference answer as storage gives it back (and StaleAnswer carries it)."""
    return PreferenceAnswer.model_validate(answer).model_dump(mode="json")


def caseload_row(case_id: int) -> CaseloadRow:
    return next(row for row in caseload_rows() if row.id == case_id)


def assert_figures_match_the_case(case_id: int) -> None:
    """The stored fit and open flags are those of the case as it is stored now."""
    report = services.assess_case(services.open_case(case_id).case)
    open_now = {status.flag_id for status in services.flag_statuses(case_id) if status.open}
    assert open_now == {flag.id for flag in report.flags}
    assert caseload_row(case_id).fit == pytest.approx(report.overall_fit)


# Through the service layer -------------------------------------------------------------------


def structure_events(case_id: int) -> list[str]:
    """The structure flag's history (the case's other flags, e.g. no problem recorded, aside)."""
    return [e.event for e in services.flag_history(case_id) if e.flag_id == "pref.structure"]


def test_the_second_save_of_an_answer_is_refused_and_both_answers_survive(case_id: int) -> None:
    first = services.open_case(case_id)
    second = services.open_case(case_id)
    key = ("preferences", "structure")
    mine, theirs = WANTS_MORE, AS_PLANNED

    assert services.save_answer(case_id, *key, mine, first.revisions.get(key, 0)) == 1
    with pytest.raises(StaleAnswer) as stale:
        services.save_answer(case_id, *key, theirs, second.revisions.get(key, 0))

    # The second editor is shown what is stored now, and still holds what they chose.
    assert (stale.value.current, stale.value.revision) == (preference(mine), 1)
    stored = services.open_case(case_id)
    assert stored.case.answers.preferences["structure"] == PreferenceAnswer(**mine)
    assert stored.version == first.version + 1
    # The refused save recomputed nothing: the first editor's answer raised its flag.
    assert structure_events(case_id) == ["raised"]
    assert_figures_match_the_case(case_id)
    # Having seen the first answer, the second editor may knowingly replace it.
    assert services.save_answer(case_id, *key, theirs, stale.value.revision) == 2
    assert structure_events(case_id) == ["raised", "cleared"]


def test_editors_of_different_answers_both_save_and_the_figures_count_both(
    case_id: int,
) -> None:
    first = services.open_case(case_id)
    second = services.open_case(case_id)
    structure = first.revisions.get(("preferences", "structure"), 0)
    pace = second.revisions.get(("preferences", "pace"), 0)

    services.save_answer(case_id, "preferences", "structure", WANTS_MORE, structure)
    services.save_answer(case_id, "preferences", "pace", WANTS_MORE, pace)

    stored = services.open_case(case_id)
    assert set(stored.case.answers.preferences) == {"structure", "pace"}
    assert stored.version == first.version + 2
    assert {"pref.structure", "pref.pace"} <= {
        status.flag_id for status in services.flag_statuses(case_id) if status.open
    }
    assert_figures_match_the_case(case_id)


def test_a_save_during_another_saves_refresh_waits_and_the_figures_count_both(
    case_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first editor's save is assessing the case for its figures when the second editor
    saves: the second save waits for the first to commit (one transaction each, the case locked
    from the first write), so the stored figures count both answers."""
    assess = services.figures.assess
    first_is_assessing = threading.Event()
    let_the_first_go_on = threading.Event()

    def slow_for_the_first(content: Any, case: Any) -> Any:
        if threading.current_thread().name == "first":
            first_is_assessing.set()
            let_the_first_go_on.wait(timeout=30)
        return assess(content, case)

    monkeypatch.setattr(services.figures, "assess", slow_for_the_first)
    first = threading.Thread(
        target=services.save_answer,
        args=(case_id, "preferences", "structure", WANTS_MORE, 0),
        name="first",
    )
    second = threading.Thread(
        target=services.save_answer,
        args=(case_id, "preferences", "pace", WANTS_MORE, 0),
        name="second",
    )
    first.start()
    assert first_is_assessing.wait(timeout=30)
    second.start()
    second.join(timeout=0.5)
    assert second.is_alive()  # waiting for the first save's transaction
    let_the_first_go_on.set()
    first.join(timeout=30)
    second.join(timeout=30)

    monkeypatch.setattr(services.figures, "assess", assess)
    assert set(services.open_case(case_id).case.answers.preferences) == {"structure", "pace"}
    assert_figures_match_the_case(case_id)


def test_the_second_record_of_a_session_is_refused(case_id: int) -> None:
    services.record_session(
        case_id, {"number": 1, "date": "2026-10-01", "attendance": "attended"}, 0
    )
    first = services.open_case(case_id)
    second = services.open_case(case_id)
    mine = {"number": 1, "date": "2026-10-01", "attendance": "did_not_attend", "note": "mine"}
    theirs = {"number": 1, "date": "2026-10-01", "attendance": "cancelled", "note": "theirs"}

    assert services.record_session(case_id, mine, first.session_revisions[1]) == 2
    with pytest.raises(StaleSession) as stale:
        services.record_session(case_id, theirs, second.session_revisions[1])

    assert stale.value.revision == 2
    assert (stale.value.current or {})["note"] == "mine"
    stored = services.open_case(case_id)
    assert (stored.case.sessions[0].attendance, stored.version) == (
        "did_not_attend",
        first.version + 1,
    )
    assert len(services.session_history(case_id)) == 1
    assert caseload_row(case_id).sessions_attended == 0


# Through the walk-through page ----------------------------------------------------------------


def test_two_browser_sessions_on_one_case_keep_both_answers(case_id: int) -> None:
    first = open_walkthrough(AppTest.from_file(APP, default_timeout=60), case_id)
    second = open_walkthrough(AppTest.from_file(APP, default_timeout=60), case_id)

    first.radio(key="pref.structure").set_value(5).run()
    second.radio(key="pref.structure").set_value(2).run()

    assert not first.exception and not second.exception
    assert services.open_case(case_id).case.answers.preferences["structure"].value == 5
    # The second session shows the stored answer and keeps its own in the warning.
    assert second.radio(key="pref.structure").value == 5
    [warning] = [w.value for w in second.warning if "Someone else changed" in w.value]
    assert "yours was: value 2" in warning
    # Choosing again replaces the first answer knowingly; the first session is now the stale one.
    second.radio(key="pref.structure").set_value(3).run()
    assert services.open_case(case_id).case.answers.preferences["structure"].value == 3
    first.radio(key="pref.structure").set_value(4).run()
    assert any("Someone else changed" in w.value for w in first.warning)
    assert services.open_case(case_id).case.answers.preferences["structure"].value == 3


# Real threads racing ---------------------------------------------------------------------------


def test_racing_sessions_of_one_server_save_one_answer_once(case_id: int) -> None:
    """Eight browser sessions of one app server save the same answer from revision 0."""
    values = {f"editor {n}": {"value": n % 5 + 1, "importance": 3} for n in range(RACERS)}
    saved: list[str] = []
    refused: list[StaleAnswer] = []

    def save(editor: str) -> None:
        try:
            services.save_answer(case_id, "preferences", "structure", values[editor], 0)
            saved.append(editor)
        except StaleAnswer as stale:
            refused.append(stale)

    run_together(save, list(values))

    [winner] = saved
    current = preference(values[winner])
    assert [(s.current, s.revision) for s in refused] == [(current, 1)] * (RACERS - 1)
    stored = services.open_case(case_id)
    assert stored.case.answers.preferences["structure"] == PreferenceAnswer(**values[winner])
    assert stored.revisions[("preferences", "structure")] == 1
    assert_figures_match_the_case(case_id)


def test_racing_sessions_of_one_server_save_different_answers_all(case_id: int) -> None:
    before = services.open_case(case_id).version
    failures: list[Exception] = []

    def save(item_id: str) -> None:
        try:
            services.save_answer(case_id, "preferences", item_id, WANTS_MORE, 0)
        except Exception as error:  # any failure of a racer fails the test
            failures.append(error)

    run_together(save, list(ITEMS))

    assert failures == []
    stored = services.open_case(case_id)
    assert set(stored.case.answers.preferences) == set(ITEMS)
    assert stored.version == before + len(ITEMS)


def test_racing_editors_on_their_own_engines_save_one_answer_once(
    store: Store, editors: list[Store]
) -> None:
    case_id = store.cases.create(make_case(answers=Answers()))
    answers = [PreferenceAnswer(value=n % 5 + 1, importance=n % 3 + 1) for n in range(RACERS)]
    saved: list[int] = []
    refused: list[StaleAnswer] = []

    def save(index: str) -> None:
        n = int(index)
        try:
            editors[n].cases.save_answer(case_id, "preferences", "structure", answers[n], 0)
            saved.append(n)
        except StaleAnswer as stale:
            refused.append(stale)

    run_together(save, [str(n) for n in range(RACERS)])

    [winner] = saved
    current = answers[winner].model_dump(mode="json")
    assert [(s.current, s.revision) for s in refused] == [(current, 1)] * (RACERS - 1)
    stored = store.cases.get(case_id)
    assert stored.case.answers.preferences["structure"] == answers[winner]
    assert stored.version == 2


def test_racing_editors_on_their_own_engines_record_one_session_once(
    store: Store, editors: list[Store]
) -> None:
    case_id = store.cases.create(make_case())
    saved: list[int] = []
    refused: list[StaleSession] = []

    def record(index: str) -> None:
        n = int(index)
        try:
            editors[n].sessions.save_session(
                case_id, make_session(1, note=f"editor {n}"), None, index, 0
            )
            saved.append(n)
        except StaleSession as stale:
            refused.append(stale)

    run_together(record, [str(n) for n in range(RACERS)])

    [winner] = saved
    notes = [((s.current or {}).get("note"), s.revision) for s in refused]
    assert notes == [(f"editor {winner}", 1)] * (RACERS - 1)
    stored = store.cases.get(case_id)
    assert [s.note for s in stored.case.sessions] == [f"editor {winner}"]
    assert store.sessions.corrections(case_id) == []


def test_racing_editors_on_their_own_engines_edit_one_note_once(
    store: Store, editors: list[Store]
) -> None:
    case_id = store.cases.create(make_case())
    note_id = store.supervision.add_note(case_id, "sup.a", "Agreed to slow the pace.", "")
    saved: list[int] = []
    refused: list[StaleNote] = []

    def edit(index: str) -> None:
        n = int(index)
        try:
            editors[n].supervision.edit_note(note_id, f"sup.{n}", 1, text=f"Text by sup.{n}")
            saved.append(n)
        except StaleNote as stale:
            refused.append(stale)

    run_together(edit, [str(n) for n in range(RACERS)])

    [winner] = saved
    assert [s.version for s in refused] == [2] * (RACERS - 1)
    [note] = store.supervision.notes(case_id)
    assert (note.text, note.version) == (f"Text by sup.{winner}", 2)
    [old] = store.supervision.note_history(note_id)
    assert (old.text, old.editor) == ("Agreed to slow the pace.", f"sup.{winner}")
