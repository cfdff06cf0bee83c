"""Perception gaps: where the patient's own answers differ from the therapist's by a margin that
matters, with both answers in words."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailoring.content import library
from tailoring.engine.assess import assess
from tailoring.engine.flags import perception_gaps
from tailoring.engine.perception import therapist_view
from tailoring.model.answers import AllianceAnswer, Answers, PreferenceAnswer
from tailoring.model.case import Case
from tailoring.model.patient_questionnaires import PatientAnswers
from tailoring.model.report import Flag
from tailoring.model.session import Session
from tests.strategies import answers as drawn_answers

CONTENT = library()
settings.register_profile("perception", max_examples=150, deadline=None)


def therapist(**sections: Any) -> Answers:
    return Answers.model_validate(sections)


def patient(**sections: Any) -> PatientAnswers:
    return PatientAnswers.model_validate(sections)


def gaps(ours: Answers, theirs: PatientAnswers) -> dict[str, Flag]:
    return {flag.id: flag for flag in perception_gaps(CONTENT, ours, theirs)}


def pref(value: Any, importance: int | None = None) -> dict[str, Any]:
    return {"value": value, "importance": importance}


# Preferences ------------------------------------------------------------------------------------


def test_a_scale_two_points_apart_that_matters_is_a_gap_with_both_answers_in_words() -> None:
    found = gaps(
        therapist(preferences={"structure": pref(1, 3)}),
        patient(preferences={"structure": pref(4, 2)}),
    )
    flag = found["gap.pref.structure"]
    assert flag.theme == "heard"
    assert flag.theme_title == CONTENT.theme("heard").title
    assert flag.severity == "high"  # 3 points × "matters a lot" (2)
    ours, theirs = flag.triggers
    assert ours.answer == (
        "You recorded: 1 of 5: A clear structure and agenda every session (essential)"
    )
    assert theirs.answer == (
        "The patient answered: 4 of 5: Mostly open, with a loose plan (it matters a lot)"
    )
    assert theirs.question == "How much of a plan would you like for each session?"
    assert "unheard" in flag.explanation and "Talk it through" in flag.explanation
    assert [a.adaptation_id for a in flag.actions] == ["discuss_preferences"]
    assert [a.kind for a in flag.actions] == ["discuss"]


@pytest.mark.parametrize(
    ("ours", "theirs", "severity"),
    [
        (pref(2), pref(4, 1), "low"),  # 2 points × matters a bit
        (pref(2), pref(4), "low"),  # no importance given counts as a bit, as in the fit
        (pref(3), pref(1, 2), "medium"),
        (pref(5), pref(1, 3), "high"),
        (pref(1), pref(2, 3), None),  # one point is a matter of wording
        (pref(1), pref(5, 0), None),  # it does not matter to the patient
        (pref(None, 3), pref(5, 3), None),
        (pref(1, 3), pref(None, 3), None),
    ],
)
def test_scale_gaps(ours: dict, theirs: dict, severity: str | None) -> None:
    found = gaps(
        therapist(preferences={"focus": ours}),
        patient(preferences={"focus": theirs}),
    )
    assert (found["gap.pref.focus"].severity if found else None) == severity


def test_goals_the_therapist_records_skills_and_the_patient_asks_to_understand() -> None:
    found = gaps(
        therapist(preferences={"goals": pref(["skills", "symptom_relief"], 2)}),
        patient(preferences={"goals": pref(["understanding"], 3)}),
    )
    flag = found["gap.pref.goals"]
    assert flag.severity == "high"  # nothing shared × a must
    assert "The patient chose “Understanding why I feel this way”" in flag.explanation
    assert (
        "You recorded “Feeling less low, anxious or distressed” and “Learning skills I can keep "
        "using on my own”, which the patient did not choose."
        in flag.explanation
        or "You recorded “Learning skills I can keep using on my own” and “Feeling less low, "
        "anxious or distressed”, which the patient did not choose."
        in flag.explanation
    )
    assert flag.triggers[1].answer == (
        "The patient answered: To understand why I feel like this (it is a must)"
    )
    assert [a.adaptation_id for a in flag.actions] == [
        "agree_goals_together",
        "discuss_preferences",
    ]


def test_goals_that_overlap_are_a_milder_gap() -> None:
    found = gaps(
        therapist(preferences={"goals": pref(["skills", "symptom_relief"])}),
        patient(preferences={"goals": pref(["symptom_relief", "understanding"], 3)}),
    )
    assert found["gap.pref.goals"].severity == "medium"
    same = gaps(
        therapist(preferences={"goals": pref(["skills", "symptom_relief"])}),
        patient(preferences={"goals": pref(["symptom_relief", "skills"], 3)}),
    )
    assert same == {}


def test_ways_of_meeting() -> None:
    found = gaps(
        therapist(preferences={"format": pref(["in_person"], 1)}),
        patient(preferences={"format": pref(["phone", "video"], 1)}),
    )
    assert found["gap.pref.format"].severity == "low"


@pytest.mark.parametrize(
    ("item", "ours", "theirs", "gap"),
    [
        ("language", "english", "interpreter", True),
        ("language", "interpreter", "english", True),
        ("therapist_gender", "no_preference", "woman", True),
        ("therapist_gender", "woman", "woman", False),
    ],
)
def test_choices_that_differ(item: str, ours: str, theirs: str, gap: bool) -> None:
    found = gaps(
        therapist(preferences={item: pref(ours)}),
        patient(preferences={item: pref(theirs, 2)}),
    )
    assert (f"gap.pref.{item}" in found) is gap
    if gap:
        assert found[f"gap.pref.{item}"].severity == "medium"


def test_a_choice_that_does_not_matter_to_the_patient_is_no_gap() -> None:
    found = gaps(
        therapist(preferences={"language": pref("english")}),
        patient(preferences={"language": pref("interpreter", 0)}),
    )
    assert found == {}


# Alliance ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "theirs", "severity"),
    [
        (4, 1, "high"),
        (4, 2, "medium"),
        (3, 1, "medium"),
        (3, 2, None),
        (1, 4, None),  # the patient rates it higher: no perception gap
    ],
)
def test_the_patient_rates_the_alliance_lower(ours: int, theirs: int, severity: str | None) -> None:
    found = gaps(
        therapist(alliance={"heard": {"value": ours}}),
        patient(alliance={"heard": {"value": theirs}}),
    )
    assert (found["gap.alliance.heard"].severity if found else None) == severity
    if found:
        flag = found["gap.alliance.heard"]
        assert flag.triggers[0].answer.startswith("You recorded: ")
        assert flag.triggers[1].answer.startswith("The patient answered: ")
        assert flag.triggers[1].question == CONTENT.patient.alliance_item("heard").question


def test_scripted_is_compared_the_right_way_round() -> None:
    # "Feels scripted" is reversed: a higher answer is a weaker alliance.
    found = gaps(
        therapist(alliance={"scripted": {"value": 0}}),
        patient(alliance={"scripted": {"value": 2}}),
    )
    assert found["gap.alliance.scripted"].severity == "medium"
    assert (
        gaps(
            therapist(alliance={"scripted": {"value": 3}}),
            patient(alliance={"scripted": {"value": 0}}),
        )
        == {}
    )


def test_sessions_feel_scripted_to_the_patient_while_the_therapist_rates_the_bond_strong() -> None:
    found = gaps(
        therapist(alliance={"bond": {"value": 4}}),
        patient(alliance={"scripted": {"value": 3}, "bond": {"value": 4}}),
    )
    flag = found["gap.alliance.scripted_bond"]
    assert flag.theme == "heard"
    assert [t.item_id for t in flag.triggers] == ["bond", "scripted"]
    assert flag.triggers[1].answer == "The patient answered: For the most part"
    assert [a.adaptation_id for a in flag.actions] == [
        "respond_not_recite",
        "invite_session_feedback",
    ]
    weak_bond = gaps(
        therapist(alliance={"bond": {"value": 2}}),
        patient(alliance={"scripted": {"value": 4}}),
    )
    assert "gap.alliance.scripted_bond" not in weak_bond
    # The therapist already rated the sessions that scripted: they see it too.
    seen = gaps(
        therapist(alliance={"bond": {"value": 4}, "scripted": {"value": 3}}),
        patient(alliance={"scripted": {"value": 4}}),
    )
    assert "gap.alliance.scripted_bond" not in seen


@pytest.mark.parametrize(
    ("ours", "theirs", "severity"),
    [(0, 2, "high"), (0, 1, "medium"), (1, 2, "high"), (1, 1, None), (2, 0, None)],
)
def test_rupture_signs_the_therapist_did_not_record(
    ours: int, theirs: int, severity: str | None
) -> None:
    found = gaps(
        therapist(alliance={"rupture_withdrawal": {"value": ours}}),
        patient(alliance={"rupture_withdrawal": {"value": theirs}}),
    )
    flag = found.get("gap.alliance.rupture_withdrawal")
    assert (flag.severity if flag else None) == severity
    if flag:
        assert [a.adaptation_id for a in flag.actions] == [
            "repair_rupture",
            "discuss_in_supervision",
        ]


def test_an_unanswered_rupture_item_is_no_gap() -> None:
    found = gaps(
        therapist(alliance={"rupture_withdrawal": {"value": None}}),
        patient(alliance={"rupture_withdrawal": {"value": 2}}),
    )
    assert found == {}


# Practical barriers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "gap"),
    [
        ({"present": "no"}, True),
        ({"present": "yes", "details": ["transport"]}, True),
        ({"present": "yes", "details": ["childcare"]}, False),
        ({"present": "unsure"}, False),
        ({"present": None}, False),
        (None, False),
    ],
)
def test_a_barrier_the_patient_names_that_the_therapist_did_not_record(
    ours: dict | None, gap: bool
) -> None:
    found = gaps(
        therapist(social={} if ours is None else {"access": ours}),
        patient(barriers={"childcare": ["childcare"]}),
    )
    assert ("gap.social.access.childcare" in found) is gap
    if gap:
        flag = found["gap.social.access.childcare"]
        assert flag.triggers[1].question == CONTENT.patient.barrier("childcare").question
        assert [a.adaptation_id for a in flag.actions] == ["offer_flexible_times"]


# Reports and sessions ---------------------------------------------------------------------------


def test_gaps_sit_in_the_report_like_other_flags() -> None:
    case = Case(
        reference="GAP-1",
        protocol_id="cbt_depression",
        sessions_available=12,
        answers=therapist(preferences={"focus": pref(1, 2)}),
    )
    report = assess(CONTENT, case)
    found = perception_gaps(CONTENT, case.answers, patient(preferences={"focus": pref(5, 3)}))
    combined = report.model_copy(update={"flags": [*report.flags, *found]})
    assert "gap.pref.focus" in [f.id for f in combined.flags_by_severity()["high"]]
    assert type(combined).model_validate(combined.model_dump()).flags[-1].id == "gap.pref.focus"


def test_the_therapist_view_of_a_session_uses_its_alliance_check() -> None:
    session = Session(
        number=3,
        date=datetime.date(2026, 12, 1),
        attendance="attended",
        alliance={"bond": AllianceAnswer(value=1)},
    )
    case = Case(
        reference="GAP-2",
        protocol_id="cbt_depression",
        sessions_available=12,
        answers=therapist(alliance={"bond": {"value": 4}}, preferences={"focus": pref(2)}),
        sessions=[session],
    )
    assert therapist_view(case).alliance["bond"].value == 4
    assert therapist_view(case, 3).alliance["bond"].value == 1
    assert therapist_view(case, 3).preferences["focus"].value == 2
    assert therapist_view(case, 9).alliance["bond"].value == 4


# Properties -------------------------------------------------------------------------------------


def as_patient(answers: Answers) -> PatientAnswers:
    return PatientAnswers(preferences=answers.preferences, alliance=answers.alliance)


def same_importance(ours: Answers, theirs: Answers) -> tuple[Answers, Answers]:
    """Both sides' preference answers with the same importance, item by item."""
    ours_prefs, theirs_prefs = {}, {}
    for item_id in set(ours.preferences) & set(theirs.preferences):
        importance = ours.preferences[item_id].importance
        ours_prefs[item_id] = ours.preferences[item_id]
        theirs_prefs[item_id] = PreferenceAnswer(
            value=theirs.preferences[item_id].value, importance=importance
        )
    return Answers(preferences=ours_prefs), Answers(preferences=theirs_prefs)


