"""The grade of a trainee's attempt at a scenario: agreement per item, flags, mark and feedback."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tailoring.model.answers import Section
from tailoring.model.base import ThemeId
from tailoring.model.report import Severity

Agreement = Literal["exact", "close", "far", "missing"]
AGREEMENTS: tuple[Agreement, ...] = ("exact", "close", "far", "missing")


class ItemGrade(BaseModel):
    """How the attempt's answer to one checklist item agrees with the reference answer."""

    section: Section
    item_id: str
    title: str
    theme: ThemeId
    agreement: Agreement = Field(description="Agreement of the answer itself (value or presence).")
    importance: Agreement | None = Field(
        None, description="Agreement on importance, for preferences whose reference rates it."
    )
    score: float = Field(ge=0, le=1, description="1 exact, 0.5 close, 0 far or missing.")
    reference: str = Field(description="The reference answer, in words.")
    attempt: str = Field(description="The attempt's answer, in words.")


class FlagAgreement(BaseModel):
    """The attempt's flags against the reference flags."""

    found: list[str] = Field(description="Flag ids raised by both.")
    missed: list[str] = Field(description="Reference flag ids the attempt does not raise.")
    extra: list[str] = Field(description="Flag ids the attempt raises and the reference does not.")
    precision: float = Field(ge=0, le=1)
    recall: float = Field(ge=0, le=1)
    f1: float = Field(ge=0, le=1)


class FlagFeedback(BaseModel):
    """Why a missed flag matters, or why an extra flag is not expected."""

    flag_id: str
    outcome: Literal["missed", "extra"]
    severity: Severity
    theme: ThemeId
    theme_title: str
    title: str
    explanation: str = Field(
        description="Missed: the reference's teaching rationale. Extra: the engine's explanation."
    )
    differing_items: list[str] = Field(
        description="'section.item_id' of the items behind the flag where the attempt differs."
    )
    why: str = Field(description="What in the answers makes the difference, in words.")


class FoundFlag(BaseModel):
    """A reference flag the attempt raised too, named as the report names it."""

    flag_id: str
    severity: Severity
    theme_title: str
    title: str


class Grade(BaseModel):
    """A graded attempt: the mark, its two halves, and the detail behind each."""

    scenario_id: str
    scenario_title: str
    protocol_id: str
    sessions_available: int
    mark: float = Field(ge=0, le=100, description="Overall mark 0–100.")
    item_score: float = Field(ge=0, le=100, description="Agreement with the reference answers.")
    flag_score: float = Field(ge=0, le=100, description="100 × F1 of the flags.")
    counts: dict[Agreement, int] = Field(description="Graded items by agreement.")
    items: list[ItemGrade]
    flags: FlagAgreement
    feedback: list[FlagFeedback]
    found_themes: dict[str, ThemeId] = Field(
        default_factory=dict, description="The theme of each reference flag the attempt found."
    )
    found: list[FoundFlag] = Field(
        default_factory=list,
        description="The reference flags the attempt found, named (grades stored before names "
        "were kept have none: their found flags are in flags.found).",
    )
