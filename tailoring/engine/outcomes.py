"""Scores session measures and turns a case's sessions into outcomes.

Scoring (items, bands and thresholds are data in content/measures/):
- A measure's total is the sum of its items. While any item is unanswered the measure is partial:
  it shows how many items are answered, but has no total, band or caseness. A partial measure is
  never scored as if it were complete, nor counted towards outcomes.
- "Not applicable" (allowed on the WSAS work item only) leaves that item out: the total is the sum
  of the other items, not scaled up, and its band is read against the bands pro-rated to the
  items answered (for the WSAS on four items: below 8, 8–16, above 16), i.e. the band of
  floor(total × items / items answered). The score says so (``prorated``), and so does the screen.
- At caseness: a total at or above the measure's threshold (PHQ-9 10, GAD-7 8).

Outcomes (NHS Talking Therapies definitions; docs/outcomes.md gives each one's source):
- Only complete measures at attended treatment appointments count: "treatment" and "assessment
  and treatment"; assessment-only and follow-up appointments do not. The first score is the
  earliest such score (so caseness at the start is read at the first scored treatment
  appointment, never at an assessment-only one), the last the latest; a change needs two.
  Depression is the rules' depression measure (PHQ-9); anxiety is the case's anxiety measure
  (GAD-7 unless the case names an anxiety-disorder-specific one).
- Caseness at the start: the first score on either measure at caseness.
- Reliable drop or rise: a change of at least the measure's reliable change (PHQ-9 6, GAD-7 4).
- Reliable improvement: a reliable drop on at least one measure and no reliable rise on the other.
- Reliable deterioration: a reliable rise on either measure.
- Recovery: at caseness at the start and below caseness on both measures at the end.
- Reliable recovery: recovery and reliable improvement.
- Finished course (NHS Digital glossary): the referral has ended (the case has an ending) after
  at least two attended treatment appointments (finished_min_treatment_sessions). An open case
  with any number of sessions has not finished; nor has an ended one with a single appointment.
- Missing scores are never guessed: a status is "yes" or "no" only when the scores present settle
  it whatever the missing ones turn out to be (three-valued logic: a reliable rise on one measure
  is deterioration even with no pair on the other), otherwise "not_enough_data". Recovery and
  reliable recovery are "not_at_caseness" when neither first score was at caseness.
"""

from __future__ import annotations

from collections.abc import Mapping

from tailoring.engine.alliance import alliance_summary
from tailoring.model.answers import Answers
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import (
    MEASURE_ROLES,
    NOT_APPLICABLE,
    ItemValue,
    Measure,
    TrackingRules,
    item_problems,
)
from tailoring.model.report import (
    MeasureChange,
    MeasureScore,
    Outcomes,
    OutcomeStatus,
    SessionSummary,
)
from tailoring.model.session import Session

STATUS: dict[bool | None, OutcomeStatus] = {True: "yes", False: "no", None: "not_enough_data"}

# Three-valued logic: True, False, or None for "not known".


def k_and(*values: bool | None) -> bool | None:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def k_or(*values: bool | None) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def k_not(value: bool | None) -> bool | None:
    return None if value is None else not value


# Scoring -------------------------------------------------------------------------------------


def recorded_measures(content: ContentLibrary, anxiety_measure: str) -> list[Measure]:
    """The measures a session of a case records: depression, the case's own anxiety measure,
    functioning (and any other role), in that order."""
    order = {"depression": 0, "anxiety": 1, "functioning": 2}
    chosen = [m for m in content.measures if m.role != "anxiety" or m.id == anxiety_measure]
    return sorted(chosen, key=lambda m: order.get(m.role, 3))


