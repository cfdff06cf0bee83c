"""Pydantic models of the content library: themes, checklist items, protocols and adaptations."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from tailoring.model.base import Identifier, Strict
from tailoring.model.measures import ExpectedChange, Measure, TrackingRules, WaitStandard

if TYPE_CHECKING:
    # Resolved at import by tailoring/model/scenario.py, which itself imports this module.
    from tailoring.model.scenario import Scenario

ThemeId = Literal["personalisation", "alliance", "depth", "skills_agency", "pace", "heard"]
Position = Annotated[int, Field(ge=1, le=5, description="A point on a 1–5 preference scale.")]
Importance = Annotated[int, Field(ge=0, le=3, description="0 doesn't matter … 3 essential.")]

FormatId = Literal["in_person", "video", "phone", "digital", "group"]
DemandId = Literal["reading", "homework", "digital_access", "group_setting", "daytime", "travel"]
DEMAND_LABELS: dict[str, str] = {
    "reading": "reading workbooks and written materials",
    "homework": "regular practice between sessions",
    "digital_access": "a device, data and confidence online",
    "group_setting": "taking part in a group",
    "daytime": "attending at fixed daytime hours",
    "travel": "travelling to a clinic",
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


class Theme(Strict):
    """One of the six themes of the study, in our words."""

    id: ThemeId
    title: str
    summary: str = Field(description="What the theme means for practice.")
    patients_said: str = Field(description="A paraphrase of what patients in the study reported.")


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
    compare: Literal["position", "format", "goals", "allocation"] = Field(
        description="How the engine compares the answer with a protocol."
    )
    labels: list[str] | None = Field(
        None, min_length=5, max_length=5, description="Labels of scale points 1–5."
    )
    options: list[Option] | None = None
    adapt_within: Identifier | None = Field(
        None, description="Adaptation suggested when the answer is in range but off the default."
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
        return self

    def option_ids(self) -> list[str]:
        return [o.id for o in self.options or []]


class SocialDetail(Option):
    """A specific circumstance within a social domain, e.g. damp and mould within housing."""

    conflicts_with: list[DemandId] = Field(
        default_factory=list, description="Protocol demands this circumstance makes hard to meet."
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


class Protocol(Strict):
    """A treatment protocol as a service delivers it, profiled on every preference scale."""

    id: Identifier
    name: str
    step: Step
    summary: str
    sessions: SessionRange
    formats: list[FormatId] = Field(min_length=1)
    default_format: FormatId
    severity: Literal["any", "less_severe", "more_severe"] = "any"
    profile: dict[Identifier, ProfilePoint]
    demands: list[DemandId] = Field(default_factory=list)
    goals: dict[Identifier, Literal[0, 1, 2]] = Field(
        description="How well it serves each goal: 0 not, 1 partly, 2 a core aim."
    )
    addresses_social: list[Identifier] = Field(
        default_factory=list, description="Social domains the protocol can work on directly."
    )
    can_address: list[str]
    cannot_address: list[str]

    @model_validator(mode="after")
    def _default_format_offered(self) -> Protocol:
        if self.default_format not in self.formats:
            raise ValueError("default_format is not among formats")
        return self


class ContentLibrary(Strict):
    """All content, cross-checked: every reference between files must resolve."""

    version: str
    importance_labels: list[str] = Field(min_length=4, max_length=4)
    themes: list[Theme]
    preferences: list[PreferenceItem] = Field(min_length=1)
    social: list[SocialDomain]
    alliance: list[AllianceItem]
    adaptations: list[Adaptation]
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

    @model_validator(mode="after")
    def _references_resolve(self) -> ContentLibrary:
        errors: list[str] = []
        adaptations = {a.id for a in self.adaptations}
        groups = {
            "themes": self.themes,
            "preferences": self.preferences,
            "social": self.social,
            "alliance": self.alliance,
            "adaptations": self.adaptations,
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
            need_adaptation(f"preferences.{item.id}.adapt_within", item.adapt_within)
            for ref in item.on_mismatch:
                need_adaptation(f"preferences.{item.id}.on_mismatch", ref)
            for option in item.options or []:
                need_adaptation(f"preferences.{item.id}.{option.id}.adaptation", option.adaptation)
        for domain in self.social:
            for ref in domain.signpost:
                need_adaptation(f"social.{domain.id}.signpost", ref)
        for a_item in self.alliance:
            need_adaptation(f"alliance.{a_item.id}.adaptation", a_item.adaptation)

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

    def _scenario_errors(self) -> list[str]:
        from tailoring.model.scenario import scenario_problems  # imports this module

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
        for index, curve in enumerate(self.expected_change.curves if self.expected_change else []):
            if curve.measure not in roles:
                errors.append(f"expected_change.curves.{index}.measure: unknown {curve.measure!r}")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy without the cached look-ups, which would describe the original."""
        copy = super().model_copy(update=update, deep=deep)
        for name in ("_index", "compared_items"):
            copy.__dict__.pop(name, None)
        return copy

    # Look-ups used across the app, many times per report: an index per group, built once.
    @cached_property
    def _index(self) -> dict[str, dict[str, Any]]:
        groups = {
            "theme": self.themes,
            "preference item": self.preferences,
            "social domain": self.social,
            "alliance item": self.alliance,
            "adaptation": self.adaptations,
            "protocol": self.protocols,
            "scenario": self.scenarios,
            "measure": self.measures,
        }
        return {what: {e.id: e for e in entries} for what, entries in groups.items()}

    def _get(self, what: str, entry_id: str) -> Any:
        try:
            return self._index[what][entry_id]
        except KeyError:
            raise KeyError(f"unknown {what} {entry_id!r}") from None

    def preference(self, item_id: str) -> PreferenceItem:
        return self._get("preference item", item_id)

    def social_domain(self, domain_id: str) -> SocialDomain:
        return self._get("social domain", domain_id)

    def alliance_item(self, item_id: str) -> AllianceItem:
        return self._get("alliance item", item_id)

    def adaptation(self, adaptation_id: str) -> Adaptation:
        return self._get("adaptation", adaptation_id)

    def protocol(self, protocol_id: str) -> Protocol:
        return self._get("protocol", protocol_id)

    def theme(self, theme_id: str) -> Theme:
        return self._get("theme", theme_id)

    def scenario(self, scenario_id: str) -> Scenario:
        return self._get("scenario", scenario_id)

    def measure(self, measure_id: str) -> Measure:
        return self._get("measure", measure_id)

    @cached_property
    def compared_items(self) -> list[PreferenceItem]:
        """Preference items compared with a protocol (allocation items are not)."""
        return [i for i in self.preferences if i.compare != "allocation"]


# Imported last: tailoring/model/coding.py imports ThemeId and Strict from this module.
from tailoring.model.coding import Lexicon  # noqa: E402

# Imported last, as its neighbours are: the patient's wording is checked against this content.
from tailoring.model.patient_content import PatientContent, patient_problems  # noqa: E402
