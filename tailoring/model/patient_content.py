"""The wording patients see (content/patient/): their questions, barriers and questionnaire sets.

Checked against the rest of the content by :func:`patient_problems`, which ContentLibrary runs.
The answers given to these questions are modelled in tailoring/model/patient_questionnaires.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from tailoring.model.base import ById, Identifier, Strict

if TYPE_CHECKING:
    # The library holds this content and runs patient_problems on it while it validates.
    from tailoring.model.content import ContentLibrary

SetId = Literal["preferences", "before_session", "after_session"]
SET_IDS: tuple[SetId, ...] = ("preferences", "before_session", "after_session")
# Sets answered about one session, whose link names the session.
SESSION_SETS: frozenset[SetId] = frozenset({"before_session", "after_session"})
# In a set, the case's own anxiety measure (GAD-7 unless the case names another).
ANXIETY_MEASURE = "measure.anxiety"
ITEM_REF = re.compile(r"^(preferences|barriers|alliance|open|measure)\.([a-z][a-z0-9_]*)$")
# A section is one page on the patient's screen: five questions at most keep a page on a phone to
# a couple of screens (the preferences on one page were about fourteen). A measure counts as one
# item here, because its items belong together on one page under its question.
PAGE_ITEMS = 5


# The wording ----------------------------------------------------------------------------------


class ImportanceWording(Strict):
    """How much an answer matters, asked after each preference."""

    question: str
    labels: list[str] = Field(
        min_length=4, max_length=4, description="0 doesn't matter … 3 essential, in words."
    )


class ThankYou(Strict):
    title: str
    text: str


class PatientWording(Strict):
    """Words on every questionnaire (content/patient/common.yaml)."""

    importance: ImportanceWording
    saving: str = Field(description="That answers save as they are given.")
    urgent_help: str = Field(
        description="Where to get help now: answers are not read as they are given."
    )
    thank_you: ThankYou


class DetailRef(Strict):
    """A detail of a social domain, e.g. access/childcare."""

    domain: Identifier
    detail: Identifier


class PatientOption(Strict):
    """A preference option in the patient's words."""

    id: Identifier
    label: str
    also: list[DetailRef] = Field(
        default_factory=list, description="Circumstances choosing this option also records."
    )


class PatientPreference(Strict):
    """A preference item (same id as preferences.yaml) in the patient's words."""

    id: Identifier
    question: str
    hint: str | None = None
    labels: list[str] | None = Field(
        None, min_length=5, max_length=5, description="Scale points 1–5."
    )
    options: list[PatientOption] | None = None

    @model_validator(mode="after")
    def _labels_or_options(self) -> PatientPreference:
        if (self.labels is None) == (self.options is None):
            raise ValueError("give five labels (a scale) or options (a choice), not both")
        return self


class BarrierOption(Strict):
    """A practical barrier, recorded as details of social domains."""

    id: Identifier
    label: str
    records: list[DetailRef] = Field(default_factory=list)
    none: bool = Field(False, description="'None of these': records nothing, excludes the rest.")

    @model_validator(mode="after")
    def _records_or_none(self) -> BarrierOption:
        if self.none == bool(self.records):
            raise ValueError("an option records details, or is the 'none' option, not both")
        return self


class Barrier(Strict):
    """A question about a practical barrier (times, childcare, travel, digital access)."""

    id: Identifier
    question: str
    hint: str | None = None
    options: list[BarrierOption] = Field(min_length=2)

    @model_validator(mode="after")
    def _one_none(self) -> Barrier:
        if sum(o.none for o in self.options) != 1:
            raise ValueError("options: exactly one option must be the 'none' option")
        return self


class PatientAllianceItem(Strict):
    """An alliance check item (same id as alliance.yaml) in the patient's words."""

    id: Identifier
    question: str
    hint: str | None = None
    labels: list[str] = Field(min_length=3, max_length=5)


class OpenQuestion(Strict):
    id: Identifier
    question: str
    hint: str | None = None


