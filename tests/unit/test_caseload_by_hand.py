"""The caseload's figures against a hand calculation (issue 16, "done means").

Fifteen cases, each written out with what it counts as. Sessions are weekly attended treatment
appointments from 2026-01-12 (tests/session_factory.py), scored (PHQ-9, GAD-7); an ended case
ends on the day of its last session. Thresholds: PHQ-9 caseness 10, reliable change 6; GAD-7
caseness 8, reliable change 4. The fixed not-on-track rule is used (no expected-change curves),
so the figures do not depend on the shipped curves.
"""

from __future__ import annotations

import datetime

import pytest

from tailoring.engine.assess import assess
from tailoring.engine.caseload import case_metrics, caseload_summary
from tests.session_factory import case_with_sessions, session

REFERRAL = "2025-12-29"  # 14 days before the first session
# reference: (scores at each treatment appointment, ending or None, referral date)
CASES = {
    # finished, at caseness, recovered, PHQ-9 falls 7: reliable recovery
    "A": ([(15, 12), (8, 6)], "completed", REFERRAL),
    # finished, at caseness, PHQ-9 12 at the end: not recovered; falls of 3 and 3: no change
    "B": ([(15, 12), (12, 9)], "completed", REFERRAL),
    # reliable recovery (PHQ-9 falls 11); referred 63 days before treatment began
    "C": ([(20, 15), (9, 7)], "completed", "2025-11-10"),
    # recovered, but falls of 3 and 3: not reliable, so no reliable recovery
    "D": ([(12, 10), (9, 7)], "completed", REFERRAL),
    # PHQ-9 rises 6: reliable deterioration (and not on track); waited 133 days
    "E": ([(14, 9), (20, 9)], "completed", "2025-09-01"),
    # reliable recovery
    "F": ([(18, 14), (7, 5)], "completed", REFERRAL),
    # PHQ-9 falls 6 to 10, still at caseness: reliable improvement, no recovery
    "G": ([(16, 11), (10, 8)], "completed", REFERRAL),
    # reliable recovery (PHQ-9 falls 7)
    "H": ([(11, 9), (4, 3)], "completed", REFERRAL),
    # recovered, falls of 5 and 3: no reliable improvement
    "I": ([(13, 10), (8, 7)], "completed", REFERRAL),
    # reliable recovery
    "J": ([(22, 17), (6, 4)], "completed", REFERRAL),
    # finished but below caseness at the start: outside the recovery denominator
    "K": ([(8, 6), (4, 3)], "completed", REFERRAL),
    # one treatment appointment, then ended: started, not finished, dropped after the first
    "L": ([(15, 12)], "dropped_out", REFERRAL),
    # three treatment appointments, still open: started, not finished
    "M": ([(15, 12), (14, 12), (13, 11)], None, REFERRAL),
    # waiting: referred, no appointment yet
    "N": ([], None, "2026-01-01"),
    # reliable recovery (PHQ-9 falls 8)
    "O": ([(17, 13), (9, 6)], "completed", REFERRAL),
}


@pytest.fixture(scope="module")
def summary(content):
    content = content.model_copy(update={"expected_change": None})
    metrics = []
    for reference, (scores, ending, referral) in CASES.items():
        sessions = [
            session(content, n, phq9=phq, anxiety=gad) for n, (phq, gad) in enumerate(scores, 1)
        ]
        case = case_with_sessions(content, sessions, ending=ending)
        case = case.model_copy(
            update={
                "reference": f"HAND-{reference}",
                "referral_date": datetime.date.fromisoformat(referral),
            }
        )
        metrics.append(case_metrics(assess(content, case), case))
    return caseload_summary(metrics, standards=content.waits)


def counts(rate):
    return (rate.numerator, rate.denominator)


def test_the_funnel_matches_the_hand_calculation(summary):
    # 15 cases; 14 started (all but N); 12 finished (ended after 2+: not L, M, N);
    # 8 recovered (A C D F H I J O) of 11 finished at caseness (all finished but K).
    stages = {s.id: (s.count, s.rate and counts(s.rate)) for s in summary.funnel}
    assert stages == {
        "cases": (15, None),
        "started": (14, (14, 15)),
        "finished": (12, (12, 14)),
        "recovered": (8, (8, 11)),
    }


