"""The fit engine's rules, one example at a time, on the real content."""

from __future__ import annotations

import pytest

from tailoring.engine.assess import assess, completeness, protocol_fit
from tailoring.engine.fit import HARD_MISMATCH_CAP
from tailoring.services import demo_case_paths, parse_case_file


def flag_ids(report) -> set[str]:
    return {f.id for f in report.flags}


def dim(report, item_id: str):
    return next(d for d in report.dimensions if d.item_id == item_id)


def test_no_answers_gives_no_fit_and_counts_nothing_as_agreement(content, make_case):
    report = assess(content, make_case())
    assert report.overall_fit is None
    assert report.completeness.answered == 0
    assert all(d.status == "unanswered" and d.fit is None for d in report.dimensions)
    # A missing problem is incompleteness too: a low flag, never a fit.
    assert [(f.id, f.severity) for f in report.flags] == [("indication.no_problem", "low")]
    assert assess(content, make_case(problem="depression")).flags == []


def test_preference_at_the_protocol_default_fits_fully(content, make_case):
    # CBT for depression: structure default 2, range 1–3.
    report = assess(content, make_case(preferences={"structure": {"value": 2, "importance": 3}}))
    d = dim(report, "structure")
    assert (d.status, d.fit, d.actions) == ("fit", 100.0, [])
    assert report.overall_fit == 100.0


def test_preference_in_range_off_default_fits_with_an_adapt_within_suggestion(content, make_case):
    report = assess(content, make_case(preferences={"structure": {"value": 3, "importance": 2}}))
    d = dim(report, "structure")
    assert (d.status, d.fit) == ("adapt", 100.0)
    assert [a.kind for a in d.actions] == ["adapt_within"]
    assert "pref.structure" not in flag_ids(report)
    assert any(item.kind == "adapt_within" for item in report.session_plan)


@pytest.mark.parametrize(
    ("value", "importance", "fit", "severity"),
    [
        (4, 1, 66.7, "low"),  # 1 point beyond × weight 1 = 1
        (4, 3, 66.7, "medium"),  # 1 × 3 = 3
        (5, 3, 33.3, "high"),  # 2 × 3 = 6
        (5, 2, 33.3, "medium"),  # 2 × 2 = 4
    ],
)
def test_beyond_the_range_is_a_mismatch_growing_with_distance_and_importance(
    content, make_case, value, importance, fit, severity
):
    case = make_case(preferences={"structure": {"value": value, "importance": importance}})
    report = assess(content, case)
    assert dim(report, "structure").fit == fit
    flag = next(f for f in report.flags if f.id == "pref.structure")
    assert flag.severity == severity
    assert flag.theme == content.preference("structure").theme
    assert flag.triggers[0].item_id == "structure"
    assert flag.actions, "every flag says what to do"


def test_importance_zero_raises_no_flag_and_carries_no_weight(content, make_case):
    report = assess(content, make_case(preferences={"structure": {"value": 5, "importance": 0}}))
    assert dim(report, "structure").weight == 0
    assert "pref.structure" not in flag_ids(report)
    assert report.overall_fit is None


def test_missing_importance_counts_as_matters_a_little(content, make_case):
    report = assess(content, make_case(preferences={"structure": {"value": 5}}))
    assert dim(report, "structure").weight == 1


def test_overall_fit_is_the_importance_weighted_mean(content, make_case):
    # structure 5 → 33.3 with weight 3; focus 2 (default) → 100 with weight 1.
    case = make_case(
        preferences={
            "structure": {"value": 5, "importance": 3},
            "focus": {"value": 2, "importance": 1},
        }
    )
    assert assess(content, case).overall_fit == round((100 / 3 * 3 + 100) / 4, 1)


def test_digital_barrier_against_digital_cbt_is_a_hard_mismatch_that_caps_the_fit(
    content, make_case
):
    case = make_case(
        "dcbt",
        8,
        preferences={"structure": {"value": 1, "importance": 3}},
        social={"access": {"present": "yes", "details": ["digital"]}},
    )
    report = assess(content, case)
    hard = [f for f in report.flags if f.hard]
    assert [f.id for f in hard] == ["demand.access.digital"]
    assert hard[0].severity == "high"
    assert report.preference_fit == 100.0
    assert report.overall_fit == HARD_MISMATCH_CAP
    assert report.capped
    assert any(a.kind == "review_protocol" for a in hard[0].actions)