@settings(settings.get_profile("perception"))
@given(drawn_answers(CONTENT))
def test_equal_answers_make_no_gap(drawn: dict) -> None:
    answers = Answers.model_validate(drawn)
    assert perception_gaps(CONTENT, answers, as_patient(answers)) == []


@settings(settings.get_profile("perception"))
@given(drawn_answers(CONTENT), drawn_answers(CONTENT))
def test_preference_gaps_are_symmetric(first: dict, second: dict) -> None:
    a, b = same_importance(Answers.model_validate(first), Answers.model_validate(second))
    one_way = {(f.id, f.severity) for f in perception_gaps(CONTENT, a, as_patient(b))}
    other_way = {(f.id, f.severity) for f in perception_gaps(CONTENT, b, as_patient(a))}
    assert one_way == other_way


@st.composite
def barriers(draw: st.DrawFn) -> dict[str, list[str]]:
    """Barrier answers: for each question answered, 'none' or some of the other options."""
    answered = {}
    for barrier in CONTENT.patient.barriers:
        if draw(st.booleans()):
            named = [o.id for o in barrier.options if not o.none]
            answered[barrier.id] = draw(
                st.just(["none"]) | st.lists(st.sampled_from(named), unique=True)
            )
    return answered


def recorded_by_preferences(theirs: PatientAnswers) -> set[str]:
    """Social domains the patient's preference answers record through an option's ``also``."""
    domains = set()
    for wording in CONTENT.patient.preferences:
        answer = theirs.preferences.get(wording.id)
        chosen = [] if answer is None else answer.value
        chosen = chosen if isinstance(chosen, list) else [chosen]
        for option in wording.options or []:
            if option.id in chosen:
                domains.update(r.domain for r in option.also)
    return domains


