"""Responses to one measure, ours or LOINC's PHQ-9 and GAD-7 as other systems send them, put
onto a session of a case.

A response is read as one of:

- **ours**: it answers one of our measure questionnaires (``<base>/Questionnaire/phq9``…, any
  SDC renderer's output); items are keyed by our item ids;
- **LOINC's form**: its ``questionnaire`` ends in a measure's LOINC panel code (``44249-1``,
  ``69737-5``, e.g. ``http://loinc.org/q/44249-1``), or, whatever it names, its items are keyed
  by the LOINC codes of every item of one measure. A linkId is read by its last ``/`` part, so
  ``44250-9``, ``/44250-9`` and ``/44249-1/44250-9`` are all PHQ-9's first item; groups are
  looked into.

Answers are codings of the item's options (LOINC's answer codes or ours) or their ordinal values
(``valueInteger``, or a whole ``valueDecimal``). A stated total (our ``total`` item, or LOINC's
total code) must be the total of the answers. Anything else is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse,
    QuestionnaireResponseItem,
    QuestionnaireResponseItemAnswer,
)
from pydantic import ValidationError

from tailoring.engine.outcomes import score_measure
from tailoring.export.fhir.questionnaires import (
    LOINC,
    TOTAL,
    QuestionnaireSet,
    measures_in_order,
    option_scores,
    questionnaires,
)
from tailoring.export.fhir.read import (
    STATUSES,
    FhirError,
    element_path,
    entry_label,
    other_base,
)
from tailoring.limits import InputRefused, load_json
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import ItemValue, Measure

RESPONSE: Final = "QuestionnaireResponse"


@dataclass(frozen=True)
class MeasureResponse:
    """One response read as a measure's answers by item id (None: asked, left blank)."""

    label: str
    measure_id: str
    answers: dict[str, ItemValue]
    total: int | None


@dataclass
class _Form:
    """How one response's items are keyed, and the answers each item accepts."""

    measure: Measure
    ours: bool
    # item id -> (system, code) -> value; a system of None matches a coding without one.
    codings: dict[str, dict[tuple[str | None, str], ItemValue]] = field(default_factory=dict)

    def item_id(self, link_id: str) -> str | None:
        """Our item id for a linkId, TOTAL for the total, else None."""
        if self.ours:
            return link_id if link_id in self.codings or link_id == TOTAL else None
        code = link_id.rsplit("/", 1)[-1]
        codes = self.measure.loinc
        if codes is not None and code == codes.total:
            return TOTAL
        return next((i.id for i in self.measure.items if i.loinc == code), None)

    def skipped(self, link_id: str) -> bool:
        """A question of LOINC's panel that the measure does not record."""
        codes = self.measure.loinc
        return (
            not self.ours and codes is not None and link_id.rsplit("/", 1)[-1] in codes.not_recorded
        )


