"""A FHIR Bundle read back into a case, refusing what does not fit our questionnaires.

fhir.resources validates the structure; on top of it we check what it does not: code lists
(statuses, bundle type), that each response answers one of this content's questionnaires at its
current version, that every item has a known linkId in its place, and that every answer has the
type and, for a choice, one of the options its question offers. Each problem names the entry
(index, type and id) and the element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse,
    QuestionnaireResponseItem,
)
from pydantic import ValidationError

from tailoring.engine.outcomes import score_measure
from tailoring.export.fhir.questionnaires import (
    CASE,
    CHECKLISTS,
    SESSION,
    TOTAL,
    QuestionnaireSet,
    option_scores,
    questionnaires,
    resource_id,
)
from tailoring.limits import InputRefused, load_json
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import ItemValue

IMPORTED: Final = ("QuestionnaireResponse", "Observation", "DocumentReference")
BUNDLE_TYPES: Final = (
    "document",
    "message",
    "transaction",
    "transaction-response",
    "batch",
    "batch-response",
    "history",
    "searchset",
    "collection",
)
STATUSES: Final = {
    "QuestionnaireResponse": ("in-progress", "completed", "amended", "entered-in-error", "stopped"),
    "Observation": (
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    ),
    "DocumentReference": ("current", "superseded", "entered-in-error"),
}
# The value[x] element each item type takes in a response.
ANSWER_ELEMENT: Final = {
    "boolean": "valueBoolean",
    "choice": "valueCoding",
    "integer": "valueInteger",
    "date": "valueDate",
    "string": "valueString",
    "text": "valueString",
}
VALUE_ELEMENTS: Final = (
    "valueBoolean",
    "valueDecimal",
    "valueInteger",
    "valueDate",
    "valueDateTime",
    "valueTime",
    "valueString",
    "valueUri",
    "valueAttachment",
    "valueCoding",
    "valueQuantity",
    "valueReference",
)


class FhirError(ValueError):
    """A bundle that cannot be imported; ``problems`` name each resource and element."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class _Response:
    """One response that passed the checks: where it is, what it answers, for which session."""

    label: str
    url: str
    name: str
    resource: QuestionnaireResponse
    session: int | None


@dataclass
class _Reader:
    content: ContentLibrary
    set: QuestionnaireSet
    problems: list[str] = field(default_factory=list)
    responses: list[_Response] = field(default_factory=list)
    observations: list[tuple[str, Observation]] = field(default_factory=list)

    def problem(self, label: str, element: str, message: str) -> None:
        self.problems.append(f"{label}: {element}: {message}" if element else f"{label}: {message}")


def entry_label(index: int, resource: dict[str, Any]) -> str:
    """How a problem names an entry: its place in the bundle, its type and id."""
    kind = resource.get("resourceType", "resource")
    rid = resource.get("id")
    return (
        f"entry[{index}] {kind}/{rid}" if isinstance(rid, str) and rid else f"entry[{index}] {kind}"
    )


