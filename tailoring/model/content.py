"""Pydantic models of the content library: themes, checklist items, protocols and adaptations."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Annotated, Any, Literal, NamedTuple, Self, get_args

from pydantic import Field, model_validator

from tailoring.model.base import ById, Identified, Identifier, Strict, ThemeId
from tailoring.model.coding import Lexicon
from tailoring.model.fhir import FhirPublication
from tailoring.model.measures import ExpectedChange, Measure, TrackingRules, WaitStandard
from tailoring.model.patient_content import PatientContent, patient_problems
from tailoring.model.scenario import Scenario, scenario_problems

Position = Annotated[int, Field(ge=1, le=5, description="A point on a 1–5 preference scale.")]

FormatId = Literal["in_person", "video", "phone", "digital", "group"]
# Times of the week a patient can attend, and at which a protocol with fixed hours meets.
TimeId = Literal["weekday_daytime", "weekday_evening", "weekend"]
DemandId = Literal[
    "reading", "homework", "digital_access", "group_setting", "daytime", "travel", "english"
]
DEMAND_LABELS: dict[str, str] = {
    "reading": "reading workbooks and written materials",
    "homework": "regular practice between sessions",
    "digital_access": "a device, data and confidence online",
    "group_setting": "taking part in a group",
    "daytime": "attending at fixed daytime hours",
    "travel": "travelling to a clinic",
    "english": "talking or reading in English",
}
Step = Literal["step_2", "step_3", "specialist"]
ActionKind = Literal["adapt_within", "discuss", "review_protocol", "signpost", "local_procedure"]
ACTION_KIND_LABELS: dict[str, str] = {
    "adapt_within": "Adapt within the protocol",
    "discuss": "Discuss with the patient",
    "review_protocol": "Review the protocol",
    "signpost": "Signpost",
    "local_procedure": "Follow local procedure",
}

SCALE_MIN, SCALE_MAX = 1, 5
# NICE NG222 (2022) splits depression at PHQ-9 16: below is less severe, 16 or more more severe.
DepressionSeverity = Literal["less_severe", "more_severe"]
SeverityRange = Literal["any", "less_severe", "more_severe"]
SeverityRole = Literal["depression", "anxiety"]


class Theme(Strict):
    """One of the six themes of the study, in our words."""

    id: ThemeId
    title: str
    summary: str = Field(description="What the theme means for practice.")
    patients_said: str = Field(description="A paraphrase of what patients in the study reported.")


class Directions(Strict):
    """What to adapt within a protocol, by the way the patient leans from its default.

    ``lower`` is for a patient below the default (towards label 1), ``higher`` above it; both
    are needed, so a suggestion never pulls the opposite way to the patient.
    """

    lower: Identifier = Field(description="Adaptation for a patient below the default.")
    higher: Identifier = Field(description="Adaptation for a patient above the default.")


class Option(Strict):
    """One choice of a choice or multi-choice item."""

    id: Identifier
    label: str
    neutral: bool = Field(False, description="Expresses no preference; never raises a flag.")
    adaptation: Identifier | None = Field(
        None, description="Adaptation suggested when this option is chosen and it matters."
    )


class PreferenceItem(Strict):
    """A question about what the patient wants from therapy, with how much it matters."""

    id: Identifier
    theme: ThemeId
    title: str = Field(description="Short name of the dimension, used in charts and flags.")
    question: str
    why: str = Field(description="Why the question is asked, shown in the content browser.")
    measures: str | None = Field(None, description="Published construct measured, if any.")
    kind: Literal["scale", "choice", "multi"]
    compare: Literal["position", "format", "availability", "goals", "allocation"] = Field(
        description="How the engine compares the answer with a protocol."
    )
    labels: list[str] | None = Field(
        None, min_length=5, max_length=5, description="Labels of scale points 1–5."
    )
    options: list[Option] | None = None
    adapt_within: Directions | None = Field(
        None,
        description="Adaptations suggested when a scale answer is in the protocol's range but "
        "off its default, one for each direction the patient leans.",
    )
    on_mismatch: list[Identifier] = Field(
        default_factory=list, description="Adaptations suggested when the protocol cannot stretch."
    )

    @model_validator(mode="after")
    def _shape_matches_kind(self) -> PreferenceItem:
        if self.kind == "scale":
            if self.labels is None or self.options is not None:
                raise ValueError("a scale item needs five labels and no options")
            if self.compare != "position":
                raise ValueError("a scale item is compared by position")
        else:
            if not self.options or self.labels is not None:
                raise ValueError("a choice item needs options and no labels")
            if self.compare == "position":
                raise ValueError("only scale items are compared by position")
            if self.adapt_within is not None:
                raise ValueError("adapt_within: only scale items have a direction to adapt in")
        return self

    def option_ids(self) -> list[str]:
        return [o.id for o in self.options or []]


class SocialDetail(Option):
    """A specific circumstance within a social domain, e.g. damp and mould within housing."""

    conflicts_with: list[DemandId] = Field(
        default_factory=list, description="Protocol demands this circumstance makes hard to meet."
    )
    strains: list[DemandId] = Field(
        default_factory=list,
        description="Protocol demands this circumstance makes harder, though adaptation (e.g. "
        "an interpreter) can meet them: a medium flag, no cap on the fit.",
    )
    rules_out_formats: list[FormatId] = Field(
        default_factory=list,
        description="Ways of meeting this circumstance rules out (e.g. phone and video without "
        "a private space): a protocol usually delivered that way is a format mismatch.",
    )


class SocialDomain(Strict):
    """An area of the patient's life that can sustain the problem or block a protocol."""

    id: Identifier
    theme: ThemeId
    title: str
    question: str
    why: str
    details: list[SocialDetail] = Field(default_factory=list)
    signpost: list[Identifier] = Field(
        default_factory=list, description="Adaptations suggested when the domain is unaddressed."
    )
    safeguarding: bool = Field(
        False, description="Presence always points to the local safeguarding procedure."
    )


