"""The command line for trainee practice: grade an attempt; validate-content covers scenarios."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from tailoring.__main__ import main
from tailoring.content import CONTENT_DIR
from tailoring.model.grade import Grade
from tailoring.services import scenario

SCENARIO = "housing_damp_mould"


def attempt_file(tmp_path: Path, data) -> str:
    path = tmp_path / "attempt.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def reference_attempt() -> dict:
    """An attempt in the case-file format that gives the scenario's reference answers."""
    s = scenario(SCENARIO)
    return {
        "reference": "TRAIN-001",
        "protocol_id": s.protocol_id,
        "sessions_available": s.sessions_available,
        "answers": s.reference.model_dump(),
    }


def test_grade_prints_the_grade_as_json(tmp_path, capsys) -> None:
    assert main(["grade", SCENARIO, attempt_file(tmp_path, reference_attempt())]) == 0
    result = Grade.model_validate(json.loads(capsys.readouterr().out))
    assert result.scenario_id == SCENARIO
    assert result.mark == 100


def test_grade_reports_missed_flags_with_their_rationale(tmp_path, capsys) -> None:
    attempt = reference_attempt()
    attempt["answers"]["social"]["housing"]["helping"] = "yes"
    assert main(["grade", SCENARIO, attempt_file(tmp_path, attempt)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["flags"]["missed"] == ["social.housing"]
    assert printed["feedback"][0]["theme"] == "heard"
    assert printed["feedback"][0]["explanation"] == scenario(SCENARIO).rationale("social.housing")


def test_grade_refuses_an_unknown_scenario(tmp_path, capsys) -> None:
    assert main(["grade", "no_such_case", attempt_file(tmp_path, reference_attempt())]) == 2
    err = capsys.readouterr().err
    assert "scenario_id" in err
    assert "no_such_case" in err
    assert SCENARIO in err  # the known ids are listed


def test_grade_refuses_an_invalid_attempt_naming_the_field(tmp_path, capsys) -> None:
    attempt = reference_attempt()
    attempt["answers"]["preferences"]["structure"]["value"] = 9
    assert main(["grade", SCENARIO, attempt_file(tmp_path, attempt)]) == 2
    err = capsys.readouterr().err
    assert "is not a valid case file" in err
    assert "answers.preferences.structure.value" in err


def test_grade_refuses_text_that_is_not_a_case_file(tmp_path, capsys) -> None:
    assert main(["grade", SCENARIO, attempt_file(tmp_path, "{not json")]) == 2
    assert "not a valid case file" in capsys.readouterr().err


def test_grade_of_a_missing_file_says_so(tmp_path, capsys) -> None:
    assert main(["grade", SCENARIO, str(tmp_path / "nowhere.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_validate_content_counts_the_scenarios(capsys) -> None:
    assert main(["validate-content"]) == 0
    out = capsys.readouterr().out
    count = len(list((CONTENT_DIR / "scenarios").glob("*.yaml")))
    assert f"{count} scenarios" in out


def test_validate_content_names_the_file_and_field_of_a_broken_scenario(tmp_path, capsys) -> None:
    broken = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, broken)
    path = broken / "scenarios" / f"{SCENARIO}.yaml"
    path.write_text(path.read_text().replace("difficulty: intermediate", "difficulty: easy"))
    assert main(["validate-content", "--directory", str(broken)]) == 2
    err = capsys.readouterr().err
    assert f"scenarios/{SCENARIO}.yaml" in err
    assert "difficulty" in err


def test_validate_content_reports_reference_flags_the_engine_disagrees_with(
    tmp_path, capsys
) -> None:
    broken = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, broken)
    path = broken / "scenarios" / f"{SCENARIO}.yaml"
    data = yaml.safe_load(path.read_text())
    data["reference_flags"] = data["reference_flags"][:1]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["validate-content", "--directory", str(broken)]) == 2
    err = capsys.readouterr().err
    assert f"scenarios/{SCENARIO}.yaml: reference_flags" in err
    assert "social.relationships" in err
