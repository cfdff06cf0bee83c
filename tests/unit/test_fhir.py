"""FHIR: questionnaires from content, a case as a Bundle and back, broken bundles refused."""

from __future__ import annotations

import copy
import datetime
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire

from tailoring import services
from tailoring.content import load_content
from tailoring.engine.assess import assess
from tailoring.export.fhir import (
    FhirError,
    case_bundle,
    case_bundle_json,
    fit_report_narrative,
    questionnaire_bundle,
    questionnaires,
    read_case_bundle,
)
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tests.case_factory import full_case, random_cases
from tests.content_edits import edit_yaml
from tests.session_factory import (
    case_with_sessions,
    content_with_adsm,
    random_cases_with_sessions,
    session,
)

AT = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)
LOINC = "http://loinc.org"
BASE = "https://tailoring.example.org/fhir"
SESSION_NUMBER = f"{BASE}/StructureDefinition/session-number"


def round_trip(content: ContentLibrary, case: Case) -> Case:
    text = case_bundle_json(content, case, assess(content, case), AT)
    return read_case_bundle(content, text)


def bundle_of(content: ContentLibrary, case: Case) -> dict[str, Any]:
    return case_bundle(content, case, assess(content, case), AT)


def scenario_case(content: ContentLibrary, scenario_id: str) -> Case:
    """The scenario's reference answers as a case, as a trainee who got everything right."""
    s = content.scenario(scenario_id)
    return Case.model_validate(
        {
            "reference": f"SCEN-{s.id}"[:32],
            "protocol_id": s.protocol_id,
            "sessions_available": s.sessions_available,
            "answers": s.reference.model_dump(),
        },
        context={"content": content},
    )


def entry(bundle: dict[str, Any], resource_id: str) -> tuple[int, dict[str, Any]]:
    """The index and resource of the entry with this id."""
    for index, e in enumerate(bundle["entry"]):
        if e["resource"].get("id") == resource_id:
            return index, e["resource"]
    raise KeyError(resource_id)


def refused(content: ContentLibrary, bundle: dict[str, Any]) -> list[str]:
    with pytest.raises(FhirError) as caught:
        read_case_bundle(content, json.dumps(bundle))
    return caught.value.problems


@pytest.fixture
def course(content) -> Case:
    """A case with answers and six sessions: partial measures, a missed session, 'na' on WSAS."""
    good = {"goals_agreement": 4, "task_agreement": 3, "bond": 4, "heard": 2}
    sessions = [
        session(content, 1, phq9=16, anxiety=12, kind="assessment"),
        session(content, 2, phq9=15, anxiety=12, alliance=good),
        session(content, 3, attendance="did_not_attend"),
        session(content, 4, phq9=12, anxiety=9, alliance={**good, "rupture_withdrawal": 1}),
        session(content, 5, phq9=9, anxiety=7),
        session(content, 6, phq9=6, anxiety=5, kind="follow_up"),
    ]
    sessions[3]["measures"]["phq9"]["phq9_9"] = None
    sessions[4]["measures"]["wsas"] = {"wsas_1": "na", "wsas_2": 3, "wsas_3": 2, "wsas_4": 1}
    sessions[4]["measures"]["wsas"]["wsas_5"] = 0
    sessions[5]["note"] = "Follow-up by phone <kept short> & friendly."
    return case_with_sessions(
        content,
        sessions,
        preferences={
            "structure": {"value": 2, "importance": 3},
            "format": {"value": ["phone", "video"], "importance": 2},
            "goals": {"value": []},
            "therapist_gender": {"value": "woman"},
            "focus": {"importance": 1},
            "pace": {},
        },
        social={
            "housing": {
                "present": "yes",
                "maintains": "yes",
                "helping": "no",
                "details": ["damp_mould", "repairs_ignored"],
                "note": "Landlord <not> answering & mould spreading.",
            },
            "money": {"present": "unsure"},
            "access": {},
        },
        alliance={"bond": {"value": 3}, "heard": {"value": None}},
    )


# Round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", services.demo_case_paths(), ids=lambda p: p.stem)
def test_every_demo_case_comes_back_identical(content, path: Path) -> None:
    case = services.parse_case_file(path.read_text(encoding="utf-8"))
    assert round_trip(content, case) == case


