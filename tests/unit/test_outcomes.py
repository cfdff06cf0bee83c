"""Outcomes and session flags, one rule at a time, at and around every threshold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailoring.__main__ import main
from tailoring.engine.assess import assess
from tailoring.engine.flags import RISK_FLAG, alliance_fell, session_flags
from tailoring.engine.outcomes import case_outcomes
from tailoring.model.content import ContentLibrary
from tailoring.services import demo_case_paths, parse_case_file
from tests.session_factory import case_with_sessions, content_with_adsm, session

ALL_RATINGS = ["goals_agreement", "task_agreement", "bond", "heard", "individual", "pace_right"]


def course(content: ContentLibrary, *totals: tuple[int | None, int | None], **kw):
    """A case whose attended treatment sessions 1, 2, … have these (PHQ-9, GAD-7) totals."""
    sessions = [
        session(content, n, phq9=phq, anxiety=gad) for n, (phq, gad) in enumerate(totals, start=1)
    ]
    return case_with_sessions(content, sessions, **kw)


def outcomes(content: ContentLibrary, *totals: tuple[int | None, int | None]):
    return case_outcomes(content, course(content, *totals))


def flag(content: ContentLibrary, case, flag_id: str):
    return next((f for f in session_flags(content, case) if f.id == flag_id), None)


# --- Reliable change: PHQ-9 6 points, GAD-7 4 points -------------------------------------------


@pytest.mark.parametrize(
    ("phq", "gad", "improvement"),
    [
        ((20, 15), (12, 12), "no"),  # PHQ-9 falls 5: not reliable
        ((20, 14), (12, 12), "yes"),  # falls 6: reliable
        ((12, 12), (15, 12), "no"),  # GAD-7 falls 3
        ((12, 12), (15, 11), "yes"),  # falls 4
        ((20, 14), (10, 14), "no"),  # a reliable drop, but a reliable rise on the other
        ((20, 14), (10, 13), "yes"),  # the other rises 3: not reliable
    ],
)
def test_reliable_improvement(content, phq, gad, improvement):
    result = outcomes(content, (phq[0], gad[0]), (phq[1], gad[1]))
    assert result.reliable_improvement == improvement


@pytest.mark.parametrize(
    ("phq", "gad", "deterioration"),
    [
        ((10, 15), (10, 10), "no"),  # PHQ-9 rises 5
        ((10, 16), (10, 10), "yes"),  # rises 6
        ((10, 10), (8, 11), "no"),  # GAD-7 rises 3
        ((10, 10), (8, 12), "yes"),  # rises 4
        ((20, 10), (8, 12), "yes"),  # either measure is enough
    ],
)
def test_reliable_deterioration(content, phq, gad, deterioration):
    result = outcomes(content, (phq[0], gad[0]), (phq[1], gad[1]))
    assert result.reliable_deterioration == deterioration


def test_a_change_reports_first_last_and_bands(content):
    result = outcomes(content, (20, 15), (17, None), (14, 11))
    dep = result.depression
    assert (dep.first_session, dep.first, dep.last_session, dep.last) == (1, 20, 3, 14)
    assert (dep.first_band, dep.last_band, dep.change) == ("Severe", "Moderate", -6)
    assert (dep.reliable_drop, dep.reliable_rise) == (True, False)
    assert result.anxiety.scored_sessions == 2


# --- Caseness and recovery: PHQ-9 ≥ 10, GAD-7 ≥ 8 ---------------------------------------------


@pytest.mark.parametrize(
    ("start", "caseness"),
    [((9, 7), "no"), ((10, 7), "yes"), ((9, 8), "yes"), ((15, 15), "yes")],
)
def test_caseness_at_start(content, start, caseness):
    assert outcomes(content, start, (5, 5)).caseness_at_start == caseness


@pytest.mark.parametrize(
    ("end", "recovery"),
    [((9, 7), "yes"), ((10, 7), "no"), ((9, 8), "no"), ((0, 0), "yes")],
)
def test_recovery_needs_both_below_caseness_at_the_end(content, end, recovery):
    assert outcomes(content, (12, 9), end).recovery == recovery


def test_not_at_caseness_at_the_start_cannot_recover(content):
    result = outcomes(content, (9, 7), (2, 1))
    assert result.caseness_at_start == "no"
    assert result.recovery == result.reliable_recovery == "not_at_caseness"
    assert result.reliable_improvement == "yes"


def test_reliable_recovery_is_recovery_and_reliable_improvement(content):
    recovered_not_reliably = outcomes(content, (12, 9), (9, 7))
    assert recovered_not_reliably.recovery == "yes"
    assert recovered_not_reliably.reliable_improvement == "no"
    assert recovered_not_reliably.reliable_recovery == "no"
    reliably = outcomes(content, (15, 9), (9, 7))
    assert (reliably.recovery, reliably.reliable_improvement) == ("yes", "yes")
    assert reliably.reliable_recovery == "yes"


# --- Not enough data is said, never guessed ----------------------------------------------------


def test_one_scored_session_is_not_enough_for_a_change(content):
    result = outcomes(content, (15, 12))
    assert result.caseness_at_start == "yes"
    for status in ("reliable_improvement", "reliable_deterioration", "recovery"):
        assert getattr(result, status) == "not_enough_data", status
    assert any("a change needs two" in note for note in result.notes)


def test_a_missing_measure_leaves_what_it_decides_unknown(content):
    only_phq = outcomes(content, (20, None), (9, None))
    assert only_phq.reliable_improvement == "not_enough_data"  # GAD-7 might have risen
    assert only_phq.recovery == "not_enough_data"
    assert any("GAD-7: no complete score" in note for note in only_phq.notes)


def test_what_one_measure_settles_is_said(content):
    rising = outcomes(content, (8, None), (14, None))
    assert rising.reliable_deterioration == "yes"
    assert rising.reliable_improvement == "no"
    still_a_case = outcomes(content, (20, None), (16, None))
    assert still_a_case.recovery == "no"
    below = outcomes(content, (8, None), (7, None))
    assert below.caseness_at_start == "not_enough_data"  # GAD-7 might have been at caseness


def test_no_sessions_means_no_outcomes_in_the_report(content, make_case):
    assert assess(content, make_case()).outcomes is None


def test_a_partial_measure_is_not_counted(content):
    sessions = [
        session(content, 1, phq9=20, anxiety=12),
        session(content, 2, phq9=14, anxiety=12),
        session(content, 3, anxiety=12),
    ]
    sessions[2]["measures"]["phq9"] = {f"phq9_{n}": 0 for n in range(1, 9)}  # item 9 missing
    result = case_outcomes(content, case_with_sessions(content, sessions))
    assert (result.depression.last_session, result.depression.last) == (2, 14)
    assert any("PHQ-9 at session 3 is partial (8 of 9 items)" in n for n in result.notes)


def test_only_attended_treatment_sessions_count_towards_outcomes(content):
    sessions = [
        session(content, 1, phq9=25, anxiety=20, kind="assessment"),
        session(content, 2, phq9=14, anxiety=10),
        session(content, 3, phq9=3, anxiety=2, attendance="did_not_attend"),
        session(content, 4, phq9=14, anxiety=10),
        session(content, 5, phq9=2, anxiety=2, kind="follow_up"),
    ]
    result = case_outcomes(content, case_with_sessions(content, sessions))
    assert (result.depression.first, result.depression.last) == (14, 14)
    assert result.reliable_improvement == "no"
    assert any("not counted (sessions 1, 3, 5)" in n for n in result.notes)


# --- A finished course: ended after two or more attended treatment appointments ---------------
# NHS Digital glossary: "a referral that has finished a course of treatment is one that has
# ended having had at least two attended treatment appointments".

ONE_TREATMENT = [
    ("assessment", "attended"),
    ("treatment", "attended"),
    ("treatment", "did_not_attend"),
    ("treatment", "cancelled"),
    ("follow_up", "attended"),
]


@pytest.mark.parametrize(
    ("extra", "ending", "attended", "finished"),
    [
        ([], None, 1, False),  # one treatment appointment, open
        ([], "completed", 1, False),  # one, ended: not a finished course
        ([("treatment", "attended")], None, 2, False),  # two, still open
        ([("treatment", "attended")], "completed", 2, True),  # two, ended
        ([("treatment", "attended")], "dropped_out", 2, True),  # any ending reason counts
        ([("assessment_and_treatment", "attended")], "completed", 2, True),
        ([("assessment", "attended")], "completed", 1, False),
        ([("follow_up", "attended")], "completed", 1, False),
        ([("assessment_and_treatment", "did_not_attend")], "completed", 1, False),
    ],
)
def test_a_finished_course_is_ended_after_two_attended_treatment_appointments(
    content, extra, ending, attended, finished
):
    kinds = ONE_TREATMENT + extra
    sessions = [
        session(content, n, kind=kind, attendance=attendance)
        for n, (kind, attendance) in enumerate(kinds, start=1)
    ]
    result = case_outcomes(content, case_with_sessions(content, sessions, ending=ending))
    assert (result.treatment_sessions_attended, result.ended, result.finished) == (
        attended,
        ending is not None,
        finished,
    )
    open_note = any("has not ended" in n for n in result.notes)
    assert open_note is (ending is None)


# --- The first score: the first scored treatment appointment ------------------------------------


def test_caseness_is_read_at_the_first_scored_treatment_appointment_not_the_assessment(content):
    """An assessment-only score never counts; an "assessment and treatment" one does."""
    sessions = [
        session(content, 1, phq9=20, anxiety=15, kind="assessment"),
        session(content, 2, phq9=9, anxiety=7),
        session(content, 3, phq9=5, anxiety=4),
    ]
    below = case_outcomes(content, case_with_sessions(content, sessions, ending="completed"))
    assert (below.depression.first_session, below.depression.first) == (2, 9)
    assert (below.caseness_at_start, below.recovery) == ("no", "not_at_caseness")

    sessions[0]["kind"] = "assessment_and_treatment"
    counted = case_outcomes(content, case_with_sessions(content, sessions, ending="completed"))
    assert (counted.depression.first_session, counted.depression.first) == (1, 20)
    assert (counted.caseness_at_start, counted.recovery, counted.finished) == ("yes", "yes", True)


# --- Anxiety measure per case ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("anxiety", "at_start", "improvement", "recovery"),
    [
        ((12, 7), "yes", "yes", "yes"),  # 12 is caseness on the ADSM; a fall of 5 is reliable
        ((10, 6), "no", "no", "not_at_caseness"),  # GAD-7's 8 and 4 would say yes and yes
    ],
)
def test_the_anxiety_measure_is_configurable_per_case(
    tmp_path: Path, anxiety, at_start, improvement, recovery
):
    lib = content_with_adsm(tmp_path)
    sessions = [
        session(lib, n, phq9=9, anxiety=total, anxiety_measure="adsm")
        for n, total in enumerate(anxiety, start=1)
    ]
    result = case_outcomes(lib, case_with_sessions(lib, sessions, anxiety_measure="adsm"))
    assert result.anxiety.measure_id == "adsm"
    assert (result.anxiety.first, result.anxiety.last) == anxiety
    assert result.caseness_at_start == at_start
    assert result.reliable_improvement == improvement
    assert result.recovery == recovery


# --- Not on track -------------------------------------------------------------------------------


def test_not_on_track_at_the_documented_session(content):
    """The fixed rule, used where no expected-change curve covers the patient's start."""
    content = content.model_copy(update={"expected_change": None})
    by = content.tracking.not_on_track_after_treatment_sessions
    flat = [(15, 10)] * by
    assert flag(content, course(content, *flat[:-1]), "session.not_on_track") is None
    raised = flag(content, course(content, *flat), "session.not_on_track")
    assert raised is not None and raised.severity == "medium"
    assert {a.adaptation_id for a in raised.actions} == {"revisit_fit", "discuss_in_supervision"}
    assert raised.theme == "personalisation"
    assert raised.triggers and raised.triggers[0].section == "sessions"
    assert f"rule: no reliable improvement after {by} treatment sessions" in raised.title


