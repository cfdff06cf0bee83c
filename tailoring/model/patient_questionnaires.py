"""Patient questionnaires: the questions of a questionnaire sent by link, and the answers to them.

A patient answers on their own device, in their own words, the same checklist items the therapist
answers (same ids), plus practical barriers, two open questions and the outcome measures. Each
answer is stored under an item key and saved on its own:

- ``preferences.<id>``: ``{"value": 1–5 | option id | [option ids], "importance": 0–3}``
- ``barriers.<id>``: ``{"value": [option ids]}``; each option records a social detail
- ``alliance.<id>``: ``{"value": 0–4}`` (a rating) or ``{"value": 0–2}`` (a rupture sign)
- ``open.<id>``: ``{"value": "text"}``
- ``measure.<measure id>.<item id>``: ``{"value": score | "na"}``, as a session records it

:func:`as_answers` turns what the patient said into the therapist's answer format, so the fit and
the perception gaps can use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tailoring.model.answers import (
    AllianceAnswer,
    Answers,
    PreferenceAnswer,
    SocialAnswer,
    chosen_options,
)
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import NOT_APPLICABLE, ItemValue, Measure
from tailoring.model.patient_content import ANXIETY_MEASURE, PatientContent, SetId
from tailoring.model.text import NOTE_CHARS, checked

ANSWER_KEY = re.compile(
    r"^(?:(preferences|barriers|alliance|open)\.([a-z][a-z0-9_]*)"
    r"|measure\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*))$"
)
# Longest free-text answer, as for the notes of a case.
OPEN_TEXT_MAX = NOTE_CHARS
# Which answers the fit of a case uses (tailoring/engine/answer_source.py), as a case stores it.
Source = Literal["patient", "therapist", "patient_where_present"]
SOURCES: tuple[Source, ...] = ("patient_where_present", "patient", "therapist")


# The questions of one questionnaire, ready to show -------------------------------------------


class Choice(BaseModel):
    """One answer a question offers: the value stored and its words."""

    model_config = ConfigDict(frozen=True)

    value: int | str
    label: str


QuestionKind = Literal[
    "scale", "choice", "multi", "barrier", "rating", "rupture", "open", "measure"
]


class Question(BaseModel):
    """One question as the patient sees it, with the key its answer is saved under."""

    model_config = ConfigDict(frozen=True)

    key: str
    section: str
    kind: QuestionKind
    text: str
    hint: str | None = None
    stem: str | None = Field(None, description="A measure's question, which every item answers.")
    choices: list[Choice] = Field(default_factory=list, description="Empty for an open question.")
    multiple: bool = Field(False, description="Several choices may be chosen.")
    exclusive: str | None = Field(None, description="The choice that excludes the others.")
    importance: bool = Field(False, description="Also asks how much the answer matters.")


def questions(content: ContentLibrary, set_id: str, anxiety_measure: str) -> list[Question]:
    """The questions of a questionnaire set for a case, in order (KeyError for an unknown set)."""
    patient = _patient_content(content)
    result: list[Question] = []
    for section in patient.questionnaire(set_id).sections:
        for ref in section.items:
            if ref == ANXIETY_MEASURE:
                ref = f"measure.{anxiety_measure}"
            kind, item_id = ref.split(".", 1)
            if kind == "measure":
                result.extend(_measure_questions(content.measure(item_id), section.title))
            else:
                result.append(_question(content, patient, kind, item_id, section.title))
    return result


def question_map(content: ContentLibrary, set_id: str, anxiety_measure: str) -> dict[str, Question]:
    """The questions of a set by answer key."""
    return {q.key: q for q in questions(content, set_id, anxiety_measure)}


class QuestionPage(BaseModel):
    """One screen of a questionnaire: a section of its set, with the questions still to ask."""

    model_config = ConfigDict(frozen=True)

    title: str
    intro: str | None = None
    questions: list[Question] = Field(min_length=1)


class AskedQuestionnaire(BaseModel):
    """One questionnaire of a link as the patient goes through it, page by page."""

    model_config = ConfigDict(frozen=True)

    set_id: SetId
    title: str
    intro: str
    session_number: int | None = None
    done_at: datetime | None = Field(None, description="When the patient said it was done.")
    pages: list[QuestionPage] = Field(min_length=1)

    @property
    def questions(self) -> list[Question]:
        return [q for page in self.pages for q in page.questions]


def asked_questionnaires(
    content: ContentLibrary, link: PatientLink, anxiety_measure: str
) -> list[AskedQuestionnaire]:
    """The questionnaires of a link in its order, each split into its pages (one per section).

    A question already asked by an earlier questionnaire of the link is not asked again (the
    open questions end both the preferences and the after-session set): its answer is one per
    link, stored under one key.
    """
    patient = _patient_content(content)
    asked: set[str] = set()
    result = []
    for carried in link.questionnaires:
        chosen = patient.questionnaire(carried.set_id)
        by_section: dict[str, list[Question]] = {}
        for question in questions(content, carried.set_id, anxiety_measure):
            if question.key not in asked:
                asked.add(question.key)
                by_section.setdefault(question.section, []).append(question)
        pages = [
            QuestionPage(title=s.title, intro=s.intro, questions=by_section[s.title])
            for s in chosen.sections
            if by_section.get(s.title)
        ]
        if pages:
            result.append(
                AskedQuestionnaire(
                    set_id=carried.set_id,
                    title=chosen.title,
                    intro=chosen.intro,
                    session_number=carried.session_number,
                    done_at=carried.done_at,
                    pages=pages,
                )
            )
    return result


def _patient_content(content: ContentLibrary) -> PatientContent:
    if content.patient is None:
        raise KeyError("this content has no patient questionnaires (content/patient/)")
    return content.patient


def _question(
    content: ContentLibrary, patient: PatientContent, kind: str, item_id: str, section: str
) -> Question:
    key = f"{kind}.{item_id}"
    if kind == "preferences":
        item = content.preference(item_id)
        wording = patient.preference(item_id)
        if wording.labels is not None:
            choices = [Choice(value=i, label=label) for i, label in enumerate(wording.labels, 1)]
        else:
            choices = [Choice(value=o.id, label=o.label) for o in wording.options or []]
        return Question(
            key=key,
            section=section,
            kind=item.kind,
            text=wording.question,
            hint=wording.hint,
            choices=choices,
            multiple=item.kind == "multi",
            importance=True,
        )
    if kind == "barriers":
        barrier = patient.barrier(item_id)
        return Question(
            key=key,
            section=section,
            kind="barrier",
            text=barrier.question,
            hint=barrier.hint,
            choices=[Choice(value=o.id, label=o.label) for o in barrier.options],
            multiple=True,
            exclusive=next(o.id for o in barrier.options if o.none),
        )
    if kind == "alliance":
        a_item = content.alliance_item(item_id)
        a_wording = patient.alliance_item(item_id)
        return Question(
            key=key,
            section=section,
            kind=a_item.kind,
            text=a_wording.question,
            hint=a_wording.hint,
            choices=[Choice(value=i, label=label) for i, label in enumerate(a_wording.labels)],
        )
    open_question = patient.open_question(item_id)
    return Question(
        key=key,
        section=section,
        kind="open",
        text=open_question.question,
        hint=open_question.hint,
    )


def _measure_questions(measure: Measure, section: str) -> list[Question]:
    base = [Choice(value=o.value, label=o.label) for o in measure.options]
    return [
        Question(
            key=f"measure.{measure.id}.{item.id}",
            section=section,
            kind="measure",
            text=item.text,
            stem=measure.question,
            choices=base
            + (
                [Choice(value=NOT_APPLICABLE, label=item.not_applicable)]
                if item.not_applicable
                else []
            ),
        )
        for item in measure.items
    ]


def parse_answer(question: Question, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload to store for an answer to ``question``, checked (ValueError if it does not fit).

    ``{"value": None}`` clears an answer; a preference may carry an importance without a value.
    """
    extra = set(payload) - {"value", "importance"}
    if extra or ("importance" in payload and not question.importance):
        raise ValueError(f"{question.key}: unexpected fields {sorted(extra or {'importance'})}")
    value = payload.get("value")
    result: dict[str, Any] = {"value": _checked_value(question, value)}
    if question.importance:
        importance = payload.get("importance")
        if importance is not None and (
            isinstance(importance, bool) or importance not in (0, 1, 2, 3)
        ):
            raise ValueError(f"{question.key}: importance must be 0–3, not {importance!r}")
        result["importance"] = importance
    return result


