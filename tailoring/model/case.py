"""The case file: a pseudonymous case, its planned protocol, walk-through answers and sessions.

A case validates on its own (types and shapes) and against a content library (known item ids,
values in range) when one is passed as validation context: ``Case.model_validate(data,
context={"content": library})``.
"""

from __future__ import annotations

import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from tailoring.model.content import ContentLibrary, Importance, PreferenceItem
from tailoring.model.measures import item_problems
from tailoring.model.text import NameText, NoteText

if TYPE_CHECKING:
    # Resolved at import by tailoring/model/session.py, which itself imports this module.
    from tailoring.model.session import Session

REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$"
Reference = Annotated[
    str,
    Field(
        pattern=REFERENCE_PATTERN,
        description="Pseudonymous case reference: 2–32 letters, digits, dots, dashes; no names.",
    ),
]
Tri = Literal["yes", "no", "unsure"]
WalkStep = Literal["preferences", "social", "alliance", "report"]
WALK_STEPS: tuple[WalkStep, ...] = ("preferences", "social", "alliance", "report")
Section = Literal["preferences", "social", "alliance"]
SECTIONS: tuple[Section, ...] = ("preferences", "social", "alliance")
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


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreferenceAnswer(Answer):
    """The patient's position or choices on one preference item, and how much it matters."""

    value: int | str | list[str] | None = Field(
        None, description="Scale point 1–5, an option id, or a list of option ids."
    )
    importance: Importance | None = None


class SocialAnswer(Answer):
    """Whether a social domain is present, keeps the problem going, and is being helped with."""

    present: Tri | None = None
    maintains: Tri | None = Field(None, description="Does it keep the difficulties going?")
    helping: Tri | None = Field(None, description="Is anyone already helping with it?")
    details: list[str] = Field(default_factory=list)
    note: NoteText = ""


class AllianceAnswer(Answer):
    """A rating 0–4, or a rupture sign 0 none, 1 some, 2 clear."""

    value: int | None = Field(None, ge=0, le=4)


class Answers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preferences: dict[str, PreferenceAnswer] = Field(default_factory=dict)
    social: dict[str, SocialAnswer] = Field(default_factory=dict)
    alliance: dict[str, AllianceAnswer] = Field(default_factory=dict)


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


def unknown_problems(content: ContentLibrary, **named: str | None) -> list[str]:
    """Problem descriptor ids the content does not know, each named by its field."""
    known = {p.id for p in content.problems}
    return [
        f"{field}: unknown problem {value!r}"
        for field, value in named.items()
        if value is not None and value not in known
    ]


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


def answer_problems(
    content: ContentLibrary,
    section: Section,
    item_id: str,
    answer: PreferenceAnswer | SocialAnswer | AllianceAnswer,
    where: str | None = None,
) -> list[str]:
    """Why one answer does not fit its checklist item (empty when it fits).

    Problems name ``where`` (by default ``answers.<section>.<item id>``), so a session's alliance
    check is reported at its own place in the case file.
    """
    where = where or f"answers.{section}.{item_id}"
    try:
        if section == "preferences":
            assert isinstance(answer, PreferenceAnswer)
            item = content.preference(item_id)
            return [f"{where}.value: {p}" for p in preference_value_problems(item, answer.value)]
        if section == "social":
            assert isinstance(answer, SocialAnswer)
            known = {d.id for d in content.social_domain(item_id).details}
            return [
                *(
                    f"{where}.details: unknown detail {d!r}"
                    for d in answer.details
                    if d not in known
                ),
                *social_contradictions(answer, where),
            ]
        assert isinstance(answer, AllianceAnswer)
        a_item = content.alliance_item(item_id)
    except KeyError:
        return [f"{where}: unknown {section} item"]
    if answer.value is not None and answer.value > a_item.max_value:
        return [f"{where}.value: {answer.value} is above {a_item.max_value}"]
    return []


def social_contradictions(answer: SocialAnswer, where: str) -> list[str]:
    """Answers that contradict "present: no", each naming its field.

    A detail recorded, or "keeps it going: yes", says the circumstance is there; saving it with
    "present: no" would hide a concern (a safeguarding detail would raise nothing).
    """
    if answer.present != "no":
        return []
    problems = []
    if answer.details:
        problems.append(
            f"{where}.details: {', '.join(answer.details)} recorded while present is 'no'; "
            "answer present 'yes' or 'not sure', or clear the details"
        )
    if answer.maintains == "yes":
        problems.append(
            f"{where}.maintains: 'yes' (keeps it going) while present is 'no'; answer present "
            "'yes' or 'not sure', or change this answer"
        )
    return problems


def preference_value_problems(
    item: PreferenceItem, value: int | str | list[str] | None
) -> list[str]:
    """Why a value does not fit a preference item (empty when it fits)."""
    if value is None:
        return []
    if item.kind == "scale":
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"expected a scale point 1–5, got {value!r}"]
        if not 1 <= value <= 5:
            return [f"{value} is outside 1–5"]
        return []
    options = set(item.option_ids())
    if item.kind == "choice":
        if not isinstance(value, str):
            return [f"expected one option id, got {value!r}"]
        return [] if value in options else [f"unknown option {value!r}"]
    if not isinstance(value, list):
        return [f"expected a list of option ids, got {value!r}"]
    problems = [f"unknown option {v!r}" for v in value if v not in options]
    # A repeated option would count twice in the goals fit.
    problems += [f"option {v!r} is repeated" for v in sorted(set(value)) if value.count(v) > 1]
    return problems
