"""The command line for FHIR: export a case file as a Bundle, import it back, the questionnaires."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle

from tailoring.__main__ import main
from tailoring.services import demo_case_paths, parse_case_file

DEMO = demo_case_paths()[-1]


def test_export_then_import_gives_the_case_file_back(tmp_path, capsys) -> None:
    assert main(["fhir", "export", str(DEMO)]) == 0
    printed = capsys.readouterr().out
    Bundle.model_validate_json(printed)
    bundle = tmp_path / "bundle.json"
    bundle.write_text(printed, encoding="utf-8")

    assert main(["fhir", "import", str(bundle)]) == 0
    case = parse_case_file(capsys.readouterr().out)
    assert case == parse_case_file(DEMO.read_text(encoding="utf-8"))


def test_questionnaires_prints_a_bundle_of_questionnaires(capsys) -> None:
    assert main(["fhir", "questionnaires"]) == 0
    bundle = json.loads(capsys.readouterr().out)
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert kinds == {"Questionnaire"}


def test_export_refuses_a_bad_case_file(tmp_path, capsys) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"reference": "X-1", "protocol_id": "nope"}), encoding="utf-8")
    assert main(["fhir", "export", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is not a valid case file" in err
    assert "sessions_available" in err


def test_import_lists_every_problem_on_stderr(tmp_path, capsys) -> None:
    assert main(["fhir", "export", str(DEMO)]) == 0
    bundle = json.loads(capsys.readouterr().out)
    bundle["entry"][1]["resource"]["status"] = "done"
    del bundle["entry"][2]["resource"]["item"][0]["linkId"]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")

    assert main(["fhir", "import", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "is not a FHIR bundle of a case we can import" in captured.err
    assert "entry[2] QuestionnaireResponse/preferences: item[0].linkId" in captured.err


def test_import_of_a_missing_file_says_so(tmp_path, capsys) -> None:
    assert main(["fhir", "import", str(tmp_path / "nowhere.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