def element_path(parts: tuple[Any, ...] | list[Any]) -> str:
    """A pydantic location as a FHIR element path: item[0].answer[1].valueCoding."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _parse(text: str) -> dict[str, Any]:
    try:
        data = load_json(text)
    except InputRefused as exc:
        raise FhirError([str(exc)]) from None
    kind = data.get("resourceType") if isinstance(data, dict) else None
    if kind == "QuestionnaireResponse":
        raise FhirError(
            [
                "resourceType: a QuestionnaireResponse answers one questionnaire, not a whole "
                "case: name the case file and session it belongs to (python -m tailoring fhir "
                "import FILE --case CASE_FILE --session N)"
            ]
        )
    if kind != "Bundle":
        raise FhirError(["resourceType: expected a FHIR Bundle"])
    return data


def _shape_problems(data: dict[str, Any]) -> list[str]:
    """Entries that fhir.resources cannot even look at: no resource, or a type we do not read."""
    problems = []
    if data.get("type") not in BUNDLE_TYPES:
        problems.append(f"Bundle: type: {data.get('type')!r} is not a Bundle type code")
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        return [*problems, "Bundle: entry: expected a list of entries"]
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            problems.append(f"entry[{index}]: resource: missing")
        elif (kind := resource.get("resourceType")) not in IMPORTED:
            problems.append(
                f"{entry_label(index, resource)}: resourceType: {kind!r} is not imported "
                f"(expected {', '.join(IMPORTED)})"
            )
    return problems


def _validated(data: dict[str, Any]) -> Bundle:
    try:
        return Bundle.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = err["loc"]
            message = str(err["msg"]).removeprefix("Value error, ")
            if len(loc) >= 3 and loc[0] == "entry" and loc[2] == "resource":
                label = entry_label(int(loc[1]), data["entry"][int(loc[1])]["resource"])
                problems.append(f"{label}: {element_path(loc[3:]) or '(resource)'}: {message}")
            else:
                problems.append(f"Bundle: {element_path(loc) or '(bundle)'}: {message}")
        raise FhirError(problems) from None


def read_case_bundle(content: ContentLibrary, text: str) -> Case:
    """The case a Bundle (JSON text) holds; FhirError lists every problem found."""
    data = _parse(text)
    problems = _shape_problems(data)
    if problems:
        raise FhirError(problems)
    bundle = _validated(data)
    reader = _Reader(content, questionnaires(content))
    for index, entry in enumerate(bundle.entry or []):
        label = entry_label(index, data["entry"][index]["resource"])
        resource = entry.resource
        assert resource is not None  # _shape_problems refused entries without one
        status = getattr(resource, "status", None)
        kind = resource.get_resource_type()
        if status not in STATUSES[kind]:
            reader.problem(label, "status", f"{status!r} is not a {kind} status code")
            continue
        if status == "entered-in-error":
            reader.problem(label, "status", "entered in error: remove it from the bundle")
            continue
        if isinstance(resource, QuestionnaireResponse):
            _check_response(reader, label, entry.fullUrl or "", resource)
        elif isinstance(resource, Observation):
            reader.observations.append((label, resource))
    if reader.problems:
        raise FhirError(reader.problems)
    return _case(reader)


# Checks of one response ----------------------------------------------------------------------


def _check_response(reader: _Reader, label: str, url: str, response: QuestionnaireResponse) -> None:
    canonical = response.questionnaire
    if not canonical:
        reader.problem(label, "questionnaire", "missing (expected the url|version it answers)")
        return
    base, _, version = canonical.partition("|")
    name = reader.set.name_of(base)
    if name is None:
        elsewhere = other_base(reader.set, base)
        if elsewhere:
            reader.problem(label, "questionnaire", elsewhere)
            return
        known = ", ".join(q["url"] for q in reader.set.by_name.values())
        reader.problem(label, "questionnaire", f"unknown questionnaire {base!r} (known: {known})")
        return
    expected = reader.set.by_name[name]["version"]
    if not version:
        reader.problem(label, "questionnaire", f"no version given (expected {base}|{expected})")
        return
    if version != expected:
        reader.problem(
            label,
            "questionnaire",
            f"unknown version {version!r} of {base}: this content's is {expected!r} (the "
            "questionnaire changed since the bundle was made)",
        )
        return
    session = _session_number(reader, label, name, response)
    before = len(reader.problems)
    definition = reader.set.by_name[name]["item"]
    _check_items(reader, label, name, definition, response.item or [], "")
    if len(reader.problems) == before:
        reader.responses.append(_Response(label, url, name, response, session))


def other_base(set_: QuestionnaireSet, url: str) -> str | None:
    """Why ``url`` is not ours when it names one of our questionnaires under another base."""
    head, _, tail = url.rpartition("/Questionnaire/")
    if not head or tail not in {resource_id(n) for n in set_.by_name}:
        return None
    return (
        f"{url!r} is under the canonical base {head!r}, not ours ({set_.urls.base!r}): "
        "what was made under another base is read under that one (--canonical-base)"
    )


def _session_number(
    reader: _Reader, label: str, name: str, response: QuestionnaireResponse
) -> int | None:
    extension = reader.set.urls.session_number
    numbers = [e for e in response.extension or [] if e.url == extension]
    session_scoped = name not in (*CHECKLISTS, CASE)
    if not numbers:
        if session_scoped:
            reader.problem(label, "extension", f"no session number ({extension})")
        return None
    if name in (CASE, "preferences", "social"):
        reader.problem(label, "extension", "a session number on a response that is not a session's")
        return None
    value = numbers[0].valueInteger
    if len(numbers) > 1 or value is None or value < 1:
        reader.problem(label, "extension", "expected one session number, a whole number from 1")
        return None
    return value


def _check_items(
    reader: _Reader,
    label: str,
    name: str,
    definition: list[dict[str, Any]],
    items: list[QuestionnaireResponseItem],
    path: str,
) -> None:
    """Every item has a known linkId at its level, once, and answers of its question's type."""
    known = {d["linkId"]: d for d in definition}
    seen: set[str] = set()
    for k, item in enumerate(items):
        where = f"{path}item[{k}]"
        if not item.linkId:
            reader.problem(label, f"{where}.linkId", "missing")
            continue
        spec = known.get(item.linkId)
        if spec is None:
            reader.problem(
                label, f"{where}.linkId", f"{item.linkId!r} is not an item here in {name}"
            )
            continue
        if item.linkId in seen:
            reader.problem(label, f"{where}.linkId", f"{item.linkId!r} is repeated")
        seen.add(item.linkId)
        if spec["type"] == "group":
            if item.answer:
                reader.problem(label, f"{where}.answer", "a group takes no answers")
            _check_items(reader, label, name, spec.get("item", []), item.item or [], f"{where}.")
            continue
        if item.item:
            reader.problem(label, f"{where}.item", f"{item.linkId!r} is a question, not a group")
        _check_answers(reader, label, spec, item, where)