def test_missed_sessions_do_not_count_towards_the_not_on_track_session(content):
    sessions = [session(content, n, phq9=15, anxiety=10) for n in range(1, 4)]
    sessions.append(session(content, 4, attendance="did_not_attend"))
    case = case_with_sessions(content, sessions)
    assert flag(content, case, "session.not_on_track") is None


def test_reliable_improvement_by_then_is_on_track(content):
    case = course(content, (15, 10), (14, 10), (12, 9), (9, 9))
    assert flag(content, case, "session.not_on_track") is None


def test_reliable_deterioration_is_not_on_track_at_any_session(content):
    case = course(content, (10, 6), (16, 6))
    raised = flag(content, case, "session.not_on_track")
    assert raised is not None and raised.severity == "high"
    assert "PHQ-9" in raised.title
    assert "review_protocol" in {a.kind for a in raised.actions}


def test_not_enough_data_raises_no_not_on_track_flag(content):
    case = course(content, (15, None), (15, None), (15, None), (15, None))
    assert flag(content, case, "session.not_on_track") is None


# --- Alliance rupture ----------------------------------------------------------------------------


def ratings(value: int, items: list[str] = ALL_RATINGS, **extra: int) -> dict[str, int]:
    return {**dict.fromkeys(items, value), **extra}