@settings(settings.get_profile("perception"))
@given(drawn_answers(CONTENT), drawn_answers(CONTENT), barriers())
def test_missing_answers_never_make_a_gap(first: dict, second: dict, named: dict) -> None:
    ours = Answers.model_validate(first)
    drawn = Answers.model_validate(second)
    theirs = PatientAnswers(preferences=drawn.preferences, alliance=drawn.alliance, barriers=named)
    assert perception_gaps(CONTENT, Answers(), theirs) == []
    assert perception_gaps(CONTENT, ours, PatientAnswers()) == []
    for flag in perception_gaps(CONTENT, ours, theirs):
        section, item_id = flag.id.split(".")[1:3]
        if section == "pref":
            assert ours.preferences[item_id].value not in (None, [])
            assert theirs.preferences[item_id].value not in (None, [])
        elif section == "social":
            assert ours.social[item_id].present in ("yes", "no")
            # The patient named it: as a barrier, or by a preference option that also records
            # it (asking for an interpreter records the language barrier).
            assert named or item_id in recorded_by_preferences(theirs)
        elif item_id == "scripted_bond":
            assert ours.alliance["bond"].value is not None
            assert theirs.alliance["scripted"].value is not None
        else:
            assert ours.alliance[item_id].value is not None
            assert theirs.alliance[item_id].value is not None