def _checked_value(question: Question, value: Any) -> Any:
    if value is None:
        return None
    if question.kind == "open":
        if not isinstance(value, str):
            raise ValueError(f"{question.key}: expected text")
        return checked(value, OPEN_TEXT_MAX, f"answer to {question.key}")
    allowed = [c.value for c in question.choices]
    if question.multiple:
        if not isinstance(value, list) or len(set(value)) != len(value):
            raise ValueError(f"{question.key}: expected a list of different choices")
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise ValueError(f"{question.key}: unknown choices {unknown}")
        if question.exclusive in value and len(value) > 1:
            raise ValueError(f"{question.key}: {question.exclusive!r} excludes the other choices")
        # The order of the options, whatever order they were ticked in.
        return [v for v in allowed if v in value]
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(f"{question.key}: {value!r} is not one of {allowed}")
    return value


# The patient's answers ------------------------------------------------------------------------


class PatientAnswers(BaseModel):
    """What the patient answered, by section and item id (the same ids as the therapist's)."""

    model_config = ConfigDict(extra="forbid")

    preferences: dict[str, PreferenceAnswer] = Field(default_factory=dict)
    barriers: dict[str, list[str]] = Field(
        default_factory=dict, description="Chosen option ids of each barrier question."
    )
    alliance: dict[str, AllianceAnswer] = Field(default_factory=dict)
    open: dict[str, str] = Field(default_factory=dict)
    measures: dict[str, dict[str, ItemValue]] = Field(
        default_factory=dict, description="By measure id, then item id, as a session records them."
    )

    @classmethod
    def from_payloads(cls, payloads: Mapping[str, Mapping[str, Any]]) -> PatientAnswers:
        """The answers stored under item keys (ValueError for a key or payload of unknown shape)."""
        data: dict[str, dict[str, Any]] = {
            "preferences": {},
            "barriers": {},
            "alliance": {},
            "open": {},
            "measures": {},
        }
        for key, payload in payloads.items():
            match = ANSWER_KEY.match(key)
            if match is None:
                raise ValueError(f"{key!r} is not an answer key")
            section, item_id, measure_id, measure_item = match.groups()
            value = payload.get("value")
            if measure_id is not None:
                data["measures"].setdefault(measure_id, {})[measure_item] = value
            elif section == "preferences":
                data["preferences"][item_id] = dict(payload)
            elif section == "alliance":
                data["alliance"][item_id] = {"value": value}
            elif value is not None:
                data[section][item_id] = value
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise ValueError(str(error)) from None