def _check_answers(
    reader: _Reader, label: str, spec: dict[str, Any], item: QuestionnaireResponseItem, where: str
) -> None:
    answers = item.answer or []
    if len(answers) > 1 and not spec.get("repeats"):
        reader.problem(
            label, f"{where}.answer", f"{item.linkId!r} takes one answer, not {len(answers)}"
        )
    expected = ANSWER_ELEMENT[spec["type"]]
    options = {
        (o["valueCoding"]["system"], o["valueCoding"]["code"]) for o in spec.get("answerOption", [])
    }
    for j, answer in enumerate(answers):
        at = f"{where}.answer[{j}]"
        given = [e for e in VALUE_ELEMENTS if getattr(answer, e) is not None]
        if given != [expected]:
            got = ", ".join(given) or "no value"
            reader.problem(
                label, at, f"expected {expected} for {spec['type']} item {item.linkId!r}, got {got}"
            )
            continue
        if answer.item:
            reader.problem(label, f"{at}.item", "nested items under an answer are not expected")
        coding = answer.valueCoding
        if (
            expected == "valueCoding"
            and coding is not None
            and (coding.system, coding.code) not in options
        ):
            reader.problem(
                label,
                f"{at}.valueCoding",
                f"{coding.system}#{coding.code} is not an answer option of {item.linkId!r}",
            )


# Building the case -----------------------------------------------------------------------------


def _answers(item: QuestionnaireResponseItem) -> list[Any]:
    """An item's answer values: codes for choices, else the value itself."""
    values: list[Any] = []
    for answer in item.answer or []:
        if answer.valueCoding is not None:
            values.append(answer.valueCoding.code)
        elif answer.valueDate is not None:
            values.append(answer.valueDate.isoformat())
        elif answer.valueInteger is not None:
            values.append(answer.valueInteger)
        elif answer.valueBoolean is not None:
            values.append(answer.valueBoolean)
        else:
            values.append(answer.valueString)
    return values