@pytest.mark.parametrize("scenario_id", [s.id for s in services.scenarios()])
def test_every_scenario_reference_case_comes_back_identical(content, scenario_id: str) -> None:
    case = scenario_case(content, scenario_id)
    assert round_trip(content, case) == case


def test_a_course_with_partial_measures_and_notes_comes_back_identical(content, course) -> None:
    assert round_trip(content, course) == course


def test_random_cases_come_back_identical(content) -> None:
    cases = [
        *random_cases(content, 40, seed=7),
        *random_cases_with_sessions(content, 25, seed=11),
        full_case(content, seed=3),
    ]
    for case in cases:
        assert round_trip(content, case) == case, case.reference


def test_a_service_measure_without_loinc_round_trips_with_our_own_codes(tmp_path) -> None:
    content = content_with_adsm(tmp_path)
    cases = random_cases_with_sessions(content, 10, seed=5, anxiety_measures=("adsm",))
    for case in cases:
        assert round_trip(content, case) == case
    adsm = questionnaires(content).by_name["adsm"]
    assert adsm["code"] == [
        {
            "system": f"{BASE}/CodeSystem/measures",
            "code": "adsm",
            "display": adsm["title"],
        }
    ]


def test_the_same_case_gives_the_same_bundle(content, course) -> None:
    first = case_bundle_json(content, course, assess(content, course), AT)
    assert case_bundle_json(content, course, assess(content, course), AT) == first


def test_services_round_trip_through_json_text(content, course, database) -> None:
    text = services.case_fhir(course)
    assert services.is_fhir_bundle(text)
    assert not services.is_fhir_bundle(services.case_file(course))
    assert services.case_from_fhir(text) == course


# What the bundle holds -----------------------------------------------------------------------


def test_the_bundle_validates_with_fhir_resources(content, course) -> None:
    bundle = Bundle.model_validate(bundle_of(content, course))
    assert bundle.type == "collection"
    kinds = [e.resource.get_resource_type() for e in bundle.entry]
    assert kinds[0] == "DocumentReference"
    assert set(kinds) == {"DocumentReference", "QuestionnaireResponse", "Observation"}


def test_no_patient_resource_and_no_subject(content, course) -> None:
    text = case_bundle_json(content, course, assess(content, course), AT)
    assert '"Patient' not in text
    assert '"subject"' not in text


def test_one_response_per_checklist_session_measure_and_alliance_check(content, course) -> None:
    bundle = bundle_of(content, course)
    ids = [e["resource"]["id"] for e in bundle["entry"]]
    assert ids[:5] == ["fit-report", "case", "preferences", "social", "alliance"]
    assert ids[5:9] == ["session-1", "session-1-phq9", "session-1-phq9-total", "session-1-gad7"]
    assert "session-2-alliance" in ids
    assert "session-3-phq9" not in ids
    _, partial = entry(bundle, "session-4-phq9")
    assert partial["status"] == "in-progress"
    assert "session-4-phq9-total" not in ids
    _, wsas = entry(bundle, "session-5-wsas")
    assert wsas["status"] == "completed"
    assert wsas["item"][0]["linkId"] == "wsas_1"
    assert wsas["item"][0]["answer"][0]["valueCoding"]["code"] == "na"


def test_session_responses_carry_the_number_and_are_authored_on_the_session_date(
    content, course
) -> None:
    bundle = bundle_of(content, course)
    _, facts = entry(bundle, "session-2")
    assert facts["extension"] == [{"url": SESSION_NUMBER, "valueInteger": 2}]
    assert facts["authored"] == str(course.sessions[1].date)
    _, measure = entry(bundle, "session-2-gad7")
    assert measure["extension"] == facts["extension"]
    assert measure["authored"] == facts["authored"]
    assert measure["questionnaire"] == questionnaires(content).canonical("gad7")
    _, checklist = entry(bundle, "preferences")
    assert "extension" not in checklist and "authored" not in checklist


