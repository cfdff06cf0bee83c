"""Raises the flags of a case's sessions: risk item, rupture, not heard, not on track, drop-out.

Session flags (the choices are data in content/measures/rules.yaml, explained there):
- session.risk_item (high): any session with the risk item (PHQ-9 item 9) above 0, whatever the
  total and even in a partial measure. Its only action is the local risk procedure; the app does
  not assess risk, and does not know whether the procedure was followed, so the notice stays.
- session.rupture: rupture signs at the latest session with an alliance check (clear signs high,
  some signs medium), or a fall of the 0–100 alliance score of at least alliance_drop_points
  between the last two sessions rated on at least alliance_min_ratings items (medium). Scores
  are compared as shown, to one decimal.
- session.not_heard: at the latest session with an alliance check, a rating on a "heard" item
  (does the patient feel listened to and acted on) at the weak end, 0–1 of 4 (high at 0, medium
  at 1), whether or not any rupture sign was seen: feeling unheard is a strain on its own.
- session.not_on_track: never for a patient who started below caseness or has recovered.
  Otherwise reliable deterioration at any point (high); or, where an expected-change curve
  (measures/expected_change.yaml, see engine/expected.py) covers where the patient started on a
  measure, the latest score above that curve's boundary at the same treatment appointment
  (medium); or, where no curve does, once the patient has attended
  not_on_track_after_treatment_sessions treatment sessions, reliable improvement "no" (medium).
  The title names the rule. "Not enough data" raises nothing: the notes say what is missing.
- session.dropout_risk: the patient has attended exactly one session and missed (did not attend)
  a later one (high; cancellations do not count, as the record does not say who cancelled); or,
  until early_until_treatment_sessions treatment sessions are attended, a preference mismatch
  that matters together with a practical barrier, i.e. a hard mismatch flag (medium).
"""

from __future__ import annotations

from tailoring.engine.alliance import alliance_summary
from tailoring.engine.describe import actions, alliance_trigger
from tailoring.engine.fit import dimension_fits, raw_fits
from tailoring.engine.flags.case import (
    REPAIR,
    REVIEW,
    SUPERVISION,
    WEAK_RATING_AT_MOST,
    demand_flags,
    new_flag,
)
from tailoring.engine.outcomes import (
    case_outcomes,
    counts_for_outcomes,
    expected_scores,
)
from tailoring.model.answers import Answers
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.report import (
    DimensionFit,
    Flag,
    MeasureChange,
    Outcomes,
    ProtocolFit,
    Trigger,
)

RISK_FLAG = "session.risk_item"
NOT_ON_TRACK = "session.not_on_track"
RISK_PROCEDURE = "local_risk_procedure"
REVISIT_FIT = "revisit_fit"
FOLLOW_UP_MISSED = "follow_up_missed_session"
DISCUSS_PREFERENCES = "discuss_preferences"


def session_flags(
    content: ContentLibrary, case: Case, planned: ProtocolFit | None = None
) -> list[Flag]:
    """The flags of the case's sessions: risk item first, then rupture, progress and drop-out.

    ``planned`` is the planned protocol's fit when the caller has it (the drop-out rule reads its
    mismatches and hard flags); otherwise it is worked out here.
    """
    if planned is None:
        protocol = content.protocol(case.protocol_id)
        dimensions = dimension_fits(content, protocol, raw_fits(content, case.answers, protocol))
        hard = demand_flags(content, case.answers, protocol)
    else:
        dimensions, hard = planned.dimensions, [f for f in planned.flags if f.hard]
    outcomes = case_outcomes(content, case) if case.sessions else None
    return [
        *risk_flags(content, case),
        *rupture_flags(content, case),
        *not_heard_flags(content, case),
        *([] if outcomes is None else not_on_track_flags(content, case, outcomes)),
        *dropout_flags(content, case, dimensions, hard),
    ]


