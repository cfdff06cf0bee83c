"""Indications, severity and contraindications (issue 15): each rule at and around its edges."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from tailoring.content import load_content
from tailoring.engine.assess import assess
from tailoring.engine.indications import indication_matrix, plan_words, problem_words
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tests.content_edits import content_problems, edit_yaml, has_problem
from tests.session_factory import session

ABUSE = {"present": "yes", "details": ["domestic_abuse"]}
SOURCE = {"document": "Invented for a test", "section": "none", "checked": False}
# Safeguarding answers around the domestic abuse rule, and whether each rules out couple therapy.
SAFEGUARDING_EDGES = [
    (ABUSE, True),
    ({"present": "unsure", "details": ["controlling_behaviour"]}, True),
    ({"present": "yes", "details": ["child_concern"]}, False),
    ({"present": "yes"}, False),
    (None, False),
]
ON = datetime.date(2026, 12, 7)
PARTNER = {"present": "yes", "maintains": "no", "details": ["partner_conflict"]}


@pytest.fixture
def case_of(content: ContentLibrary):
    """A validated case: protocol, problems, depression totals at sessions, and answers."""

    def build(
        protocol_id: str,
        problem: str | None = "depression",
        *,
        second: str | None = None,
        phq9: list[int | None] | None = None,
        anxiety: list[int | None] | None = None,
        anxiety_measure: str = "gad7",
        sessions: int = 16,
        chosen: bool = False,
        library: ContentLibrary = content,
        **answers: Any,
    ) -> Case:
        held = max(len(phq9 or []), len(anxiety or []))
        return Case.model_validate(
            {
                "reference": "IND-001",
                "protocol_id": protocol_id,
                "problem": problem,
                "second_problem": second,
                "low_intensity_chosen": chosen,
                "sessions_available": sessions,
                "anxiety_measure": anxiety_measure,
                "answers": answers,
                "sessions": [
                    session(
                        library,
                        n,
                        phq9=(phq9 or [])[n - 1] if n <= len(phq9 or []) else None,
                        anxiety=(anxiety or [])[n - 1] if n <= len(anxiety or []) else None,
                        anxiety_measure=anxiety_measure,
                        kind="assessment" if n == 1 else "treatment",
                    )
                    for n in range(1, held + 1)
                ],
            },
            context={"content": library},
        )

    return build


def ids(report) -> list[str]:
    return [f.id for f in report.flags]


def alternative(report, protocol_id: str):
    return next(a for a in report.alternatives if a.protocol_id == protocol_id)


# Severity -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "outside"), [(0, False), (15, False), (16, True), (27, True)])
def test_phq9_16_is_more_severe_and_outside_a_low_intensity_range(content, case_of, total, outside):
    report = assess(content, case_of("ba_step2", phq9=[total]))
    assert report.severity.depression.split == ("more_severe" if outside else "less_severe")
    assert ("indication.severity" in ids(report)) == outside
    assert report.indication.status == ("severity_outside" if outside else "indicated")
    if outside:
        flag = next(f for f in report.flags if f.id == "indication.severity")
        assert flag.severity == "high"
        assert [a.adaptation_id for a in flag.actions] == [
            "discuss_step_up",
            "review_protocol_step",
        ]


@pytest.mark.parametrize(
    ("total", "chosen", "flag", "severity"),
    [
        (15, False, None, None),
        (15, True, None, None),
        (16, False, "indication.severity", "high"),
        (16, True, "indication.severity_chosen", "low"),
        (27, True, "indication.severity_chosen", "low"),
    ],
)
def test_low_intensity_chosen_after_discussion_turns_the_step_up_into_a_review(
    content, case_of, total, chosen, flag, severity
):
    report = assess(content, case_of("ba_step2", phq9=[total], chosen=chosen))
    found = [f for f in report.flags if f.id.startswith("indication.severity")]
    assert [(f.id, f.severity) for f in found] == ([(flag, severity)] if flag else [])
    if flag == "indication.severity_chosen":
        [chosen_flag] = found
        assert "chosen by the patient after discussion" in chosen_flag.title
        assert [a.adaptation_id for a in chosen_flag.actions] == ["review_choice_each_session"]
        assert {t.item_id for t in chosen_flag.triggers} == {"phq9", "low_intensity_chosen"}
        # Still outside its range, with the choice said beside why.
        assert report.indication.status == "severity_outside"
        assert "chose it after discussing a step up" in report.indication.reasons[-1]
        agenda = [i.title for i in report.session_plan]
        assert "Review the choice to stay at this step at each session" in agenda
        assert "Discuss stepping up" not in agenda
        assert not any(i.kind == "review" for i in report.session_plan)
    else:
        assert report.indication.status == ("severity_outside" if flag else "indicated")
        assert len(report.indication.reasons) == (1 if flag else 0)


def test_the_choice_is_kept_in_the_case_file(case_of):
    from tailoring import services

    # The case-file text as the app writes it, without the database its export audit needs.
    case = case_of("ba_step2", phq9=[18], chosen=True)
    text = services.file_case_json(case)
    assert '"low_intensity_chosen": true' in text
    assert services.parse_case_file(text) == case
    unrecorded = json.loads(services.file_case_json(case_of("ba_step2")))
    del unrecorded["low_intensity_chosen"]
    assert services.parse_case_file(json.dumps(unrecorded)).low_intensity_chosen is False


def test_the_choice_does_not_touch_a_protocol_for_any_severity(content, case_of):
    without = assess(content, case_of("cbt_depression", phq9=[22]))
    chosen = assess(content, case_of("cbt_depression", phq9=[22], chosen=True))
    assert ids(chosen) == ids(without)
    assert chosen.indication == without.indication


def test_the_choice_is_said_for_every_low_intensity_alternative_too(content, case_of):
    report = assess(content, case_of("cbt_depression", phq9=[20], chosen=True))
    group = alternative(report, "group_cbt")
    assert group.indication == "severity_outside"
    assert "chose it after discussing a step up" in group.why[-1]


# Anxiety severity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "flag", "severity"),
    [
        (0, None, None),
        (14, None, None),
        (15, "indication.severity.gad7", "high"),
        (21, "indication.severity.gad7", "high"),
    ],
)
def test_gad7_above_14_is_outside_a_low_intensity_range_for_anxiety(
    content, case_of, total, flag, severity
):
    report = assess(content, case_of("gsh_cbt", "generalised_anxiety", anxiety=[total]))
    found = [(f.id, f.severity) for f in report.flags if f.id.startswith("indication.severity")]
    assert found == ([(flag, severity)] if flag else [])
    assert report.indication.status == ("severity_outside" if flag else "indicated")
    if flag:
        [why] = report.indication.reasons
        assert why.startswith(f"GAD-7 {total} (")
        assert "above the range of Guided self-help (CBT-based), GAD-7 up to 14" in why
        assert "not checked here" in why
        flagged = next(f for f in report.flags if f.id == flag)
        assert [a.adaptation_id for a in flagged.actions] == [
            "discuss_step_up",
            "review_protocol_step",
        ]
        assert [t.item_id for t in flagged.triggers] == ["gad7"]


@pytest.mark.parametrize(
    ("problem", "checked"),
    [("panic", True), (None, True), ("mixed_anxiety_depression", True), ("depression", False)],
)
def test_the_anxiety_range_is_read_only_for_a_problem_measured_by_anxiety(
    content, case_of, problem, checked
):
    report = assess(content, case_of("gsh_cbt", problem, anxiety=[18]))
    assert ("indication.severity.gad7" in ids(report)) == checked


def test_a_protocol_without_an_anxiety_range_is_not_checked(content, case_of):
    report = assess(content, case_of("cbt_anxiety", "generalised_anxiety", anxiety=[21]))
    assert not [f for f in report.flags if f.id.startswith("indication.severity")]


def test_depression_and_anxiety_outside_the_range_raise_a_flag_each(content, case_of):
    report = assess(
        content, case_of("gsh_cbt", "mixed_anxiety_depression", phq9=[16], anxiety=[15])
    )
    assert [f.id for f in report.flags if f.id.startswith("indication.severity")] == [
        "indication.severity",
        "indication.severity.gad7",
    ]
    assert len(report.indication.reasons) == 2


@pytest.mark.parametrize(("total", "chosen"), [(14, True), (15, True), (15, False)])
def test_the_choice_of_low_intensity_covers_anxiety_above_the_range(
    content, case_of, total, chosen
):
    report = assess(
        content, case_of("gsh_cbt", "generalised_anxiety", anxiety=[total], chosen=chosen)
    )
    found = {f.id: f.severity for f in report.flags if f.id.startswith("indication.severity")}
    if total <= 14:
        assert found == {}
    elif chosen:
        assert found == {"indication.severity_chosen.gad7": "low"}
    else:
        assert found == {"indication.severity.gad7": "high"}


@pytest.fixture
def pcl5_range(content_copy: Path) -> ContentLibrary:
    """Trauma-focused CBT declaring a PCL-5 range from 33, and EMDR one up to 60 (invented)."""
    source = {"document": "Invented for a test", "section": "none", "checked": False}
    edit_yaml(
        content_copy / "protocols" / "tf_cbt.yaml",
        lambda d: d["indications"].update(anxiety_severity={"pcl5": {"min": 33, "source": source}}),
    )
    edit_yaml(
        content_copy / "protocols" / "emdr.yaml",
        lambda d: d["indications"].update(anxiety_severity={"pcl5": {"max": 60, "source": source}}),
    )
    return load_content(content_copy)


@pytest.mark.parametrize(
    ("protocol", "total", "flag", "severity"),
    [
        ("tf_cbt", 32, "indication.severity.pcl5", "medium"),
        ("tf_cbt", 33, None, None),
        ("emdr", 60, None, None),
        ("emdr", 61, "indication.severity.pcl5", "high"),
    ],
)
def test_a_disorder_specific_measure_is_checked_where_a_protocol_declares_its_range(
    pcl5_range, case_of, protocol, total, flag, severity
):
    case = case_of(protocol, "ptsd", anxiety=[total], anxiety_measure="pcl5", library=pcl5_range)
    report = assess(pcl5_range, case)
    found = [(f.id, f.severity) for f in report.flags if f.id.startswith("indication.severity")]
    assert found == ([(flag, severity)] if flag else [])
    if flag and severity == "medium":
        assert (
            "below the range of Trauma-focused CBT for PTSD, PCL-5 from 33"
            in (report.indication.reasons[0])
        )


def test_a_range_on_another_measure_than_the_case_s_is_not_applied(pcl5_range, case_of):
    # GSH declares a GAD-7 range; a case measured by the PCL-5 is not read against it.
    case = case_of("gsh_cbt", None, anxiety=[70], anxiety_measure="pcl5", library=pcl5_range)
    assert "indication.severity.gad7" not in ids(assess(pcl5_range, case))


def test_a_high_intensity_protocol_suits_any_depression_severity(content, case_of):
    assert "indication.severity" not in ids(assess(content, case_of("cbt_depression", phq9=[22])))


def test_severity_is_read_from_the_latest_complete_attended_measure(content, case_of):
    # 22 at assessment, 12 later: the latest (12, less severe) counts; a partial one does not.
    report = assess(content, case_of("ba_step2", phq9=[22, 12, None]))
    assert (report.severity.depression.total, report.severity.depression.session) == (12, 2)
    assert "indication.severity" not in ids(report)


def test_a_missed_session_gives_no_severity(content):
    case = Case.model_validate(
        {
            "reference": "IND-002",
            "protocol_id": "ba_step2",
            "problem": "depression",
            "sessions_available": 6,
            "sessions": [session(content, 1, phq9=22, attendance="did_not_attend")],
        },
        context={"content": content},
    )
    report = assess(content, case)
    assert report.severity.depression is None
    assert "indication.severity" not in ids(report)


def test_depression_severity_is_not_applied_to_an_anxiety_problem(content, case_of):
    report = assess(content, case_of("gsh_cbt", "generalised_anxiety", phq9=[20]))
    assert "indication.severity" not in ids(report)
    # With no problem recorded yet, the severity is still checked.
    assert "indication.severity" in ids(assess(content, case_of("gsh_cbt", None, phq9=[20])))


# Indicated or not ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "problem", "second", "status"),
    [
        ("tf_cbt", "ptsd", None, "indicated"),
        ("tf_cbt", "depression", None, "not_indicated"),
        ("tf_cbt", "depression", "ptsd", "indicated"),
        ("cbt_anxiety", "panic", None, "indicated"),
        ("cbt_anxiety", "depression", None, "not_indicated"),
        ("cbt_depression", None, None, "no_problem"),
    ],
)
def test_a_protocol_is_indicated_for_the_main_or_second_problem(
    content, case_of, protocol, problem, second, status
):
    report = assess(content, case_of(protocol, problem, second=second))
    assert report.indication.status == status
    assert ("indication.not_indicated" in ids(report)) == (status == "not_indicated")
    assert ("indication.no_problem" in ids(report)) == (status == "no_problem")


def test_not_indicated_is_high_and_asks_for_a_review(content, case_of):
    flag = next(f for f in assess(content, case_of("emdr")).flags if f.id.startswith("indication"))
    assert (flag.id, flag.severity) == ("indication.not_indicated", "high")
    assert {a.kind for a in flag.actions} == {"review_protocol"}
    assert "post-traumatic stress disorder" in flag.explanation


def test_no_problem_is_incompleteness_not_a_fit(content, case_of):
    report = assess(content, case_of("cbt_depression", None))
    flag = next(f for f in report.flags if f.id == "indication.no_problem")
    assert flag.severity == "low"
    assert {a.indication for a in report.alternatives} <= {"no_problem", "severity_outside"}


def test_for_ptsd_the_trauma_therapies_come_first(content, case_of):
    report = assess(
        content, case_of("tf_cbt", "ptsd", preferences={"goals": {"value": ["skills"]}})
    )
    first = report.alternatives[0]
    assert (first.protocol_id, first.indication) == ("emdr", "indicated")
    depression_only = alternative(report, "cbt_depression")
    assert depression_only.indication == "not_indicated" and depression_only.why


def test_for_depression_anxiety_and_trauma_protocols_rank_below_every_indicated_one(
    content, case_of
):
    report = assess(content, case_of("cbt_depression"))
    statuses = [a.indication for a in report.alternatives]
    assert statuses == sorted(statuses, key=["indicated", "not_indicated"].index)
    for other in ("cbt_anxiety", "tf_cbt", "emdr", "couple_therapy"):
        assert alternative(report, other).indication == "not_indicated"


def test_couple_therapy_needs_difficulties_with_a_partner(content, case_of):
    without = assess(content, case_of("couple_therapy"))
    assert without.indication.status == "not_indicated"
    assert "partner" in without.indication.reasons[0]
    with_partner = assess(content, case_of("couple_therapy", social={"relationships": PARTNER}))
    assert with_partner.indication.status == "indicated"


# Contraindications -----------------------------------------------------------------------------


@pytest.mark.parametrize(("safeguarding", "ruled_out"), SAFEGUARDING_EDGES)
def test_domestic_abuse_rules_out_couple_therapy_everywhere(
    content, case_of, safeguarding, ruled_out
):
    social = {"relationships": PARTNER}
    if safeguarding is not None:
        social["safeguarding"] = safeguarding
    planned = assess(content, case_of("couple_therapy", social=social))
    other = assess(content, case_of("cbt_depression", social=social))
    assert (planned.indication.status == "contraindicated") == ruled_out
    assert ("indication.contraindicated.domestic_abuse" in ids(planned)) == ruled_out
    listed = {a.protocol_id for a in other.alternatives}
    assert ("couple_therapy" not in listed) == ruled_out
    assert ([r.protocol_id for r in other.ruled_out] == ["couple_therapy"]) == ruled_out


def test_with_abuse_recorded_nothing_suggests_couple_work(content, case_of):
    social = {
        "relationships": {
            "present": "yes",
            "maintains": "yes",
            "helping": "no",
            "details": ["partner_conflict"],
        },
        "safeguarding": ABUSE,
    }
    report = assess(content, case_of("couple_therapy", social=social))
    flag = next(f for f in report.flags if f.id == "indication.contraindicated.domestic_abuse")
    assert flag.severity == "high"
    assert [a.adaptation_id for a in flag.actions] == [
        "local_safeguarding_procedure",
        "choose_indicated_protocol",
    ]
    suggested = {a.adaptation_id for f in report.flags for a in f.actions}
    assert not suggested & {"consider_couple_therapy", "signpost_relationship_support"}
    plan = " ".join(f"{i.title} {i.detail}" for i in report.session_plan)
    assert "relationship support" not in plan.lower()
    assert "Best-fitting alternative: Couple" not in plan
    # A contraindicated protocol does not "work on" the relationship: the flag is high.
    relationships = next(f for f in report.flags if f.id == "social.relationships")
    assert relationships.severity == "high"


def test_without_abuse_relationship_support_is_still_suggested(content, case_of):
    social = {
        "relationships": {
            "present": "yes",
            "maintains": "yes",
            "helping": "no",
            "details": ["partner_conflict"],
        }
    }
    report = assess(content, case_of("cbt_depression", social=social))
    suggested = {a.adaptation_id for f in report.flags for a in f.actions}
    assert "signpost_relationship_support" in suggested


@pytest.mark.parametrize("protocol", ["tf_cbt", "emdr"])
def test_ongoing_danger_rules_out_trauma_processing(content, case_of, protocol):
    social = {"safeguarding": {"present": "yes", "details": ["ongoing_danger"]}}
    report = assess(content, case_of(protocol, "ptsd", social=social))
    assert report.indication.status == "contraindicated"
    assert "indication.contraindicated.ongoing_danger" in ids(report)
    assert {r.protocol_id for r in report.ruled_out} == {"tf_cbt", "emdr"} - {protocol}


# Hours per problem -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("problem", "available", "flagged"),
    [
        ("panic", 7, False),
        ("panic", 6, True),
        ("ocd", 10, False),
        ("ocd", 9, True),
        ("social_anxiety", 7, False),
        (None, 7, False),
        (None, 6, True),
    ],
)
def test_cbt_for_anxiety_needs_the_hours_nice_gives_for_the_problem(
    content, case_of, problem, available, flagged
):
    report = assess(content, case_of("cbt_anxiety", problem, sessions=available))
    assert ("case.sessions" in ids(report)) == flagged


# The reviewer's gaps ---------------------------------------------------------------------------


def test_an_interpreter_need_flags_every_talking_protocol_without_capping_it(content, case_of):
    social = {"culture_language": {"present": "yes", "details": ["interpreter_needed"]}}
    prefs = {"structure": {"value": 2, "importance": 3}}
    report = assess(content, case_of("cbt_depression", social=social, preferences=prefs))
    flag = next(f for f in report.flags if f.id == "demand.culture_language.interpreter_needed")
    assert (flag.severity, flag.hard) == ("medium", False)
    assert [a.adaptation_id for a in flag.actions] == ["book_interpreter"]
    assert report.overall_fit == 100.0
    group = assess(content, case_of("group_cbt", social=social, preferences=prefs))
    hard = next(f for f in group.flags if f.id == "demand.culture_language.interpreter_needed")
    assert (hard.severity, hard.hard) == ("high", True)


@pytest.mark.parametrize(
    ("protocol", "formats", "flagged"),
    [
        ("ba_step2", None, True),  # usually by phone
        ("cbt_depression", None, False),  # usually in person
        ("cbt_depression", ["phone"], True),  # the patient would meet by phone
        ("cbt_depression", ["phone", "in_person"], False),
        ("dcbt", None, False),  # an online programme, not a call
    ],
)
def test_phone_without_a_private_space_is_a_format_mismatch(
    content, case_of, protocol, formats, flagged
):
    prefs = {} if formats is None else {"format": {"value": formats, "importance": 2}}
    social = {"access": {"present": "yes", "details": ["no_private_space"]}}
    report = assess(content, case_of(protocol, social=social, preferences=prefs))
    assert ("format.access.no_private_space" in ids(report)) == flagged
    if flagged:
        flag = next(f for f in report.flags if f.id == "format.access.no_private_space")
        assert flag.severity == "medium"
        assert [a.adaptation_id for a in flag.actions] == ["offer_in_person"]


@pytest.mark.parametrize(("importance", "flagged"), [(0, True), (1, False), (None, False)])
def test_a_way_of_meeting_that_does_not_matter_leaves_the_usual_one(
    content, case_of, importance, flagged
):
    # Low-intensity BA is usually by phone; "in person" counts only if it matters at all.
    prefs = {"format": {"value": ["in_person"], "importance": importance}}
    social = {"access": {"present": "yes", "details": ["no_private_space"]}}
    report = assess(content, case_of("ba_step2", social=social, preferences=prefs))
    assert ("format.access.no_private_space" in ids(report)) == flagged


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        ({"present": "no", "details": ["domestic_abuse"]}, "answers.social.safeguarding.details"),
        ({"present": "no", "maintains": "yes"}, "answers.social.safeguarding.maintains"),
    ],
)
def test_contradictory_social_answers_are_refused_naming_the_field(content, case_of, answer, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        case_of("cbt_depression", social={"safeguarding": answer})


@pytest.mark.parametrize(
    "answer",
    [
        {"present": "unsure", "details": ["domestic_abuse"]},
        {"present": None, "details": ["domestic_abuse"]},
        {"present": "no", "maintains": "no"},
        {"present": "no", "maintains": "unsure"},
    ],
)
def test_answers_that_do_not_contradict_are_kept(case_of, answer):
    case_of("cbt_depression", social={"safeguarding": answer})


@pytest.mark.parametrize(("heard", "severity"), [(0, "high"), (1, "medium"), (2, None), (4, None)])
def test_not_feeling_heard_at_a_session_is_flagged_on_its_own(content, heard, severity):
    case = Case.model_validate(
        {
            "reference": "IND-003",
            "protocol_id": "cbt_depression",
            "problem": "depression",
            "sessions_available": 16,
            "sessions": [session(content, 1, alliance={"heard": heard, "bond": 4})],
        },
        context={"content": content},
    )
    flags = {f.id: f for f in assess(content, case).flags}
    assert (flags["session.not_heard"].severity if "session.not_heard" in flags else None) == (
        severity
    )
    assert "session.rupture" not in flags


def test_only_the_latest_alliance_check_counts_for_feeling_heard(content):
    case = Case.model_validate(
        {
            "reference": "IND-004",
            "protocol_id": "cbt_depression",
            "problem": "depression",
            "sessions_available": 16,
            "sessions": [
                session(content, 1, alliance={"heard": 0}),
                session(content, 2, alliance={"heard": 3}),
            ],
        },
        context={"content": content},
    )
    assert "session.not_heard" not in ids(assess(content, case))


# Adaptations know their direction ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("focus", "suggested"), [(2, "keep_to_the_present"), (3, None), (4, "link_present_to_past")]
)
def test_adapt_within_moves_the_way_the_patient_leans(content, case_of, focus, suggested):
    # DIT sits at 3 on present–past and stretches from 2 to 4.
    report = assess(content, case_of("dit", preferences={"focus": {"value": focus}}))
    dim = next(d for d in report.dimensions if d.item_id == "focus")
    assert [a.adaptation_id for a in dim.actions] == ([suggested] if suggested else [])


def test_every_scale_has_a_suggestion_for_each_direction_or_none(content):
    for item in content.preferences:
        if item.kind == "scale":
            assert item.adapt_within is not None, item.id
            assert item.adapt_within.lower and item.adapt_within.higher
        else:
            assert item.adapt_within is None, item.id


# Words -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "problem", "words"),
    [
        ("cbt_depression", "depression", "CBT for depression"),
        ("couple_therapy", "depression", "Couple therapy for depression"),
        ("emdr", "ptsd", "EMDR for PTSD"),
        ("ipt", "depression", "Interpersonal psychotherapy (IPT) for depression"),
        ("gsh_cbt", "ocd", "Guided self-help (CBT-based) for obsessive-compulsive disorder (OCD)"),
        ("cbt_anxiety", "panic", "CBT for anxiety disorders, presenting problem: panic disorder"),
        (
            "cbt_depression",
            "ptsd",
            "CBT for depression, presenting problem: post-traumatic stress disorder (PTSD)",
        ),
        ("ipt", "other", "Interpersonal psychotherapy (IPT), presenting problem: other"),
        ("cbt_depression", None, "CBT for depression, presenting problem not recorded"),
    ],
)
def test_the_plan_names_the_problem_once_and_in_lower_case(content, protocol, problem, words):
    assert plan_words(content, content.protocol(protocol), problem) == words


def test_no_plan_repeats_for_or_capitalises_a_problem(content):
    for protocol in content.protocols:
        for problem in content.problems:
            words = plan_words(content, protocol, problem.id)
            assert words.count(" for ") <= 1, words
            assert problem.title not in words.removeprefix(protocol.name), words


def test_a_second_problem_reads_in_lower_case(content, case_of):
    from tailoring.export.text import fit_report_text

    report = assess(content, case_of("cbt_depression", "depression", second="social_anxiety"))
    assert "Presenting problem: Depression, with social anxiety disorder" in fit_report_text(
        report, ON
    )
    assert problem_words(
        ["Post-traumatic stress disorder (PTSD)", "Obsessive-compulsive disorder (OCD)"]
    ) == ("Post-traumatic stress disorder (PTSD), with obsessive-compulsive disorder (OCD)")


# Content ---------------------------------------------------------------------------------------


def test_every_protocol_declares_its_indications_with_a_source(content):
    problems = {p.id for p in content.problems}
    for protocol in content.protocols:
        assert set(protocol.indications.problems) <= problems, protocol.id
        assert all(s.document and s.section for s in protocol.indications.sources), protocol.id


def test_the_indication_matrix(content, capsys):
    """Every protocol × problem descriptor in one table, printed for a clinician to read."""
    rows = indication_matrix(content)
    assert [r["protocol"] for r in rows] == [p.name for p in content.protocols]
    problems = [p.title for p in content.problems]
    expected = {
        "Couple therapy for depression": {"Depression"},
        "Trauma-focused CBT for PTSD": {"Post-traumatic stress disorder (PTSD)"},
        "EMDR for PTSD": {"Post-traumatic stress disorder (PTSD)"},
        "Group CBT for depression": {"Depression"},
    }
    for row in rows:
        if row["protocol"] in expected:
            assert {p for p in problems if row[p]} == expected[row["protocol"]]
    assert all(any(row[p] for p in problems) for row in rows)
    severity = {r["protocol"]: r["anxiety severity"] for r in rows}
    assert severity["Guided self-help (CBT-based)"] == "GAD-7 up to 14"
    assert severity["CBT for anxiety disorders"] == ""
    with capsys.disabled():
        width = max(len(r["protocol"]) for r in rows)
        print("\n" + " " * width + " | " + " | ".join(problems))
        for row in rows:
            marks = " | ".join(("yes" if row[p] else "-").center(len(p)) for p in problems)
            print(f"{row['protocol']:<{width}} | {marks}")


def test_only_the_sources_read_in_the_guideline_text_are_marked_checked(content):
    """docs/indications.md lists what was checked: change both together."""
    checked = {(p.id, s.short) for p in content.protocols for s in p.sources if s.checked} | {
        (c.id, s.short) for c in content.contraindications for s in c.sources if s.checked
    }
    assert checked == {
        (p, "NICE NG222 (2022) 1.5")
        for p in ("ba_step2", "cbt_depression", "group_ba", "group_cbt", "gsh_cbt", "ipt")
    }


def test_the_matrix_says_which_sources_are_not_checked(content):
    rows = {r["protocol"]: r for r in indication_matrix(content)}
    anxiety = rows["CBT for anxiety disorders"]
    assert anxiety["sources checked"] == "0 of 8"
    assert anxiety["not checked here"].split("; ") == [
        "NICE CG113 (2011) 1.2",
        "NICE CG113 (2011) 1.4",
        "NICE CG159 (2013) 1.4",
        "NICE CG31 (2005) 1.5",
    ]
    couple = rows["Couple therapy for depression"]
    assert couple["sources checked"] == "0 of 4"  # the contraindication's two included
    assert "Service practice" in couple["not checked here"]
    group = rows["Group CBT for depression"]
    assert (group["sources checked"], group["not checked here"]) == ("1 of 1", "")


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "protocols/ipt.yaml",
            lambda d: d["indications"]["problems"].append("grief"),
            "unknown problem 'grief'",
        ),
        (
            "protocols/ipt.yaml",
            lambda d: d.update(contraindications=["no_such_rule"]),
            "unknown contraindication 'no_such_rule'",
        ),
        (
            "protocols/ipt.yaml",
            lambda d: d.update(
                hours={"ptsd": {"min": 8, "source": d["indications"]["sources"][0]}}
            ),
            "'ptsd' is not a problem it is for",
        ),
        (
            "protocols/ipt.yaml",
            lambda d: d.update(severity="less_severe"),
            "severity",
        ),
        (
            "protocols/gsh_cbt.yaml",
            lambda d: d["indications"]["anxiety_severity"].update(
                phq9={"max": 14, "source": SOURCE}
            ),
            "anxiety_severity.phq9: 'phq9' is not an anxiety measure",
        ),
        (
            "protocols/gsh_cbt.yaml",
            lambda d: d["indications"]["anxiety_severity"]["gad7"].update(max=22),
            "anxiety_severity.gad7.max: 22 is outside GAD-7's totals 0–21",
        ),
        (
            "protocols/gsh_cbt.yaml",
            lambda d: d["indications"]["anxiety_severity"]["gad7"].update(min=15),
            "min is above max",
        ),
        (
            "protocols/gsh_cbt.yaml",
            lambda d: d["indications"]["anxiety_severity"]["gad7"].pop("max"),
            "give min, max or both",
        ),
        (
            "scenarios/ipt_bereavement.yaml",
            lambda d: d.update(problem="grief"),
            "problem: unknown problem 'grief'",
        ),
        (
            "scenarios/ba_severe_depression.yaml",
            lambda d: d["assessment"]["phq9"].pop("phq9_9"),
            "answer every item",
        ),
    ],
)
def test_broken_indications_name_the_file_and_field(content_copy: Path, file, change, message):
    edit_yaml(content_copy / file, change)
    assert has_problem(content_problems(content_copy), file, message)


def test_a_contraindication_must_name_a_real_detail(content_copy: Path):
    def change(rules: list[dict]) -> None:
        rules[0]["when"]["details"] = ["no_such_detail"]

    edit_yaml(content_copy / "contraindications.yaml", change)
    assert has_problem(
        content_problems(content_copy), "contraindications", "unknown detail 'no_such_detail'"
    )


def test_the_text_to_paste_says_what_is_indicated_and_what_is_ruled_out(content, case_of):
    """The copy-as-text fit report carries the problem, the planned protocol's indication, each
    alternative's, and the contraindicated protocols as ruled out, never as alternatives."""
    from tailoring.export.text import fit_report_text

    report = assess(content, case_of("cbt_depression", social={"safeguarding": ABUSE}))
    text = fit_report_text(report, ON)
    assert "Presenting problem: Depression" in text
    assert "Planned protocol for this problem: Indicated" in text
    alternatives, ruled_out = text.split("Ruled out (contraindicated: never suggested)")
    couple = content.protocol("couple_therapy").name
    assert couple not in alternatives.split("Alternatives")[1]
    assert f"- {couple}:" in ruled_out
    no_problem = fit_report_text(assess(content, case_of("cbt_depression", None)), ON)
    assert "Presenting problem: not recorded" in no_problem
    assert "Planned protocol for this problem: Not checked: no problem recorded" in no_problem