class AllianceItem(Strict):
    """An alliance check item: a rating of the working relationship or a rupture sign."""

    id: Identifier
    theme: ThemeId
    title: str
    question: str
    why: str
    measures: str = Field(description="The construct measured, e.g. Bordin's bond.")
    kind: Literal["rating", "rupture"]
    reverse: bool = Field(False, description="A high rating means a weaker alliance.")
    labels: list[str] = Field(min_length=3, max_length=5)
    adaptation: Identifier = Field(description="Suggested when the item signals a problem.")

    @model_validator(mode="after")
    def _labels_fit_kind(self) -> AllianceItem:
        expected = 5 if self.kind == "rating" else 3
        if len(self.labels) != expected:
            raise ValueError(f"a {self.kind} item needs {expected} labels")
        return self

    @property
    def max_value(self) -> int:
        return len(self.labels) - 1


class Adaptation(Strict):
    """An action a flag can suggest, with its kind."""

    id: Identifier
    kind: ActionKind
    title: str
    description: str
    withheld_when: list[Identifier] = Field(
        default_factory=list,
        description="Contraindications (contraindications.yaml) that make this action unsafe: "
        "it is never suggested while one of them is recorded.",
    )


# A note in brackets at the end of a title that is not an acronym, e.g. "(record the detail ...)".
NOTE_IN_BRACKETS = re.compile(r"\s*\((?![A-Z0-9-]+\))[^)]*\)\s*$")


def in_sentence(title: str) -> str:
    """A title inside a sentence: first letter lower case, acronyms such as PTSD kept, and a
    note in brackets left out ("Other (record the detail ...)" reads "other")."""
    words = NOTE_IN_BRACKETS.sub("", title)
    return words[0].lower() + words[1:]


class Problem(Strict):
    """A provisional problem descriptor, as NHS Talking Therapies records the presenting problem."""

    id: Identifier
    title: str
    severity_from: list[SeverityRole] = Field(
        description="Measures whose latest total gives the severity: the depression measure, "
        "the case's anxiety measure (GAD-7 or a disorder-specific one), both or neither."
    )

    @property
    def title_in_sentence(self) -> str:
        """The title as running text reads it, e.g. "post-traumatic stress disorder (PTSD)"."""
        return in_sentence(self.title)


class Source(Strict):
    """Where a rule comes from: a guideline and its section, and whether we checked it."""

    document: str = Field(description="e.g. 'NICE NG222 (2022)'.")
    section: str = Field(description="The section or recommendation the rule rests on.")
    checked: bool = Field(
        description="True only when the section's text was read and says this; False marks a "
        "rule taken from practice or memory, whose check against the guideline's text is still "
        "to be done (docs/indications.md says which)."
    )

    @property
    def short(self) -> str:
        """The document and the section's number, e.g. 'NICE NG222 (2022) 1.6'."""
        number = self.section.split(" ")[0]
        return f"{self.document} {number}" if number[:1].isdigit() else self.document


