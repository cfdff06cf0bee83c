"""Importing many cases at once against real databases: round trips, all or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from tailoring.model.case import Answers
from tailoring.storage.errors import ReferenceTaken
from tailoring.storage.repository import CaseRepository
from tailoring.storage.tables import answers, cases, sessions
from tests.integration.helpers import count_statements, make_case, make_course, make_session


def stored_rows(engine: Engine) -> tuple[int, int, int]:
    """How many cases, answers and sessions are stored."""
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (cases, answers, sessions)
        )


def test_imported_cases_round_trip(repository: CaseRepository, engine: Engine) -> None:
    existing = repository.create(make_case("EXISTING"))
    imported = [
        make_case("IMP-1", sessions=make_course(), therapist="dr.a"),
        make_case("IMP-2", answers=Answers()),
        make_case("IMP-3", sessions=[make_session(1)], status="archived", anxiety_measure="adsm"),
    ]

    ids, statements = count_statements(engine, lambda: repository.import_cases(imported))

    # Cases, their ids, answers and sessions: one statement each, not one per row.
    assert statements == 4
    assert len(set(ids)) == 3
    assert existing not in ids
    for case_id, case in zip(ids, imported, strict=True):
        stored = repository.get(case_id)
        assert stored.case == case
        assert (stored.version, stored.kind, stored.scenario_id) == (1, "case", None)
        assert set(stored.revisions.values()) <= {1}
        assert set(stored.session_fits.values()) <= {None}
    assert {row.reference: row.sessions for row in repository.caseload(True)} == {
        "EXISTING": 0,
        "IMP-1": 6,
        "IMP-2": 0,
        "IMP-3": 1,
    }
    # Imported sessions are saved like any other: corrections start from them.
    repository.save_session(ids[0], make_session(2, note="changed"), None, "dr.a")
    assert [c.old for c in repository.corrections(ids[0])] == [
        make_session(2).model_dump(mode="json")
    ]
    assert repository.import_cases([]) == []


def test_a_taken_reference_imports_nothing(repository: CaseRepository, engine: Engine) -> None:
    repository.create(make_case("TAKEN"))
    before = stored_rows(engine)
    imported = [make_case(f"NEW-{n}", sessions=make_course()) for n in range(3)]

    with pytest.raises(ReferenceTaken) as taken:
        repository.import_cases([*imported, make_case("TAKEN")])

    assert taken.value.reference == "TAKEN"
    assert "TAKEN" in str(taken.value)
    assert stored_rows(engine) == before
    assert [s.reference for s in repository.list()] == ["TAKEN"]


def test_a_reference_twice_in_one_import_imports_nothing(
    repository: CaseRepository, engine: Engine
) -> None:
    with pytest.raises(ReferenceTaken) as taken:
        repository.import_cases([make_case("TWICE"), make_case("ONCE"), make_case("TWICE")])

    assert taken.value.reference == "TWICE"
    assert stored_rows(engine) == (0, 0, 0)


def test_an_import_that_does_not_fit_imports_nothing(
    repository: CaseRepository, engine: Engine
) -> None:
    too_long = make_case("BAD", protocol_id="p" * 41)

    with pytest.raises(ValueError, match="protocol_id"):
        repository.import_cases([make_case("GOOD"), too_long])

    assert stored_rows(engine) == (0, 0, 0)


def test_a_large_import_is_one_transaction_in_batches(
    repository: CaseRepository, engine: Engine
) -> None:
    case = make_case(sessions=make_course())
    many = [case.model_copy(update={"reference": f"BULK-{n:05d}"}) for n in range(2_500)]

    ids = repository.import_cases(many)

    assert stored_rows(engine) == (2_500, 2_500 * 6, 2_500 * 6)
    for n in (0, 1_234, 2_499):
        assert repository.get(ids[n]).case == many[n]
    assert repository.cases_without_metrics(3) == ids[:3]
