"""One session of a case: attendance, the alliance check and the measures answered item by item."""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tailoring.model.answers import AllianceAnswer
from tailoring.model.measures import ItemValue
from tailoring.model.text import NoteText

Attendance = Literal["attended", "did_not_attend", "cancelled"]
# NHS Talking Therapies classes every appointment by its purpose: "assessment and treatment" is
# an assessment at which treatment also began, and counts as a treatment appointment.
SessionKind = Literal["assessment", "assessment_and_treatment", "treatment", "follow_up"]
ATTENDANCES: tuple[Attendance, ...] = ("attended", "did_not_attend", "cancelled")
SESSION_KINDS: tuple[SessionKind, ...] = (
    "assessment",
    "assessment_and_treatment",
    "treatment",
    "follow_up",
)
TREATMENT_KINDS: tuple[SessionKind, ...] = ("assessment_and_treatment", "treatment")
ASSESSMENT_KINDS: tuple[SessionKind, ...] = ("assessment", "assessment_and_treatment")


def is_treatment_contact(kind: str, attendance: str) -> bool:
    """An attended treatment appointment: the contacts a finished course and outcomes count."""
    return kind in TREATMENT_KINDS and attendance == "attended"


class Session(BaseModel):
    """A session as recorded: totals and bands are computed from the items, never typed."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, le=200, description="1 for the first contact, then in order.")
    date: datetime.date
    attendance: Attendance
    kind: SessionKind = Field(
        "treatment",
        description="Only attended treatment appointments (treatment, or assessment and "
        "treatment) count towards outcomes.",
    )
    alliance: dict[str, AllianceAnswer] = Field(
        default_factory=dict, description="The alliance check at this session, by item id."
    )
    measures: dict[str, dict[str, ItemValue]] = Field(
        default_factory=dict,
        description="Answers by measure id, then item id: a value, null, or 'na' where allowed.",
    )
    note: NoteText = ""

    @property
    def treatment_contact(self) -> bool:
        return is_treatment_contact(self.kind, self.attendance)