def test_totals_are_observations_with_loinc_codes(content, course) -> None:
    bundle = bundle_of(content, course)
    _, phq9 = entry(bundle, "session-1-phq9-total")
    assert phq9["code"]["coding"] == [{"system": LOINC, "code": "44261-6"}]
    assert phq9["valueInteger"] == 16
    assert phq9["interpretation"] == [{"text": "Moderately severe"}]
    index, _ = entry(bundle, "session-1-phq9")
    assert phq9["derivedFrom"] == [{"reference": bundle["entry"][index]["fullUrl"]}]
    _, gad7 = entry(bundle, "session-1-gad7-total")
    assert gad7["code"]["coding"] == [{"system": LOINC, "code": "70274-6"}]
    _, wsas = entry(bundle, "session-5-wsas-total")
    assert wsas["code"]["coding"][0] == {
        "system": f"{BASE}/CodeSystem/measures",
        "code": "wsas.total",
        "display": "Work and Social Adjustment Scale total score",
    }


def test_the_fit_report_is_a_readable_well_formed_narrative(content, course) -> None:
    report = assess(content, course)
    _, document = entry(bundle_of(content, course), "fit-report")
    div = document["text"]["div"]
    assert div == fit_report_narrative(report)
    text = "".join(ET.fromstring(div).itertext())
    assert course.reference in text
    assert report.content_version in text
    assert all(flag.title in text for flag in report.flags)
    kinds = [c["attachment"]["contentType"] for c in document["content"]]
    assert kinds == ["text/html; charset=utf-8", "application/json; charset=utf-8"]


def test_the_narrative_escapes_text(content, course) -> None:
    report = assess(content, course).model_copy(update={"protocol_name": 'A & <b>"B"</b>'})
    div = fit_report_narrative(report)
    assert "A &amp; &lt;b&gt;&quot;B&quot;&lt;/b&gt;" in div
    assert 'A & <b>"B"</b>' in "".join(ET.fromstring(div).itertext())


# Questionnaires ------------------------------------------------------------------------------


def test_every_questionnaire_validates_with_fhir_resources(content) -> None:
    bundle = questionnaire_bundle(content)
    Bundle.model_validate(bundle)
    names = [e["resource"]["id"] for e in bundle["entry"]]
    assert names == [
        "preferences",
        "social",
        "alliance",
        "phq9",
        "gad7",
        "pcl5",
        "wsas",
        "case",
        "session",
    ]
    for e in bundle["entry"]:
        questionnaire = Questionnaire.model_validate(e["resource"])
        assert questionnaire.url == e["fullUrl"]
        assert questionnaire.url == f"{BASE}/Questionnaire/{questionnaire.id}"
        assert questionnaire.status == "active"
        assert len(questionnaire.version) == 12


def test_services_print_the_questionnaire_bundle(content) -> None:
    assert json.loads(services.fhir_questionnaires()) == questionnaire_bundle(content)


def test_link_ids_are_the_content_ids(content) -> None:
    qs = questionnaires(content).by_name
    preferences = qs["preferences"]["item"]
    assert [g["linkId"] for g in preferences] == [i.id for i in content.preferences]
    assert [p["linkId"] for p in preferences[0]["item"]] == [
        f"{content.preferences[0].id}.value",
        f"{content.preferences[0].id}.importance",
    ]
    housing = next(g for g in qs["social"]["item"] if g["linkId"] == "housing")
    assert [p["linkId"] for p in housing["item"]] == [
        "housing.present",
        "housing.maintains",
        "housing.helping",
        "housing.details",
        "housing.note",
    ]
    details = housing["item"][3]
    assert details["repeats"] is True
    assert [o["valueCoding"]["code"] for o in details["answerOption"]] == [
        d.id for d in content.social_domain("housing").details
    ]
    assert [i["linkId"] for i in qs["alliance"]["item"]] == [i.id for i in content.alliance]
    assert [i["linkId"] for i in qs["phq9"]["item"]] == [
        *(i.id for i in content.measure("phq9").items),
        "total",
    ]


def test_scales_and_choices_have_coded_answer_options(content) -> None:
    qs = questionnaires(content).by_name
    structure = next(g for g in qs["preferences"]["item"] if g["linkId"] == "structure")
    value = structure["item"][0]
    assert value["type"] == "choice"
    assert [o["valueCoding"]["code"] for o in value["answerOption"]] == ["1", "2", "3", "4", "5"]
    assert (
        value["answerOption"][0]["valueCoding"]["display"]
        == content.preference("structure").labels[0]
    )
    assert value["answerOption"][4]["extension"][0]["valueDecimal"] == 5
    gad7_1 = qs["gad7"]["item"][0]
    assert [o["valueCoding"]["display"] for o in gad7_1["answerOption"]] == [
        o.label for o in content.measure("gad7").options
    ]
    wsas_1 = qs["wsas"]["item"][0]
    assert wsas_1["answerOption"][-1]["valueCoding"]["code"] == "na"