def risk_flags(content: ContentLibrary, case: Case) -> list[Flag]:
    """A risk item above 0 at any session: follow the local risk procedure, whatever the total."""
    triggers = []
    named: list[str] = []
    for session in case.sessions:
        for measure in content.measures:
            answers = session.measures.get(measure.id)
            if answers is None or measure.risk_item is None:
                continue
            value = answers.get(measure.risk_item)
            if not isinstance(value, int) or value == 0:
                continue
            item = measure.item(measure.risk_item)
            name = f"{measure.short_name} item {measure.items.index(item) + 1}"
            if name not in named:
                named.append(name)
            triggers.append(
                Trigger(
                    section="sessions",
                    item_id=item.id,
                    question=f"{name}: {item.text}",
                    answer=f"Session {session.number} ({session.date}): "
                    f"{measure.option_label(value)} ({value})",
                )
            )
    if not triggers:
        return []
    which = " and ".join(named)
    return [
        new_flag(
            content,
            id=RISK_FLAG,
            severity="high",
            theme="heard",
            title=f"{which} above 0: follow your local risk procedure",
            explanation=f"An answer above 0 on {which} was recorded. Whatever the total, follow "
            "your service's risk procedure now and record what you did in the clinical record. "
            "This app does not assess risk.",
            triggers=triggers,
            actions=actions(content, [RISK_PROCEDURE]),
        )
    ]


def alliance_fell(before: float, after: float, margin: float) -> bool:
    """A fall of at least ``margin`` points, compared to one decimal as the scores are shown."""
    return round(before - after, 1) >= margin


def rupture_flags(content: ContentLibrary, case: Case) -> list[Flag]:
    """Rupture signs at the latest alliance check, or a clear fall of the alliance score."""
    rules = content.tracking
    checked = [s for s in case.sessions if any(a.value is not None for a in s.alliance.values())]
    if not checked:
        return []
    latest = checked[-1]
    triggers = []
    worst = 0
    for item in content.alliance:
        answer = latest.alliance.get(item.id)
        if item.kind != "rupture" or answer is None or not answer.value:
            continue
        worst = max(worst, answer.value)
        triggers.append(
            Trigger(
                section="sessions",
                item_id=item.id,
                question=item.question,
                answer=f"Session {latest.number} ({latest.date}): {item.labels[answer.value]}",
            )
        )
    rated = []
    for session in checked:
        summary = alliance_summary(content, Answers(alliance=session.alliance))
        if summary.score is not None and summary.answered >= rules.alliance_min_ratings:
            rated.append((session, summary.score))
    fall = None
    if len(rated) >= 2:
        (before, score_before), (after, score_after) = rated[-2:]
        if alliance_fell(score_before, score_after, rules.alliance_drop_points):
            fall = round(score_before - score_after, 1)
            triggers.append(
                Trigger(
                    section="sessions",
                    item_id="alliance_score",
                    question="Alliance score (0–100) at the last two sessions rated",
                    answer=f"Session {before.number}: {score_before:g} → session "
                    f"{after.number}: {score_after:g} (a fall of {fall:g}; the rule is "
                    f"{rules.alliance_drop_points:g} or more)",
                )
            )
    if not triggers:
        return []
    signs = "clear rupture signs" if worst >= 2 else "some rupture signs" if worst else ""
    parts = [p for p in (signs, f"alliance score fell {fall:g} points" if fall else "") if p]
    return [
        new_flag(
            content,
            id="session.rupture",
            severity="high" if worst >= 2 else "medium",
            theme="alliance",
            title=f"Alliance rupture: {' and '.join(parts)}",
            explanation="Signs of strain in the working relationship call for open repair: raise "
            "it gently, invite the patient's view of what is not working, acknowledge your part, "
            "and take it to supervision. Ruptures that are repaired are associated with better "
            "outcomes.",
            triggers=triggers,
            actions=actions(content, [REPAIR, SUPERVISION]),
        )
    ]


