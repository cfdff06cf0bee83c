"""One session of a case: attendance, the alliance check and the measures answered item by item."""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tailoring.model.case import AllianceAnswer, Case
from tailoring.model.measures import ItemValue
from tailoring.model.text import NoteText

Attendance = Literal["attended", "did_not_attend", "cancelled"]
SessionKind = Literal["assessment", "treatment", "follow_up"]
ATTENDANCES: tuple[Attendance, ...] = ("attended", "did_not_attend", "cancelled")
SESSION_KINDS: tuple[SessionKind, ...] = ("assessment", "treatment", "follow_up")


class Session(BaseModel):
    """A session as recorded: totals and bands are computed from the items, never typed."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, le=200, description="1 for the first contact, then in order.")
    date: datetime.date
    attendance: Attendance
    kind: SessionKind = Field(
        "treatment", description="Only attended treatment sessions count towards outcomes."
    )
    alliance: dict[str, AllianceAnswer] = Field(
        default_factory=dict, description="The alliance check at this session, by item id."
    )
    measures: dict[str, dict[str, ItemValue]] = Field(
        default_factory=dict,
        description="Answers by measure id, then item id: a value, null, or 'na' where allowed.",
    )
    note: NoteText = ""


# Case names Session only as a forward reference (this module imports case.py); complete it.
Case.model_rebuild(_types_namespace={"Session": Session})
