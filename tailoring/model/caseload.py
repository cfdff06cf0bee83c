"""The supervisor's caseload: figures per case, rates that own up to small numbers, imports.

The rules that produce these figures are documented in tailoring/engine/caseload.py (metrics and
aggregations) and docs/caseload-format.md (the import file).
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from tailoring.model.base import ThemeId
from tailoring.model.case import Case
from tailoring.model.measures import WaitStandard
from tailoring.model.report import Severity

AllianceTrend = Literal["up", "down", "steady", "none"]
CaseOutcome = Literal[
    "deterioration", "not_on_track", "recovered", "reliable_improvement", "in_progress", "no_data"
]
# In order of precedence: a case shows the first that applies.
CASE_OUTCOMES: tuple[CaseOutcome, ...] = (
    "deterioration",
    "not_on_track",
    "recovered",
    "reliable_improvement",
    "in_progress",
    "no_data",
)
OUTCOME_WORDS: dict[CaseOutcome, str] = {
    "deterioration": "Reliable deterioration",
    "not_on_track": "Not on track",
    "recovered": "Recovered",
    "reliable_improvement": "Reliable improvement",
    "in_progress": "In progress",
    "no_data": "No sessions yet",
}
# A rate whose denominator is below this is a small number: shown as "n of d", never as a
# percentage. With fewer than 10 cases one case moves a rate by more than 10 points.
SMALL_DENOMINATOR = 10


class OpenFlag(BaseModel):
    """A flag raised on the case now, as the caseload table lists it."""

    id: str
    severity: Severity
    theme: ThemeId
    theme_title: str
    title: str


class CaseMetrics(BaseModel):
    """One case at a glance: the row of the caseload table and the input of every aggregate."""

    reference: str
    therapist: str
    protocol_id: str
    protocol_name: str
    status: Literal["active", "archived"]
    sessions_available: int
    sessions_recorded: int = Field(description="Sessions in the record, whatever the attendance.")
    sessions_attended: int = Field(description="Attended sessions of any kind.")
    treatment_sessions_attended: int = Field(description="Attended treatment sessions.")
    last_session_date: datetime.date | None = Field(
        None, description="Date of the latest session in the record (attended or not)."
    )
    fit: float | None = Field(description="Overall fit 0–100 of the planned protocol now.")
    completeness: int = Field(ge=0, le=100, description="Checklist questions answered, in %.")
    flags_by_severity: dict[Severity, int]
    open_flags: list[OpenFlag]
    alliance_latest: float | None = Field(
        None,
        description="The alliance score (0–100) of the latest session rated on enough items; "
        "the walk-through's alliance check when no session is.",
    )
    alliance_trend: AllianceTrend
    outcome: CaseOutcome
    caseness_at_start: bool | None = Field(description="None while not known.")
    finished: bool = Field(
        description="A finished course: ended after at least two attended treatment appointments."
    )
    recovery: bool
    reliable_recovery: bool
    reliable_improvement: bool
    deterioration: bool = Field(description="Reliable deterioration.")
    not_on_track: bool = Field(description="A session.not_on_track flag is raised.")
    dropped_after_first: bool
    wait_first_appointment: int | None = Field(
        None, description="Days from referral to the first attended appointment."
    )
    wait_first_treatment: int | None = Field(
        None, description="Days from referral to the first attended treatment appointment."
    )
    wait_second_treatment: int | None = Field(
        None, description="Days from the first to the second attended treatment appointment."
    )

    def table_row(self) -> dict[str, Any]:
        """The caseload table's columns, in words, for the page and the CSV export."""
        return {
            "therapist": self.therapist,
            "reference": self.reference,
            "protocol": self.protocol_name,
            "status": self.status,
            "sessions attended": self.sessions_attended,
            "treatment sessions attended": self.treatment_sessions_attended,
            "sessions available": self.sessions_available,
            "fit": None if self.fit is None else round(self.fit),
            "answered %": self.completeness,
            "high flags": self.flags_by_severity.get("high", 0),
            "medium flags": self.flags_by_severity.get("medium", 0),
            "low flags": self.flags_by_severity.get("low", 0),
            "alliance": None if self.alliance_latest is None else round(self.alliance_latest),
            "alliance trend": self.alliance_trend,
            "outcome": OUTCOME_WORDS[self.outcome],
            "dropped after first session": "yes" if self.dropped_after_first else "no",
            "last session": self.last_session_date,
            "open flags": "; ".join(f"{f.severity}: {f.title}" for f in self.open_flags),
        }


