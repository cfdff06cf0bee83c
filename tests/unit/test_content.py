"""The real content library loads and holds together; broken content fails naming file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailoring.content import CONTENT_DIR, load_content
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tests.content_edits import content_problems, edit_yaml, has_problem

THEMES = {"personalisation", "alliance", "depth", "skills_agency", "pace", "heard"}
SCALES = [
    "directiveness",
    "structure",
    "focus",
    "emotional_intensity",
    "challenge",
    "practice",
    "course_length",
    "pace",
]
DEMO_FILES = sorted((CONTENT_DIR / "demo").glob("*.json"))


@pytest.fixture(scope="module")
def lib() -> ContentLibrary:
    return load_content()


def test_counts(lib: ContentLibrary) -> None:
    assert len(lib.themes) == 6
    assert {t.id for t in lib.themes} == THEMES
    assert len(lib.preferences) >= 12
    assert len(lib.social) >= 12
    assert len(lib.protocols) >= 10
    assert len(lib.alliance) >= 9
    assert len(lib.adaptations) >= 35
    assert len(lib.importance_labels) == 4


def test_scale_items_in_order(lib: ContentLibrary) -> None:
    scales = [i.id for i in lib.preferences if i.kind == "scale"]
    assert scales == SCALES


def test_every_item_names_a_known_theme(lib: ContentLibrary) -> None:
    known = {t.id for t in lib.themes}
    entries = [*lib.preferences, *lib.social, *lib.alliance]
    assert all(entry.theme in known for entry in entries)


def test_every_scale_item_says_what_to_do(lib: ContentLibrary) -> None:
    for item in lib.preferences:
        if item.kind == "scale":
            assert item.adapt_within, item.id
        if item.compare != "allocation":
            assert item.on_mismatch, item.id
        for option in item.options or []:
            if item.compare == "allocation" and not option.neutral:
                assert option.adaptation, f"{item.id}.{option.id}"


def test_safeguarding_points_only_to_local_procedure(lib: ContentLibrary) -> None:
    domains = [d for d in lib.social if d.safeguarding]
    assert [d.id for d in domains] == ["safeguarding"]
    (domain,) = domains
    assert domain.signpost
    assert all(lib.adaptation(a).kind == "local_procedure" for a in domain.signpost)
    assert all(detail.adaptation is None for detail in domain.details)
    assert "does not assess risk" in domain.question + domain.why


def _course_band(sessions: int) -> int:
    """The course_length scale point a number of sessions falls on (see preferences.yaml)."""
    for band, upper in enumerate((6, 10, 14, 20), start=1):
        if sessions <= upper:
            return band
    return 5


def test_course_length_agrees_with_sessions(lib: ContentLibrary) -> None:
    for p in lib.protocols:
        point = p.profile["course_length"]
        assert point.low == _course_band(p.sessions.min), p.id
        assert point.high == _course_band(p.sessions.max), p.id


def test_step_2_is_narrower_than_step_3(lib: ContentLibrary) -> None:
    def flexibility(step: str) -> float:
        protocols = [p for p in lib.protocols if p.step == step]
        spans = [pt.high - pt.low for p in protocols for pt in p.profile.values()]
        return sum(spans) / len(spans)

    assert flexibility("step_2") < flexibility("step_3")


def test_demo_cases_are_five() -> None:
    assert [p.name for p in DEMO_FILES] == [f"demo-0{n}.json" for n in range(1, 6)]


@pytest.mark.parametrize("path", DEMO_FILES, ids=lambda p: p.name)
def test_demo_case_validates(path: Path, lib: ContentLibrary) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    case = Case.model_validate(data, context={"content": lib})
    assert case.reference.startswith("DEMO-")


# --- Broken content: each break must be reported with its file and field ----------------------


def test_copy_of_content_loads(content_copy: Path) -> None:
    assert load_content(content_copy).version


def test_yaml_syntax_error(content_copy: Path) -> None:
    path = content_copy / "themes.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n- id: [unclosed\n", encoding="utf-8")
    problems = content_problems(content_copy)
    assert has_problem(problems, "themes.yaml", "(line", "not valid YAML"), problems


def test_unknown_theme_in_preferences(content_copy: Path) -> None:
    def change(items: object) -> None:
        assert isinstance(items, list)
        items[0]["theme"] = "no_such_theme"

    edit_yaml(content_copy / "preferences.yaml", change)
    problems = content_problems(content_copy)
    assert has_problem(problems, "preferences.yaml", "[directiveness].theme"), problems


def test_protocol_missing_a_scale(content_copy: Path) -> None:
    def change(protocol: object) -> None:
        assert isinstance(protocol, dict)
        del protocol["profile"]["pace"]

    edit_yaml(content_copy / "protocols" / "gsh_cbt.yaml", change)
    problems = content_problems(content_copy)
    assert has_problem(problems, "protocols/gsh_cbt.yaml", "profile", "missing", "pace"), problems


def test_protocol_id_must_match_file_name(content_copy: Path) -> None:
    protocols = content_copy / "protocols"
    (protocols / "gsh_cbt.yaml").rename(protocols / "guided_self_help.yaml")
    problems = content_problems(content_copy)
    assert has_problem(problems, "protocols/guided_self_help.yaml", "id:", "file name"), problems


def test_unknown_adaptation_reference(content_copy: Path) -> None:
    def change(items: object) -> None:
        assert isinstance(items, list)
        items[0]["adapt_within"]["lower"] = "no_such_adaptation"

    edit_yaml(content_copy / "preferences.yaml", change)
    problems = content_problems(content_copy)
    assert has_problem(
        problems, "preferences.yaml", "directiveness.adapt_within", "no_such_adaptation"
    ), problems