def test_phq9_and_gad7_carry_their_loinc_codes(content) -> None:
    qs = questionnaires(content).by_name
    assert qs["phq9"]["code"] == [{"system": LOINC, "code": "44249-1"}]
    assert qs["gad7"]["code"] == [{"system": LOINC, "code": "69737-5"}]
    item9 = next(i for i in qs["phq9"]["item"] if i["linkId"] == "phq9_9")
    assert item9["code"] == [{"system": LOINC, "code": "44260-8"}]
    assert qs["wsas"]["code"][0]["system"] == f"{BASE}/CodeSystem/measures"


def test_the_version_changes_with_the_questionnaire_and_only_then(content_copy) -> None:
    before = questionnaires(load_content(content_copy))

    def reword(items: list[dict[str, Any]]) -> None:
        items[0]["question"] = items[0]["question"] + " (reworded)"

    edit_yaml(content_copy / "preferences.yaml", reword)
    after = questionnaires(load_content(content_copy))
    assert after.by_name["preferences"]["version"] != before.by_name["preferences"]["version"]
    for name in ("social", "alliance", "phq9", "gad7", "wsas", "case", "session"):
        assert after.by_name[name]["version"] == before.by_name[name]["version"], name

    edit_yaml(content_copy / "measures" / "phq9.yaml", lambda m: m["items"][3].update(text="Tired"))
    again = questionnaires(load_content(content_copy))
    assert again.by_name["phq9"]["version"] != after.by_name["phq9"]["version"]
    assert again.by_name["gad7"]["version"] == after.by_name["gad7"]["version"]


def test_a_bundle_made_before_a_change_is_refused_with_its_version(content, content_copy) -> None:
    case = services.parse_case_file(services.demo_case_paths()[1].read_text(encoding="utf-8"))
    text = case_bundle_json(content, case, assess(content, case), AT)

    edit_yaml(content_copy / "social.yaml", lambda d: d[0].update(title="Home"))
    changed = load_content(content_copy)
    with pytest.raises(FhirError) as caught:
        read_case_bundle(changed, text)
    [problem] = caught.value.problems
    assert problem.startswith(
        "entry[3] QuestionnaireResponse/social: questionnaire: unknown version"
    )
    assert f"{BASE}/Questionnaire/social" in problem


# Broken bundles are refused, naming the resource and the element -----------------------------


@pytest.fixture
def bundle(content, course) -> dict[str, Any]:
    return copy.deepcopy(bundle_of(content, course))


def test_a_missing_link_id_is_named(content, bundle) -> None:
    index, response = entry(bundle, "session-2-phq9")
    del response["item"][1]["linkId"]
    problems = refused(content, bundle)
    assert any(
        p.startswith(f"entry[{index}] QuestionnaireResponse/session-2-phq9: item[1].linkId")
        for p in problems
    ), problems


def test_a_nested_missing_link_id_is_named(content, bundle) -> None:
    index, response = entry(bundle, "social")
    del response["item"][0]["item"][0]["linkId"]
    problems = refused(content, bundle)
    assert any(
        p.startswith(f"entry[{index}] QuestionnaireResponse/social: item[0].item[0].linkId")
        for p in problems
    ), problems


def test_a_wrong_answer_type_is_named(content, bundle) -> None:
    index, response = entry(bundle, "session-1-phq9")
    response["item"][2]["answer"] = [{"valueInteger": 2}]
    assert refused(content, bundle) == [
        f"entry[{index}] QuestionnaireResponse/session-1-phq9: item[2].answer[0]: expected "
        "valueCoding for choice item 'phq9_3', got valueInteger"
    ]


def test_a_value_that_is_not_its_type_is_named(content, bundle) -> None:
    index, response = entry(bundle, "case")
    response["item"][3]["answer"] = [{"valueInteger": "many"}]
    [problem] = refused(content, bundle)
    assert problem.startswith(
        f"entry[{index}] QuestionnaireResponse/case: item[3].answer[0].valueInteger: "
    )