def score_measure(measure: Measure, answers: Mapping[str, ItemValue]) -> MeasureScore:
    """The measure's total, band and caseness, or a partial count; ValueError on a bad answer."""
    problems = item_problems(measure, dict(answers))
    if problems:
        raise ValueError(f"{measure.short_name}: " + "; ".join(problems))
    values = [answers.get(item.id) for item in measure.items]
    numbers = [v for v in values if isinstance(v, int)]
    not_applicable = sum(v == NOT_APPLICABLE for v in values)
    complete = bool(numbers) and len(numbers) + not_applicable == len(measure.items)
    total = sum(numbers) if complete else None
    risk_value = answers.get(measure.risk_item) if measure.risk_item else None
    # Bands pro-rated to the items answered: the total read as if on every item.
    banded = None if total is None else total * len(measure.items) // len(numbers)
    return MeasureScore(
        measure_id=measure.id,
        short_name=measure.short_name,
        total=total,
        max_total=measure.max_value * (len(measure.items) - not_applicable),
        answered=len(numbers),
        not_applicable=not_applicable,
        items=len(measure.items),
        complete=complete,
        band=None if banded is None else measure.band(banded).label,
        prorated=complete and not_applicable > 0,
        caseness=None if total is None or measure.caseness is None else total >= measure.caseness,
        risk=isinstance(risk_value, int) and risk_value > 0,
    )


def session_scores(content: ContentLibrary, session: Session) -> list[MeasureScore]:
    """Every measure answered at a session: depression, anxiety, then functioning."""
    answered = [m for m in content.measures if m.id in session.measures]
    answered.sort(key=lambda m: MEASURE_ROLES.index(m.role))
    return [score_measure(m, session.measures[m.id]) for m in answered]


def session_summaries(content: ContentLibrary, case: Case) -> list[SessionSummary]:
    """Each session with its measure totals and bands and its alliance score."""
    rows = []
    for session in case.sessions:
        answered = any(a.value is not None for a in session.alliance.values())
        rows.append(
            SessionSummary(
                number=session.number,
                date=session.date,
                kind=session.kind,
                attendance=session.attendance,
                scores=session_scores(content, session),
                alliance=alliance_summary(content, Answers(alliance=session.alliance))
                if answered
                else None,
            )
        )
    return rows


# Outcomes ------------------------------------------------------------------------------------


def counts_for_outcomes(session: Session) -> bool:
    return session.treatment_contact


def finished_course(case: Case, rules: TrackingRules) -> bool:
    """Ended after at least the rules' number of attended treatment appointments."""
    attended = sum(counts_for_outcomes(s) for s in case.sessions)
    return case.ended and attended >= rules.finished_min_treatment_sessions


def measure_change(measure: Measure, scored: list[tuple[int, int]]) -> MeasureChange:
    """First and last of (session number, total) pairs, and what their change means."""
    if not scored:
        return MeasureChange(
            measure_id=measure.id,
            short_name=measure.short_name,
            role=measure.role,
            caseness_threshold=measure.caseness,
            reliable_change=measure.reliable_change,
            scored_sessions=0,
        )
    (first_session, first), (last_session, last) = scored[0], scored[-1]
    paired = len(scored) >= 2
    threshold, reliable = measure.caseness, measure.reliable_change
    return MeasureChange(
        measure_id=measure.id,
        short_name=measure.short_name,
        role=measure.role,
        caseness_threshold=measure.caseness,
        reliable_change=measure.reliable_change,
        scored_sessions=len(scored),
        first_session=first_session,
        first=first,
        first_band=measure.band(first).label,
        last_session=last_session,
        last=last,
        last_band=measure.band(last).label,
        change=last - first if paired else None,
        caseness_at_start=None if threshold is None else first >= threshold,
        caseness_at_end=None if threshold is None or not paired else last >= threshold,
        reliable_drop=None if reliable is None or not paired else first - last >= reliable,
        reliable_rise=None if reliable is None or not paired else last - first >= reliable,
    )


def _scored(case: Case, measure: Measure) -> list[tuple[int, int]]:
    scored = []
    for session in case.sessions:
        if counts_for_outcomes(session) and measure.id in session.measures:
            total = score_measure(measure, session.measures[measure.id]).total
            if total is not None:
                scored.append((session.number, total))
    return scored