@pytest.mark.parametrize(("sign", "severity"), [(1, "medium"), (2, "high")])
def test_rupture_sign_at_the_latest_check(content, sign, severity):
    sessions = [
        session(content, 1, alliance=ratings(4)),
        session(content, 2, alliance=ratings(4, rupture_confrontation=sign)),
    ]
    raised = flag(content, case_with_sessions(content, sessions), "session.rupture")
    assert raised is not None and raised.severity == severity
    assert raised.theme == "alliance"
    assert [t.item_id for t in raised.triggers] == ["rupture_confrontation"]
    assert {a.adaptation_id for a in raised.actions} == {"repair_rupture", "discuss_in_supervision"}


def test_a_repaired_rupture_raises_nothing(content):
    sessions = [
        session(content, 1, alliance=ratings(4, rupture_withdrawal=2)),
        session(content, 2, alliance=ratings(4, rupture_withdrawal=0)),
    ]
    assert flag(content, case_with_sessions(content, sessions), "session.rupture") is None


def five_rated(before: int, after: int) -> list[dict]:
    """Five rated items (5 points a step): ``before`` and ``after`` steps up from all zeros."""
    items = ALL_RATINGS[:5]

    def values(steps: int) -> dict[str, int]:
        return {item: min(4, max(0, steps - 4 * i)) for i, item in enumerate(items)}

    return [values(before), values(after)]


