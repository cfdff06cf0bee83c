"""The caseload import page through AppTest: check, report by row and field, import, figures."""

from __future__ import annotations

import csv
import io
import json
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tailoring import limits, services
from tailoring.demo import demo_cases
from tailoring.export.caseload import cases_csv
from tests.store import app_store

PAGE = "pages/import_caseload.py"
ROOT = Path(__file__).resolve().parents[2]


def demo_csv(n: int = 4, first: int = 50001) -> str:
    """``n`` invented cases in the CSV import format, DEMO-50001 upwards."""
    lib = services.content()
    return cases_csv(demo_cases(lib, n, seed=7, first=first), lib)


def with_cells(text: str, changes: dict[tuple[str, str], str]) -> bytes:
    """The CSV with the cell of (reference, column) changed on each row of that case."""
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        for (reference, column), value in changes.items():
            if row["reference"] == reference:
                row[column] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def first_rows(text: str) -> dict[str, int]:
    """The spreadsheet row (header = 1) of each reference's first row."""
    seen: dict[str, int] = {}
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        seen.setdefault(row["reference"], number)
    return seen


def stored_references() -> set[str]:
    return {c.reference for c in services.list_cases(include_archived=True)}


@pytest.fixture
def page(app: AppTest) -> AppTest:
    app.switch_page(PAGE)
    app.run()
    assert not app.exception
    return app


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader(key="import.file").set_value((name, data, mime))
    return at.run()


def problems(at: AppTest) -> list[tuple[str, str, str]]:
    [table] = [frame.value for frame in at.dataframe]
    field = "Field" if "Field" in table else "Column"
    return list(zip(table["Row"], table[field], table["Problem"], strict=True))


def test_a_clean_file_imports_and_its_cases_appear_in_the_caseload(page: AppTest):
    text = demo_csv(4)
    at = upload(page, "caseload.csv", text.encode())
    assert not at.exception
    assert "Every row passed every check." in [s.value for s in at.success]
    assert [m.value for m in at.metric][1:] == ["4", "0", "0"]
    button = at.button(key="import.go")
    assert button.label == "Import 4 cases"
    assert not button.disabled

    at = button.click().run()

    assert not at.exception
    imported = {f"DEMO-{50001 + i}" for i in range(4)}
    assert imported <= stored_references()
    assert any("Imported 4 cases" in s.value for s in at.success)
    assert any("Figures computed for 4 cases" in s.value for s in at.success)
    assert services.caseload_stamp().without_figures == 0
    at.switch_page("pages/caseload.py").run()
    assert imported <= set(at.dataframe[0].value["Reference"])


def test_bad_rows_are_listed_by_row_and_field_and_nothing_is_imported_until_confirmed(
    page: AppTest,
):
    text = demo_csv(4)
    rows = first_rows(text)
    broken = with_cells(
        text,
        {("DEMO-50002", "protocol_id"): "primal_scream", ("DEMO-50004", "date"): "05/01/2026"},
    )
    before = stored_references()

    at = upload(page, "caseload.csv", broken)

    assert not at.exception
    listed = problems(at)
    assert (str(rows["DEMO-50002"]), "protocol_id") in {(r, f) for r, f, _ in listed}
    assert (str(rows["DEMO-50004"]), "date") in {(r, f) for r, f, _ in listed}
    assert any("primal_scream" in message for _, _, message in listed)
    assert [m.value for m in at.metric][1:3] == ["2", "2"]
    assert at.button(key="import.go").disabled
    assert stored_references() == before

    at.checkbox(key="import.valid_only").check().run()
    assert at.checkbox(key="import.valid_only").label == (
        "Import only the 2 valid cases; the 2 cases with problems are left out"
    )
    at.button(key="import.go").click().run()

    assert not at.exception
    assert stored_references() - before == {"DEMO-50001", "DEMO-50003"}
    assert any("2 cases with problems were left out" in s.value for s in at.success)
    # A confirmation is not carried over to the next file.
    text = demo_csv(2, first=50101)
    upload(at, "next.csv", with_cells(text, {("DEMO-50102", "kind"): "therapy"}))
    assert not at.checkbox(key="import.valid_only").value
    assert at.button(key="import.go").disabled


def test_a_file_that_is_not_utf8_is_refused_with_a_clear_message(page: AppTest):
    data = demo_csv(1).replace("DEMO-50001,", "DEMO-50001-Zoë,").encode("latin-1")

    at = upload(page, "caseload.csv", data)

    assert not at.exception
    assert any("not UTF-8" in e.value and "CSV UTF-8" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "import.go"]


