"""The command line: assess, schema and validate-content, with bad input refused by field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tailoring.__main__ import main
from tailoring.content import CONTENT_DIR
from tailoring.model.report import FitReport
from tailoring.services import demo_case_paths


def write(tmp_path: Path, data) -> str:
    path = tmp_path / "case.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def valid_case() -> dict:
    return json.loads(demo_case_paths()[1].read_text())


def test_assess_prints_the_fit_report_as_json(tmp_path, capsys):
    assert main(["assess", write(tmp_path, valid_case())]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["schema"] == "fit-report/1"
    report = FitReport.model_validate(
        {k: v for k, v in printed.items() if k not in ("schema", "generated_by")}
    )
    assert report.case_reference == valid_case()["reference"]
    assert report.flags


def test_assess_shows_problem_severity_indication_per_protocol_and_the_new_flags(tmp_path, capsys):
    case = valid_case()  # behavioural activation (low intensity) for depression
    case["answers"]["social"]["safeguarding"] = {"present": "yes", "details": ["domestic_abuse"]}
    phq9 = {f"phq9_{n}": 3 if n < 8 else (1 if n == 8 else 0) for n in range(1, 10)}
    case["sessions"] = [
        {
            "number": 1,
            "date": "2026-11-02",
            "attendance": "attended",
            "kind": "assessment",
            "measures": {"phq9": phq9},
        }
    ]
    assert main(["assess", write(tmp_path, case)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["problem"] == "Depression"
    assert printed["severity"]["depression"]["total"] == 22
    assert printed["severity"]["depression"]["split"] == "more_severe"
    assert printed["indication"]["status"] == "severity_outside"
    statuses = {a["protocol_id"]: a["indication"] for a in printed["alternatives"]}
    statuses.update({r["protocol_id"]: r["status"] for r in printed["ruled_out"]})
    assert statuses["couple_therapy"] == "contraindicated"
    assert statuses["tf_cbt"] == "not_indicated"
    assert statuses["cbt_depression"] == "indicated"
    assert "couple_therapy" not in {a["protocol_id"] for a in printed["alternatives"]}
    assert "indication.severity" in {f["id"] for f in printed["flags"]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c.update(sessions_available="many"), "sessions_available"),
        (lambda c: c.update(protocol_id="primal_scream"), "protocol_id"),
        (
            lambda c: c["answers"]["preferences"].update(telepathy={"value": 3}),
            "answers.preferences.telepathy",
        ),
        (
            lambda c: c["answers"]["preferences"].update(structure={"value": 9}),
            "answers.preferences.structure.value",
        ),
        (
            lambda c: c["answers"]["preferences"].update(structure={"value": 2, "importance": 7}),
            "answers.preferences.structure.importance",
        ),
        (
            lambda c: c["answers"]["alliance"].update(rupture_withdrawal={"value": 4}),
            "answers.alliance.rupture_withdrawal.value",
        ),
        (
            lambda c: c["answers"]["social"].update(housing={"present": "maybe"}),
            "answers.social.housing.present",
        ),
        (
            lambda c: c["answers"]["social"].update(
                housing={"present": "yes", "details": ["castle"]}
            ),
            "answers.social.housing.details",
        ),
        (lambda c: c.update(reference="Jane Smith"), "reference"),
        (
            lambda c: c["answers"]["preferences"].update(
                goals={"value": ["skills", "skills"], "importance": 2}
            ),
            "answers.preferences.goals.value",
        ),
        (lambda c: c.update(surprise=True), "surprise"),
        (lambda c: c.update(problem="melancholy"), "problem"),
        (
            lambda c: c["answers"]["social"].update(
                safeguarding={"present": "no", "details": ["domestic_abuse"]}
            ),
            "answers.social.safeguarding.details",
        ),
        (
            lambda c: c["answers"]["social"].update(housing={"present": "no", "maintains": "yes"}),
            "answers.social.housing.maintains",
        ),
    ],
)
def test_assess_refuses_a_bad_case_file_naming_the_field(tmp_path, capsys, change, field):
    case = valid_case()
    change(case)
    assert main(["assess", write(tmp_path, case)]) == 2
    err = capsys.readouterr().err
    assert "is not a valid case file" in err
    assert field in err


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", ""])
def test_assess_refuses_text_that_is_not_a_case_object(tmp_path, capsys, text):
    assert main(["assess", write(tmp_path, text)]) == 2
    assert "not a valid case file" in capsys.readouterr().err


def test_assess_of_a_missing_file_says_so(tmp_path, capsys):
    assert main(["assess", str(tmp_path / "nowhere.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_schema_is_the_json_schema_of_a_case_file(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Case"
    assert {"reference", "protocol_id", "sessions_available", "answers"} <= set(
        schema["properties"]
    )


def test_validate_content_accepts_ours_and_names_the_file_and_field_of_a_broken_one(
    tmp_path, capsys
):
    assert main(["validate-content"]) == 0
    assert "is valid" in capsys.readouterr().out
    broken = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, broken)
    path = broken / "protocols" / "ipt.yaml"
    path.write_text(path.read_text().replace("minutes: 50}", "minutes: 5000}", 1))
    assert main(["validate-content", "--directory", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "protocols/ipt.yaml" in err
    assert "sessions.minutes" in err