class SocialRule(Strict):
    """A rule on the social answers: any of these details recorded in this domain."""

    domain: Identifier
    details: list[Identifier] = Field(min_length=1)


class Contraindication(Strict):
    """A circumstance in which a protocol must not be offered, as a rule on the answers."""

    id: Identifier
    theme: ThemeId
    title: str = Field(description="Short, e.g. 'Domestic abuse or controlling behaviour'.")
    why: str = Field(description="Why the protocols that list it must not be offered.")
    when: SocialRule
    safeguarding: bool = Field(
        False, description="A safeguarding matter: the flag points to the local procedure."
    )
    sources: list[Source] = Field(min_length=1)


def check_span(low: float | None, high: float | None) -> None:
    """A range given by its ends: at least one, and the lower not above the higher."""
    if low is None and high is None:
        raise ValueError("give min, max or both")
    if low is not None and high is not None and low > high:
        raise ValueError("min is above max")


class SeverityLimits(Strict):
    """The totals of one anxiety measure a protocol suits, and where the figures come from."""

    min: int | None = Field(None, ge=0, description="The lowest total it suits.")
    max: int | None = Field(None, ge=0, description="The highest total it suits.")
    source: Source

    @model_validator(mode="after")
    def _ordered(self) -> SeverityLimits:
        check_span(self.min, self.max)
        return self

    def words(self, short_name: str) -> str:
        """The range in words, e.g. 'GAD-7 up to 14'."""
        if self.min is None:
            return f"{short_name} up to {self.max}"
        if self.max is None:
            return f"{short_name} from {self.min}"
        return f"{short_name} {self.min}–{self.max}"


class Indications(Strict):
    """What a protocol is for: problems, the severity it suits, and the sources."""

    problems: list[Identifier] = Field(
        min_length=1, description="Problem descriptors (problems.yaml) it is indicated for."
    )
    depression_severity: SeverityRange = Field(
        "any",
        description="Depression severity it suits, by NICE NG222's split at PHQ-9 16; a "
        "low-intensity protocol for more severe depression is offered only when the patient "
        "chooses it after discussion.",
    )
    anxiety_severity: dict[Identifier, SeverityLimits] = Field(
        default_factory=dict,
        description="By anxiety measure id (measures/*.yaml: GAD-7 or a disorder-specific "
        "one), the totals the protocol suits, each with its source; a case whose latest total "
        "of its anxiety measure is outside them is flagged, as PHQ-9 is against "
        "depression_severity. A measure not listed is not checked.",
    )
    only_when: SocialRule | None = Field(
        None,
        description="A circumstance the protocol needs to be indicated at all, e.g. couple "
        "therapy: difficulties with a partner recorded.",
    )
    only_when_why: str | None = Field(
        None, description="Why, in a sentence shown when the circumstance is not recorded."
    )
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _only_when_explained(self) -> Indications:
        if (self.only_when is None) != (self.only_when_why is None):
            raise ValueError("only_when and only_when_why go together")
        return self


class Hours(Strict):
    """Therapist hours NICE gives for one problem, e.g. panic disorder 7–14 hours."""

    min: float | None = Field(None, gt=0, le=60)
    max: float | None = Field(None, gt=0, le=60)
    source: Source

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        check_span(self.min, self.max)
        return self


class ProfilePoint(Strict):
    """Where a protocol sits on one preference scale, and how far it can stretch within fidelity."""

    default: Position
    low: Position
    high: Position

    @model_validator(mode="after")
    def _default_in_range(self) -> ProfilePoint:
        if not self.low <= self.default <= self.high:
            raise ValueError("need low ≤ default ≤ high")
        return self


class SessionRange(Strict):
    min: int = Field(ge=1, le=60)
    max: int = Field(ge=1, le=60)
    minutes: int = Field(ge=10, le=180, description="Typical length of one session.")

    @model_validator(mode="after")
    def _ordered(self) -> SessionRange:
        if self.min > self.max:
            raise ValueError("sessions.min is above sessions.max")
        return self


class FixedHours(Strict):
    """When a protocol that meets at set times meets (a group, a course): not agreed per patient."""

    times: list[TimeId] = Field(
        min_length=1,
        description="The times of the week it meets, as the availability item names them.",
    )
    description: str = Field(
        description="The set hours in words, e.g. 'a weekday afternoon, 1:30 to 3 pm'; a service "
        "sets its own."
    )