def test_json_that_does_not_parse_is_refused_with_where_it_breaks(page: AppTest):
    at = upload(page, "caseload.json", b'[{"reference": "A-1",}]', "application/json")

    assert not at.exception
    assert any("Not valid JSON (line 1" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "import.go"]


def test_a_json_case_with_a_bad_field_is_reported_by_its_path(page: AppTest):
    lib = services.content()
    cases = [c.model_dump(mode="json") for c in demo_cases(lib, 2, seed=3, first=60001)]
    cases[1]["sessions_available"] = "many"

    at = upload(page, "caseload.json", json.dumps(cases).encode(), "application/json")

    assert ("2", "sessions_available") in {(r, f) for r, f, _ in problems(at)}
    assert at.button(key="import.go").disabled


def test_a_reference_taken_after_the_check_imports_nothing(page: AppTest):
    text = demo_csv(3)
    at = upload(page, "caseload.csv", text.encode())
    services.new_case("DEMO-50002", "cbt_depression", 12)
    before = stored_references()

    at.button(key="import.go").click().run()

    assert not at.exception
    assert any("DEMO-50002" in e.value and "nothing was imported" in e.value for e in at.error)
    assert stored_references() == before
    at.run()  # the file is checked again, against the references now stored
    row = str(first_rows(text)["DEMO-50002"])
    assert (row, "reference") in {(r, f) for r, f, _ in problems(at)}


def test_a_rerun_does_not_check_the_same_file_again(page: AppTest, monkeypatch):
    calls = []
    check = services.check_caseload_file

    def counted(name: str, data: bytes):
        calls.append(name)
        return check(name, data)

    monkeypatch.setattr(services, "check_caseload_file", counted)
    at = upload(page, "caseload.csv", demo_csv(2).encode())
    at.run()
    at.run()
    assert calls == ["caseload.csv"]
    upload(at, "other.csv", demo_csv(2, first=70001).encode())
    assert calls == ["caseload.csv", "other.csv"]


def test_cases_waiting_for_figures_are_named_on_both_pages(page: AppTest, monkeypatch):
    # Every rerun also computes a few waiting cases' figures (services.start): one here.
    monkeypatch.setattr(services.database, "BACKFILL_PER_START", 1)
    lib = services.content()
    app_store().caseload.import_cases(demo_cases(lib, 8, seed=1, first=80001))

    at = page.switch_page("pages/caseload.py").run()
    waiting = services.caseload_stamp().without_figures
    assert waiting == 7
    assert any(f"{waiting} imported cases are still being computed" in i.value for i in at.info)
    assert not {f"DEMO-{80001 + i}" for i in range(1, 8)} & set(at.dataframe[0].value["Reference"])
    at.switch_page(PAGE).run()
    assert any(f"{waiting - 1} imported cases are not computed yet" in i.value for i in at.info)
    at.button(key="import.figures").click().run()

    assert not at.exception
    assert services.caseload_stamp().without_figures == 0
    at.switch_page("pages/caseload.py").run()
    assert not any("still being computed" in i.value for i in at.info)
    assert {f"DEMO-{80001 + i}" for i in range(8)} <= set(at.dataframe[0].value["Reference"])


def test_the_upload_limit_is_stated_once_and_truthfully(page: AppTest):
    """The page, its uploader and Streamlit's server accept the same size: a file between two
    different limits was refused by the server with a bare 'AxiosError … 413'."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == limits.UPLOAD_MB == limits.CASELOAD_FILE_MB
    [uploader] = page.get("file_uploader")
    assert uploader.proto.max_upload_size_mb == limits.CASELOAD_FILE_MB
    said = " ".join(block.value for block in page.markdown)
    assert f"up to {limits.CASELOAD_FILE_MB} MB" in said


def test_the_case_file_upload_states_its_own_lower_limit(app: AppTest):
    app.switch_page("pages/cases.py")
    app.run()
    [uploader] = [u for u in app.get("file_uploader") if "Case file" in u.proto.label]
    assert uploader.proto.max_upload_size_mb == limits.FILE_MB <= limits.UPLOAD_MB
    assert any(f"up to {limits.FILE_MB} MB" in c.value for c in app.caption)


@pytest.mark.parametrize("kind", ["digits", "depth"])
def test_hostile_json_is_refused_as_a_file_problem_not_an_error_page(page: AppTest, kind: str):
    text = "[" + "9" * 5_000 + "]" if kind == "digits" else "[" * 100_000 + "]" * 100_000

    at = upload(page, "caseload.json", text.encode(), "application/json")

    assert not at.exception
    [error] = at.error
    assert "This file cannot be imported" in error.value
    assert ("more than 30 digits" if kind == "digits" else "nested 100,000 levels") in error.value