class SetSection(Strict):
    """A section of a questionnaire: one page on the patient's screen."""

    title: str
    intro: str | None = None
    items: list[str] = Field(min_length=1, description="Item references, e.g. alliance.bond.")


class QuestionnaireSet(Strict):
    """A questionnaire a therapist sends by link."""

    id: SetId
    title: str
    intro: str
    sections: list[SetSection] = Field(min_length=1)

    def item_refs(self) -> list[str]:
        return [ref for section in self.sections for ref in section.items]


class PatientContent(Strict):
    """Everything in content/patient/, checked against the rest of the content."""

    wording: PatientWording
    preferences: list[PatientPreference]
    barriers: list[Barrier]
    alliance: list[PatientAllianceItem]
    open: list[OpenQuestion]
    sets: list[QuestionnaireSet]

    def preference(self, item_id: str) -> PatientPreference:
        return ById("patient preference", self.preferences)[item_id]

    def barrier(self, barrier_id: str) -> Barrier:
        return ById("barrier", self.barriers)[barrier_id]

    def alliance_item(self, item_id: str) -> PatientAllianceItem:
        return ById("patient alliance item", self.alliance)[item_id]

    def open_question(self, question_id: str) -> OpenQuestion:
        return ById("open question", self.open)[question_id]

    def questionnaire(self, set_id: str) -> QuestionnaireSet:
        return ById("questionnaire set", self.sets)[set_id]

    def texts(self) -> Iterator[tuple[str, str]]:
        """Every text written for patients, with where it is: for the readability test."""
        w = self.wording
        yield "common.importance.question", w.importance.question
        for i, label in enumerate(w.importance.labels):
            yield f"common.importance.labels.{i}", label
        yield "common.saving", w.saving
        yield "common.urgent_help", w.urgent_help
        yield "common.thank_you.title", w.thank_you.title
        yield "common.thank_you.text", w.thank_you.text
        for p in self.preferences:
            yield from _question_texts(f"preferences.{p.id}", p.question, p.hint)
            for i, label in enumerate(p.labels or []):
                yield f"preferences.{p.id}.labels.{i}", label
            for o in p.options or []:
                yield f"preferences.{p.id}.{o.id}", o.label
        for b in self.barriers:
            yield from _question_texts(f"barriers.{b.id}", b.question, b.hint)
            for bo in b.options:
                yield f"barriers.{b.id}.{bo.id}", bo.label
        for a in self.alliance:
            yield from _question_texts(f"alliance.{a.id}", a.question, a.hint)
            for i, label in enumerate(a.labels):
                yield f"alliance.{a.id}.labels.{i}", label
        for q in self.open:
            yield from _question_texts(f"open.{q.id}", q.question, q.hint)
        for s in self.sets:
            yield f"sets.{s.id}.title", s.title
            yield f"sets.{s.id}.intro", s.intro
            for i, section in enumerate(s.sections):
                yield f"sets.{s.id}.sections.{i}.title", section.title
                if section.intro:
                    yield f"sets.{s.id}.sections.{i}.intro", section.intro


def _question_texts(where: str, question: str, hint: str | None) -> Iterator[tuple[str, str]]:
    yield f"{where}.question", question
    if hint:
        yield f"{where}.hint", hint