class Protocol(Strict):
    """A treatment protocol as a service delivers it, profiled on every preference scale."""

    id: Identifier
    name: str
    step: Step
    summary: str
    sessions: SessionRange
    formats: list[FormatId] = Field(min_length=1)
    default_format: FormatId
    indications: Indications
    contraindications: list[Identifier] = Field(
        default_factory=list, description="Contraindications (contraindications.yaml) it has."
    )
    hours: dict[Identifier, Hours] = Field(
        default_factory=dict,
        description="Therapist hours by problem, where the guideline sets them per problem; "
        "they replace the minimum sessions for a case with that problem.",
    )
    profile: dict[Identifier, ProfilePoint]
    demands: list[DemandId] = Field(default_factory=list)
    fixed_hours: FixedHours | None = Field(
        None,
        description="When it meets, if at set times: checked against the times the patient can "
        "attend. Without it, times are agreed with the patient.",
    )
    goals: dict[Identifier, Literal[0, 1, 2]] = Field(
        description="How well it serves each goal: 0 not, 1 partly, 2 a core aim."
    )
    addresses_social: list[Identifier] = Field(
        default_factory=list, description="Social domains the protocol can work on directly."
    )
    can_address: list[str]
    cannot_address: list[str]

    @property
    def sources(self) -> list[Source]:
        """Every source its indications rest on: problems, anxiety ranges and hours."""
        return [
            *self.indications.sources,
            *(limits.source for limits in self.indications.anxiety_severity.values()),
            *(hours.source for hours in self.hours.values()),
        ]

    @model_validator(mode="after")
    def _default_format_offered(self) -> Protocol:
        if self.default_format not in self.formats:
            raise ValueError("default_format is not among formats")
        return self

    @model_validator(mode="after")
    def _daytime_hours_demand_daytime(self) -> Protocol:
        # "daytime" (attending at fixed daytime hours) is the demand a circumstance such as "cannot
        # attend during working hours" clashes with: set daytime hours must carry it.
        hours = self.fixed_hours
        if hours is not None and "weekday_daytime" in hours.times and "daytime" not in self.demands:
            raise ValueError("fixed_hours: meeting on weekdays in the day demands 'daytime'")
        return self


class _Index(NamedTuple):
    themes: ById[Theme]
    preferences: ById[PreferenceItem]
    social: ById[SocialDomain]
    alliance: ById[AllianceItem]
    adaptations: ById[Adaptation]
    protocols: ById[Protocol]
    scenarios: ById[Scenario]
    measures: ById[Measure]
    problems: ById[Problem]
    contraindications: ById[Contraindication]