def test_the_rates_match_the_hand_calculation(summary):
    rates = summary.rates
    assert (rates.cases, rates.started, rates.finished, rates.finished_at_caseness) == (
        15,
        14,
        12,
        11,
    )
    assert counts(rates.recovery) == (8, 11)  # A C D F H I J O
    assert counts(rates.reliable_recovery) == (6, 11)  # A C F H J O
    assert counts(rates.reliable_improvement) == (7, 12)  # A C F G H J O
    assert counts(rates.deterioration) == (1, 12)  # E
    assert counts(rates.not_on_track) == (1, 12)  # E (deterioration); none has 4 sessions
    assert counts(rates.completion) == (12, 14)
    assert counts(rates.dropout_after_first) == (1, 14)  # L
    assert round(rates.recovery.value, 4) == round(8 / 11, 4)
    assert round(rates.reliable_recovery.value, 4) == round(6 / 11, 4)


def test_the_waits_match_the_hand_calculation(summary):
    waits = {w.standard.id: w for w in summary.waits}
    # First treatment: 14 days for twelve of the 14 started, 63 for C, 133 for E.
    six = waits["first_treatment_6_weeks"]
    assert counts(six.met) == (12, 14) and six.meets_target is True  # 86% ≥ 75%
    eighteen = waits["first_treatment_18_weeks"]
    assert counts(eighteen.met) == (13, 14) and eighteen.meets_target is False  # 93% < 95%
    assert six.median_days == 14
    # Second treatment: a week after the first for the 13 with two or more.
    second = waits["second_treatment_90_days"]
    assert counts(second.met) == (13, 13) and second.median_days == 7


# The demo caseload (`python -m tailoring demo --into-db`, seed 0): its first twelve cases, as
# drawn (the first k of n demo cases are the k of a smaller call), read one by one. Scores are
# (PHQ-9, GAD-7) at attended treatment appointments; the first score is at the first scored
# treatment appointment, never the assessment; a partial measure has no score.
#   10001 completed, 19 treatment: (13, 10) … (11, 9). Caseness; not recovered (both still at
#         caseness); -2 and -1: no reliable change; none after 4 sessions: not on track.
#   10002 completed, 6 treatment: (14, 12) … (7, 5). Caseness; recovered; PHQ-9 -7: reliable.
#   10003 completed, 12 treatment: (15, 15) … (16, 14). Caseness; not recovered; +1 and -1: no
#         reliable change; not on track.
#   10004 completed, 5 treatment: (5, 2) … (7, 4). Below caseness at the start.
#   10005 open: one treatment (13, 12), then did not attend. Started, not finished; open, so
#         not (yet) a drop-out.
#   10006 open, 4 treatment. Started, not finished.
#   10007 open, one treatment then did not attend: as 10005.
#   10008 dropped out after one treatment (14, 15). Started; a drop-out after the first.
#   10009 declined: did not attend treatment. Not started.
#   10010 declined: the treatment appointment cancelled. Not started.
#   10011 open: the treatment appointment cancelled. Not started.
#   10012 moved after one treatment (11, 10), then a missed one. Started; ended: a drop-out.
DEMO_BY_HAND = {
    "cases": 12,
    "started": 9,  # all but 10009 10010 10011
    "finished": 4,  # 10001 10002 10003 10004
    "finished_at_caseness": 3,  # those but 10004
    "recovery": (1, 3),  # 10002
    "reliable_recovery": (1, 3),  # 10002
    "reliable_improvement": (1, 4),  # 10002
    "deterioration": (0, 4),
    "not_on_track": (2, 4),  # 10001 10003
    "completion": (4, 9),
    "dropout_after_first": (2, 9),  # 10008 10012 (10005 and 10007 are still open)
}


def test_the_demo_caseload_matches_the_hand_calculation(content):
    from tailoring.demo import demo_cases

    content = content.model_copy(update={"expected_change": None})
    cases = demo_cases(content, 12, 0)
    assert [c.reference for c in cases] == [f"DEMO-{10001 + i}" for i in range(12)]
    metrics = [case_metrics(assess(content, case), case) for case in cases]
    rates = caseload_summary(metrics, standards=content.waits).rates
    found = {
        "cases": rates.cases,
        "started": rates.started,
        "finished": rates.finished,
        "finished_at_caseness": rates.finished_at_caseness,
        **{
            name: counts(getattr(rates, name))
            for name in DEMO_BY_HAND
            if isinstance(DEMO_BY_HAND[name], tuple)
        },
    }
    assert found == DEMO_BY_HAND
