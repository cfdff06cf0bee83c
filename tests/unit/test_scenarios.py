"""Teaching scenarios: each validates, together they cover the study, the engine agrees."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tailoring.content import CONTENT_DIR, load_content
from tailoring.engine.assess import protocol_fit
from tailoring.engine.grading import reference_flag_problems, scenario_case, scenario_flags
from tailoring.model.content import ContentLibrary
from tailoring.model.scenario import DIFFICULTIES, Scenario, scenario_problems
from tests.content_edits import content_problems, edit_yaml, has_problem

SCENARIO_FILES = sorted((CONTENT_DIR / "scenarios").glob("*.yaml"))
SCENARIO_IDS = [p.stem for p in SCENARIO_FILES]
THEMES = {"personalisation", "alliance", "depth", "skills_agency", "pace", "heard"}


@pytest.fixture(scope="module")
def scenarios(content: ContentLibrary) -> list[Scenario]:
    return content.scenarios


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_scenario_file_validates(path: Path, content: ContentLibrary) -> None:
    scenario = Scenario.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert scenario.id == path.stem
    assert scenario_problems(scenario, content) == []


@pytest.mark.parametrize("scenario_id", SCENARIO_IDS)
def test_engine_raises_exactly_the_reference_flags(
    content: ContentLibrary, scenario_id: str
) -> None:
    scenario = content.scenario(scenario_id)
    raised = {f.id for f in scenario_flags(content, scenario, scenario.reference)}
    assert raised == scenario.flag_ids()
    assert reference_flag_problems(content, scenario) == []


@pytest.mark.parametrize("scenario_id", SCENARIO_IDS)
def test_reference_flags_belong_to_the_scenario_themes(
    content: ContentLibrary, scenario_id: str
) -> None:
    scenario = content.scenario(scenario_id)
    themes = {f.theme for f in scenario_flags(content, scenario, scenario.reference)}
    assert themes <= set(scenario.themes)


def test_the_library_loads_every_scenario_file(scenarios: list[Scenario]) -> None:
    assert [s.id for s in scenarios] == SCENARIO_IDS


def test_coverage_of_the_set(content: ContentLibrary, scenarios: list[Scenario]) -> None:
    assert len(scenarios) >= 12
    assert {t for s in scenarios for t in s.themes} == THEMES
    flag_themes = {f.theme for s in scenarios for f in scenario_flags(content, s, s.reference)}
    assert flag_themes == THEMES
    assert len({s.protocol_id for s in scenarios}) >= 8
    assert {s.difficulty for s in scenarios} == set(DIFFICULTIES)


def test_the_set_teaches_each_kind_of_answer(
    content: ContentLibrary, scenarios: list[Scenario]
) -> None:
    no_flags, adapt_within, review, signpost = [], [], [], []
    for s in scenarios:
        fit = protocol_fit(content, scenario_case(s, s.reference), content.protocol(s.protocol_id))
        if not fit.flags:
            no_flags.append(s.id)
        if any(d.actions for d in fit.dimensions):
            adapt_within.append(s.id)
        if any(f.hard or (f.id.startswith("pref.") and f.severity == "high") for f in fit.flags):
            review.append(s.id)
        if any(f.id.startswith("social.") and f.severity == "high" for f in fit.flags):
            signpost.append(s.id)
    assert len(no_flags) >= 2, no_flags
    assert len(adapt_within) >= 3, adapt_within
    assert len(review) >= 2, review
    assert len(signpost) >= 2, signpost


def test_the_housing_example_from_the_brief(content: ContentLibrary) -> None:
    scenario = content.scenario("housing_damp_mould")
    assert scenario.protocol_id == "ba_step2"
    assert scenario.sessions_available == 6
    housing = scenario.reference.social["housing"]
    assert {"damp_mould", "repairs_ignored"} <= set(housing.details)
    assert "social.housing" in scenario.flag_ids()


def test_every_reference_flag_has_a_rationale_of_a_few_sentences(
    scenarios: list[Scenario],
) -> None:
    for s in scenarios:
        for flag in s.reference_flags:
            sentences = flag.rationale.count(". ") + 1
            assert 2 <= sentences <= 5, (s.id, flag.id)


# --- Broken scenario files: each break is reported with its file and field --------------------


def test_unknown_protocol(content_copy: Path) -> None:
    edit_yaml(
        content_copy / "scenarios" / "housing_damp_mould.yaml",
        lambda s: s.update(protocol_id="primal_scream"),
    )
    problems = content_problems(content_copy)
    assert has_problem(
        problems, "scenarios/housing_damp_mould.yaml", "protocol_id", "primal_scream"
    )


def test_bad_answer_value(content_copy: Path) -> None:
    def change(s: dict) -> None:
        s["reference"]["preferences"]["structure"]["value"] = 9

    edit_yaml(content_copy / "scenarios" / "housing_damp_mould.yaml", change)
    problems = content_problems(content_copy)
    assert has_problem(
        problems, "scenarios/housing_damp_mould.yaml", "reference.preferences.structure.value"
    ), problems


def test_unknown_answer_detail(content_copy: Path) -> None:
    def change(s: dict) -> None:
        s["reference"]["social"]["housing"]["details"].append("castle")

    edit_yaml(content_copy / "scenarios" / "housing_damp_mould.yaml", change)
    problems = content_problems(content_copy)
    assert has_problem(
        problems, "scenarios/housing_damp_mould.yaml", "reference.social.housing.details", "castle"
    ), problems


def test_bad_shape_names_the_field(content_copy: Path) -> None:
    edit_yaml(
        content_copy / "scenarios" / "ipt_bereavement.yaml",
        lambda s: s.update(difficulty="fiendish"),
    )
    problems = content_problems(content_copy)
    assert has_problem(problems, "scenarios/ipt_bereavement.yaml", "difficulty"), problems


def test_id_must_match_the_file_name(content_copy: Path) -> None:
    folder = content_copy / "scenarios"
    (folder / "ipt_bereavement.yaml").rename(folder / "grief.yaml")
    problems = content_problems(content_copy)
    assert has_problem(problems, "scenarios/grief.yaml", "id:", "file name"), problems


def test_reference_flag_naming_no_item(content_copy: Path) -> None:
    def change(s: dict) -> None:
        s["reference_flags"].append({"id": "pref.telepathy", "rationale": "Not a real item. " * 2})

    edit_yaml(content_copy / "scenarios" / "ipt_bereavement.yaml", change)
    problems = content_problems(content_copy)
    assert has_problem(problems, "scenarios/ipt_bereavement.yaml", "reference_flags", "telepathy")


def test_sessions_below_the_protocol_minimum(content_copy: Path) -> None:
    edit_yaml(
        content_copy / "scenarios" / "ipt_bereavement.yaml",
        lambda s: s.update(sessions_available=4),
    )
    problems = content_problems(content_copy)
    assert has_problem(problems, "scenarios/ipt_bereavement.yaml", "sessions_available"), problems


def test_a_content_folder_without_scenarios_still_loads(content_copy: Path) -> None:
    shutil.rmtree(content_copy / "scenarios")
    assert load_content(content_copy).scenarios == []