class ContentLibrary(Strict):
    """All content, cross-checked: every reference between files must resolve."""

    version: str
    importance_labels: list[str] = Field(min_length=4, max_length=4)
    themes: list[Theme]
    preferences: list[PreferenceItem] = Field(min_length=1)
    social: list[SocialDomain]
    alliance: list[AllianceItem]
    adaptations: list[Adaptation]
    problems: list[Problem] = Field(min_length=1, description="Presenting problem descriptors.")
    contraindications: list[Contraindication] = Field(default_factory=list)
    protocols: list[Protocol] = Field(min_length=1)
    measures: list[Measure] = Field(
        min_length=1, description="Outcome measures recorded at sessions (content/measures/)."
    )
    tracking: TrackingRules = Field(description="Session-tracking rules (measures/rules.yaml).")
    waits: list[WaitStandard] = Field(
        default_factory=list, description="Waiting-time standards (content/waits.yaml)."
    )
    expected_change: ExpectedChange | None = Field(
        None,
        description="Expected-change curves with a failure boundary "
        "(measures/expected_change.yaml); without them not-on-track uses the fixed rule.",
    )
    scenarios: list[Scenario] = Field(
        default_factory=list, description="Teaching scenarios for trainees (content/scenarios/)."
    )
    lexicon: Lexicon = Field(
        description="Phrases that suggest a theme for free text (content/coding/lexicon.yaml)."
    )
    patient: PatientContent | None = Field(
        None, description="What patients see on questionnaires sent by link (content/patient/)."
    )
    fhir: FhirPublication = Field(
        description="Where the FHIR Questionnaires are published (content/fhir.yaml)."
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> ContentLibrary:
        errors: list[str] = []
        adaptations = {a.id for a in self.adaptations}
        groups: dict[str, Sequence[Identified]] = {
            "themes": self.themes,
            "preferences": self.preferences,
            "social": self.social,
            "alliance": self.alliance,
            "adaptations": self.adaptations,
            "problems": self.problems,
            "contraindications": self.contraindications,
            "protocols": self.protocols,
        }
        for section, group in groups.items():
            seen: set[str] = set()
            for entry in group:
                if entry.id in seen:
                    errors.append(f"{section}.{entry.id}: duplicate id")
                seen.add(entry.id)

        def need_adaptation(where: str, ref: str | None) -> None:
            if ref is not None and ref not in adaptations:
                errors.append(f"{where}: unknown adaptation {ref!r}")

        for item in self.preferences:
            if item.adapt_within is not None:
                need_adaptation(f"preferences.{item.id}.adapt_within", item.adapt_within.lower)
                need_adaptation(f"preferences.{item.id}.adapt_within", item.adapt_within.higher)
            for ref in item.on_mismatch:
                need_adaptation(f"preferences.{item.id}.on_mismatch", ref)
            for option in item.options or []:
                need_adaptation(f"preferences.{item.id}.{option.id}.adaptation", option.adaptation)
        for domain in self.social:
            for ref in domain.signpost:
                need_adaptation(f"social.{domain.id}.signpost", ref)
        for a_item in self.alliance:
            need_adaptation(f"alliance.{a_item.id}.adaptation", a_item.adaptation)
        errors.extend(self._indication_errors())

        times = {o for i in self.preferences if i.compare == "availability" for o in i.option_ids()}
        for item in self.preferences:
            if item.compare == "availability" and not set(item.option_ids()) <= set(
                get_args(TimeId)
            ):
                errors.append(
                    f"preferences.{item.id}.options: an availability item's options are times: "
                    f"{list(get_args(TimeId))}"
                )
        for p in self.protocols:
            if p.fixed_hours is not None:
                errors.extend(
                    f"protocols.{p.id}.fixed_hours.times: {t!r} is not an option of an "
                    "availability item"
                    for t in p.fixed_hours.times
                    if t not in times
                )
        scales = {i.id for i in self.preferences if i.kind == "scale"}
        goal_items = [i for i in self.preferences if i.compare == "goals"]
        goal_ids = {o for i in goal_items for o in i.option_ids()}
        domains = {d.id for d in self.social}
        for p in self.protocols:
            missing = scales - set(p.profile)
            extra = set(p.profile) - scales
            if missing:
                errors.append(f"protocols.{p.id}.profile: missing {sorted(missing)}")
            if extra:
                errors.append(f"protocols.{p.id}.profile: unknown scales {sorted(extra)}")
            if set(p.goals) != goal_ids:
                errors.append(f"protocols.{p.id}.goals: must rate exactly {sorted(goal_ids)}")
            for d in p.addresses_social:
                if d not in domains:
                    errors.append(f"protocols.{p.id}.addresses_social: unknown domain {d!r}")
        errors.extend(self._scenario_errors())
        if self.patient is not None:
            errors.extend(patient_problems(self.patient, self))
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def _indication_errors(self) -> list[str]:
        """Problems, contraindications and hours must name what exists."""
        errors = []
        problems = {p.id for p in self.problems}
        contraindications = {c.id for c in self.contraindications}
        domains = {d.id: {x.id for x in d.details} for d in self.social}

        def rule_errors(where: str, rule: SocialRule) -> list[str]:
            if rule.domain not in domains:
                return [f"{where}.domain: unknown domain {rule.domain!r}"]
            return [
                f"{where}.details: unknown detail {d!r}"
                for d in rule.details
                if d not in domains[rule.domain]
            ]

        for c in self.contraindications:
            errors.extend(rule_errors(f"contraindications.{c.id}.when", c.when))
        for p in self.protocols:
            if p.indications.only_when is not None:
                where = f"protocols.{p.id}.indications.only_when"
                errors.extend(rule_errors(where, p.indications.only_when))
        for a in self.adaptations:
            errors.extend(
                f"adaptations.{a.id}.withheld_when: unknown contraindication {c!r}"
                for c in a.withheld_when
                if c not in contraindications
            )
        for p in self.protocols:
            errors.extend(
                f"protocols.{p.id}.indications.problems: unknown problem {x!r}"
                for x in p.indications.problems
                if x not in problems
            )
            errors.extend(
                f"protocols.{p.id}.contraindications: unknown contraindication {c!r}"
                for c in p.contraindications
                if c not in contraindications
            )
            for x in p.hours:
                if x not in p.indications.problems:
                    errors.append(f"protocols.{p.id}.hours: {x!r} is not a problem it is for")
        return errors

    def _scenario_errors(self) -> list[str]:
        errors = []
        seen: set[str] = set()
        for s in self.scenarios:
            if s.id in seen:
                errors.append(f"scenarios.{s.id}.id: duplicate id")
            seen.add(s.id)
            errors.extend(f"scenarios.{s.id}.{p}" for p in scenario_problems(s, self))
        return errors

    @model_validator(mode="after")
    def _measures_resolve(self) -> ContentLibrary:
        errors: list[str] = []
        roles: dict[str, str] = {}
        for m in self.measures:
            if m.id in roles:
                errors.append(f"measures.{m.id}.id: duplicate id")
            roles[m.id] = m.role
        needs = {"depression_measure": "depression", "functioning_measure": "functioning"}
        for field, role in needs.items():
            ref = getattr(self.tracking, field)
            if ref is not None and roles.get(ref) != role:
                errors.append(f"tracking.{field}: {ref!r} is not a {role} measure")
        if "anxiety" not in roles.values():
            errors.append("measures: no measure has role anxiety")
        anxiety = {m.id: m for m in self.measures if m.role == "anxiety"}
        for p in self.protocols:
            for measure_id, limits in p.indications.anxiety_severity.items():
                where = f"protocols.{p.id}.indications.anxiety_severity.{measure_id}"
                measure = anxiety.get(measure_id)
                if measure is None:
                    errors.append(f"{where}: {measure_id!r} is not an anxiety measure")
                    continue
                errors.extend(
                    f"{where}.{name}: {value} is outside {measure.short_name}'s totals "
                    f"{measure.min_total}–{measure.max_total}"
                    for name, value in (("min", limits.min), ("max", limits.max))
                    if value is not None and not measure.min_total <= value <= measure.max_total
                )
        for index, curve in enumerate(self.expected_change.curves if self.expected_change else []):
            if curve.measure not in roles:
                errors.append(f"expected_change.curves.{index}.measure: unknown {curve.measure!r}")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy without the cached look-ups, which would describe the original."""
        copy = super().model_copy(update=update, deep=deep)
        for name in ("_index", "compared_items"):
            copy.__dict__.pop(name, None)
        return copy

    # Look-ups used across the app, many times per report: an index per group, built once.
    @cached_property
    def _index(self) -> _Index:
        return _Index(
            themes=ById("theme", self.themes),
            preferences=ById("preference item", self.preferences),
            social=ById("social domain", self.social),
            alliance=ById("alliance item", self.alliance),
            adaptations=ById("adaptation", self.adaptations),
            protocols=ById("protocol", self.protocols),
            scenarios=ById("scenario", self.scenarios),
            measures=ById("measure", self.measures),
            problems=ById("problem", self.problems),
            contraindications=ById("contraindication", self.contraindications),
        )

    def preference(self, item_id: str) -> PreferenceItem:
        return self._index.preferences[item_id]

    def social_domain(self, domain_id: str) -> SocialDomain:
        return self._index.social[domain_id]

    def alliance_item(self, item_id: str) -> AllianceItem:
        return self._index.alliance[item_id]

    def adaptation(self, adaptation_id: str) -> Adaptation:
        return self._index.adaptations[adaptation_id]

    def protocol(self, protocol_id: str) -> Protocol:
        return self._index.protocols[protocol_id]

    def theme(self, theme_id: str) -> Theme:
        return self._index.themes[theme_id]

    def scenario(self, scenario_id: str) -> Scenario:
        return self._index.scenarios[scenario_id]

    def measure(self, measure_id: str) -> Measure:
        return self._index.measures[measure_id]

    def problem(self, problem_id: str) -> Problem:
        return self._index.problems[problem_id]

    def contraindication(self, contraindication_id: str) -> Contraindication:
        return self._index.contraindications[contraindication_id]

    @cached_property
    def compared_items(self) -> list[PreferenceItem]:
        """Preference items compared with a protocol (allocation items are not)."""
        return [i for i in self.preferences if i.compare != "allocation"]
