"""The patient's questionnaires: wording that covers the checklist, the sets, answers and checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tailoring.content import library
from tailoring.model.content import ContentLibrary
from tailoring.model.patient_content import SET_IDS, PatientContent
from tailoring.model.patient_questionnaires import (
    PatientAnswers,
    PatientLink,
    Question,
    as_answers,
    asked_questionnaires,
    parse_answer,
    question_map,
    questions,
)
from tests.content_edits import content_problems, edit_yaml, has_problem

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def content() -> ContentLibrary:
    return library()


@pytest.fixture(scope="module")
def patient(content: ContentLibrary) -> PatientContent:
    assert content.patient is not None
    return content.patient


def test_every_checklist_item_has_patient_wording(
    content: ContentLibrary, patient: PatientContent
) -> None:
    assert [p.id for p in patient.preferences] == [i.id for i in content.preferences]
    assert [a.id for a in patient.alliance] == [i.id for i in content.alliance]
    for item in content.preferences:
        wording = patient.preference(item.id)
        if item.kind == "scale":
            assert wording.labels is not None and len(wording.labels) == 5
        else:
            assert [o.id for o in wording.options or []] == item.option_ids()
    assert [q.question for q in patient.open] == [
        "What has helped so far?",
        "What would make therapy fit you better?",
    ]


def test_the_three_sets(content: ContentLibrary) -> None:
    preferences = question_map(content, "preferences", "gad7")
    assert {f"preferences.{i.id}" for i in content.preferences} <= set(preferences)
    assert {"barriers.times", "barriers.childcare", "barriers.travel", "barriers.digital"} <= set(
        preferences
    )
    assert {"open.helped", "open.fit_better"} <= set(preferences)
    assert all(q.importance for k, q in preferences.items() if k.startswith("preferences."))

    before = questions(content, "before_session", "gad7")
    assert [q.key for q in before][:2] == ["measure.phq9.phq9_1", "measure.phq9.phq9_2"]
    assert sum(q.key.startswith("measure.gad7.") for q in before) == 7
    assert sum(q.key.startswith("measure.wsas.") for q in before) == 5
    # PHQ-9 keeps its standard wording: the question is the measure's own.
    assert before[0].text == content.measure("phq9").items[0].text
    assert before[0].stem == content.measure("phq9").question
    work = next(q for q in before if q.key == "measure.wsas.wsas_1")
    assert work.choices[-1].value == "na"

    after = question_map(content, "after_session", "gad7")
    assert [k for k in after if k.startswith("alliance.")] == [
        f"alliance.{i.id}" for i in content.alliance
    ]
    assert after["alliance.rupture_withdrawal"].kind == "rupture"
    assert len(after["alliance.bond"].choices) == 5


def test_the_anxiety_measure_is_the_cases_own(content: ContentLibrary) -> None:
    gad7 = questions(content, "before_session", "gad7")
    assert not any("anxiety" in q.key for q in gad7)
    with pytest.raises(KeyError, match="unknown measure"):
        questions(content, "before_session", "spin")


def link_of(*carried: tuple[str, int | None]) -> PatientLink:
    return PatientLink.model_validate(
        {
            "id": 1,
            "case_id": 1,
            "questionnaires": [{"set_id": s, "session_number": n} for s, n in carried],
            "created_by": "dr.a",
            "created_at": NOW,
            "expires_at": NOW + timedelta(days=14),
        }
    )


def test_the_preferences_come_in_short_pages(content: ContentLibrary) -> None:
    """Issue 17: on one page the preferences were about 11,000 px on a phone, 14 screens."""
    [asked] = asked_questionnaires(content, link_of(("preferences", None)), "gad7")
    assert [len(page.questions) for page in asked.pages] == [3, 3, 2, 3, 2, 5, 2]
    assert [q.key for q in asked.questions] == [
        q.key for q in questions(content, "preferences", "gad7")
    ]
    assert asked.pages[-1].title == "In your own words"
    assert asked.pages[5].intro == "Tell us what could make it hard to come, so we can try to help."


def test_a_link_of_several_sets_asks_each_question_once(content: ContentLibrary) -> None:
    link = link_of(("preferences", None), ("before_session", 2), ("after_session", 1))
    profile, before, after = asked_questionnaires(content, link, "gad7")
    assert (before.session_number, after.session_number) == (2, 1)
    # A measure is one page, its items under the question asked once.
    assert [page.title for page in before.pages] == [
        "Your mood",
        "Worry and stress",
        "Day to day life",
    ]
    assert [len(page.questions) for page in after.pages] == [5, 4]
    assert not any(q.key.startswith("open.") for q in after.questions)
    [alone] = asked_questionnaires(content, link_of(("after_session", 1)), "gad7")
    assert [page.title for page in alone.pages][-1] == "In your own words"
    keys = [q.key for a in (profile, before, after) for q in a.questions]
    assert len(keys) == len(set(keys))


def test_a_section_is_a_page_of_five_items_at_most(content_copy: Path) -> None:
    def break_it(data: list) -> None:
        sections = data[0]["sections"]
        sections[0]["items"] += sections.pop(1)["items"]

    edit_yaml(content_copy / "patient" / "sets.yaml", break_it)
    problems = content_problems(content_copy)
    assert has_problem(problems, "patient/sets.yaml", "preferences.sections.0", "at most 5")


def test_unknown_set(content: ContentLibrary) -> None:
    with pytest.raises(KeyError, match="questionnaire set"):
        questions(content, "tomorrow", "gad7")


def test_texts_cover_every_file(patient: PatientContent) -> None:
    places = {where.split(".")[0] for where, _ in patient.texts()}
    assert places == {"common", "preferences", "barriers", "alliance", "open", "sets"}


# Answers, checked one by one -------------------------------------------------------------------


@pytest.fixture(scope="module")
def asked(content: ContentLibrary) -> dict[str, Question]:
    keys = {}
    for set_id in SET_IDS:
        keys.update(question_map(content, set_id, "gad7"))
    return keys


@pytest.mark.parametrize(
    ("key", "payload", "stored"),
    [
        ("preferences.structure", {"value": 2, "importance": 3}, {"value": 2, "importance": 3}),
        ("preferences.structure", {"importance": 1}, {"value": None, "importance": 1}),
        ("preferences.goals", {"value": ["skills", "understanding"]}, None),
        ("preferences.language", {"value": "interpreter", "importance": 2}, None),
        ("barriers.travel", {"value": ["mobility", "cost"]}, {"value": ["cost", "mobility"]}),
        ("barriers.travel", {"value": ["none"]}, None),
        ("alliance.bond", {"value": 4}, None),
        ("alliance.rupture_withdrawal", {"value": 2}, None),
        ("open.helped", {"value": "Talking — and the walks ü"}, None),
        ("measure.phq9.phq9_9", {"value": 0}, None),
        ("measure.wsas.wsas_1", {"value": "na"}, None),
        ("alliance.bond", {"value": None}, None),
    ],
)
def test_answers_that_fit_are_kept(
    asked: dict[str, Question], key: str, payload: dict, stored: dict | None
) -> None:
    expected = stored or {**({"importance": None} if asked[key].importance else {}), **payload}
    if key == "preferences.goals":
        expected = {"value": ["understanding", "skills"], "importance": None}
    assert parse_answer(asked[key], payload) == expected


@pytest.mark.parametrize(
    ("key", "payload", "problem"),
    [
        ("preferences.structure", {"value": 6}, "is not one of"),
        ("preferences.structure", {"value": True}, "is not one of"),
        ("preferences.structure", {"value": 3, "importance": 4}, "importance must be 0–3"),
        ("preferences.goals", {"value": "skills"}, "expected a list"),
        ("preferences.goals", {"value": ["skills", "skills"]}, "expected a list"),
        ("barriers.travel", {"value": ["none", "cost"]}, "excludes the other choices"),
        ("barriers.travel", {"value": ["teleport"]}, "unknown choices"),
        ("alliance.bond", {"value": 5}, "is not one of"),
        ("alliance.bond", {"value": 3, "importance": 1}, "unexpected fields"),
        ("alliance.rupture_withdrawal", {"value": 3}, "is not one of"),
        ("open.helped", {"value": 3}, "expected text"),
        ("open.helped", {"value": "x" * 2001}, "the limit is 2,000"),
        ("measure.phq9.phq9_1", {"value": "na"}, "is not one of"),
        ("measure.phq9.phq9_1", {"value": 1, "note": "hi"}, "unexpected fields"),
    ],
)
def test_answers_that_do_not_fit_are_refused(
    asked: dict[str, Question], key: str, payload: dict, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_answer(asked[key], payload)


def test_stored_answers_become_the_patients_answers(content: ContentLibrary) -> None:
    answers = PatientAnswers.from_payloads(
        {
            "preferences.structure": {"value": 4, "importance": 2},
            "preferences.language": {"value": "interpreter", "importance": 3},
            "barriers.childcare": {"value": ["childcare", "cannot_leave"]},
            "barriers.digital": {"value": ["none"]},
            "barriers.times": {"value": None},
            "alliance.bond": {"value": 1},
            "alliance.heard": {"value": None},
            "open.helped": {"value": "The walks"},
            "open.fit_better": {"value": None},
            "measure.phq9.phq9_1": {"value": 2},
            "measure.wsas.wsas_1": {"value": "na"},
        }
    )
    assert answers.preferences["structure"].importance == 2
    assert answers.barriers == {"childcare": ["childcare", "cannot_leave"], "digital": ["none"]}
    assert answers.alliance["bond"].value == 1
    assert answers.alliance["heard"].value is None
    assert answers.open == {"helped": "The walks"}
    assert answers.measures == {"phq9": {"phq9_1": 2}, "wsas": {"wsas_1": "na"}}

    checklist = as_answers(content, answers)
    assert checklist.preferences == answers.preferences
    assert checklist.alliance == answers.alliance
    assert {d: (a.present, a.details) for d, a in checklist.social.items()} == {
        "access": ("yes", ["childcare"]),
        "caring": ("yes", ["cannot_leave_home"]),
        "culture_language": ("yes", ["interpreter_needed"]),
    }
    assert checklist.social["access"].maintains is None


def test_naming_no_barrier_records_nothing(content: ContentLibrary) -> None:
    answers = PatientAnswers.from_payloads(
        {f"barriers.{b}": {"value": ["none"]} for b in ("times", "childcare", "travel", "digital")}
    )
    assert as_answers(content, answers).social == {}


@pytest.mark.parametrize(
    "payloads",
    [
        {"preferences": {"value": 1}},
        {"measure.phq9": {"value": 1}},
        {"alliance.Bond": {"value": 1}},
        {"alliance.bond": {"value": "strong"}},
    ],
)
def test_payloads_of_no_known_shape_are_refused(payloads: dict) -> None:
    with pytest.raises(ValueError):
        PatientAnswers.from_payloads(payloads)


# Broken patient content fails naming its file --------------------------------------------------


def test_a_preference_without_wording(content_copy: Path) -> None:
    path = content_copy / "patient" / "preferences.yaml"
    edit_yaml(path, lambda data: data.pop(0))
    problems = content_problems(content_copy)
    assert has_problem(problems, "patient/preferences.yaml", "directiveness")


def test_options_must_match_the_checklist(content_copy: Path) -> None:
    def rename(data: list) -> None:
        goals = next(d for d in data if d["id"] == "goals")
        goals["options"][0]["id"] = "relief"

    edit_yaml(content_copy / "patient" / "preferences.yaml", rename)
    problems = content_problems(content_copy)
    assert has_problem(problems, "patient/preferences.yaml", "goals.options", "relief")


def test_a_barrier_must_record_a_known_detail(content_copy: Path) -> None:
    def break_it(data: list) -> None:
        data[0]["options"][0]["records"][0]["detail"] = "moon_phase"

    edit_yaml(content_copy / "patient" / "barriers.yaml", break_it)
    problems = content_problems(content_copy)
    assert has_problem(problems, "patient/barriers.yaml", "times", "moon_phase")


def test_a_barrier_needs_one_none_option(content_copy: Path) -> None:
    def break_it(data: list) -> None:
        data[0]["options"] = [o for o in data[0]["options"] if not o.get("none")]

    edit_yaml(content_copy / "patient" / "barriers.yaml", break_it)
    problems = content_problems(content_copy)
    assert has_problem(problems, "patient/barriers.yaml", "[times]", "'none' option")


def test_a_set_must_name_known_items(content_copy: Path) -> None:
    def break_it(data: list) -> None:
        data[2]["sections"][0]["items"].append("alliance.telepathy")
        data[1]["sections"][0]["items"].append("measure.spin")

    edit_yaml(content_copy / "patient" / "sets.yaml", break_it)
    problems = content_problems(content_copy)
    assert has_problem(problems, "patient/sets.yaml", "after_session", "telepathy")
    assert has_problem(problems, "patient/sets.yaml", "before_session", "spin")


def test_alliance_labels_must_match_the_item(content_copy: Path) -> None:
    def break_it(data: list) -> None:
        data[0]["labels"] = data[0]["labels"][:3]

    edit_yaml(content_copy / "patient" / "alliance.yaml", break_it)
    problems = content_problems(content_copy)
    assert has_problem(problems, "patient/alliance.yaml", "goals_agreement.labels", "need 5")


def test_importance_needs_four_labels(content_copy: Path) -> None:
    edit_yaml(
        content_copy / "patient" / "common.yaml",
        lambda data: data["importance"]["labels"].pop(),
    )
    problems = content_problems(content_copy)
    assert has_problem(problems, "patient/common.yaml", "importance.labels")


def test_content_without_a_patient_folder_still_loads(content_copy: Path) -> None:
    import shutil

    from tailoring.content import load_content

    shutil.rmtree(content_copy / "patient")
    loaded = load_content(content_copy)
    assert loaded.patient is None
    with pytest.raises(KeyError, match="no patient questionnaires"):
        questions(loaded, "preferences", "gad7")
