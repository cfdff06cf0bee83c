"""Responses to PHQ-9 and GAD-7 from other systems (LOINC's forms) or any SDC renderer (ours),
put onto a session of a case; unknown forms and bad answers refused with the reason."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tailoring import services
from tailoring.__main__ import main
from tailoring.export.fhir import (
    FhirError,
    add_to_session,
    questionnaires,
    read_measure_responses,
)
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import ItemValue

LOINC = "http://loinc.org"
LA = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
DEMO = services.demo_case_paths()[-1]


def demo_case() -> Case:
    return services.parse_case_file(DEMO.read_text(encoding="utf-8"))


def without(case: Case, number: int, *measure_ids: str) -> Case:
    """The case with these measures of session ``number`` not recorded."""
    data = case.model_dump(mode="json")
    session = next(s for s in data["sessions"] if s["number"] == number)
    for measure_id in measure_ids:
        del session["measures"][measure_id]
    return Case.model_validate(data)


def loinc_response(
    content: ContentLibrary,
    measure_id: str,
    answers: dict[str, ItemValue],
    *,
    link: str = "/{code}",
    questionnaire: str | None = "http://loinc.org/q/{panel}",
    total: bool = True,
) -> dict[str, Any]:
    """A response as a system built on LOINC's form sends it: items keyed by LOINC codes,
    answers as LOINC's answer codings, the total under LOINC's code."""
    measure = content.measure(measure_id)
    assert measure.loinc is not None
    items: list[dict[str, Any]] = []
    for item in measure.items:
        entry: dict[str, Any] = {"linkId": link.format(code=item.loinc)}
        value = answers.get(item.id)
        if isinstance(value, int):
            entry["answer"] = [{"valueCoding": {"system": LOINC, "code": LA[value]}}]
        items.append(entry)
    if total:
        score = sum(v for v in answers.values() if isinstance(v, int))
        items.append(
            {"linkId": link.format(code=measure.loinc.total), "answer": [{"valueInteger": score}]}
        )
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"their-{measure_id}",
        "status": "completed",
        "item": items,
    }
    if questionnaire is not None:
        response["questionnaire"] = questionnaire.format(panel=measure.loinc.panel)
    return response


def refused(content: ContentLibrary, resource: dict[str, Any]) -> list[str]:
    with pytest.raises(FhirError) as caught:
        read_measure_responses(content, json.dumps(resource))
    return caught.value.problems


def answers_of(content: ContentLibrary, resource: dict[str, Any]) -> dict[str, ItemValue]:
    [response] = read_measure_responses(content, json.dumps(resource))
    return response.answers


@pytest.fixture
def case() -> Case:
    return demo_case()


# LOINC's forms ------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [1, 2, 4, 5, 6])
def test_loinc_keyed_phq9_and_gad7_put_back_give_the_same_case(content, case, number) -> None:
    session = next(s for s in case.sessions if s.number == number)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": loinc_response(content, m, session.measures[m])} for m in ("phq9", "gad7")
        ],
    }
    responses = read_measure_responses(content, json.dumps(bundle))
    assert [r.measure_id for r in responses] == ["phq9", "gad7"]
    assert [r.label for r in responses] == [
        "entry[0] QuestionnaireResponse/their-phq9",
        "entry[1] QuestionnaireResponse/their-gad7",
    ]
    stripped = without(case, number, "phq9", "gad7")
    assert add_to_session(content, stripped, number, responses) == case


@pytest.mark.parametrize("link", ["{code}", "/{code}", "/44249-1/{code}"])
def test_a_linkid_is_read_by_its_last_part(content, case, link) -> None:
    answers = case.sessions[1].measures["phq9"]
    assert answers_of(content, loinc_response(content, "phq9", answers, link=link)) == answers


def test_items_inside_a_group_are_read(content, case) -> None:
    answers = case.sessions[1].measures["phq9"]
    flat = loinc_response(content, "phq9", answers)
    grouped = {**flat, "item": [{"linkId": "/44249-1", "text": "PHQ-9", "item": flat["item"]}]}
    assert answers_of(content, grouped) == answers


def test_answers_may_be_ordinal_values_or_codings_without_a_system(content, case) -> None:
    answers = case.sessions[1].measures["phq9"]
    response = loinc_response(content, "phq9", answers)
    response["item"][0]["answer"] = [{"valueInteger": answers["phq9_1"]}]
    response["item"][1]["answer"] = [{"valueDecimal": float(answers["phq9_2"])}]
    response["item"][2]["answer"][0]["valueCoding"].pop("system")
    assert answers_of(content, response) == answers


def test_the_form_is_known_by_its_items_whatever_its_questionnaire_is_called(content, case) -> None:
    answers = case.sessions[1].measures["gad7"]
    for questionnaire in ("Questionnaire/9bca2d21", None):
        response = loinc_response(content, "gad7", answers, questionnaire=questionnaire)
        assert answers_of(content, response) == answers


def test_the_difficulty_question_is_passed_over(content, case) -> None:
    answers = case.sessions[1].measures["phq9"]
    response = loinc_response(content, "phq9", answers)
    difficulty = {"valueCoding": {"system": LOINC, "code": "LA6573-5"}}
    response["item"].insert(9, {"linkId": "/69722-7", "answer": [difficulty]})
    assert answers_of(content, response) == answers


def test_gad7_item_2_may_use_its_own_answer_list(content, case) -> None:
    answers = {**case.sessions[1].measures["gad7"], "gad7_2": 2}
    response = loinc_response(content, "gad7", answers)
    response["item"][1]["answer"] = [{"valueCoding": {"system": LOINC, "code": "LA18938-3"}}]
    assert answers_of(content, response) == answers


def test_an_unanswered_item_is_left_blank_and_there_is_no_total(content, case) -> None:
    answers = {**case.sessions[1].measures["phq9"], "phq9_4": None}
    [response] = read_measure_responses(
        content, json.dumps(loinc_response(content, "phq9", answers, total=False))
    )
    assert response.answers == answers
    assert response.total is None


# Our own questionnaires, answered in any SDC renderer ---------------------------------------


def our_response(content: ContentLibrary, measure_id: str, answers: dict[str, ItemValue]) -> dict:
    """A response to our questionnaire as an SDC renderer writes it: our linkIds, the options'
    codings (with the ordinal value copied onto them, as LHC-Forms does), the total."""
    questionnaire = questionnaires(content).by_name[measure_id]
    items = []
    for item in questionnaire["item"][:-1]:
        value = answers[item["linkId"]]
        option = next(
            o
            for o in item["answerOption"]
            if o.get("extension", [{}])[0].get("valueDecimal", o["valueCoding"]["code"]) == value
        )
        coding = {**option["valueCoding"], "extension": option.get("extension", [])}
        items.append({"linkId": item["linkId"], "answer": [{"valueCoding": coding}]})
    total = sum(v for v in answers.values() if isinstance(v, int))
    items.append({"linkId": "total", "answer": [{"valueInteger": total}]})
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": f"{questionnaire['url']}|{questionnaire['version']}",
        "item": items,
    }


@pytest.mark.parametrize("measure_id", ["phq9", "gad7", "wsas"])
def test_a_response_to_our_questionnaire_is_read_by_our_ids(content, case, measure_id) -> None:
    answers = case.sessions[1].measures[measure_id]
    assert answers_of(content, our_response(content, measure_id, answers)) == answers


def test_a_response_to_another_version_of_ours_is_refused(content, case) -> None:
    response = our_response(content, "phq9", case.sessions[1].measures["phq9"])
    response["questionnaire"] = response["questionnaire"].split("|")[0] + "|0123456789ab"
    [problem] = refused(content, response)
    assert problem.startswith(
        "QuestionnaireResponse: questionnaire: unknown version '0123456789ab' of "
        "https://tailoring.example.org/fhir/Questionnaire/phq9"
    )


def test_a_response_to_one_of_our_checklists_is_not_a_measure(content) -> None:
    url = questionnaires(content).url("alliance")
    response = {"resourceType": "QuestionnaireResponse", "status": "completed"}
    assert refused(content, {**response, "questionnaire": url}) == [
        "QuestionnaireResponse: questionnaire: it answers our 'alliance' questionnaire, not a "
        "measure: import it in a case Bundle (without --case)"
    ]


# Refused, with the reason ---------------------------------------------------------------------


def test_an_unknown_form_is_refused_saying_what_is_read(content) -> None:
    phq2 = {
        "resourceType": "QuestionnaireResponse",
        "id": "phq2",
        "status": "completed",
        "questionnaire": "http://loinc.org/q/55757-9",
        "item": [
            {"linkId": "/44250-9", "answer": [{"valueCoding": {"system": LOINC, "code": LA[1]}}]},
            {"linkId": "/44255-8", "answer": [{"valueCoding": {"system": LOINC, "code": LA[2]}}]},
        ],
    }
    assert refused(content, phq2) == [
        "QuestionnaireResponse/phq2: questionnaire: 'http://loinc.org/q/55757-9' is not a form "
        "we read, and the items are not keyed by the LOINC codes of every item of one measure: "
        "we read LOINC's PHQ-9 (44249-1), GAD-7 (69737-5) and our measures at "
        "https://tailoring.example.org/fhir/Questionnaire/<measure> (phq9, gad7, pcl5, wsas)"
    ]
    del phq2["questionnaire"]
    assert refused(content, phq2)[0].startswith(
        "QuestionnaireResponse/phq2: questionnaire: none named, and the items are not keyed"
    )


def test_ours_under_another_base_says_so(content, case) -> None:
    response = our_response(content, "phq9", case.sessions[1].measures["phq9"])
    response["questionnaire"] = "https://other.org/fhir/Questionnaire/phq9"
    [problem] = refused(content, response)
    assert "is under the canonical base 'https://other.org/fhir', not ours" in problem


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda r: r["item"][9]["answer"][0].update(valueInteger=3),
            "item[9].answer[0]: 3 is not the PHQ-9 total of its answers (18)",
        ),
        (
            lambda r: r["item"][2].update(linkId="/12345-6"),
            "item[2].linkId: '/12345-6' is not a question of LOINC's PHQ-9 (44250-9, 44255-8",
        ),
        (
            lambda r: r["item"][0]["answer"][0]["valueCoding"].update(code="LA18938-3"),
            "item[0].answer[0].valueCoding: http://loinc.org#LA18938-3 is not an answer of "
            "'/44250-9' (expected one of http://loinc.org#LA6568-5",
        ),
        (
            lambda r: r["item"][0].update(answer=[{"valueInteger": 4}]),
            "item[0].answer[0]: 4 is not the ordinal value of an answer of '/44250-9'",
        ),
        (
            lambda r: r["item"][0].update(answer=[{"valueDecimal": 1.5}]),
            "item[0].answer[0]: 1.5 is not the ordinal value of an answer of '/44250-9'",
        ),
        (
            lambda r: r["item"][0].update(answer=[{"valueString": "Nearly every day"}]),
            "item[0].answer[0]: expected valueCoding or an ordinal value (valueInteger)",
        ),
        (
            lambda r: r["item"][0]["answer"].append({"valueInteger": 1}),
            "item[0].answer: '/44250-9' takes one answer",
        ),
        (
            lambda r: r["item"].append(dict(r["item"][0])),
            "item[10].linkId: '/44250-9' is answered twice",
        ),
        (lambda r: r.update(status="entered-in-error"), "status: entered in error"),
        (lambda r: r.update(status="done"), "status: 'done' is not a QuestionnaireResponse"),
    ],
)
def test_a_bad_response_is_refused_naming_the_element(content, case, change, problem) -> None:
    answers = case.sessions[1].measures["phq9"]
    response = copy.deepcopy(loinc_response(content, "phq9", answers))
    change(response)
    found = refused(content, response)
    assert any(p.startswith(f"QuestionnaireResponse/their-phq9: {problem}") for p in found), found


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not valid JSON"),
        ('{"resourceType": "Patient"}', "resourceType: expected a QuestionnaireResponse"),
        ('{"resourceType": "Bundle", "type": "collection"}', "Bundle: entry: expected a list"),
        (
            '{"resourceType": "Bundle", "type": "collection", "entry": '
            '[{"resource": {"resourceType": "Patient", "id": "p"}}]}',
            "entry[0] Patient/p: resourceType: only QuestionnaireResponses are read",
        ),
    ],
)
def test_what_is_not_responses_is_refused(content, text: str, problem: str) -> None:
    with pytest.raises(FhirError) as caught:
        read_measure_responses(content, text)
    assert caught.value.problems[0].startswith(problem), caught.value.problems


# Onto a session -------------------------------------------------------------------------------


def read_one(content, case, measure_id="phq9", number=2):
    answers = next(s for s in case.sessions if s.number == number).measures[measure_id]
    return read_measure_responses(content, json.dumps(loinc_response(content, measure_id, answers)))


def test_the_same_answers_again_change_nothing(content, case) -> None:
    assert add_to_session(content, case, 2, read_one(content, case)) == case


def test_other_answers_already_recorded_are_not_replaced(content, case) -> None:
    with pytest.raises(FhirError) as caught:
        add_to_session(content, case, 1, read_one(content, case, number=2))
    assert caught.value.problems == [
        "QuestionnaireResponse/their-phq9: session 1 already has other PHQ-9 answers: remove "
        "them from the case file to replace them"
    ]


def test_a_session_not_in_the_case_is_named(content, case) -> None:
    with pytest.raises(FhirError) as caught:
        add_to_session(content, case, 9, read_one(content, case))
    assert caught.value.problems == ["session 9: not in case DEMO-005 (1, 2, 3, 4, 5, 6)"]


def test_two_responses_to_one_measure_are_refused(content, case) -> None:
    twice = read_one(content, case) * 2
    with pytest.raises(FhirError) as caught:
        add_to_session(content, without(case, 2, "phq9"), 2, twice)
    assert caught.value.problems == [
        "QuestionnaireResponse/their-phq9: a second PHQ-9 response "
        "(QuestionnaireResponse/their-phq9 is the first)"
    ]


# The command line -----------------------------------------------------------------------------


def write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_the_cli_puts_a_loinc_response_onto_a_session(content, case, tmp_path, capsys) -> None:
    stripped = write(tmp_path / "case.json", without(case, 4, "gad7").model_dump(mode="json"))
    response = write(
        tmp_path / "gad7.json", loinc_response(content, "gad7", case.sessions[3].measures["gad7"])
    )
    assert main(["fhir", "import", response, "--case", stripped, "--session", "4"]) == 0
    captured = capsys.readouterr()
    assert services.parse_case_file(captured.out) == case
    total = sum(case.sessions[3].measures["gad7"].values())
    assert captured.err == (
        f"QuestionnaireResponse/their-gad7: GAD-7 (total {total}) put onto session 4\n"
    )


def test_the_cli_refuses_an_unknown_form_with_exit_2(content, case, tmp_path, capsys) -> None:
    stripped = write(tmp_path / "case.json", case.model_dump(mode="json"))
    form = loinc_response(content, "gad7", case.sessions[3].measures["gad7"])
    form["questionnaire"] = "http://loinc.org/q/55757-9"
    form["item"] = form["item"][:2]
    response = write(tmp_path / "phq2.json", form)
    assert main(["fhir", "import", response, "--case", stripped, "--session", "4"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        f"{response} was not put onto session 4: QuestionnaireResponse/their-gad7: "
        "questionnaire: 'http://loinc.org/q/55757-9' is not a form we read"
    )
    assert "Traceback" not in captured.err


def test_the_cli_asks_for_the_case_of_a_single_response(content, case, tmp_path, capsys) -> None:
    response = write(tmp_path / "r.json", loinc_response(content, "phq9", {}))
    assert main(["fhir", "import", response]) == 2
    assert "--case CASE_FILE --session N" in capsys.readouterr().err
    assert main(["fhir", "import", response, "--session", "2"]) == 2
    assert "--case and --session go together" in capsys.readouterr().err


def test_the_cli_takes_a_canonical_base_for_one_command(content, tmp_path, capsys) -> None:
    base = "https://fhir.example-clinic.nhs.uk/tailoring"
    assert main(["fhir", "questionnaires", "--canonical-base", base]) == 0
    bundle = json.loads(capsys.readouterr().out)
    assert {e["fullUrl"] for e in bundle["entry"]} == {
        f"{base}/Questionnaire/{e['resource']['id']}" for e in bundle["entry"]
    }
    assert main(["fhir", "export", str(DEMO), "--canonical-base", base]) == 0
    exported = write(tmp_path / "bundle.json", json.loads(capsys.readouterr().out))
    assert main(["fhir", "import", exported]) == 2
    assert "--canonical-base" in capsys.readouterr().err
    assert main(["fhir", "import", exported, "--canonical-base", base]) == 0
    assert services.parse_case_file(capsys.readouterr().out) == demo_case()


def test_the_cli_refuses_a_bad_canonical_base(capsys) -> None:
    assert main(["fhir", "questionnaires", "--canonical-base", "https://a.org/fhir/"]) == 2
    assert capsys.readouterr().err == (
        "--canonical-base: 'https://a.org/fhir/': leave out the trailing '/'\n"
    )