@pytest.mark.parametrize(
    ("before", "after", "raised"),
    [(20, 17, True), (20, 18, False), (20, 10, True), (20, 20, False), (17, 20, False)],
)
def test_rupture_by_a_fall_of_the_alliance_score(content, before, after, raised):
    # 5 rated items of 0–4: each step is 5 points; 3 steps = 15 points, the margin.
    first, second = five_rated(before, after)
    sessions = [session(content, 1, alliance=first), session(content, 2, alliance=second)]
    result = flag(content, case_with_sessions(content, sessions), "session.rupture")
    assert (result is not None) is raised
    if raised:
        assert result.severity == "medium"
        assert result.triggers[-1].item_id == "alliance_score"


def test_a_fall_on_seven_items_around_the_margin(content):
    def fall_of(steps: int):
        before = ratings(4, scripted=0)
        after = {**before, **dict.fromkeys(ALL_RATINGS[:steps], 3)}
        sessions = [session(content, 1, alliance=before), session(content, 2, alliance=after)]
        return flag(content, case_with_sessions(content, sessions), "session.rupture")

    assert fall_of(4) is None  # 14.3 points
    assert fall_of(5) is not None  # 17.9 points


@pytest.mark.parametrize(
    ("before", "after", "fell"),
    [(80.0, 65.1, False), (80.0, 65.0, True), (80.0, 64.9, True), (82.1, 67.1, True)],
)
def test_alliance_fell_at_and_around_the_margin(before, after, fell):
    assert alliance_fell(before, after, 15) is fell


def test_sessions_with_too_few_ratings_are_not_compared(content):
    sessions = [
        session(content, 1, alliance={"bond": 4, "heard": 4}),
        session(content, 2, alliance={"bond": 0, "heard": 0}),
    ]
    assert flag(content, case_with_sessions(content, sessions), "session.rupture") is None


# --- Early drop-out risk -------------------------------------------------------------------------


def attendance_case(content, *attendance: str):
    return case_with_sessions(
        content, [session(content, n, attendance=a) for n, a in enumerate(attendance, start=1)]
    )


def test_one_session_attended_then_a_missed_one(content):
    raised = flag(
        content, attendance_case(content, "attended", "did_not_attend"), "session.dropout_risk"
    )
    assert raised is not None and raised.severity == "high"
    assert "follow_up_missed_session" in {a.adaptation_id for a in raised.actions}


@pytest.mark.parametrize(
    "attendance",
    [
        ("attended", "cancelled"),
        ("attended", "did_not_attend", "attended"),
        ("did_not_attend", "attended"),
        ("attended", "attended", "did_not_attend"),
        ("attended",),
    ],
)
def test_no_dropout_flag_otherwise(content, attendance):
    assert flag(content, attendance_case(content, *attendance), "session.dropout_risk") is None


def mismatch_and_barrier(content, sessions):
    # A psychoeducational group is fixed at the most structured end; no childcare clashes with it.
    return case_with_sessions(
        content,
        sessions,
        protocol_id="psychoed_group",
        preferences={"structure": {"value": 4, "importance": 3}},
        social={"access": {"present": "yes", "details": ["childcare"]}},
    )


def test_mismatch_and_practical_barriers_at_the_start(content):
    raised = flag(content, mismatch_and_barrier(content, []), "session.dropout_risk")
    assert raised is not None and raised.severity == "medium"
    assert {t.section for t in raised.triggers} == {"preferences", "social"}
    one = mismatch_and_barrier(content, [session(content, 1)])
    assert flag(content, one, "session.dropout_risk") is not None
    two = mismatch_and_barrier(content, [session(content, 1), session(content, 2)])
    assert flag(content, two, "session.dropout_risk") is None