def _one(item: QuestionnaireResponseItem) -> Any:
    values = _answers(item)
    return values[0] if values else None


def _link_id(item: QuestionnaireResponseItem) -> str:
    """The item's linkId, which every item has once the response passed _check_items."""
    assert item.linkId is not None
    return item.linkId


def _parts(group: QuestionnaireResponseItem) -> dict[str, QuestionnaireResponseItem]:
    """A group's items by the part of their linkId after '<group>.'."""
    return {_link_id(i).removeprefix(f"{group.linkId}."): i for i in group.item or []}


def _preferences(content: ContentLibrary, response: QuestionnaireResponse) -> dict[str, Any]:
    answers = {}
    for group in response.item or []:
        kind = content.preference(_link_id(group)).kind
        entry: dict[str, Any] = {}
        parts = _parts(group)
        if "value" in parts:
            values = _answers(parts["value"])
            if kind == "multi":
                entry["value"] = values
            elif values:
                entry["value"] = int(values[0]) if kind == "scale" else values[0]
        if "importance" in parts and (importance := _one(parts["importance"])) is not None:
            entry["importance"] = int(importance)
        answers[_link_id(group)] = entry
    return answers


def _social(response: QuestionnaireResponse) -> dict[str, Any]:
    answers = {}
    for group in response.item or []:
        parts = _parts(group)
        entry: dict[str, Any] = {
            part: _one(parts[part]) for part in ("present", "maintains", "helping") if part in parts
        }
        if "details" in parts:
            entry["details"] = _answers(parts["details"])
        if "note" in parts and (note := _one(parts["note"])) is not None:
            entry["note"] = note
        answers[_link_id(group)] = entry
    return answers


def _alliance(response: QuestionnaireResponse) -> dict[str, Any]:
    answers = {}
    for item in response.item or []:
        value = _one(item)
        answers[_link_id(item)] = {"value": None if value is None else int(value)}
    return answers


def _measure(reader: _Reader, response: _Response) -> dict[str, ItemValue]:
    """A measure's answers by item id, from a response whose codings are checked options."""
    values = option_scores(reader.set.by_name[response.name])
    answers: dict[str, ItemValue] = {}
    for item in response.resource.item or []:
        link_id = _link_id(item)
        if link_id == TOTAL:
            continue
        coding = item.answer[0].valueCoding if item.answer else None
        if coding is None:
            answers[link_id] = None
            continue
        # _check_items let through only codings that are options, so both parts are there.
        assert coding.system is not None and coding.code is not None
        answers[link_id] = values[link_id][(coding.system, coding.code)]
    return answers


def _given_total(response: QuestionnaireResponse) -> tuple[str, int] | None:
    """Where a response states its total (its ``total`` item) and the total, if it does."""
    for k, item in enumerate(response.item or []):
        if item.linkId == TOTAL and item.answer and item.answer[0].valueInteger is not None:
            return f"item[{k}].answer[0].valueInteger", item.answer[0].valueInteger
    return None


def _by_name(response: QuestionnaireResponse) -> dict[str, Any]:
    return {_link_id(item): _one(item) for item in response.item or []}


Singles = dict[tuple[str, int | None], _Response]


def _one_each(reader: _Reader) -> Singles:
    """The responses by questionnaire and session number: one case, one of each per session."""
    singles: Singles = {}
    for response in reader.responses:
        key = (response.name, response.session)
        if key in singles:
            what = response.name
            if response.session is not None:
                what += f" at session {response.session}"
            first = singles[key].label
            reader.problem(
                response.label,
                "questionnaire",
                f"a second response to {what} ({first} is the first)",
            )
        singles.setdefault(key, response)
    if (CASE, None) not in singles:
        reader.problems.append(f"Bundle: no QuestionnaireResponse answers {reader.set.url(CASE)}")
    sessions = {number for name, number in singles if name == SESSION}
    for (_, number), response in singles.items():
        if number is not None and number not in sessions:
            reader.problem(
                response.label, "extension", f"session {number} has no {SESSION} response"
            )
    return singles