def patient_problems(patient: PatientContent, content: ContentLibrary) -> list[str]:
    """Every way the patient wording disagrees with the checklist, measures or itself.

    Each problem starts ``patient.<file>.`` (the file in content/patient/ without ``.yaml``).
    """
    problems: list[str] = []
    groups: dict[str, list[Any]] = {
        "preferences": patient.preferences,
        "barriers": patient.barriers,
        "alliance": patient.alliance,
        "open": patient.open,
        "sets": patient.sets,
    }
    for file, entries in groups.items():
        ids = [e.id for e in entries]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        problems.extend(f"patient.{file}.{i}: duplicate id" for i in repeated)
    problems.extend(_preference_problems(patient, content))
    problems.extend(_alliance_problems(patient, content))
    for barrier in patient.barriers:
        for option in barrier.options:
            problems.extend(
                f"patient.barriers.{barrier.id}.{option.id}.records: {p}"
                for p in _detail_problems(content, option.records)
            )
    missing_sets = [s for s in SET_IDS if s not in {q.id for q in patient.sets}]
    if missing_sets:
        problems.append(f"patient.sets: missing {missing_sets}")
    for questionnaire in patient.sets:
        for ref in questionnaire.item_refs():
            problem = _ref_problem(patient, content, ref)
            if problem:
                problems.append(f"patient.sets.{questionnaire.id}.items: {problem}")
        problems.extend(
            f"patient.sets.{questionnaire.id}.sections.{i}: {len(s.items)} items make a page too "
            f"long for a phone (at most {PAGE_ITEMS}: split the section)"
            for i, s in enumerate(questionnaire.sections)
            if len(s.items) > PAGE_ITEMS
        )
        refs = questionnaire.item_refs()
        problems.extend(
            f"patient.sets.{questionnaire.id}.items: {r!r} is listed twice"
            for r in sorted({r for r in refs if refs.count(r) > 1})
        )
    return problems


def _preference_problems(patient: PatientContent, content: ContentLibrary) -> list[str]:
    problems = []
    ours = {p.id for p in patient.preferences}
    for item in content.preferences:
        if item.id not in ours:
            problems.append(f"patient.preferences: no wording for preference item {item.id!r}")
            continue
        wording = patient.preference(item.id)
        where = f"patient.preferences.{item.id}"
        if item.kind == "scale" and wording.labels is None:
            problems.append(f"{where}: a scale item needs five labels")
        if item.kind != "scale":
            options = [o.id for o in wording.options or []]
            if options != item.option_ids():
                problems.append(
                    f"{where}.options: must be {item.option_ids()} in that order, not {options}"
                )
        for option in wording.options or []:
            problems.extend(
                f"{where}.{option.id}.also: {p}" for p in _detail_problems(content, option.also)
            )
    known = {i.id for i in content.preferences}
    problems.extend(
        f"patient.preferences.{i}: unknown preference item" for i in sorted(ours - known)
    )
    return problems


def _alliance_problems(patient: PatientContent, content: ContentLibrary) -> list[str]:
    problems = []
    ours = {a.id for a in patient.alliance}
    for item in content.alliance:
        if item.id not in ours:
            problems.append(f"patient.alliance: no wording for alliance item {item.id!r}")
            continue
        labels = patient.alliance_item(item.id).labels
        if len(labels) != len(item.labels):
            problems.append(
                f"patient.alliance.{item.id}.labels: need {len(item.labels)}, like the item"
            )
    known = {i.id for i in content.alliance}
    problems.extend(f"patient.alliance.{i}: unknown alliance item" for i in sorted(ours - known))
    return problems


def _detail_problems(content: ContentLibrary, refs: list[DetailRef]) -> list[str]:
    problems = []
    for ref in refs:
        try:
            domain = content.social_domain(ref.domain)
        except KeyError:
            problems.append(f"unknown social domain {ref.domain!r}")
            continue
        if ref.detail not in {d.id for d in domain.details}:
            problems.append(f"{ref.domain} has no detail {ref.detail!r}")
    return problems


def _ref_problem(patient: PatientContent, content: ContentLibrary, ref: str) -> str | None:
    if ref == ANXIETY_MEASURE:
        return None
    match = ITEM_REF.match(ref)
    if match is None:
        return f"{ref!r} is not <preferences|barriers|alliance|open|measure>.<id>"
    kind, item_id = match.groups()
    look_up = {
        "preferences": patient.preference,
        "barriers": patient.barrier,
        "alliance": patient.alliance_item,
        "open": patient.open_question,
        "measure": content.measure,
    }[kind]
    try:
        look_up(item_id)
    except KeyError as error:
        return str(error.args[0])
    return None