def not_heard_flags(content: ContentLibrary, case: Case) -> list[Flag]:
    """The patient does not feel heard at the latest alliance check, with or without ruptures."""
    checked = [s for s in case.sessions if any(a.value is not None for a in s.alliance.values())]
    if not checked:
        return []
    latest = checked[-1]
    flags = []
    for item in content.alliance:
        answer = latest.alliance.get(item.id)
        if item.theme != "heard" or item.kind != "rating" or answer is None:
            continue
        if answer.value is None:
            continue
        value = item.max_value - answer.value if item.reverse else answer.value
        if value > WEAK_RATING_AT_MOST:
            continue
        trigger = alliance_trigger(item, answer)
        flags.append(
            new_flag(
                content,
                id="session.not_heard",
                severity="high" if value == 0 else "medium",
                theme="heard",
                title=f"{item.title} at session {latest.number}: "
                f"{item.labels[answer.value].lower()}",
                explanation="The patient does not feel that what they bring is listened to and "
                "acted on. Feeling unheard was a central complaint in the study and strains "
                "the alliance even before any rupture shows: ask what was missed, and show at "
                "the next session what changed because of it.",
                triggers=[
                    trigger.model_copy(
                        update={
                            "section": "sessions",
                            "answer": f"Session {latest.number} ({latest.date}): {trigger.answer}",
                        }
                    )
                ],
                actions=actions(content, [item.adaptation, REPAIR, SUPERVISION]),
            )
        )
    return flags


def _change_trigger(change: MeasureChange) -> Trigger:
    if change.change is None:
        answer = f"Session {change.first_session}: {change.first}; a change needs two scores"
    else:
        answer = (
            f"Session {change.first_session}: {change.first} ({change.first_band}) → session "
            f"{change.last_session}: {change.last} ({change.last_band}); change "
            f"{change.change:+d}, reliable change is {change.reliable_change}"
        )
    return Trigger(
        section="sessions",
        item_id=change.measure_id,
        question=f"{change.short_name} total, first to last attended treatment session",
        answer=answer,
    )


def progress_allows_not_on_track(outcomes: Outcomes) -> bool:
    """Not on track is never raised for a patient who started below caseness or has recovered:
    there is nothing to be off track from (issue 16; a rise is still counted as deterioration
    in the outcomes and the caseload's rates)."""
    return outcomes.caseness_at_start != "no" and outcomes.recovery != "yes"


def boundary_crossings(content: ContentLibrary, case: Case, outcomes: Outcomes) -> list[Trigger]:
    """The latest score of each measure above its expected-change boundary, as triggers."""
    expected = content.expected_change
    if expected is None:
        return []
    triggers = []
    for change in (outcomes.depression, outcomes.anxiety):
        if not change.caseness_at_start or change.first is None:
            continue
        measure = content.measure(change.measure_id)
        scored = expected_scores(measure, case)
        k, number, last = scored[-1]
        point = expected.point(measure.id, change.first, k)
        if len(scored) < 2 or point is None or last <= point.boundary:
            continue
        triggers.append(
            Trigger(
                section="sessions",
                item_id=measure.id,
                question=f"{measure.short_name} against the expected-change boundary",
                answer=f"Session {number} (treatment appointment {k}): {last}. Patients who "
                f"started at {change.first} ({change.first_band}) were at {point.expected:g} "
                f"by then; the boundary is {point.boundary:g} (the "
                f"{expected.percentile:g}th percentile of {point.cases} finished courses; "
                f"{expected.source})",
            )
        )
    return triggers


def has_boundary(content: ContentLibrary, outcomes: Outcomes) -> bool:
    """Whether a curve covers where the patient started on a measure at caseness."""
    expected = content.expected_change
    return expected is not None and any(
        c.caseness_at_start and c.first is not None and expected.curve(c.measure_id, c.first)
        for c in (outcomes.depression, outcomes.anxiety)
    )