class Rate(BaseModel):
    """A share of cases that says what it is a share of, and admits when the number is small."""

    numerator: int = Field(ge=0)
    denominator: int = Field(ge=0)
    of: str = Field("", description="What the denominator counts, e.g. 'finished courses'.")
    small: bool = Field(
        description=f"The denominator is below {SMALL_DENOMINATOR}: show 'n of d', not a rate."
    )
    value: float | None = Field(
        description="numerator ÷ denominator (0–1); None when the denominator is 0 or small, "
        "so no chart or table can show a small number as a percentage."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Rate:
        if self.numerator > self.denominator:
            raise ValueError(f"numerator {self.numerator} is above denominator {self.denominator}")
        return self

    @classmethod
    def of_counts(cls, numerator: int, denominator: int, of: str = "") -> Rate:
        small = denominator < SMALL_DENOMINATOR
        value = None if small or denominator == 0 else numerator / denominator
        return cls(
            numerator=int(numerator), denominator=int(denominator), of=of, small=small, value=value
        )

    def text(self) -> str:
        """'42% (21 of 50)', or '3 of 7' for a small number."""
        if self.value is None:
            return f"{self.numerator} of {self.denominator}"
        return f"{self.value:.0%} ({self.numerator} of {self.denominator})"


class FitBin(BaseModel):
    low: float
    high: float = Field(description="Exclusive, except that the last bin includes 100.")
    label: str
    count: int


class FitDistribution(BaseModel):
    """How many cases fall in each band of fit; cases without a fit are counted apart."""

    bins: list[FitBin]
    scored: int
    unscored: int = Field(
        description="Cases with no fit: too few answers, or the planned protocol contraindicated."
    )
    median: float | None
    # A box plot's figures, so a chart of thousands of cases need not send every fit.
    q1: float | None = Field(default=None, description="First quartile (linear, as numpy's).")
    q3: float | None = Field(default=None, description="Third quartile.")
    lower_fence: float | None = Field(
        default=None,
        description="The lowest fit within 1.5 interquartile ranges below q1 (q1 if none).",
    )
    upper_fence: float | None = Field(
        default=None,
        description="The highest fit within 1.5 interquartile ranges above q3 (q3 if none).",
    )


class ThemeCount(BaseModel):
    """Open flags of one study theme across the caseload."""

    theme: ThemeId
    title: str
    flags: int
    by_severity: dict[Severity, int]
    cases: Rate = Field(description="Cases with at least one open flag of the theme.")


class OutcomeRates(BaseModel):
    """Outcome rates, each over the denominator NHS Talking Therapies uses (see the engine)."""

    cases: int
    started: int
    finished: int
    finished_at_caseness: int
    reliable_improvement: Rate
    recovery: Rate
    reliable_recovery: Rate
    deterioration: Rate
    not_on_track: Rate
    completion: Rate
    dropout_after_first: Rate


FunnelStageId = Literal["cases", "started", "finished", "recovered"]


class FunnelStage(BaseModel):
    id: FunnelStageId
    label: str
    count: int
    rate: Rate | None = Field(
        description="Share of the stage before (recovered: of finished courses at caseness); "
        "None for the first stage."
    )
    of_all: Rate = Field(description="Share of all cases in the caseload.")


class TherapistSummary(BaseModel):
    """One therapist's caseload, with the same figures as the whole caseload."""

    therapist: str
    cases: int
    small: bool = Field(description=f"Fewer than {SMALL_DENOMINATOR} cases.")
    fit: FitDistribution
    flags_by_severity: dict[Severity, int]
    flags_by_theme: list[ThemeCount]
    rates: OutcomeRates
    funnel: list[FunnelStage]


class WaitFigure(BaseModel):
    """How a caseload meets one waiting-time standard."""

    standard: WaitStandard
    met: Rate = Field(description="Cases that waited at most within_days, of those known.")
    median_days: float | None = Field(None, description="The median wait, in days.")
    meets_target: bool | None = Field(None, description="None while a small number.")


class CaseloadSummary(BaseModel):
    """Everything the caseload charts show, for all cases and per therapist."""

    cases: int
    fit: FitDistribution
    flags_by_severity: dict[Severity, int]
    high_flag_cases: Rate = Field(description="Cases with at least one high flag, of all cases.")
    flags_by_theme: list[ThemeCount]
    rates: OutcomeRates
    funnel: list[FunnelStage]
    therapists: list[TherapistSummary]
    waits: list[WaitFigure] = Field(default_factory=list)


# Import ----------------------------------------------------------------------------------------


class RowError(BaseModel):
    """One problem in a caseload file, where a spreadsheet user will find it."""

    row: int | None = Field(
        description="CSV: the row as a spreadsheet numbers it (the header is row 1). JSON: the "
        "case's position in the list, from 1. None: the file as a whole."
    )
    field: str = Field(description="The column (CSV) or the field path (JSON); 'file' for None.")
    message: str
    reference: str | None = Field(None, description="The case reference on that row, if known.")
    file_level: bool = Field(
        False,
        description="A problem with the file or its header (encoding, size, columns): nothing "
        "can be imported until it is fixed.",
    )


class ImportReport(BaseModel):
    """What a caseload file holds: the validated cases and every problem found, by row."""

    format: Literal["csv", "json"] | None = Field(None, description="None when unreadable.")
    cases: list[Case] = Field(
        default_factory=list, description="Cases with no problem in any of their rows, in order."
    )
    errors: list[RowError] = Field(default_factory=list)
    errors_total: int = Field(0, description="All problems found; at most MAX_ERRORS are kept.")
    rows_read: int = Field(0, description="Data rows (CSV) or case files (JSON) read.")
    invalid_references: list[str] = Field(
        default_factory=list, description="References with a problem in at least one row."
    )
    first_rows: dict[str, int] = Field(
        default_factory=dict, description="The first row of each reference, for messages."
    )

    @property
    def valid_cases(self) -> int:
        return len(self.cases)

    @property
    def clean(self) -> bool:
        return self.errors_total == 0

    @property
    def blocked(self) -> bool:
        """A problem with the file itself (encoding, size, header): import nothing."""
        return any(e.file_level for e in self.errors)

    def valid_only(self, conflicts: list[RowError] | None = None) -> list[Case]:
        """The cases with no problem in any row, less those named in ``conflicts`` (e.g. the
        references already in the database); nothing when the file itself is blocked."""
        if self.blocked:
            return []
        taken = {e.reference for e in conflicts or []}
        return [c for c in self.cases if c.reference not in taken]