def test_an_unknown_questionnaire_is_named(content, bundle) -> None:
    index, response = entry(bundle, "alliance")
    response["questionnaire"] = f"{BASE}/Questionnaire/srs|1"
    [problem] = refused(content, bundle)
    assert problem.startswith(
        f"entry[{index}] QuestionnaireResponse/alliance: questionnaire: unknown questionnaire "
        f"'{BASE}/Questionnaire/srs'"
    )


def test_an_unknown_version_is_named(content, bundle) -> None:
    index, response = entry(bundle, "preferences")
    url = response["questionnaire"].split("|")[0]
    response["questionnaire"] = f"{url}|000000000000"
    [problem] = refused(content, bundle)
    assert problem.startswith(
        f"entry[{index}] QuestionnaireResponse/preferences: questionnaire: unknown version "
        f"'000000000000' of {url}"
    )


def test_a_missing_version_is_named(content, bundle) -> None:
    index, response = entry(bundle, "preferences")
    response["questionnaire"] = response["questionnaire"].split("|")[0]
    [problem] = refused(content, bundle)
    assert problem.startswith(
        f"entry[{index}] QuestionnaireResponse/preferences: questionnaire: no version given"
    )


@pytest.mark.parametrize(
    ("resource_id", "status"),
    [("session-1", "done"), ("session-1-phq9-total", "finished"), ("fit-report", "draft")],
)
def test_a_bad_status_code_is_named(content, bundle, resource_id: str, status: str) -> None:
    index, resource = entry(bundle, resource_id)
    resource["status"] = status
    [problem] = refused(content, bundle)
    kind = resource["resourceType"]
    assert problem == (
        f"entry[{index}] {kind}/{resource_id}: status: {status!r} is not a {kind} status code"
    )


def test_an_entered_in_error_response_is_refused(content, bundle) -> None:
    index, response = entry(bundle, "session-2-gad7")
    response["status"] = "entered-in-error"
    [problem] = refused(content, bundle)
    assert problem.startswith(f"entry[{index}] QuestionnaireResponse/session-2-gad7: status:")


def test_an_unknown_link_id_and_option_are_named(content, bundle) -> None:
    index, response = entry(bundle, "social")
    housing = response["item"][0]
    housing["item"][0]["linkId"] = "money.present"
    housing["item"][3]["answer"][0]["valueCoding"]["code"] = "castle"
    problems = refused(content, bundle)
    label = f"entry[{index}] QuestionnaireResponse/social"
    assert (
        problems[0]
        == f"{label}: item[0].item[0].linkId: 'money.present' is not an item here in social"
    )
    assert problems[1].startswith(f"{label}: item[0].item[3].answer[0].valueCoding: ")
    assert "castle is not an answer option of 'housing.details'" in problems[1]


def test_two_answers_to_a_single_choice_are_named(content, bundle) -> None:
    index, response = entry(bundle, "alliance")
    response["item"][0]["answer"] *= 2
    [problem] = refused(content, bundle)
    assert problem == (
        f"entry[{index}] QuestionnaireResponse/alliance: item[0].answer: 'bond' takes one "
        "answer, not 2"
    )


def test_a_total_that_does_not_match_its_answers_is_named(content, bundle) -> None:
    index, observation = entry(bundle, "session-1-gad7-total")
    observation["valueInteger"] += 1
    [problem] = refused(content, bundle)
    assert problem.startswith(f"entry[{index}] Observation/session-1-gad7-total: valueInteger: ")


def test_a_session_response_without_its_number_is_named(content, bundle) -> None:
    index, response = entry(bundle, "session-2-gad7")
    del response["extension"]
    [problem] = refused(content, bundle)
    assert problem == (
        f"entry[{index}] QuestionnaireResponse/session-2-gad7: extension: no session number "
        f"({SESSION_NUMBER})"
    )


def test_a_measure_of_a_session_not_in_the_bundle_is_named(content, bundle) -> None:
    index, response = entry(bundle, "session-2-gad7")
    response["extension"][0]["valueInteger"] = 9
    problems = refused(content, bundle)
    assert (
        f"entry[{index}] QuestionnaireResponse/session-2-gad7: extension: session 9 has no "
        "session response" in problems
    )


