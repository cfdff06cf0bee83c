"""The fit report: what the engine says about one case and its planned protocol."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tailoring.model.content import ActionKind, ThemeId

Severity = Literal["high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low")
DimensionStatus = Literal["fit", "adapt", "mismatch", "unanswered"]


class Trigger(BaseModel):
    """An answer that moved a score or raised a flag, in words."""

    section: Literal["preferences", "social", "alliance", "case"]
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


class Alternative(BaseModel):
    protocol_id: str
    protocol_name: str
    step: str
    sessions: str
    fit: float | None
    change: float | None = Field(None, description="Fit minus the planned protocol's fit.")
    fixes: list[str] = Field(description="Titles of planned-protocol flags this one avoids.")
    breaks: list[str] = Field(description="Titles of flags this one raises that the plan does not.")


class AgendaItem(BaseModel):
    title: str
    detail: str
    kind: ActionKind | Literal["review"]
    flag_id: str | None = None


class FitReport(BaseModel):
    """Everything the fit report page, the PDF and the JSON export show."""

    case_reference: str
    content_version: str
    protocol_id: str
    protocol_name: str
    sessions_available: int
    overall_fit: float | None
    capped: bool
    preference_fit: float | None
    completeness: Completeness
    dimensions: list[DimensionFit]
    flags: list[Flag]
    alliance: AllianceSummary
    alternatives: list[Alternative]
    session_plan: list[AgendaItem]

    def flags_by_severity(self) -> dict[str, list[Flag]]:
        return {s: [f for f in self.flags if f.severity == s] for s in ("high", "medium", "low")}
