"""The caseload import's use cases against real databases: check, import, figures, demo."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest

from tailoring import services
from tailoring.demo import demo_cases
from tailoring.export.caseload import cases_csv
from tailoring.model.actor import Actor
from tests.store import caseload_rows


@pytest.fixture
def app_database(database_url: str, monkeypatch: pytest.MonkeyPatch, upgrade) -> str:
    """The services on the test's database (SQLite, and PostgreSQL when configured)."""
    monkeypatch.setenv("TAILORING_DATABASE_URL", database_url)
    monkeypatch.setenv("TAILORING_DEMO", "0")
    upgrade(database_url)
    return database_url


def caseload_file(n: int, first: int = 20001) -> bytes:
    lib = services.content()
    return cases_csv(demo_cases(lib, n, seed=11, first=first), lib).encode()


def first_row(data: bytes, reference: str) -> int:
    rows = csv.DictReader(io.StringIO(data.decode()))
    return next(n for n, row in enumerate(rows, start=2) if row["reference"] == reference)


def test_a_checked_file_imports_and_its_figures_are_those_of_a_case_saved_by_hand(
    app_database: str,
) -> None:
    data = caseload_file(6)
    report = services.check_caseload_file("caseload.csv", data)
    assert report.clean
    assert report.valid_cases == 6

    ids = services.import_caseload(report)

    assert len(ids) == 6
    assert services.caseload_stamp().without_figures == 6
    assert services.caseload_frame().empty
    assert services.compute_pending_figures(limit=4) == 4
    assert services.compute_pending_figures(limit=4) == 2
    assert services.compute_pending_figures() == 0
    assert services.caseload_stamp().without_figures == 0
    batch = {row.id: row for row in caseload_rows()}
    history = {case_id: services.flag_history(case_id) for case_id in ids}
    for case_id in ids:
        services.refresh_case(case_id)
    by_hand = {row.id: row for row in caseload_rows()}
    for case_id in ids:
        assert replace(batch[case_id], computed_at=None) == replace(
            by_hand[case_id], computed_at=None
        )
        # The figures were current: refreshing them raised or cleared nothing.
        assert services.flag_history(case_id) == history[case_id]
    assert any(history.values())
    assert sorted(services.caseload_frame()["id"]) == sorted(ids)


def test_a_stored_reference_is_a_problem_of_its_first_row_and_is_left_out(
    app_database: str,
) -> None:
    data = caseload_file(4)
    services.new_case("DEMO-20003", "cbt_depression", 12)

    report = services.check_caseload_file("caseload.csv", data)

    [conflict] = report.errors
    assert (conflict.row, conflict.field, conflict.reference) == (
        first_row(data, "DEMO-20003"),
        "reference",
        "DEMO-20003",
    )
    assert "already stored" in conflict.message
    assert (report.valid_cases, report.invalid_references) == (3, ["DEMO-20003"])
    with pytest.raises(services.CaseFileError, match="valid cases"):
        services.import_caseload(report)
    ids = services.import_caseload(report, valid_only=True)
    stored = {services.open_case(case_id).case.reference for case_id in ids}
    assert stored == {"DEMO-20001", "DEMO-20002", "DEMO-20004"}


def therapists_file(therapists: list[str], as_json: bool = False) -> bytes:
    lib = services.content()
    cases = [
        case.model_copy(update={"therapist": therapist})
        for case, therapist in zip(
            demo_cases(lib, len(therapists), seed=11, first=20001), therapists, strict=True
        )
    ]
    if as_json:
        return json.dumps([case.model_dump(mode="json") for case in cases]).encode()
    return cases_csv(cases, lib).encode()


TESS = Actor("tess", "Tess", frozenset({"therapist"}))
SAM = Actor("sam", "Sam", frozenset({"supervisor"}), frozenset({"tess"}))


@pytest.mark.parametrize("as_json", [False, True])
def test_rows_naming_another_therapist_are_reported_by_row_and_field(
    app_database: str, as_json: bool
) -> None:
    data = therapists_file(["tess", "omar", "tess", "zoe"], as_json)

    with services.acting_as(TESS):
        report = services.check_caseload_file("caseload.json" if as_json else "caseload.csv", data)
        assert [(e.row, e.field, e.reference) for e in report.errors] == [
            (report.first_rows["DEMO-20002"], "therapist", "DEMO-20002"),
            (report.first_rows["DEMO-20004"], "therapist", "DEMO-20004"),
        ]
        assert report.errors[0].message == (
            "this case is for omar, and you can import cases for yourself (tess) only: "
            "change the therapist"
        )
        assert (report.valid_cases, report.invalid_references) == (2, ["DEMO-20002", "DEMO-20004"])
        ids = services.import_caseload(report, valid_only=True)
        assert {services.open_case(i).case.therapist for i in ids} == {"tess"}
    if not as_json:
        rows = {e.reference: e.row for e in report.errors}
        assert rows == {ref: first_row(data, ref) for ref in ("DEMO-20002", "DEMO-20004")}


def test_someone_who_may_create_no_case_is_told_so_on_every_case(app_database: str) -> None:
    with services.acting_as(SAM):
        report = services.check_caseload_file("caseload.csv", therapists_file(["tess", "sam"]))

    assert [e.field for e in report.errors] == ["therapist", "therapist"]
    assert all(
        "your account's roles do not allow creating cases" in e.message for e in report.errors
    )
    assert report.valid_cases == 0


def test_a_reference_taken_since_the_check_imports_nothing(app_database: str) -> None:
    report = services.check_caseload_file("caseload.csv", caseload_file(3))
    services.new_case("DEMO-20002", "cbt_depression", 12)

    with pytest.raises(services.ReferenceTaken) as taken:
        services.import_caseload(report)

    assert taken.value.reference == "DEMO-20002"
    assert [c.reference for c in services.list_cases()] == ["DEMO-20002"]


def test_a_file_that_is_not_a_caseload_imports_nothing(app_database: str) -> None:
    report = services.check_caseload_file("caseload.csv", "reference,therapist\nA-1,Zoë\n".encode())

    assert report.blocked
    with pytest.raises(services.CaseFileError, match="missing required columns"):
        services.import_caseload(report, valid_only=True)
    assert services.list_cases() == []


def test_the_demo_is_stored_again_under_new_references(app_database: str) -> None:
    first = services.store_demo_caseload(5, seed=1)
    second = services.store_demo_caseload(5, seed=1)

    references = [services.open_case(case_id).case.reference for case_id in first + second]
    assert references == [f"DEMO-{10001 + n}" for n in range(10)]
    assert services.compute_figures(first + second) == 10
    assert services.caseload_stamp().without_figures == 0
