"""FHIR R4B Questionnaires generated from the content, with canonical urls and content versions.

Every questionnaire lives at ``<base>/Questionnaire/<name>``, the base being the content's
(content/fhir.yaml): ``preferences``, ``social`` and ``alliance`` (the checklists), one per measure
(``phq9``, ``gad7``, ``wsas``…), and two of our own that carry what is not a checklist answer:
``case`` (reference, therapist, plan) and ``session`` (date, attendance, kind, note). Its
``version`` is a hash of the questionnaire itself, so it changes whenever anything in it changes
and only then. A measure's items and answers carry LOINC codes where its content file gives them,
and a ``total`` item that an SDC renderer computes itself. docs/fhir.md describes the linkIds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from tailoring.model.answers import SocialAnswer
from tailoring.model.case import ENDING_REASONS, WALK_STEPS
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import MEASURE_ROLES, NOT_APPLICABLE, ItemValue, Measure
from tailoring.model.session import ATTENDANCES, SESSION_KINDS

LOINC: Final = "http://loinc.org"
ORDINAL_VALUE: Final = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
CALCULATED_EXPRESSION: Final = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
)
# The linkId of a measure's total: never an item's, whose ids start with "<measure>_".
TOTAL: Final = "total"

CHECKLISTS: Final = ("preferences", "social", "alliance")
CASE, SESSION = "case", "session"
RESERVED: Final = frozenset({*CHECKLISTS, CASE, SESSION})
TRI_LABELS: Final = {"yes": "Yes", "no": "No", "unsure": "Not sure"}
CASE_STATUSES: Final = ("active", "archived")
IMPORTANCE_QUESTION: Final = "How much does this matter to the patient?"
DETAILS_QUESTION: Final = "Which of these apply?"
NOTE_QUESTION: Final = "Note (no names or identifiers)"


@dataclass(frozen=True)
class Canonical:
    """Our canonical urls, all under one base (content/fhir.yaml, or a command's own)."""

    base: str

    def questionnaire(self, name: str) -> str:
        """The canonical url of a questionnaire: the base, then Questionnaire/ and its id."""
        return f"{self.base}/Questionnaire/{resource_id(name)}"

    def code_system(self, *parts: str) -> str:
        """The url of one of our code systems, e.g. CodeSystem/preferences/structure."""
        return f"{self.base}/CodeSystem/{'/'.join(parts)}"

    @property
    def session_number(self) -> str:
        """The extension that carries a session response's session number."""
        return f"{self.base}/StructureDefinition/session-number"

    @property
    def measure_codes(self) -> str:
        """Our code system of measures (and their totals) that have no LOINC code."""
        return self.code_system("measures")


def resource_id(name: str) -> str:
    """A content id as a FHIR id, which allows letters, digits, '-' and '.' but not '_'."""
    return name.replace("_", "-")


def _words(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"system": system, "code": code, "display": display}


def _option(coding: dict[str, Any], ordinal: int | None = None) -> dict[str, Any]:
    option: dict[str, Any] = {"valueCoding": coding}
    if ordinal is not None:
        option["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": ordinal}]
    return option


def _choice(
    link_id: str, text: str, options: list[dict[str, Any]], repeats: bool = False
) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": link_id, "text": text, "type": "choice"}
    if repeats:
        item["repeats"] = True
    item["answerOption"] = options
    return item


def _numbered(system: str, labels: list[str], first: int = 0) -> list[dict[str, Any]]:
    """Options whose codes are the points of a scale ("0", "1"…), each with its ordinal value."""
    return [
        _option(_coding(system, str(value), label), value)
        for value, label in enumerate(labels, start=first)
    ]


def _named(system: str, names: dict[str, str]) -> list[dict[str, Any]]:
    return [_option(_coding(system, code, label)) for code, label in names.items()]


def canonical(content: ContentLibrary) -> Canonical:
    return Canonical(content.fhir.canonical_base)