def test_a_barrier_only_clashes_when_the_domain_is_present(content, make_case):
    # A detail with "present: no" is refused; a detail whose domain is not answered yet is kept.
    case = make_case("dcbt", 8, social={"access": {"present": None, "details": ["digital"]}})
    assert not any(f.hard for f in assess(content, case).flags)


def test_childcare_clashes_with_a_daytime_group_but_not_with_cbt(content, make_case):
    social = {"access": {"present": "yes", "details": ["childcare"]}}
    group = assess(content, make_case("psychoed_group", 6, social=social))
    cbt = assess(content, make_case("cbt_depression", 16, social=social))
    assert any(f.id == "demand.access.childcare" for f in group.flags)
    assert not any(f.hard for f in cbt.flags)


def test_maintaining_social_problem_nobody_addresses_raises_a_flag_even_when_preferences_fit(
    content, make_case
):
    case = make_case(
        "ba_step2",
        6,
        preferences={"structure": {"value": 1, "importance": 3}},
        social={
            "housing": {
                "present": "yes",
                "maintains": "yes",
                "helping": "no",
                "details": ["damp_mould", "repairs_ignored"],
            }
        },
    )
    report = assess(content, case)
    assert report.overall_fit == 100.0
    flag = next(f for f in report.flags if f.id == "social.housing")
    assert flag.severity == "high"
    kinds = {a.kind for a in flag.actions}
    assert {"signpost", "review_protocol"} <= kinds


@pytest.mark.parametrize(
    ("answer", "flagged"),
    [
        ({"present": "yes", "maintains": "yes", "helping": "yes"}, False),
        ({"present": "yes", "maintains": "no", "helping": "no"}, False),
        ({"present": "unsure", "maintains": "yes", "helping": "no"}, False),
        ({"present": "yes", "maintains": "yes"}, True),
    ],
)
def test_social_flag_needs_present_maintaining_and_unaddressed(content, make_case, answer, flagged):
    report = assess(content, make_case(social={"money": answer}))
    assert ("social.money" in flag_ids(report)) is flagged


def test_a_protocol_that_works_on_the_domain_lowers_the_social_flag_to_medium(content, make_case):
    social = {"relationships": {"present": "yes", "maintains": "yes", "helping": "no"}}
    ipt = assess(content, make_case("ipt", 16, social=social))
    cbt = assess(content, make_case("cbt_depression", 16, social=social))
    assert next(f for f in ipt.flags if f.id == "social.relationships").severity == "medium"
    assert next(f for f in cbt.flags if f.id == "social.relationships").severity == "high"


@pytest.mark.parametrize("present", ["yes", "unsure"])
def test_safeguarding_points_only_to_the_local_procedure(content, make_case, present):
    report = assess(content, make_case(social={"safeguarding": {"present": present}}))
    flag = next(f for f in report.flags if f.id == "social.safeguarding")
    assert flag.severity == "high"
    assert {a.kind for a in flag.actions} == {"local_procedure"}
    assert "does not assess risk" in flag.explanation
    assert report.session_plan[0].kind == "local_procedure"


def test_rupture_signs_raise_a_flag_whatever_the_protocol(content, make_case):
    for protocol in content.protocols:
        case = make_case(
            protocol.id, protocol.sessions.max, alliance={"rupture_confrontation": {"value": 2}}
        )
        flag = next(
            f for f in assess(content, case).flags if f.id == "alliance.rupture_confrontation"
        )
        assert flag.severity == "high"
        assert flag.theme == content.alliance_item("rupture_confrontation").theme


def test_weak_ratings_raise_item_flags_and_a_weak_alliance_flag(content, make_case):
    weak = {"goals_agreement": {"value": 1}, "task_agreement": {"value": 1}, "bond": {"value": 2}}
    report = assess(content, make_case(alliance=weak))
    ids = flag_ids(report)
    assert {"alliance.goals_agreement", "alliance.task_agreement", "alliance.weak"} <= ids
    assert "alliance.bond" not in ids
    assert report.alliance.score == pytest.approx(100 * 4 / 12, abs=0.1)