def _case_data(reader: _Reader, singles: Singles) -> tuple[dict[str, Any], dict[str, str]]:
    """The case file data, and the entry each of its parts came from (by case-file path)."""
    case = singles[(CASE, None)]
    facts = _by_name(case.resource)
    facts["protocol_id"] = facts.pop("protocol", None)
    data: dict[str, Any] = {k: v for k, v in facts.items() if v is not None}
    data["answers"] = {}
    origins = {"": case.label}
    readers = {
        "preferences": lambda r: _preferences(reader.content, r),
        "social": _social,
        "alliance": _alliance,
    }
    for section in CHECKLISTS:
        found = singles.get((section, None))
        if found is not None:
            data["answers"][section] = readers[section](found.resource)
            origins[f"answers.{section}"] = found.label
    numbers = sorted(number for name, number in singles if name == SESSION and number is not None)
    data["sessions"] = []
    for index, number in enumerate(numbers):
        found = singles[(SESSION, number)]
        origins[f"sessions.{index}"] = found.label
        facts = {k: v for k, v in _by_name(found.resource).items() if v is not None}
        session: dict[str, Any] = {"number": number, **facts, "measures": {}}
        for (name, at), response in singles.items():
            if at != number or name == SESSION:
                continue
            if name == "alliance":
                session["alliance"] = _alliance(response.resource)
                origins[f"sessions.{index}.alliance"] = response.label
            else:
                session["measures"][name] = _measure(reader, response)
                origins[f"sessions.{index}.measures.{name}"] = response.label
        data["sessions"].append(session)
    return data, origins


def _case(reader: _Reader) -> Case:
    """Assemble the case from the checked responses, then validate it against the content."""
    singles = _one_each(reader)
    _check_totals(reader)
    if reader.problems:
        raise FhirError(reader.problems)
    data, origins = _case_data(reader, singles)
    try:
        return Case.model_validate(data, context={"content": reader.content})
    except ValidationError as exc:
        raise FhirError(_case_problems(exc, origins)) from None


def _check_totals(reader: _Reader) -> None:
    """A measure's response that states its total, and an Observation derived from the
    response, must give the total of its answers."""
    for response in reader.responses:
        if response.name in (*CHECKLISTS, CASE, SESSION):
            continue
        stated = _given_total(response.resource)
        if stated is None:
            continue
        where, given = stated
        measure = reader.content.measure(response.name)
        score = score_measure(measure, _measure(reader, response))
        if given != score.total:
            reader.problem(
                response.label,
                where,
                f"{given} is not the {measure.short_name} total of its answers "
                f"({'incomplete' if score.total is None else score.total})",
            )
    by_url = {r.url: r for r in reader.responses}
    for label, observation in reader.observations:
        for k, derived in enumerate(observation.derivedFrom or []):
            source = by_url.get(derived.reference or "")
            if source is None or source.name in (*CHECKLISTS, CASE, SESSION):
                reader.problem(
                    label, f"derivedFrom[{k}]", "refers to no measure's response in the bundle"
                )
                continue
            measure = reader.content.measure(source.name)
            score = score_measure(measure, _measure(reader, source))
            if observation.valueInteger != score.total:
                reader.problem(
                    label,
                    "valueInteger",
                    f"{observation.valueInteger} is not the {measure.short_name} total of "
                    f"{source.label} ({'incomplete' if score.total is None else score.total})",
                )


def _case_problems(exc: ValidationError, origins: dict[str, str]) -> list[str]:
    """Case validation problems, each led by the entry the field came from."""
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        lines = [f"{loc}: {message}"] if loc else message.split("; ")
        for line in lines:
            field_path = line.split(":", 1)[0]
            origin = max(
                (p for p in origins if field_path == p or field_path.startswith(f"{p}.") or not p),
                key=len,
            )
            problems.append(f"{origins[origin]}: {line}")
    return problems