def as_answers(content: ContentLibrary, patient: PatientAnswers) -> Answers:
    """The patient's answers in the checklist's format: preferences and alliance as given, and
    each barrier or option that records a circumstance as that detail of its social domain.

    A domain the patient named a detail of is present with those details; the patient is not
    asked whether it keeps the difficulties going or who helps. Naming no barrier does not say
    a domain is absent, so it records nothing.
    """
    wording = _patient_content(content)
    details: dict[str, set[str]] = {}
    for item_id, answer in patient.preferences.items():
        chosen = chosen_options(answer.value)
        try:
            options = wording.preference(item_id).options or []
        except KeyError:
            continue
        for option in options:
            if option.id in chosen:
                for ref in option.also:
                    details.setdefault(ref.domain, set()).add(ref.detail)
    for barrier_id, chosen_ids in patient.barriers.items():
        try:
            barrier = wording.barrier(barrier_id)
        except KeyError:
            continue
        for barrier_option in barrier.options:
            if barrier_option.id in chosen_ids:
                for ref in barrier_option.records:
                    details.setdefault(ref.domain, set()).add(ref.detail)
    social = {
        domain.id: SocialAnswer(
            present="yes", details=[d.id for d in domain.details if d.id in details[domain.id]]
        )
        for domain in content.social
        if domain.id in details
    }
    return Answers(
        preferences=dict(patient.preferences), social=social, alliance=dict(patient.alliance)
    )


# Links ----------------------------------------------------------------------------------------

LinkStatus = Literal["open", "completed", "expired", "revoked"]


class LinkQuestionnaire(BaseModel):
    """One questionnaire a link carries: its set, the session it is about, whether it is done."""

    model_config = ConfigDict(frozen=True)

    set_id: SetId
    session_number: int | None = Field(None, description="For the sets about one session.")
    done_at: datetime | None = Field(None, description="When the patient said it was done.")
    answered: int = Field(0, description="How many of its items have an answer.")


class PatientLink(BaseModel):
    """Questionnaires sent to the patient by one link, as stored (the code itself is never kept).

    A link carries one or more questionnaires, each set at most once (a patient's visit: for
    example the preferences, and the measures before session 2), answered and sent together.
    """

    model_config = ConfigDict(frozen=True)

    id: int
    case_id: int
    questionnaires: tuple[LinkQuestionnaire, ...] = Field(min_length=1)
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    opened_at: datetime | None = Field(None, description="When the patient first opened it.")
    completed_at: datetime | None = None
    seen_at: datetime | None = Field(None, description="When the therapist last looked.")
    answered: int = Field(0, description="How many items have an answer.")

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def status(self, now: datetime) -> LinkStatus:
        """Revoked, else completed (even once past its expiry), else expired or open."""
        if self.revoked_at is not None:
            return "revoked"
        if self.completed_at is not None:
            return "completed"
        return "expired" if self.expired(now) else "open"

    def usable(self, now: datetime) -> bool:
        """Whether the patient may open it: not revoked and not expired."""
        return self.revoked_at is None and not self.expired(now)

    def accepts_answers(self, now: datetime) -> bool:
        """Whether answers may still be given or changed: open, not yet completed."""
        return self.status(now) == "open"

    def questionnaire(self, set_id: str) -> LinkQuestionnaire | None:
        """The link's questionnaire of this set, or None if it carries none."""
        return next((q for q in self.questionnaires if q.set_id == set_id), None)

    def returned_unseen(self) -> bool:
        """Completed since the therapist last looked."""
        return self.completed_at is not None and (
            self.seen_at is None or self.seen_at < self.completed_at
        )