def test_scripted_is_reverse_scored(content, make_case):
    high_scripted = assess(content, make_case(alliance={"scripted": {"value": 4}}))
    low_scripted = assess(content, make_case(alliance={"scripted": {"value": 0}}))
    assert high_scripted.alliance.score == 0
    assert low_scripted.alliance.score == 100
    assert "alliance.scripted" in flag_ids(high_scripted)


def test_too_few_sessions_for_the_protocol_raises_a_pace_flag(content, make_case):
    report = assess(content, make_case("cbt_depression", 6))
    flag = next(f for f in report.flags if f.id == "case.sessions")
    assert flag.theme == "pace"


def test_format_with_no_offered_option_is_a_mismatch(content, make_case):
    case = make_case("dcbt", 8, preferences={"format": {"value": ["in_person"], "importance": 3}})
    report = assess(content, case)
    assert dim(report, "format").status == "mismatch"
    assert "pref.format" in flag_ids(report)


def test_allocation_preference_that_matters_is_flagged_without_changing_the_fit(content, make_case):
    case = make_case(preferences={"therapist_gender": {"value": "woman", "importance": 3}})
    report = assess(content, case)
    assert "pref.therapist_gender" in flag_ids(report)
    assert report.overall_fit is None
    neutral = make_case(
        preferences={"therapist_gender": {"value": "no_preference", "importance": 3}}
    )
    assert "pref.therapist_gender" not in flag_ids(assess(content, neutral))


def test_alternatives_say_what_they_fix_and_break_and_are_ranked(content, make_case):
    case = make_case(
        "gsh_cbt",
        6,
        problem="depression",
        preferences={
            "focus": {"value": 5, "importance": 3},
            "directiveness": {"value": 4, "importance": 2},
        },
    )
    report = assess(content, case)
    assert len(report.alternatives) == len(content.protocols) - 1
    # Indicated protocols first, each group by fit (issue 15: fit only counts among them).
    groups = [a.indication for a in report.alternatives]
    assert groups == sorted(groups, key=["indicated", "not_indicated"].index)
    for group in ("indicated", "not_indicated"):
        fits = [a.fit for a in report.alternatives if a.indication == group]
        assert fits == sorted(fits, reverse=True)
    best = report.alternatives[0]
    assert best.indication == "indicated"
    assert best.fit > report.overall_fit
    planned_titles = {f.title for f in report.flags}
    assert set(best.fixes) <= planned_titles and best.fixes
    dit = next(a for a in report.alternatives if a.protocol_id == "dit")
    assert dit.change == round(dit.fit - report.overall_fit, 1)


def demo_cases():
    return [parse_case_file(path.read_text()) for path in demo_case_paths()]


def test_every_flag_is_traced_to_a_theme_and_says_what_to_do(content):
    for case in demo_cases():
        for flag in assess(content, case).flags:
            assert flag.theme in {t.id for t in content.themes}
            assert flag.triggers, flag.id
            assert flag.actions, flag.id


def test_completeness_counts_each_section(content, make_case):
    case = make_case(
        preferences={"structure": {"value": 2}, "format": {"value": []}},
        social={"housing": {"present": "no"}, "money": {}},
        alliance={"bond": {"value": 3}},
    )
    done = completeness(content, case.answers)
    assert done.by_section["preferences"] == (1, len(content.preferences))
    assert done.by_section["social"] == (1, len(content.social))
    assert done.by_section["alliance"] == (1, len(content.alliance))


def test_the_housing_demo_raises_the_housing_flag_and_ends_the_plan_with_a_review(content):
    case = next(c for c in demo_cases() if c.protocol_id == "ba_step2")
    planned = protocol_fit(content, case, content.protocol(case.protocol_id))
    assert any(f.id == "social.housing" and f.severity == "high" for f in planned.flags)
    assert assess(content, case).session_plan[-1].kind == "review"


def test_no_demo_case_is_offered_a_protocol_for_another_problem_first(content):
    """The reviewer's finding: demo case 1 (depression) was offered CBT for anxiety first."""
    for case in demo_cases():
        assert case.problem is not None, case.reference
        report = assess(content, case)
        best = report.alternatives[0]
        assert best.indication == "indicated", (case.reference, best.protocol_id)
        assert set(content.protocol(best.protocol_id).indications.problems) & {case.problem}
