"""The case repository against real databases: round trips, concurrency and outages."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tailoring.model.case import AllianceAnswer, Answers, PreferenceAnswer, SocialAnswer
from tailoring.storage.db import build_engine, make_engine
from tailoring.storage.errors import (
    CaseNotFound,
    ReferenceTaken,
    StaleAnswer,
    StaleCase,
    StorageUnavailable,
)
from tailoring.storage.repository import CaseRepository
from tailoring.storage.tables import answers
from tests.integration.helpers import count_statements, make_case, run_together


def test_create_then_get_gives_back_the_same_case(repository: CaseRepository) -> None:
    case = make_case()
    case_id = repository.create(case)

    stored = repository.get(case_id)
    assert stored.case == case
    assert stored.id == case_id
    assert stored.version == 1
    assert set(stored.revisions.values()) == {1}
    assert len(stored.revisions) == 6
    assert stored.updated_at.tzinfo is not None
    assert stored.updated_at.utcoffset() == UTC.utcoffset(None)
    assert repository.get_by_reference("CASE-001") == stored
    assert repository.count() == 1


def test_missing_case_raises_case_not_found(repository: CaseRepository) -> None:
    with pytest.raises(CaseNotFound):
        repository.get(404)
    with pytest.raises(CaseNotFound):
        repository.get_by_reference("NOBODY")
    with pytest.raises(CaseNotFound):
        repository.save_answer(404, "alliance", "bond", AllianceAnswer(value=1))
    with pytest.raises(CaseNotFound):
        repository.update_case(404, None, step="report")
    with pytest.raises(CaseNotFound):
        repository.delete(404)
    assert repository.count() == 0


def test_list_counts_answers_in_one_query(repository: CaseRepository, engine: Engine) -> None:
    full = repository.create(make_case("FULL"))
    empty = repository.create(make_case("EMPTY", answers=Answers()))
    archived = repository.create(make_case("OLD"))
    repository.update_case(archived, None, status="archived")
    repository.save_answer(full, "alliance", "goals", AllianceAnswer(value=2))

    summaries, statements = count_statements(engine, repository.list)

    assert statements == 1
    assert [(s.id, s.answered) for s in summaries] == [(full, 7), (empty, 0)]
    assert summaries[0].version == 2
    assert summaries[0].updated_at >= summaries[1].updated_at
    everything, statements = count_statements(engine, lambda: repository.list(True))
    assert statements == 1
    assert [s.id for s in everything] == [full, archived, empty]
    assert everything[1].status == "archived"


def test_duplicate_copies_every_answer(repository: CaseRepository) -> None:
    original_id = repository.create(make_case("ORIGINAL", status="archived", step="report"))

    copy_id = repository.duplicate(original_id, "COPY")

    copy = repository.get(copy_id)
    original = repository.get(original_id)
    assert copy_id != original_id
    assert copy.case.answers == original.case.answers
    assert (copy.case.reference, copy.case.status, copy.case.step) == (
        "COPY",
        "active",
        "preferences",
    )
    assert original.case == make_case("ORIGINAL", status="archived", step="report")


def test_delete_takes_the_answers_with_it(repository: CaseRepository, engine: Engine) -> None:
    doomed = repository.create(make_case("DOOMED"))
    kept = repository.create(make_case("KEPT"))

    repository.delete(doomed)

    with pytest.raises(CaseNotFound):
        repository.get(doomed)
    with engine.connect() as connection:
        owners = connection.execute(select(answers.c.case_id).distinct()).scalars().all()
    assert owners == [kept]
    assert repository.count() == 1


def test_references_are_unique(repository: CaseRepository) -> None:
    first = repository.create(make_case("TAKEN"))
    second = repository.create(make_case("FREE"))

    with pytest.raises(ReferenceTaken):
        repository.create(make_case("TAKEN", answers=Answers()))
    with pytest.raises(ReferenceTaken):
        repository.update_case(second, None, reference="TAKEN")
    with pytest.raises(ReferenceTaken):
        repository.duplicate(first, "FREE")

    assert repository.count() == 2
    assert repository.get(second).case.reference == "FREE"
    assert repository.get(second).version == 1


def test_save_answer_inserts_then_replaces_and_counts_revisions(
    repository: CaseRepository,
) -> None:
    case_id = repository.create(make_case(answers=Answers()))

    assert repository.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=1), 0) == 1
    assert repository.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=2), 1) == 2
    assert repository.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=4)) == 3

    stored = repository.get(case_id)
    assert stored.case.answers.alliance == {"bond": AllianceAnswer(value=4)}
    assert stored.revisions == {("alliance", "bond"): 3}
    assert stored.version == 4


def test_save_answer_refuses_answers_that_do_not_fit(repository: CaseRepository) -> None:
    case_id = repository.create(make_case(answers=Answers()))

    with pytest.raises(ValueError, match="alliance"):
        repository.save_answer(case_id, "alliance", "bond", SocialAnswer(present="yes"))
    with pytest.raises(ValueError, match="section"):
        repository.save_answer(case_id, "diary", "bond", AllianceAnswer(value=1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="item_id"):
        repository.save_answer(case_id, "alliance", "x" * 41, AllianceAnswer(value=1))
    assert repository.get(case_id).version == 1


def test_second_editor_of_one_answer_gets_the_first_editors_version(
    repository: CaseRepository, other_editor: CaseRepository
) -> None:
    case_id = repository.create(make_case())
    before = other_editor.get(case_id).revisions[("social", "housing")]
    mine = SocialAnswer(present="yes", note="first editor's note")
    theirs = SocialAnswer(present="no", note="second editor's note")

    assert repository.save_answer(case_id, "social", "housing", mine, before) == before + 1
    with pytest.raises(StaleAnswer) as stale:
        other_editor.save_answer(case_id, "social", "housing", theirs, before)

    assert stale.value.current == mine.model_dump(mode="json")
    assert stale.value.revision == before + 1
    assert "note" not in str(stale.value)
    assert repository.get(case_id).case.answers.social["housing"] == mine
    # Having seen the first version, the second editor may knowingly replace it.
    assert other_editor.save_answer(case_id, "social", "housing", theirs, stale.value.revision) == 3
    assert repository.get(case_id).case.answers.social["housing"] == theirs


def test_two_editors_adding_the_same_new_answer_collide(
    repository: CaseRepository, other_editor: CaseRepository
) -> None:
    case_id = repository.create(make_case(answers=Answers()))

    repository.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=1), 0)
    with pytest.raises(StaleAnswer) as stale:
        other_editor.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=4), 0)

    assert (stale.value.current, stale.value.revision) == ({"value": 1}, 1)


def test_editors_of_different_answers_both_keep_their_work(
    repository: CaseRepository, other_editor: CaseRepository
) -> None:
    case_id = repository.create(make_case())
    seen = other_editor.get(case_id)

    repository.save_answer(case_id, "alliance", "bond", AllianceAnswer(value=0), 1)
    structure = seen.revisions[("preferences", "structure")]
    other_editor.save_answer(
        case_id, "preferences", "structure", PreferenceAnswer(value=1), structure
    )

    stored = repository.get(case_id)
    assert stored.case.answers.alliance["bond"] == AllianceAnswer(value=0)
    assert stored.case.answers.preferences["structure"] == PreferenceAnswer(value=1)
    assert stored.version == seen.version + 2


def test_simultaneous_saves_lose_nothing(repository: CaseRepository) -> None:
    case_id = repository.create(make_case(answers=Answers()))
    writers = 6
    outcomes: list[str] = []

    def save(item_id: str) -> None:
        try:
            repository.save_answer(case_id, "alliance", item_id, AllianceAnswer(value=1), 0)
            outcomes.append("saved")
        except StaleAnswer:
            outcomes.append("stale")

    run_together(save, [f"item{n}" for n in range(writers)])
    assert outcomes == ["saved"] * writers
    run_together(save, ["same"] * writers)
    assert sorted(outcomes[writers:]) == ["saved"] + ["stale"] * (writers - 1)

    stored = repository.get(case_id)
    assert len(stored.case.answers.alliance) == writers + 1
    assert stored.version == 1 + writers + 1


def test_clear_answer_removes_it_and_bumps_the_version(repository: CaseRepository) -> None:
    case_id = repository.create(make_case())

    with pytest.raises(StaleAnswer):
        repository.clear_answer(case_id, "alliance", "bond", expected_revision=2)
    repository.clear_answer(case_id, "alliance", "bond", expected_revision=1)

    stored = repository.get(case_id)
    assert "bond" not in stored.case.answers.alliance
    assert ("alliance", "bond") not in stored.revisions
    assert stored.version == 2


def test_stale_case_update_is_refused(
    repository: CaseRepository, other_editor: CaseRepository
) -> None:
    case_id = repository.create(make_case())
    seen = other_editor.get(case_id)

    assert repository.update_case(case_id, seen.version, step="alliance") == seen.version + 1
    with pytest.raises(StaleCase) as stale:
        other_editor.update_case(case_id, seen.version, step="report", sessions_available=8)

    assert stale.value.version == seen.version + 1
    stored = repository.get(case_id)
    assert (stored.case.step, stored.case.sessions_available) == ("alliance", 16)
    assert other_editor.update_case(case_id, None, sessions_available=8) == seen.version + 2


def test_update_case_refuses_unknown_fields_and_bad_values(repository: CaseRepository) -> None:
    case_id = repository.create(make_case())

    with pytest.raises(ValueError, match="answers"):
        repository.update_case(case_id, None, answers=Answers())
    with pytest.raises(ValueError, match="status"):
        repository.update_case(case_id, None, status="deleted")
    with pytest.raises(ValueError, match="protocol_id"):
        repository.update_case(case_id, None, protocol_id="p" * 41)

    assert repository.get(case_id).version == 1
    assert repository.get(case_id).case == make_case()


def test_migrations_are_idempotent(database_url: str) -> None:
    first = make_engine(database_url)
    case_id = CaseRepository(first).create(make_case())
    first.dispose()

    again = make_engine(database_url)
    try:
        assert CaseRepository(again).get(case_id).case == make_case()
    finally:
        again.dispose()


def test_read_only_database_refuses_writes_and_keeps_earlier_work(tmp_path: Path) -> None:
    path = tmp_path / "tailoring.db"
    writable = make_engine(f"sqlite:///{path}")
    case_id = CaseRepository(writable).create(make_case())
    before = CaseRepository(writable).get(case_id)
    writable.dispose()
    # A URI with mode=ro stands in for a read-only file even when tests run as root.
    read_only = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    repository = CaseRepository(read_only)

    with pytest.raises(StorageUnavailable) as unavailable:
        repository.save_answer(case_id, "social", "housing", SocialAnswer(note="new note"))
    with pytest.raises(StorageUnavailable):
        repository.create(make_case("OTHER"))

    message = str(unavailable.value)
    assert "read-only" in message
    assert "new note" not in message
    assert "UPDATE" not in message.upper()
    assert repository.get(case_id) == before
    read_only.dispose()
    reopened = make_engine(f"sqlite:///{path}")
    assert CaseRepository(reopened).get(case_id) == before
    reopened.dispose()


def test_unreachable_database_raises_storage_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    url = f"sqlite:///{tmp_path / 'a-file' / 'tailoring.db'}"

    with pytest.raises(StorageUnavailable):
        make_engine(url)
    with pytest.raises(StorageUnavailable):  # from building the engine or from its first use
        CaseRepository(build_engine(url)).count()