def _questionnaire(
    content: ContentLibrary,
    name: str,
    title: str,
    description: str,
    items: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """A Questionnaire with its version set to the hash of everything else in it."""
    questionnaire = {
        "resourceType": "Questionnaire",
        "id": resource_id(name),
        "url": canonical(content).questionnaire(name),
        "name": "".join(part.capitalize() for part in name.split("_")),
        "title": title,
        "status": "active",
        "publisher": content.fhir.publisher,
        "description": description,
        **extra,
        "item": items,
    }
    digest = hashlib.sha256(
        json.dumps(questionnaire, sort_keys=True, ensure_ascii=False).encode("utf-8")
    ).hexdigest()
    ordered = {}
    for key, value in questionnaire.items():
        ordered[key] = value
        if key == "url":
            # Right after the url, so a reader sees url and version together.
            ordered["version"] = digest[:12]
    return ordered


def _preferences(content: ContentLibrary) -> dict[str, Any]:
    code_system = canonical(content).code_system
    importance = _numbered(code_system("importance"), content.importance_labels)
    groups = []
    for item in content.preferences:
        system = code_system("preferences", item.id)
        if item.kind == "scale":
            options = _numbered(system, item.labels or [], first=1)
        else:
            options = _named(system, {o.id: o.label for o in item.options or []})
        groups.append(
            {
                "linkId": item.id,
                "text": item.title,
                "type": "group",
                "item": [
                    _choice(f"{item.id}.value", item.question, options, item.kind == "multi"),
                    _choice(f"{item.id}.importance", IMPORTANCE_QUESTION, importance),
                ],
            }
        )
    return _questionnaire(
        content,
        "preferences",
        "Treatment preferences",
        "What the patient wants from therapy, and how much each preference matters.",
        groups,
    )


def _social(content: ContentLibrary) -> dict[str, Any]:
    code_system = canonical(content).code_system
    tri = _named(code_system("yes-no-unsure"), TRI_LABELS)
    fields = SocialAnswer.model_fields
    groups = []
    for domain in content.social:
        parts = [
            _choice(f"{domain.id}.present", domain.question, tri),
            _choice(f"{domain.id}.maintains", str(fields["maintains"].description), tri),
            _choice(f"{domain.id}.helping", str(fields["helping"].description), tri),
        ]
        if domain.details:
            details = {d.id: d.label for d in domain.details}
            system = code_system("social", domain.id)
            parts.append(
                _choice(f"{domain.id}.details", DETAILS_QUESTION, _named(system, details), True)
            )
        parts.append({"linkId": f"{domain.id}.note", "text": NOTE_QUESTION, "type": "text"})
        groups.append({"linkId": domain.id, "text": domain.title, "type": "group", "item": parts})
    return _questionnaire(
        content,
        "social",
        "Social context",
        "Areas of the patient's life that can keep the difficulties going or block a protocol.",
        groups,
    )


def _alliance(content: ContentLibrary) -> dict[str, Any]:
    code_system = canonical(content).code_system
    items = [
        _choice(item.id, item.question, _numbered(code_system("alliance", item.id), item.labels))
        for item in content.alliance
    ]
    return _questionnaire(
        content,
        "alliance",
        "Alliance check",
        "The therapist's check of the working alliance, drawing on what the patient has said "
        "or shown: ratings 0–4 and rupture signs 0–2.",
        items,
    )


def measure_code(canon: Canonical, measure: Measure, total: bool = False) -> dict[str, Any]:
    """LOINC's code of the measure (panel) or of its total, else a code of our own."""
    if measure.loinc is not None:
        # No display: a reader takes LOINC's own, and ours would not match it word for word.
        return {"system": LOINC, "code": measure.loinc.total if total else measure.loinc.panel}
    if total:
        return _coding(canon.measure_codes, f"{measure.id}.total", f"{measure.name} total score")
    return _coding(canon.measure_codes, measure.id, measure.name)


def _measure_options(canon: Canonical, measure: Measure) -> list[dict[str, Any]]:
    """The scored answer options of a measure: LOINC's answer codes where the content gives
    them, else codes of our own ("0", "1"…); each with its ordinal value, the score."""
    system = canon.code_system(measure.id)
    return [
        _option(
            _coding(LOINC, o.loinc, o.label) if o.loinc else _coding(system, str(o.value), o.label),
            o.value,
        )
        for o in measure.options
    ]


def option_score(option: dict[str, Any]) -> ItemValue:
    """What a measure's answer option scores: its ordinal value, else "not applicable"."""
    for extension in option.get("extension", []):
        if extension["url"] == ORDINAL_VALUE:
            return int(extension["valueDecimal"])
    return NOT_APPLICABLE


def option_scores(questionnaire: dict[str, Any]) -> dict[str, dict[tuple[str, str], ItemValue]]:
    """Per item of a measure's questionnaire, what each answer option scores, by its
    (system, code)."""
    return {
        item["linkId"]: {
            (o["valueCoding"]["system"], o["valueCoding"]["code"]): option_score(o)
            for o in item["answerOption"]
        }
        for item in questionnaire["item"]
        if item["linkId"] != TOTAL
    }


def total_expression(measure: Measure) -> str:
    """FHIRPath for the total: the sum of the answers' ordinal values once every item is
    answered, else nothing, as our own scoring (tailoring.engine.outcomes.score_measure).
    "Not applicable" adds nothing; it is left out before ``weight()``, which would otherwise
    look for its score in a terminology server (fhirpath.js does, and fails)."""
    items = f"%resource.item.where(linkId in ({' | '.join(repr(i.id) for i in measure.items)}))"
    values = f"{items}.answer.value"
    if any(i.not_applicable for i in measure.items):
        values += f".where(code != {NOT_APPLICABLE!r})"
    return f"iif({items}.answer.count() = {len(measure.items)}, {values}.weight().sum(), {{}})"


def _total_item(canon: Canonical, measure: Measure) -> dict[str, Any]:
    """The total score, read-only, computed by an SDC renderer from the answers."""
    return {
        "extension": [
            {
                "url": CALCULATED_EXPRESSION,
                "valueExpression": {
                    "description": f"{measure.short_name} total score",
                    "language": "text/fhirpath",
                    "expression": total_expression(measure),
                },
            }
        ],
        "linkId": TOTAL,
        "code": [measure_code(canon, measure, total=True)],
        "text": f"{measure.short_name} total score",
        "type": "integer",
        "readOnly": True,
    }


def _measure(content: ContentLibrary, measure: Measure) -> dict[str, Any]:
    canon = canonical(content)
    scored = _measure_options(canon, measure)
    items = []
    for item in measure.items:
        options = list(scored)
        if item.not_applicable:
            na = _coding(canon.code_system(measure.id), NOT_APPLICABLE, item.not_applicable)
            options.append(_option(na))
        entry = _choice(item.id, item.text, options)
        if item.loinc:
            entry = {"linkId": item.id, "code": [{"system": LOINC, "code": item.loinc}]} | entry
        items.append(entry)
    items.append(_total_item(canon, measure))
    return _questionnaire(
        content,
        measure.id,
        measure.name,
        measure.question,
        items,
        purpose=measure.measures,
        copyright=measure.source,
        code=[measure_code(canon, measure)],
    )


def measures_in_order(content: ContentLibrary) -> list[Measure]:
    """The measures as sessions show them: depression, anxiety, then functioning."""
    return sorted(content.measures, key=lambda m: MEASURE_ROLES.index(m.role))


def _case(content: ContentLibrary) -> dict[str, Any]:
    canon = canonical(content)
    code_system = canon.code_system
    protocols = {p.id: p.name for p in content.protocols}
    anxiety = {m.id: m.name for m in content.measures if m.role == "anxiety"}
    problems = _named(code_system("problems"), {p.id: p.title for p in content.problems})
    items = [
        {"linkId": "reference", "text": "Case reference (pseudonymous)", "type": "string"},
        {"linkId": "therapist", "text": "Therapist (staff name or code)", "type": "string"},
        _choice("protocol", "Planned protocol", _named(code_system("protocols"), protocols)),
        _choice("problem", "Presenting problem (provisional)", problems),
        _choice("second_problem", "Second presenting problem", problems),
        {
            "linkId": "low_intensity_chosen",
            "text": "The patient chose low intensity after discussing a step up",
            "type": "boolean",
        },
        {"linkId": "sessions_available", "text": "Sessions available", "type": "integer"},
        _choice(
            "anxiety_measure",
            "Anxiety measure of the outcomes",
            _named(canon.measure_codes, anxiety),
        ),
        _choice(
            "step",
            "Walk-through step",
            _named(code_system("steps"), {s: _words(s) for s in WALK_STEPS}),
        ),
        _choice(
            "status",
            "Case status",
            _named(code_system("case-status"), {s: _words(s) for s in CASE_STATUSES}),
        ),
        {"linkId": "referral_date", "text": "Referral received", "type": "date"},
        {"linkId": "ending_date", "text": "Referral ended", "type": "date"},
        _choice(
            "ending_reason",
            "Why the referral ended",
            _named(code_system("ending-reason"), {r: _words(r) for r in ENDING_REASONS}),
        ),
    ]
    return _questionnaire(
        content,
        CASE,
        "Case",
        "The facts of a case that are not checklist answers: its pseudonymous reference, the "
        "therapist, the planned protocol and the walk-through's state.",
        items,
    )


def _session(content: ContentLibrary) -> dict[str, Any]:
    canon = canonical(content)
    items = [
        {"linkId": "date", "text": "Date", "type": "date"},
        _choice(
            "attendance",
            "Attendance",
            _named(canon.code_system("attendance"), {a: _words(a) for a in ATTENDANCES}),
        ),
        _choice(
            "kind",
            "Kind of session",
            _named(canon.code_system("session-kind"), {k: _words(k) for k in SESSION_KINDS}),
        ),
        {"linkId": "note", "text": NOTE_QUESTION, "type": "text"},
    ]
    return _questionnaire(
        content,
        SESSION,
        "Session",
        "One session of a case: its date, attendance, kind and note. The session number is "
        f"the extension {canon.session_number} on this and on the session's other responses.",
        items,
    )


@dataclass(frozen=True)
class QuestionnaireSet:
    """The content's questionnaires by name (checklists, measures, case and session)."""

    by_name: dict[str, dict[str, Any]]
    urls: Canonical

    def url(self, name: str) -> str:
        return self.by_name[name]["url"]

    def canonical(self, name: str) -> str:
        """``url|version``, as a QuestionnaireResponse refers to the questionnaire it answers."""
        questionnaire = self.by_name[name]
        return f"{questionnaire['url']}|{questionnaire['version']}"

    def name_of(self, url: str) -> str | None:
        return next((n for n, q in self.by_name.items() if q["url"] == url), None)


def questionnaires(content: ContentLibrary) -> QuestionnaireSet:
    """Every questionnaire of the content: checklists, then measures, then case and session."""
    clashes = sorted(m.id for m in content.measures if m.id in RESERVED)
    if clashes:
        raise ValueError(f"measures {clashes} clash with the names of our own questionnaires")
    measures = measures_in_order(content)
    built = [
        _preferences(content),
        _social(content),
        _alliance(content),
        *(_measure(content, m) for m in measures),
        _case(content),
        _session(content),
    ]
    names = [*CHECKLISTS, *(m.id for m in measures), CASE, SESSION]
    return QuestionnaireSet(dict(zip(names, built, strict=True)), canonical(content))
