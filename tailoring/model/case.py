"""The case file: a pseudonymous case, its planned protocol, walk-through answers and sessions.

A case validates on its own (types and shapes) and against a content library (known item ids,
values in range) when one is passed as validation context: ``Case.model_validate(data,
context={"content": library})``.
"""

from __future__ import annotations

import datetime
from itertools import pairwise
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from tailoring.model.answers import SECTIONS, Answers, answer_problems, unknown_problems
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import item_problems
from tailoring.model.session import Session
from tailoring.model.text import NameText

REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$"
Reference = Annotated[
    str,
    Field(
        pattern=REFERENCE_PATTERN,
        description="Pseudonymous case reference: 2–32 letters, digits, dots, dashes; no names.",
    ),
]
WalkStep = Literal["preferences", "social", "alliance", "report"]
WALK_STEPS: tuple[WalkStep, ...] = ("preferences", "social", "alliance", "report")
# Why a referral ended. Only an ended referral can be a finished course (NHS Digital glossary).
EndingReason = Literal[
    "completed",
    "dropped_out",
    "declined",
    "moved",
    "stepped_up",
    "stepped_down",
    "referred_on",
    "other",
]
ENDING_REASONS: tuple[EndingReason, ...] = get_args(EndingReason)


class Case(BaseModel):
    """A case file (format version 1)."""

    model_config = ConfigDict(extra="forbid")

    format_version: Literal[1] = 1
    reference: Reference
    therapist: NameText = Field(
        "local user",
        description="The clinician who holds the case (a staff name or code, never the patient).",
    )
    protocol_id: str = Field(description="Id of the current (planned) protocol.")
    problem: str | None = Field(
        None,
        description="Id of the provisional presenting problem (content/problems.yaml), as NHS "
        "Talking Therapies records it; None until recorded.",
    )
    second_problem: str | None = Field(
        None, description="Id of a second presenting problem, if there is one."
    )
    low_intensity_chosen: bool = Field(
        False,
        description="The patient chose low intensity after discussing a step up, although "
        "their latest measure is above the planned protocol's range. The severity flag is then "
        "a low reminder to review the choice at each session instead of a call to step up.",
    )
    sessions_available: int = Field(ge=1, le=60)
    step: WalkStep = "preferences"
    status: Literal["active", "archived"] = "active"
    answers: Answers = Field(default_factory=Answers)
    anxiety_measure: str = Field(
        "gad7",
        description="Id of the anxiety measure of the outcomes (GAD-7 unless a service "
        "uses an anxiety-disorder-specific measure for this diagnosis).",
    )
    sessions: list[Session] = Field(
        default_factory=list, description="Sessions in the order held, numbers ascending."
    )
    referral_date: datetime.date | None = Field(
        None, description="When the referral was received: the start of every wait."
    )
    ending_date: datetime.date | None = Field(
        None, description="When the referral ended; empty while it is open."
    )
    ending_reason: EndingReason | None = Field(
        None, description="Why the referral ended; given exactly when ending_date is."
    )

    @property
    def ended(self) -> bool:
        return self.ending_date is not None

    @model_validator(mode="after")
    def _dates_in_order(self) -> Case:
        # Only what the case fields say alone: a stored case must always load, so the dates of
        # its sessions are checked where the referral is changed (referral_problems).
        problems = []
        if (self.ending_date is None) != (self.ending_reason is None):
            problems.append("ending_date and ending_reason: give both or neither")
        if self.referral_date and self.ending_date and self.ending_date < self.referral_date:
            problems.append(
                f"ending_date: {self.ending_date} is before the referral ({self.referral_date})"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _sessions_in_order(self) -> Case:
        problems = []
        for index, (before, after) in enumerate(pairwise(self.sessions), start=1):
            if after.number <= before.number:
                problems.append(
                    f"sessions.{index}.number: {after.number} must be above the number of the "
                    f"session before it ({before.number})"
                )
            if after.date < before.date:
                problems.append(
                    f"sessions.{index}.date: {after.date} is before the date of session "
                    f"{before.number} ({before.date})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _second_problem_follows_the_first(self) -> Case:
        if self.second_problem is not None:
            if self.problem is None:
                raise ValueError("second_problem: record the main problem first")
            if self.second_problem == self.problem:
                raise ValueError("second_problem: the same as the main problem")
        return self

    @model_validator(mode="after")
    def _check_against_content(self, info: ValidationInfo) -> Case:
        content = (info.context or {}).get("content")
        if content is not None:
            problems = case_problems(self, content)
            if problems:
                raise ValueError("; ".join(problems))
        return self


def case_problems(case: Case, content: ContentLibrary) -> list[str]:
    """Every way the case disagrees with the content, each naming its field."""
    problems: list[str] = []
    if case.protocol_id not in {p.id for p in content.protocols}:
        problems.append(f"protocol_id: unknown protocol {case.protocol_id!r}")
    problems.extend(
        unknown_problems(content, problem=case.problem, second_problem=case.second_problem)
    )
    for section in SECTIONS:
        for item_id, answer in getattr(case.answers, section).items():
            problems.extend(answer_problems(content, section, item_id, answer))
    problems.extend(session_problems(case, content))
    return problems


def referral_problems(case: Case) -> list[str]:
    """Why the referral's dates disagree with the sessions: a referral after the first session,
    or an ending before it."""
    if not case.sessions:
        return []
    first = case.sessions[0].date
    problems = []
    if case.referral_date and case.referral_date > first:
        problems.append(f"referral_date: {case.referral_date} is after the first session ({first})")
    if case.ending_date and case.ending_date < first:
        problems.append(f"ending_date: {case.ending_date} is before the first session ({first})")
    return problems


def session_problems(case: Case, content: ContentLibrary) -> list[str]:
    """Every way the anxiety measure and the sessions disagree with the content."""
    problems = []
    try:
        if content.measure(case.anxiety_measure).role != "anxiety":
            problems.append(f"anxiety_measure: {case.anxiety_measure!r} is not an anxiety measure")
    except KeyError:
        problems.append(f"anxiety_measure: unknown measure {case.anxiety_measure!r}")
    for index, session in enumerate(case.sessions):
        where = f"sessions.{index}"
        for item_id, answer in session.alliance.items():
            problems.extend(
                answer_problems(content, "alliance", item_id, answer, f"{where}.alliance.{item_id}")
            )
        for measure_id, answers in session.measures.items():
            try:
                measure = content.measure(measure_id)
            except KeyError:
                problems.append(f"{where}.measures.{measure_id}: unknown measure")
                continue
            problems.extend(
                f"{where}.measures.{measure_id}.{p}" for p in item_problems(measure, answers)
            )
    return problems