def case_outcomes(content: ContentLibrary, case: Case) -> Outcomes:
    """Caseness, reliable change, recovery and a finished course, by the brief's definitions."""
    rules = content.tracking
    depression_measure = content.measure(rules.depression_measure)
    anxiety_measure = content.measure(case.anxiety_measure)
    dep = measure_change(depression_measure, _scored(case, depression_measure))
    anx = measure_change(anxiety_measure, _scored(case, anxiety_measure))
    functioning = None
    if rules.functioning_measure is not None:
        f_measure = content.measure(rules.functioning_measure)
        functioning = measure_change(f_measure, _scored(case, f_measure))

    at_start = k_or(dep.caseness_at_start, anx.caseness_at_start)
    improvement = k_or(
        k_and(dep.reliable_drop, k_not(anx.reliable_rise)),
        k_and(anx.reliable_drop, k_not(dep.reliable_rise)),
    )
    deterioration = k_or(dep.reliable_rise, anx.reliable_rise)
    if at_start is False:
        recovery: OutcomeStatus = "not_at_caseness"
        reliable_recovery: OutcomeStatus = "not_at_caseness"
    elif at_start is None:
        recovery = reliable_recovery = "not_enough_data"
    else:
        recovered = k_and(k_not(dep.caseness_at_end), k_not(anx.caseness_at_end))
        recovery = STATUS[recovered]
        reliable_recovery = STATUS[k_and(recovered, improvement)]
    attended = sum(counts_for_outcomes(s) for s in case.sessions)
    return Outcomes(
        depression=dep,
        anxiety=anx,
        functioning=functioning,
        treatment_sessions_attended=attended,
        ended=case.ended,
        finished=finished_course(case, rules),
        caseness_at_start=STATUS[at_start],
        reliable_improvement=STATUS[improvement],
        reliable_deterioration=STATUS[deterioration],
        recovery=recovery,
        reliable_recovery=reliable_recovery,
        notes=_notes(case, [depression_measure, anxiety_measure], [dep, anx]),
    )


def _notes(case: Case, measures: list[Measure], changes: list[MeasureChange]) -> list[str]:
    """What is missing for the outcomes, in words."""
    notes = []
    for measure, change in zip(measures, changes, strict=True):
        if change.scored_sessions == 0:
            notes.append(
                f"{measure.short_name}: no complete score at an attended treatment session yet."
            )
        elif change.scored_sessions == 1:
            notes.append(
                f"{measure.short_name}: one complete score (session {change.first_session}); "
                "a change needs two."
            )
        for session in case.sessions:
            answers = session.measures.get(measure.id)
            if counts_for_outcomes(session) and answers is not None:
                score = score_measure(measure, answers)
                if not score.complete:
                    notes.append(
                        f"{measure.short_name} at session {session.number} is partial "
                        f"({score.answered} of {score.items} items) and is not scored."
                    )
    not_counted = [
        str(s.number) for s in case.sessions if s.measures and not counts_for_outcomes(s)
    ]
    if not_counted:
        which = f"session{'s' if len(not_counted) > 1 else ''} {', '.join(not_counted)}"
        notes.append(
            f"Scores at assessment, follow-up or missed sessions are shown but not counted "
            f"({which}): outcomes use attended treatment sessions only."
        )
    if not case.ended:
        notes.append(
            "The referral has not ended: it counts as a finished course in the caseload's "
            "rates only once an ending is recorded."
        )
    return notes


def expected_scores(measure: Measure, case: Case) -> list[tuple[int, int, int]]:
    """(k, session number, total) for each attended treatment appointment scored on the measure."""
    scored = []
    k = 0
    for session in case.sessions:
        if not counts_for_outcomes(session):
            continue
        k += 1
        answers = session.measures.get(measure.id)
        total = None if answers is None else score_measure(measure, answers).total
        if total is not None:
            scored.append((k, session.number, total))
    return scored
