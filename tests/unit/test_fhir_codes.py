"""FHIR codes: LOINC on every PHQ-9 and GAD-7 item and answer, totals an SDC renderer computes,
and the canonical base a service sets in content/fhir.yaml."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from tailoring import services
from tailoring.content import load_content
from tailoring.engine.assess import assess
from tailoring.export.fhir import (
    FhirError,
    case_bundle,
    case_bundle_json,
    questionnaires,
    read_case_bundle,
)
from tailoring.export.fhir.questionnaires import total_expression
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tests.content_edits import content_problems, edit_yaml, has_problem

LOINC = "http://loinc.org"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
CALCULATED = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
AT = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)
# As issue 17 lists them, checked against public LHC-Forms copies of LOINC's forms.
PHQ9_ITEMS = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]
GAD7_ITEMS = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
ANSWERS = [
    ("LA6568-5", "Not at all", 0),
    ("LA6569-3", "Several days", 1),
    ("LA6570-1", "More than half the days", 2),
    ("LA6571-9", "Nearly every day", 3),
]


def by_name(content: ContentLibrary) -> dict[str, dict[str, Any]]:
    return questionnaires(content).by_name


def scored_items(questionnaire: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in questionnaire["item"] if i["linkId"] != "total"]


def demo_case() -> Case:
    return services.parse_case_file(services.demo_case_paths()[-1].read_text(encoding="utf-8"))


@pytest.mark.parametrize(("name", "codes"), [("phq9", PHQ9_ITEMS), ("gad7", GAD7_ITEMS)])
def test_every_item_carries_its_loinc_code_in_order(content, name: str, codes) -> None:
    items = scored_items(by_name(content)[name])
    assert [i["code"] for i in items] == [[{"system": LOINC, "code": c}] for c in codes]
    assert [i["linkId"] for i in items] == [i.id for i in content.measure(name).items]


@pytest.mark.parametrize("name", ["phq9", "gad7"])
def test_every_answer_is_a_loinc_code_with_its_ordinal_value(content, name: str) -> None:
    for item in scored_items(by_name(content)[name]):
        options = [
            (
                o["valueCoding"]["system"],
                o["valueCoding"]["code"],
                o["valueCoding"]["display"],
                o["extension"],
            )
            for o in item["answerOption"]
        ]
        assert options == [
            (LOINC, code, display, [{"url": ORDINAL, "valueDecimal": value}])
            for code, display, value in ANSWERS
        ]


@pytest.mark.parametrize(
    ("name", "panel", "total"), [("phq9", "44249-1", "44261-6"), ("gad7", "69737-5", "70274-6")]
)
def test_the_panel_and_the_total_carry_loinc_codes(content, name, panel, total) -> None:
    questionnaire = by_name(content)[name]
    assert questionnaire["code"] == [{"system": LOINC, "code": panel}]
    item = questionnaire["item"][-1]
    assert item["linkId"] == "total"
    assert item["code"] == [{"system": LOINC, "code": total}]
    assert item["type"] == "integer"
    assert item["readOnly"] is True


def test_the_phq9_total_is_a_fhirpath_sum_of_the_weights_once_all_nine_are_answered(
    content,
) -> None:
    [extension] = by_name(content)["phq9"]["item"][-1]["extension"]
    assert extension["url"] == CALCULATED
    assert extension["valueExpression"]["language"] == "text/fhirpath"
    ids = " | ".join(f"'phq9_{n}'" for n in range(1, 10))
    items = f"%resource.item.where(linkId in ({ids}))"
    assert extension["valueExpression"]["expression"] == (
        f"iif({items}.answer.count() = 9, {items}.answer.value.weight().sum(), {{}})"
    )


@pytest.mark.parametrize("name", ["phq9", "gad7", "wsas", "pcl5"])
def test_every_measure_total_names_exactly_its_items(content, name: str) -> None:
    measure = content.measure(name)
    expression = total_expression(measure)
    for listed in re.findall(r"linkId in \(([^)]*)\)", expression):
        assert re.findall(r"'([a-z0-9_]+)'", listed) == [i.id for i in measure.items]
    assert f"answer.count() = {len(measure.items)}," in expression
    # Balanced, so a FHIRPath parser gets one expression.
    assert expression.count("(") == expression.count(")")


def test_not_applicable_is_left_out_of_the_sum_before_weight(content) -> None:
    wsas = total_expression(content.measure("wsas"))
    assert ".answer.value.where(code != 'na').weight().sum()" in wsas
    assert "where(code" not in total_expression(content.measure("phq9"))


def test_a_measure_without_loinc_codes_keeps_ours(content) -> None:
    wsas = by_name(content)["wsas"]
    base = content.fhir.canonical_base
    first = wsas["item"][0]
    assert "code" not in first
    assert {o["valueCoding"]["system"] for o in first["answerOption"]} == {
        f"{base}/CodeSystem/wsas"
    }
    assert wsas["item"][-1]["code"] == [
        {
            "system": f"{base}/CodeSystem/measures",
            "code": "wsas.total",
            "display": "Work and Social Adjustment Scale total score",
        }
    ]


def test_every_measure_questionnaire_validates_with_fhir_resources(content) -> None:
    for measure in content.measures:
        Questionnaire.model_validate(by_name(content)[measure.id])


# Totals in our own responses ------------------------------------------------------------------


def test_a_complete_measure_response_states_its_total(content) -> None:
    case = demo_case()
    bundle = case_bundle(content, case, assess(content, case), AT)
    resources = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    phq9 = resources["session-2-phq9"]
    assert phq9["item"][-1] == {
        "linkId": "total",
        "text": "PHQ-9 total score",
        "answer": [{"valueInteger": resources["session-2-phq9-total"]["valueInteger"]}],
    }
    assert phq9["item"][0]["answer"][0]["valueCoding"] == {
        "system": LOINC,
        "code": "LA6571-9",
        "display": "Nearly every day",
    }


def test_a_stated_total_that_is_not_the_sum_of_the_answers_is_refused(content) -> None:
    case = demo_case()
    bundle = case_bundle(content, case, assess(content, case), AT)
    index, phq9 = next(
        (k, e["resource"])
        for k, e in enumerate(bundle["entry"])
        if e["resource"]["id"] == "session-2-phq9"
    )
    phq9["item"][-1]["answer"][0]["valueInteger"] += 1
    with pytest.raises(FhirError) as caught:
        read_case_bundle(content, json.dumps(bundle))
    assert caught.value.problems == [
        f"entry[{index}] QuestionnaireResponse/session-2-phq9: item[9].answer[0].valueInteger: "
        f"{phq9['item'][-1]['answer'][0]['valueInteger']} is not the PHQ-9 total of its "
        f"answers ({phq9['item'][-1]['answer'][0]['valueInteger'] - 1})"
    ]


# The canonical base ---------------------------------------------------------------------------


def test_the_canonical_base_and_publisher_come_from_content(content_copy: Path) -> None:
    base = "https://fhir.example-clinic.nhs.uk/tailoring"
    edit_yaml(
        content_copy / "fhir.yaml", lambda d: d.update(canonical_base=base, publisher="A clinic")
    )
    changed = load_content(content_copy)
    qs = questionnaires(changed)
    assert all(q["url"] == f"{base}/Questionnaire/{q['id']}" for q in qs.by_name.values())
    assert {q["publisher"] for q in qs.by_name.values()} == {"A clinic"}
    case = demo_case()
    text = case_bundle_json(changed, case, assess(changed, case), AT)
    assert "tailoring.example.org" not in text
    assert f"{base}/StructureDefinition/session-number" in text
    assert read_case_bundle(changed, text) == case


def test_the_same_case_under_another_base_gets_other_full_urls(content, content_copy) -> None:
    edit_yaml(content_copy / "fhir.yaml", lambda d: d.update(canonical_base="https://a.org/f"))
    case = demo_case()
    ours = case_bundle(content, case, assess(content, case), AT)
    theirs = case_bundle(load_content(content_copy), case, assess(content, case), AT)
    assert not {e["fullUrl"] for e in ours["entry"]} & {e["fullUrl"] for e in theirs["entry"]}


def test_a_bundle_made_under_another_base_says_so(content, content_copy) -> None:
    edit_yaml(content_copy / "fhir.yaml", lambda d: d.update(canonical_base="https://a.org/f"))
    case = demo_case()
    text = case_bundle_json(load_content(content_copy), case, assess(content, case), AT)
    with pytest.raises(FhirError) as caught:
        read_case_bundle(content, text)
    assert caught.value.problems[0] == (
        "entry[1] QuestionnaireResponse/case: questionnaire: 'https://a.org/f/Questionnaire/case' "
        "is under the canonical base 'https://a.org/f', not ours "
        "('https://tailoring.example.org/fhir'): what was made under another base is read under "
        "that one (--canonical-base)"
    )


@pytest.mark.parametrize(
    ("base", "words"),
    [
        ("https://tailoring.example.org/fhir/", "trailing '/'"),
        ("ftp://files.example.org/fhir", "not an absolute http(s) URL"),
        ("fhir/questionnaires", "not an absolute http(s) URL"),
        ("https://a.org/fhir?x=1", "no query or fragment"),
        ("https://a.org/fhir#top", "no query or fragment"),
        ("https://a.org/my fhir", "no spaces"),
    ],
)
def test_a_bad_canonical_base_is_refused_naming_the_file(content_copy, base, words) -> None:
    edit_yaml(content_copy / "fhir.yaml", lambda d: d.update(canonical_base=base))
    found = content_problems(content_copy)
    assert has_problem(found, "fhir.yaml", "canonical_base", words), found


def test_content_without_fhir_yaml_is_refused_naming_it(content_copy) -> None:
    (content_copy / "fhir.yaml").unlink()
    assert "fhir.yaml: file is missing" in content_problems(content_copy)