def test_a_mismatch_alone_is_no_dropout_risk(content):
    case = case_with_sessions(
        content,
        [],
        protocol_id="psychoed_group",
        preferences={"structure": {"value": 4, "importance": 3}},
    )
    assert flag(content, case, "session.dropout_risk") is None


# --- PHQ-9 item 9 --------------------------------------------------------------------------------


def item9_case(content, answers: dict):
    s = session(content, 1)
    s["measures"]["phq9"] = answers
    return case_with_sessions(content, [s])


def test_item_9_above_0_prompts_the_local_risk_procedure_even_with_a_low_total(content):
    answers = {f"phq9_{n}": 0 for n in range(1, 9)} | {"phq9_9": 1}
    case = item9_case(content, answers)
    raised = flag(content, case, RISK_FLAG)
    assert raised is not None and raised.severity == "high"
    assert [(a.adaptation_id, a.kind) for a in raised.actions] == [
        ("local_risk_procedure", "local_procedure")
    ]
    assert "does not assess risk" in raised.explanation
    assert raised.triggers[0].item_id == "phq9_9"
    report = assess(content, case)
    assert report.sessions[0].scores[0].total == 1
    assert report.flags[0].id == RISK_FLAG
    assert report.session_plan[0].kind == "local_procedure"


def test_item_9_counts_in_a_partial_measure(content):
    assert flag(content, item9_case(content, {"phq9_9": 2}), RISK_FLAG) is not None


@pytest.mark.parametrize("answers", [{"phq9_9": 0}, {"phq9_9": None}, {"phq9_1": 3}])
def test_no_risk_notice_without_item_9_above_0(content, answers):
    assert flag(content, item9_case(content, answers), RISK_FLAG) is None


# --- In the report and on the command line -------------------------------------------------------


def test_session_flags_join_the_report_sorted_by_severity(content):
    sessions = [
        session(content, 1, phq9=10, anxiety=6, alliance=ratings(4, rupture_withdrawal=1)),
        session(content, 2, phq9=16, anxiety=6, attendance="attended"),
    ]
    report = assess(content, case_with_sessions(content, sessions))
    ids = [f.id for f in report.flags]
    assert {"session.not_on_track", "session.rupture"} <= set(ids)
    order = {"high": 0, "medium": 1, "low": 2}
    assert [order[f.severity] for f in report.flags] == sorted(
        order[f.severity] for f in report.flags
    )
    assert [s.number for s in report.sessions] == [1, 2]
    assert report.sessions[0].alliance is not None and report.sessions[1].alliance is None
    assert report.outcomes is not None and report.outcomes.reliable_deterioration == "yes"


def test_the_fit_is_unchanged_by_sessions(content, make_case):
    base = make_case(preferences={"structure": {"value": 5, "importance": 3}})
    with_sessions = case_with_sessions(
        content,
        [session(content, 1, phq9=20, anxiety=15), session(content, 2, phq9=22, anxiety=19)],
        preferences={"structure": {"value": 5, "importance": 3}},
    )
    a, b = assess(content, base), assess(content, with_sessions)
    assert (a.overall_fit, a.dimensions) == (b.overall_fit, b.dimensions)
    assert {x.protocol_id: x.fit for x in a.alternatives} == {
        x.protocol_id: x.fit for x in b.alternatives
    }
    # The severity the sessions give does change the indication: PHQ-9 22 is more severe.
    low = {x.protocol_id: x.indication for x in b.alternatives}
    assert low["ba_step2"] == "severity_outside"


def test_the_demo_with_sessions_reports_outcomes(content):
    demos = [parse_case_file(p.read_text(encoding="utf-8")) for p in demo_case_paths()]
    tracked = [c for c in demos if c.sessions]
    assert tracked, "one demo case carries sessions"
    for case in tracked:
        report = assess(content, case)
        # DEMO-005 is still in treatment: outcomes so far, not yet a finished course.
        assert report.outcomes is not None and report.outcomes.caseness_at_start == "yes"
        assert case.referral_date is not None and not report.outcomes.finished
        assert any(f.id.startswith("session.") for f in report.flags)


def test_assess_prints_outcomes_and_session_flags(capsys):
    path = next(p for p in demo_case_paths() if json.loads(p.read_text()).get("sessions"))
    assert main(["assess", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["outcomes"]["caseness_at_start"] == "yes"
    assert printed["sessions"]
    assert any(f["id"].startswith("session.") for f in printed["flags"])
