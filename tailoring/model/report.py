"""The fit report: what the engine says about one case and its planned protocol."""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tailoring.model.base import ThemeId
from tailoring.model.content import ACTION_KIND_LABELS, ActionKind
from tailoring.model.measures import MeasureRole
from tailoring.model.session import Attendance, SessionKind

Severity = Literal["high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low")
DimensionStatus = Literal["fit", "adapt", "mismatch", "unanswered"]


class Trigger(BaseModel):
    """An answer that moved a score or raised a flag, in words."""

    section: Literal["preferences", "social", "alliance", "case", "sessions"]
    item_id: str
    question: str
    answer: str


class Action(BaseModel):
    """What to do about a flag, drawn from the adaptation library."""

    adaptation_id: str
    kind: ActionKind
    title: str
    description: str


class Flag(BaseModel):
    """A mismatch or concern, traced to its theme and the answers behind it, with what to do."""

    id: str = Field(description="Stable id, e.g. 'pref.structure' or 'social.housing'.")
    severity: Severity
    theme: ThemeId
    theme_title: str
    title: str
    explanation: str
    hard: bool = Field(False, description="A demand the patient cannot meet.")
    triggers: list[Trigger]
    actions: list[Action]


class DimensionFit(BaseModel):
    """The fit on one preference dimension, with the figures that produced it."""

    item_id: str
    title: str
    theme: ThemeId
    status: DimensionStatus
    fit: float | None = Field(None, description="0–100; None when unanswered.")
    weight: float = Field(description="The importance used as weight in the overall fit.")
    patient: float | None = Field(None, description="Patient position on 1–5 (scales only).")
    protocol_default: float | None = None
    protocol_low: float | None = None
    protocol_high: float | None = None
    explanation: str
    triggers: list[Trigger] = Field(default_factory=list)
    actions: list[Action] = Field(
        default_factory=list, description="Adapt-within suggestions when the answer is in range."
    )
    source: Literal["patient", "therapist"] | None = Field(
        None,
        description="Whose answer the fit used, when it ran on a chosen source of answers "
        "(tailoring/engine/answer_source.py); None when unanswered or not chosen.",
    )


class Completeness(BaseModel):
    answered: int
    total: int
    by_section: dict[str, tuple[int, int]]

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 100


class AllianceSummary(BaseModel):
    score: float | None = Field(None, description="0–100, None when no rating is answered.")
    answered: int
    total: int
    ruptures: list[str] = Field(default_factory=list, description="Titles of rupture signs seen.")


class ProtocolFit(BaseModel):
    """How one protocol fits the patient: the core result of the engine."""

    protocol_id: str
    protocol_name: str
    overall: float | None = Field(None, description="0–100; None with no answered dimension.")
    preference_fit: float | None
    capped: bool = Field(False, description="Overall capped because of a hard mismatch.")
    dimensions: list[DimensionFit]
    flags: list[Flag]


# Whether a protocol suits the recorded problem, best first (tailoring/engine/indications.py).
IndicationStatus = Literal[
    "indicated", "no_problem", "severity_outside", "not_indicated", "contraindicated"
]
INDICATION_LABELS: dict[str, str] = {
    "indicated": "Indicated",
    "no_problem": "Not checked: no problem recorded",
    "severity_outside": "Severity outside its range",
    "not_indicated": "Not indicated for the problem",
    "contraindicated": "Contraindicated",
}


class MeasureSeverity(BaseModel):
    """The latest complete total of one measure, with its band."""

    measure_id: str
    short_name: str
    total: int
    band: str
    session: int = Field(description="The session it was recorded at.")
    split: Literal["less_severe", "more_severe"] | None = Field(
        None, description="NICE NG222's split, for a measure that has one (PHQ-9 at 16)."
    )


class CaseSeverity(BaseModel):
    """Severity from the latest measures: depression and the case's anxiety measure."""

    depression: MeasureSeverity | None = None
    anxiety: MeasureSeverity | None = None


class Indication(BaseModel):
    """Whether one protocol suits the case's problem, severity and circumstances, and why."""

    protocol_id: str
    protocol_name: str
    status: IndicationStatus
    reasons: list[str] = Field(default_factory=list, description="Why, in words.")


class Alternative(BaseModel):
    protocol_id: str
    protocol_name: str
    step: str
    sessions: str
    indication: IndicationStatus = Field(description="Ranked on this first, then on fit.")
    why: list[str] = Field(
        default_factory=list, description="Why it is not (or not fully) indicated."
    )
    fit: float | None
    change: float | None = Field(None, description="Fit minus the planned protocol's fit.")
    fixes: list[str] = Field(description="Titles of planned-protocol flags this one avoids.")
    breaks: list[str] = Field(description="Titles of flags this one raises that the plan does not.")


