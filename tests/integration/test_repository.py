"""The case store against real databases: round trips, concurrency and outages."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tailoring.model.answers import AllianceAnswer, Answers, PreferenceAnswer, SocialAnswer
from tailoring.storage.db import build_engine, make_engine, upgraded_engine
from tailoring.storage.errors import (
    CaseNotFound,
    ReferenceTaken,
    StaleAnswer,
    StaleCase,
    StorageUnavailable,
)
from tailoring.storage.tables import answers
from tests.integration.helpers import count_statements, make_case, run_together
from tests.store import Store, case_id_of


def test_create_then_get_gives_back_the_same_case(store: Store) -> None:
    case = make_case()
    case_id = store.cases.create(case)

    stored = store.cases.get(case_id)
    assert stored.case == case
    assert stored.id == case_id
    assert stored.version == 1
    assert set(stored.revisions.values()) == {1}
    assert len(stored.revisions) == 6
    assert stored.updated_at.tzinfo is not None
    assert stored.updated_at.utcoffset() == UTC.utcoffset(None)
    assert case_id_of("CASE-001", store) == stored.id
    assert store.cases.count() == 1


def test_missing_case_raises_case_not_found(store: Store) -> None:
    with pytest.raises(CaseNotFound):
        store.cases.get(404)
    with pytest.raises(CaseNotFound):
        case_id_of("NOBODY", store)
    with pytest.raises(CaseNotFound):
        store.cases.save_answer(404, "alliance", "bond", AllianceAnswer(value=1))
    with pytest.raises(CaseNotFound):
        store.cases.update_case(404, None, step="report")
    with pytest.raises(CaseNotFound):
        store.cases.delete(404)
    assert store.cases.count() == 0


def test_list_counts_answers_in_one_query(store: Store, engine: Engine) -> None:
    full = store.cases.create(make_case("FULL"))
    empty = store.cases.create(make_case("EMPTY", answers=Answers()))
    archived = store.cases.create(make_case("OLD"))
    store.cases.update_case(archived, None, status="archived")
    store.cases.save_answer(full, "alliance", "goals", AllianceAnswer(value=2))

    summaries, statements = count_statements(engine, store.cases.summaries)

    assert statements == 1
    assert [(s.id, s.answered) for s in summaries] == [(full, 7), (empty, 0)]
    assert summaries[0].version == 2
    assert summaries[0].updated_at >= summaries[1].updated_at
    everything, statements = count_statements(engine, lambda: store.cases.summaries(True))
    assert statements == 1
    assert [s.id for s in everything] == [full, archived, empty]
    assert everything[1].status == "archived"


def test_duplicate_copies_every_answer(store: Store) -> None:
    original_id = store.cases.create(make_case("ORIGINAL", status="archived", step="report"))

    copy_id = store.cases.duplicate(original_id, "COPY")

    copy = store.cases.get(copy_id)
    original = store.cases.get(original_id)
    assert copy_id != original_id
    assert copy.case.answers == original.case.answers
    assert (copy.case.reference, copy.case.status, copy.case.step) == (
        "COPY",
        "active",
        "preferences",
    )
    assert original.case == make_case("ORIGINAL", status="archived", step="report")


def test_delete_takes_the_answers_with_it(store: Store, engine: Engine) -> None:
    doomed = store.cases.create(make_case("DOOMED"))
    kept = store.cases.create(make_case("KEPT"))

    store.cases.delete(doomed)

    with pytest.raises(CaseNotFound):
        store.cases.get(doomed)
    with engine.connect() as connection:
        owners = connection.execute(select(answers.c.case_id).distinct()).scalars().all()
    assert owners == [kept]
    assert store.cases.count() == 1


def test_references_are_unique(store: Store) -> None:
    first = store.cases.create(make_case("TAKEN"))
    second = store.cases.create(make_case("FREE"))

    with pytest.raises(ReferenceTaken):
        store.cases.create(make_case("TAKEN", answers=Answers()))
    with pytest.raises(ReferenceTaken):
        store.cases.update_case(second, None, reference="TAKEN")
    with pytest.raises(ReferenceTaken):
        store.cases.duplicate(first, "FREE")

    assert store.cases.count() == 2
    assert store.cases.get(second).case.reference == "FREE"
    assert store.cases.get(second).version == 1


def test_save_answer_inserts_then_replaces_and_counts_revisions(
    store: Store,
) -> None:
    case_id = store.cases.create(make_case(answers=Answers()))

    assert store.cases.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=1), 0) == 1
    assert store.cases.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=2), 1) == 2
    assert store.cases.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=4)) == 3

    stored = store.cases.get(case_id)
    assert stored.case.answers.alliance == {"bond": AllianceAnswer(value=4)}
    assert stored.revisions == {("alliance", "bond"): 3}
    assert stored.version == 4


def test_save_answer_refuses_answers_that_do_not_fit(store: Store) -> None:
    case_id = store.cases.create(make_case(answers=Answers()))

    with pytest.raises(ValueError, match="alliance"):
        store.cases.save_answer(case_id, "alliance", "bond", SocialAnswer(present="yes"))
    with pytest.raises(ValueError, match="section"):
        store.cases.save_answer(case_id, "diary", "bond", AllianceAnswer(value=1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="item_id"):
        store.cases.save_answer(case_id, "alliance", "x" * 41, AllianceAnswer(value=1))
    assert store.cases.get(case_id).version == 1


def test_second_editor_of_one_answer_gets_the_first_editors_version(
    store: Store, other_store: Store
) -> None:
    case_id = store.cases.create(make_case())
    before = other_store.cases.get(case_id).revisions[("social", "housing")]
    mine = SocialAnswer(present="yes", note="first editor's note")
    theirs = SocialAnswer(present="no", note="second editor's note")

    assert store.cases.save_answer(case_id, "social", "housing", mine, before) == before + 1
    with pytest.raises(StaleAnswer) as stale:
        other_store.cases.save_answer(case_id, "social", "housing", theirs, before)

    assert stale.value.current == mine.model_dump(mode="json")
    assert stale.value.revision == before + 1
    assert "note" not in str(stale.value)
    assert store.cases.get(case_id).case.answers.social["housing"] == mine
    # Having seen the first version, the second editor may knowingly replace it.
    assert (
        other_store.cases.save_answer(case_id, "social", "housing", theirs, stale.value.revision)
        == 3
    )
    assert store.cases.get(case_id).case.answers.social["housing"] == theirs


def test_two_editors_adding_the_same_new_answer_collide(store: Store, other_store: Store) -> None:
    case_id = store.cases.create(make_case(answers=Answers()))

    store.cases.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=1), 0)
    with pytest.raises(StaleAnswer) as stale:
        other_store.cases.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=4), 0)

    assert (stale.value.current, stale.value.revision) == ({"value": 1}, 1)


def test_editors_of_different_answers_both_keep_their_work(
    store: Store, other_store: Store
) -> None:
    case_id = store.cases.create(make_case())
    seen = other_store.cases.get(case_id)

    store.cases.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=0), 1)
    structure = seen.revisions[("preferences", "structure")]
    other_store.cases.save_answer(
        case_id, "preferences", "structure", PreferenceAnswer(value=1), structure
    )

    stored = store.cases.get(case_id)
    assert stored.case.answers.alliance["bond"] == AllianceAnswer(value=0)
    assert stored.case.answers.preferences["structure"] == PreferenceAnswer(value=1)
    assert stored.version == seen.version + 2


def test_simultaneous_saves_lose_nothing(store: Store) -> None:
    case_id = store.cases.create(make_case(answers=Answers()))
    writers = 6
    outcomes: list[str] = []

    def save(item_id: str) -> None:
        try:
            store.cases.save_answer(case_id, "alliance", item_id, AllianceAnswer(value=1), 0)
            outcomes.append("saved")
        except StaleAnswer:
            outcomes.append("stale")

    run_together(save, [f"item{n}" for n in range(writers)])
    assert outcomes == ["saved"] * writers
    run_together(save, ["same"] * writers)
    assert sorted(outcomes[writers:]) == ["saved"] + ["stale"] * (writers - 1)

    stored = store.cases.get(case_id)
    assert len(stored.case.answers.alliance) == writers + 1
    assert stored.version == 1 + writers + 1


def test_stale_case_update_is_refused(store: Store, other_store: Store) -> None:
    case_id = store.cases.create(make_case())
    seen = other_store.cases.get(case_id)

    assert store.cases.update_case(case_id, seen.version, step="alliance") == seen.version + 1
    with pytest.raises(StaleCase) as stale:
        other_store.cases.update_case(case_id, seen.version, step="report", sessions_available=8)

    assert stale.value.version == seen.version + 1
    stored = store.cases.get(case_id)
    assert (stored.case.step, stored.case.sessions_available) == ("alliance", 16)
    assert other_store.cases.update_case(case_id, None, sessions_available=8) == seen.version + 2


def test_update_case_refuses_unknown_fields_and_bad_values(store: Store) -> None:
    case_id = store.cases.create(make_case())

    with pytest.raises(ValueError, match="answers"):
        store.cases.update_case(case_id, None, answers=Answers())
    with pytest.raises(ValueError, match="status"):
        store.cases.update_case(case_id, None, status="deleted")
    with pytest.raises(ValueError, match="protocol_id"):
        store.cases.update_case(case_id, None, protocol_id="p" * 41)

    assert store.cases.get(case_id).version == 1
    assert store.cases.get(case_id).case == make_case()


def test_migrations_are_idempotent(database_url: str) -> None:
    first = upgraded_engine(database_url)
    case_id = Store.on(first).cases.create(make_case())
    first.dispose()

    again = upgraded_engine(database_url)
    try:
        assert Store.on(again).cases.get(case_id).case == make_case()
    finally:
        again.dispose()


def test_read_only_database_refuses_writes_and_keeps_earlier_work(tmp_path: Path) -> None:
    path = tmp_path / "tailoring.db"
    writable = upgraded_engine(f"sqlite:///{path}")
    case_id = Store.on(writable).cases.create(make_case())
    before = Store.on(writable).cases.get(case_id)
    writable.dispose()
    # A URI with mode=ro stands in for a read-only file even when tests run as root.
    read_only = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    store = Store.on(read_only)

    with pytest.raises(StorageUnavailable) as unavailable:
        store.cases.save_answer(case_id, "social", "housing", SocialAnswer(note="new note"))
    with pytest.raises(StorageUnavailable):
        store.cases.create(make_case("OTHER"))

    message = str(unavailable.value)
    assert "read-only" in message
    assert "new note" not in message
    assert "UPDATE" not in message.upper()
    assert store.cases.get(case_id) == before
    read_only.dispose()
    reopened = make_engine(f"sqlite:///{path}")
    assert Store.on(reopened).cases.get(case_id) == before
    reopened.dispose()


def test_unreachable_database_raises_storage_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    url = f"sqlite:///{tmp_path / 'a-file' / 'tailoring.db'}"

    with pytest.raises(StorageUnavailable):
        make_engine(url)
    with pytest.raises(StorageUnavailable):  # from building the engine or from its first use
        Store.on(build_engine(url)).cases.count()