def test_other_resource_types_are_refused(content, bundle) -> None:
    bundle["entry"].append(
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "p1"}}
    )
    [problem] = refused(content, bundle)
    assert problem.startswith(f"entry[{len(bundle['entry']) - 1}] Patient/p1: resourceType: ")


def test_a_bundle_without_the_case_response_is_refused(content, bundle) -> None:
    index, _ = entry(bundle, "case")
    del bundle["entry"][index]
    assert refused(content, bundle) == [
        f"Bundle: no QuestionnaireResponse answers {BASE}/Questionnaire/case"
    ]


def test_a_case_that_does_not_validate_names_the_response_it_came_from(content, bundle) -> None:
    index, response = entry(bundle, "session-4")
    response["item"][0]["answer"] = [{"valueDate": "2020-01-01"}]
    problems = refused(content, bundle)
    assert problems == [
        f"entry[{index}] QuestionnaireResponse/session-4: sessions.3.date: 2020-01-01 is before "
        "the date of session 3 (2026-01-26)"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON (line 1, column 2)"),
        ('{"resourceType": "Patient"}', "resourceType: expected a FHIR Bundle"),
        ('{"resourceType": "Bundle", "type": "pile"}', "Bundle: type: 'pile' is not a Bundle"),
    ],
)
def test_text_that_is_not_a_bundle_is_refused(content, text: str, problem: str) -> None:
    with pytest.raises(FhirError) as caught:
        read_case_bundle(content, text)
    assert caught.value.problems[0].startswith(problem)


# Importing into storage -----------------------------------------------------------------------


@pytest.fixture
def database(tmp_path, monkeypatch, upgrade) -> None:
    monkeypatch.setenv("TAILORING_DATABASE_URL", f"sqlite:///{tmp_path / 'fhir.db'}")
    upgrade(f"sqlite:///{tmp_path / 'fhir.db'}")
    services.start(load_demo=False)


def test_an_imported_bundle_is_stored_as_the_case_it_holds(database, course) -> None:
    case_id = services.import_case(services.case_fhir(course))
    assert services.open_case(case_id).case == course
    assert services.flag_history(case_id)


def test_import_takes_a_case_file_too(database, course) -> None:
    case_id = services.import_case(services.case_file(course))
    assert services.open_case(case_id).case == course


def test_import_refuses_a_reference_in_use_and_a_bundle_that_does_not_validate(
    database, course
) -> None:
    text = services.case_fhir(course)
    services.import_case(text)
    with pytest.raises(services.ReferenceTaken):
        services.import_case(text)
    with pytest.raises(services.FhirError):
        services.import_case(text.replace('"completed"', '"done"', 1))


def test_import_refuses_a_reference_that_looks_like_an_nhs_number(database, course) -> None:
    case = course.model_copy(update={"reference": "943-476-5919"})
    with pytest.raises(services.CaseFileError, match="NHS number"):
        services.import_case(services.case_fhir(case))


def test_an_import_with_a_detail_under_present_no_is_refused_naming_the_field(content) -> None:
    case = Case.model_validate(
        {
            "reference": "FHIR-IND",
            "protocol_id": "cbt_depression",
            "problem": "depression",
            "sessions_available": 16,
            "answers": {
                "social": {"safeguarding": {"present": "yes", "details": ["domestic_abuse"]}}
            },
        },
        context={"content": content},
    )
    tampered = bundle_of(content, case)
    index, response = entry(tampered, "social")
    [group] = [i for i in response["item"] if i["linkId"] == "safeguarding"]
    [present] = [i for i in group["item"] if i["linkId"] == "safeguarding.present"]
    present["answer"][0]["valueCoding"].update(code="no", display="No")
    problems = refused(content, tampered)
    assert any(
        p.startswith(f"entry[{index}] QuestionnaireResponse/social")
        and "answers.social.safeguarding.details" in p
        for p in problems
    ), problems


def test_the_problem_comes_back_from_fhir(content) -> None:
    case = Case.model_validate(
        {
            "reference": "FHIR-PROB",
            "protocol_id": "tf_cbt",
            "problem": "ptsd",
            "second_problem": "depression",
            "sessions_available": 12,
        },
        context={"content": content},
    )
    back = read_case_bundle(content, json.dumps(bundle_of(content, case)))
    assert (back.problem, back.second_problem) == ("ptsd", "depression")