# The words for every agenda item kind: the actions, and the plan's own call for a review.
AGENDA_KIND_LABELS: dict[str, str] = {**ACTION_KIND_LABELS, "review": "Review the protocol"}


class AgendaItem(BaseModel):
    title: str
    detail: str
    kind: ActionKind | Literal["review"]
    flag_id: str | None = None


# "not_at_caseness": recovery is only defined for a patient at caseness at the start.
OutcomeStatus = Literal["yes", "no", "not_enough_data", "not_at_caseness"]


class MeasureScore(BaseModel):
    """One measure as answered at one session; only a complete measure has a total."""

    measure_id: str
    short_name: str
    total: int | None = Field(description="Sum of the items; None while any item is unanswered.")
    max_total: int
    answered: int = Field(description="Items answered with a value.")
    not_applicable: int = Field(0, description="Items answered 'not applicable'.")
    items: int
    complete: bool
    band: str | None = None
    prorated: bool = Field(
        False,
        description="An item was 'not applicable': the band is read against bands pro-rated "
        "to the items answered.",
    )
    caseness: bool | None = Field(
        None, description="At or above the caseness threshold; None if partial or none defined."
    )
    risk: bool = Field(False, description="The risk item is above 0 (even in a partial measure).")


class MeasureChange(BaseModel):
    """One measure from the first to the last scored attended treatment session."""

    measure_id: str
    short_name: str
    role: MeasureRole
    caseness_threshold: int | None
    reliable_change: int | None
    scored_sessions: int
    first_session: int | None = None
    first: int | None = None
    first_band: str | None = None
    last_session: int | None = None
    last: int | None = None
    last_band: str | None = None
    change: int | None = Field(None, description="Last minus first; None with under two scores.")
    caseness_at_start: bool | None = None
    caseness_at_end: bool | None = None
    reliable_drop: bool | None = None
    reliable_rise: bool | None = None


class Outcomes(BaseModel):
    """The case's outcome status by the NHS Talking Therapies definitions (engine/outcomes.py)."""

    depression: MeasureChange
    anxiety: MeasureChange
    functioning: MeasureChange | None = None
    treatment_sessions_attended: int
    ended: bool = Field(False, description="The referral has ended (the case has an ending).")
    finished: bool = Field(
        description="A finished course: ended after at least two attended treatment appointments."
    )
    caseness_at_start: OutcomeStatus
    reliable_improvement: OutcomeStatus
    reliable_deterioration: OutcomeStatus
    recovery: OutcomeStatus
    reliable_recovery: OutcomeStatus
    notes: list[str] = Field(
        default_factory=list, description="Why a status is 'not enough data', in words."
    )


class SessionSummary(BaseModel):
    """One session at a glance: attendance, measure totals and bands, and the alliance score."""

    number: int
    date: datetime.date
    kind: SessionKind
    attendance: Attendance
    scores: list[MeasureScore]
    alliance: AllianceSummary | None = Field(None, description="None with no alliance answer.")


class FitReport(BaseModel):
    """Everything the fit report page, the PDF and the JSON export show."""

    case_reference: str
    content_version: str
    protocol_id: str
    protocol_name: str
    sessions_available: int
    problem: str | None = Field(None, description="Title of the presenting problem.")
    second_problem: str | None = Field(None, description="Title of the second problem.")
    severity: CaseSeverity = Field(default_factory=CaseSeverity)
    indication: Indication = Field(description="Whether the planned protocol suits the case.")
    ruled_out: list[Indication] = Field(
        default_factory=list,
        description="Contraindicated protocols: never suggested, listed so the reason is seen.",
    )
    overall_fit: float | None = Field(
        description="0–100; None with no answered dimension, and None when the planned protocol "
        "is contraindicated: it is not offered whatever the preferences say (``indication`` "
        "says why; ``preference_fit`` keeps the preferences' own figure)."
    )
    capped: bool
    preference_fit: float | None
    completeness: Completeness
    dimensions: list[DimensionFit]
    flags: list[Flag]
    alliance: AllianceSummary
    alternatives: list[Alternative]
    session_plan: list[AgendaItem]
    outcomes: Outcomes | None = Field(None, description="None while no session is recorded.")
    sessions: list[SessionSummary] = Field(default_factory=list)

    @property
    def problem_titles(self) -> list[str]:
        """The presenting problem and the second one, as recorded."""
        return [t for t in (self.problem, self.second_problem) if t is not None]

    @property
    def contraindicated(self) -> bool:
        """Whether the planned protocol is contraindicated: every surface shows that, not a fit."""
        return self.indication.status == "contraindicated"

    def flags_by_severity(self) -> dict[str, list[Flag]]:
        return {s: [f for f in self.flags if f.severity == s] for s in ("high", "medium", "low")}