def read_measure_responses(content: ContentLibrary, text: str) -> list[MeasureResponse]:
    """Each response of a QuestionnaireResponse or a Bundle of them (JSON text) as a measure's
    answers; FhirError lists every problem, each naming the response and the element."""
    try:
        data = load_json(text)
    except InputRefused as exc:
        raise FhirError([str(exc)]) from None
    resources = _resources(data)
    set_ = questionnaires(content)
    problems: list[str] = []
    read = []
    for label, resource in resources:
        try:
            response = QuestionnaireResponse.model_validate(resource)
        except ValidationError as exc:
            problems.extend(
                f"{label}: {element_path(e['loc']) or '(resource)'}: "
                f"{str(e['msg']).removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            continue
        found = _read(content, set_, label, response)
        if isinstance(found, list):
            problems.extend(found)
        else:
            read.append(found)
    if problems:
        raise FhirError(problems)
    return read


def _resources(data: Any) -> list[tuple[str, dict[str, Any]]]:
    """The responses in the file, each with how problems name it."""
    kind = data.get("resourceType") if isinstance(data, dict) else None
    if kind == RESPONSE:
        rid = data.get("id")
        return [(f"{RESPONSE}/{rid}" if isinstance(rid, str) and rid else RESPONSE, data)]
    if kind != "Bundle":
        raise FhirError([f"resourceType: expected a {RESPONSE} or a Bundle of them"])
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        raise FhirError([f"Bundle: entry: expected a list of {RESPONSE}s"])
    found, problems = [], []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            problems.append(f"entry[{index}]: resource: missing")
        elif resource.get("resourceType") != RESPONSE:
            problems.append(
                f"{entry_label(index, resource)}: resourceType: only {RESPONSE}s are read "
                "onto a session (a whole case is imported without --case)"
            )
        else:
            found.append((entry_label(index, resource), resource))
    if problems:
        raise FhirError(problems)
    return found


def _read(
    content: ContentLibrary, set_: QuestionnaireSet, label: str, response: QuestionnaireResponse
) -> MeasureResponse | list[str]:
    """The response's answers, or the problems found."""
    status = response.status
    if status not in STATUSES[RESPONSE]:
        return [f"{label}: status: {status!r} is not a {RESPONSE} status code"]
    if status == "entered-in-error":
        return [f"{label}: status: entered in error: it is not read"]
    form = _form(content, set_, label, response)
    if isinstance(form, list):
        return form
    problems: list[str] = []
    answers: dict[str, ItemValue] = {}
    total: tuple[str, int] | None = None
    for where, item in _items(form, label, response.item or [], "", problems):
        item_id = form.item_id(item.linkId or "")
        if item_id is None:
            continue
        if item_id == TOTAL:
            total = _total(label, where, item, problems) or total
            continue
        if item_id in answers:
            problems.append(f"{label}: {where}.linkId: {item.linkId!r} is answered twice")
            continue
        answers[item_id] = _answer(form, label, where, item_id, item, problems)
    if problems:
        return problems
    measure = form.measure
    score = score_measure(measure, answers)
    if total is not None and score.total is not None and total[1] != score.total:
        return [
            f"{label}: {total[0]}: {total[1]} is not the {measure.short_name} total of its "
            f"answers ({score.total})"
        ]
    return MeasureResponse(label, measure.id, answers, score.total)


def _form(
    content: ContentLibrary, set_: QuestionnaireSet, label: str, response: QuestionnaireResponse
) -> _Form | list[str]:
    """Which measure the response answers and how its items are keyed, or why it is refused."""
    canonical = response.questionnaire or ""
    base, _, version = canonical.partition("|")
    name = set_.name_of(base)
    if name is not None:
        if name not in {m.id for m in content.measures}:
            return [
                f"{label}: questionnaire: it answers our {name!r} questionnaire, not a "
                "measure: import it in a case Bundle (without --case)"
            ]
        expected = set_.by_name[name]["version"]
        if version and version != expected:
            return [
                f"{label}: questionnaire: unknown version {version!r} of {base}: this "
                f"content's is {expected!r} (the questionnaire changed since it was answered)"
            ]
        return _with_codings(content, set_, content.measure(name), ours=True)
    panel = base.rsplit("/", 1)[-1]
    for measure in content.measures:
        if measure.loinc is not None and panel == measure.loinc.panel:
            return _with_codings(content, set_, measure, ours=False)
    by_items = _measure_by_items(content, response)
    if by_items is not None:
        return _with_codings(content, set_, by_items, ours=False)
    elsewhere = other_base(set_, base)
    if elsewhere:
        return [f"{label}: questionnaire: {elsewhere}"]
    measures = measures_in_order(content)
    loinc_forms = ", ".join(
        f"{m.short_name} ({m.loinc.panel})" for m in measures if m.loinc is not None
    )
    known = (
        f"we read LOINC's {loinc_forms} and our measures at "
        f"{set_.urls.questionnaire('<measure>')} ({', '.join(m.id for m in measures)})"
    )
    if not canonical:
        return [
            f"{label}: questionnaire: none named, and the items are not keyed by the LOINC "
            f"codes of every item of one measure: {known}"
        ]
    return [
        f"{label}: questionnaire: {canonical!r} is not a form we read, and the items are not "
        f"keyed by the LOINC codes of every item of one measure: {known}"
    ]


def _measure_by_items(content: ContentLibrary, response: QuestionnaireResponse) -> Measure | None:
    """The one measure whose every item's LOINC code keys an item of the response."""
    keys = {(item.linkId or "").rsplit("/", 1)[-1] for item in _all_items(response.item or [])}
    matches = [
        m for m in content.measures if m.loinc is not None and all(i.loinc in keys for i in m.items)
    ]
    return matches[0] if len(matches) == 1 else None


def _all_items(items: list[QuestionnaireResponseItem]) -> Iterator[QuestionnaireResponseItem]:
    for item in items:
        yield item
        yield from _all_items(item.item or [])


def _with_codings(
    content: ContentLibrary, set_: QuestionnaireSet, measure: Measure, ours: bool
) -> _Form:
    """The form with each item's accepted codings: its options (LOINC's answer codes, or ours,
    and "not applicable"), and the other LOINC answer codes its content file lists."""
    form = _Form(measure, ours)
    for item_id, scores in option_scores(set_.by_name[measure.id]).items():
        codings: dict[tuple[str | None, str], ItemValue] = dict(scores.items())
        for code, points in measure.item(item_id).other_loinc_answers.items():
            codings[(LOINC, code)] = points
        for (system, code), value in list(codings.items()):
            if system == LOINC:
                # Some systems leave out the system of a LOINC answer code; "LA…" is LOINC's.
                codings[(None, code)] = value
        form.codings[item_id] = codings
    return form


def _items(
    form: _Form,
    label: str,
    items: list[QuestionnaireResponseItem],
    path: str,
    problems: list[str],
) -> Iterator[tuple[str, QuestionnaireResponseItem]]:
    """The items that answer something, with where they are; groups are looked into, questions
    the measure does not record are passed over, and unknown ones are problems (via ``form``)."""
    for k, item in enumerate(items):
        where = f"{path}item[{k}]"
        link_id = item.linkId or ""
        if form.skipped(link_id):
            continue
        if form.item_id(link_id) is not None:
            if item.item:
                problems.append(f"{label}: {where}.item: {link_id!r} is a question, not a group")
            yield where, item
        elif item.item and not item.answer:
            yield from _items(form, label, item.item, f"{where}.", problems)
        else:
            problems.append(f"{label}: {where}.linkId: {link_id!r} is {_not_a_question(form)}")


def _not_a_question(form: _Form) -> str:
    measure = form.measure
    if form.ours:
        return f"not an item of our {measure.id} questionnaire"
    codes = ", ".join(str(i.loinc) for i in measure.items)
    return f"not a question of LOINC's {measure.short_name} ({codes})"


def _answer(
    form: _Form,
    label: str,
    where: str,
    item_id: str,
    item: QuestionnaireResponseItem,
    problems: list[str],
) -> ItemValue:
    """The item's value: an option's coding or ordinal value; None when left blank."""
    answers = item.answer or []
    if len(answers) > 1:
        problems.append(f"{label}: {where}.answer: {item.linkId!r} takes one answer")
        return None
    if not answers:
        return None
    answer = answers[0]
    at = f"{label}: {where}.answer[0]"
    codings = form.codings[item_id]
    if answer.valueCoding is not None:
        coding = answer.valueCoding
        key = (coding.system, coding.code or "")
        if key in codings:
            return codings[key]
        offered = ", ".join(f"{s}#{c}" for s, c in codings if s is not None)
        problems.append(
            f"{at}.valueCoding: {coding.system}#{coding.code} is not an answer of "
            f"{item.linkId!r} (expected one of {offered})"
        )
        return None
    number = _number(answer)
    scores = {v for v in codings.values() if isinstance(v, int)}
    if number is None:
        problems.append(
            f"{at}: expected valueCoding or an ordinal value (valueInteger) for {item.linkId!r}"
        )
    elif number not in scores:
        problems.append(f"{at}: {number} is not the ordinal value of an answer of {item.linkId!r}")
    else:
        return int(number)
    return None


def _number(answer: QuestionnaireResponseItemAnswer) -> float | None:
    """An answer given as a number: valueInteger, valueDecimal or a valueQuantity's value."""
    if answer.valueInteger is not None:
        return answer.valueInteger
    if answer.valueDecimal is not None:
        return float(answer.valueDecimal)
    if answer.valueQuantity is not None and answer.valueQuantity.value is not None:
        return float(answer.valueQuantity.value)
    return None


def _total(
    label: str, where: str, item: QuestionnaireResponseItem, problems: list[str]
) -> tuple[str, int] | None:
    """The total the response states, with where it states it."""
    if not item.answer:
        return None
    number = _number(item.answer[0])
    if number is None or number != int(number):
        problems.append(f"{label}: {where}.answer[0]: a total is a whole number")
        return None
    return f"{where}.answer[0]", int(number)


def add_to_session(
    content: ContentLibrary, case: Case, session_number: int, responses: list[MeasureResponse]
) -> Case:
    """The case with the responses' answers as its session's measures; FhirError says why not
    (no such session, two responses to one measure, other answers already recorded)."""
    numbers = [s.number for s in case.sessions]
    if session_number not in numbers:
        held = ", ".join(map(str, numbers)) or "none"
        raise FhirError([f"session {session_number}: not in case {case.reference} ({held})"])
    index = numbers.index(session_number)
    session = case.sessions[index]
    problems = []
    seen: dict[str, str] = {}
    for response in responses:
        measure = content.measure(response.measure_id)
        if response.measure_id in seen:
            problems.append(
                f"{response.label}: a second {measure.short_name} response "
                f"({seen[response.measure_id]} is the first)"
            )
            continue
        seen[response.measure_id] = response.label
        recorded = session.measures.get(response.measure_id)
        if recorded is not None and recorded != response.answers:
            problems.append(
                f"{response.label}: session {session_number} already has other "
                f"{measure.short_name} answers: remove them from the case file to replace them"
            )
    if problems:
        raise FhirError(problems)
    data = case.model_dump(mode="json")
    for response in responses:
        data["sessions"][index]["measures"][response.measure_id] = response.answers
    try:
        return Case.model_validate(data, context={"content": content})
    except ValidationError as exc:
        raise FhirError(
            [
                f"{'.'.join(map(str, e['loc'])) or 'case'}: "
                f"{str(e['msg']).removeprefix('Value error, ')}"
                for e in exc.errors()
            ]
        ) from None