def not_on_track_flags(content: ContentLibrary, case: Case, outcomes: Outcomes) -> list[Flag]:
    """Reliable deterioration; a score above the expected-change boundary; or, where no curve
    covers the patient's start, no reliable improvement by the rules' session. Never for a
    patient who started below caseness or has recovered. Each flag names the rule that raised it.
    """
    if not progress_allows_not_on_track(outcomes):
        return []
    by = content.tracking.not_on_track_after_treatment_sessions
    changes = [c for c in (outcomes.depression, outcomes.anxiety) if c.scored_sessions]
    triggers = [_change_trigger(c) for c in changes]
    attended = outcomes.treatment_sessions_attended
    if outcomes.reliable_deterioration == "yes":
        worse = " and ".join(c.short_name for c in changes if c.reliable_rise)
        return [
            new_flag(
                content,
                id=NOT_ON_TRACK,
                severity="high",
                theme="personalisation",
                title=f"Not on track (rule: reliable deterioration): {worse} has risen reliably",
                explanation=f"{worse} has risen by at least its reliable change since the start "
                "of treatment. Revisit the fit with the patient (preferences, social context, "
                "alliance), discuss the case with your supervisor promptly, and consider "
                "whether the protocol or step should change.",
                triggers=triggers,
                actions=actions(content, [REVISIT_FIT, SUPERVISION, REVIEW]),
            )
        ]
    if has_boundary(content, outcomes):
        crossed = boundary_crossings(content, case, outcomes)
        if not crossed:
            return []
        names = " and ".join(content.measure(t.item_id).short_name for t in crossed)
        return [
            new_flag(
                content,
                id=NOT_ON_TRACK,
                severity="medium",
                theme="personalisation",
                title=f"Not on track (rule: expected-change boundary): {names} above the "
                "boundary for where the patient started",
                explanation="The latest score is above the boundary that most patients who "
                "started at the same level were below by this appointment. Patients who are not "
                "on track do better when feedback comes with support: revisit the fit with the "
                "patient (preferences, social context, alliance) and discuss the case with your "
                "supervisor.",
                triggers=[*crossed, *triggers],
                actions=actions(content, [REVISIT_FIT, SUPERVISION]),
            )
        ]
    if attended >= by and outcomes.reliable_improvement == "no":
        return [
            new_flag(
                content,
                id=NOT_ON_TRACK,
                severity="medium",
                theme="personalisation",
                title=f"Not on track (rule: no reliable improvement after {by} treatment "
                f"sessions): none after {attended}",
                explanation=f"After {attended} attended treatment sessions (the rule looks from "
                f"{by}; no expected-change curve covers this patient's start) neither measure "
                "shows reliable improvement. Patients who are not on track do better when "
                "feedback comes with support: revisit the fit with the patient (preferences, "
                "social context, alliance) and discuss the case with your supervisor.",
                triggers=triggers,
                actions=actions(content, [REVISIT_FIT, SUPERVISION]),
            )
        ]
    return []


def dropout_flags(
    content: ContentLibrary, case: Case, dimensions: list[DimensionFit], hard: list[Flag]
) -> list[Flag]:
    """One session attended then a missed one; or mismatch plus practical barriers at the start."""
    rules = content.tracking
    attended = [s for s in case.sessions if s.attendance == "attended"]
    missed = [
        s
        for s in case.sessions
        if len(attended) == 1 and s.number > attended[0].number and s.attendance == "did_not_attend"
    ]
    treatment = sum(counts_for_outcomes(s) for s in case.sessions)
    mismatches = [d for d in dimensions if d.status == "mismatch" and d.weight > 0]
    early = treatment < rules.early_until_treatment_sessions and mismatches and hard
    if not missed and not early:
        return []
    triggers = []
    reasons = []
    ids: list[str] = []
    if missed:
        first = attended[0]
        triggers.append(
            Trigger(
                section="sessions",
                item_id="attendance",
                question="Attendance",
                answer=f"Attended session {first.number} ({first.date}); did not attend "
                + ", ".join(f"session {s.number} ({s.date})" for s in missed),
            )
        )
        reasons.append("one session attended, then a missed one")
        ids += [FOLLOW_UP_MISSED, REVISIT_FIT]
    if early:
        triggers += [t for d in mismatches for t in d.triggers]
        triggers += [t for f in hard for t in f.triggers]
        reasons.append("preference mismatch and practical barriers at the start")
        ids += [DISCUSS_PREFERENCES, SUPERVISION]
    return [
        new_flag(
            content,
            id="session.dropout_risk",
            severity="high" if missed else "medium",
            theme="alliance" if missed else "personalisation",
            title=f"Early drop-out risk: {' and '.join(reasons)}",
            explanation="Many people attend only one session, and early drop-out is often a "
            "sign that the therapy does not fit them. Act before the next appointment: get in "
            "touch, talk through what does not suit, and adjust what can be adjusted.",
            triggers=triggers,
            actions=actions(content, ids),
        )
    ]
