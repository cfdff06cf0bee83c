"""A case as a FHIR R4B collection Bundle: QuestionnaireResponses, total scores, the fit report.

Layout, in order: the fit report (DocumentReference with a narrative and the report attached as
HTML and JSON), the case facts (QuestionnaireResponse to ``case``), the three checklists, then per
session its facts (``session``), each measure answered followed by its total as an Observation,
and its alliance check. Session responses carry the session number as the extension
``Canonical.session_number``. No Patient resource: the pseudonymous reference is the only
identifier.
"""

from __future__ import annotations

import base64
import datetime
import html
import uuid
from typing import Any, Final

from tailoring.engine.outcomes import score_measure
from tailoring.export.fhir.questionnaires import (
    CASE,
    SESSION,
    TOTAL,
    QuestionnaireSet,
    measure_code,
    measures_in_order,
    option_score,
    questionnaires,
)
from tailoring.export.report_json import report_json
from tailoring.export.text import contraindication_words, fit_value
from tailoring.model.answers import AllianceAnswer, PreferenceAnswer, SocialAnswer
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import ItemValue
from tailoring.model.report import FitReport, MeasureChange
from tailoring.model.session import Session

SURVEY: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
    "code": "survey",
    "display": "Survey",
}
XHTML: Final = "http://www.w3.org/1999/xhtml"
DISCLAIMER: Final = (
    "Supports clinical judgement; it does not assess risk or make a diagnosis. "
    "Contains no patient identifiers."
)


def full_url(base: str, reference: str, resource_id: str) -> str:
    """A name-based UUID of our base, the case reference and the resource id: the same case
    gives the same bundle, and two cases never share one."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, base)
    return f"urn:uuid:{uuid.uuid5(namespace, f'{reference}/{resource_id}')}"


class _Writer:
    """Builds the responses of one case, taking each answer's coding from its questionnaire."""

    def __init__(self, content: ContentLibrary, case: Case) -> None:
        self.content = content
        self.case = case
        self.set: QuestionnaireSet = questionnaires(content)
        self.items = {name: _index(q["item"]) for name, q in self.set.by_name.items()}
        self.entries: list[dict[str, Any]] = []

    def add(self, resource: dict[str, Any]) -> str:
        url = full_url(self.set.urls.base, self.case.reference, resource["id"])
        self.entries.append({"fullUrl": url, "resource": resource})
        return url

    def item(self, name: str, link_id: str, answers: list[dict[str, Any]] | None = None) -> dict:
        """A response item with the question's text; no ``answers`` is a question left blank."""
        item: dict[str, Any] = {"linkId": link_id, "text": self.items[name][link_id]["text"]}
        if answers:
            item["answer"] = answers
        return item

    def coded(self, name: str, link_id: str, codes: list[str]) -> dict:
        options = {
            o["valueCoding"]["code"]: o["valueCoding"]
            for o in self.items[name][link_id]["answerOption"]
        }
        return self.item(name, link_id, [{"valueCoding": options[c]} for c in codes])

    def scored(self, name: str, link_id: str, value: ItemValue) -> dict:
        """A measure item: the option whose ordinal value is the score, or "not applicable"."""
        for option in self.items[name][link_id]["answerOption"]:
            if option_score(option) == value:
                return self.item(name, link_id, [{"valueCoding": option["valueCoding"]}])
        raise ValueError(f"{value!r} is not an answer of {name} {link_id}")

    def response(
        self,
        resource_id: str,
        name: str,
        items: list[dict[str, Any]],
        complete: bool,
        session: Session | None = None,
    ) -> dict[str, Any]:
        response: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "id": resource_id}
        if session is not None:
            response["extension"] = [
                {"url": self.set.urls.session_number, "valueInteger": session.number}
            ]
        response["questionnaire"] = self.set.canonical(name)
        response["status"] = "completed" if complete else "in-progress"
        if session is not None:
            response["authored"] = session.date.isoformat()
        if items:
            response["item"] = items
        return response

    # The case and its checklists -------------------------------------------------------------

    def case_facts(self) -> None:
        case = self.case
        items = [
            self.item(CASE, "reference", [{"valueString": case.reference}]),
            self.item(CASE, "therapist", [{"valueString": case.therapist}]),
            self.coded(CASE, "protocol", [case.protocol_id]),
            *(
                self.coded(CASE, name, [value]) if value is not None else self.item(CASE, name)
                for name, value in (
                    ("problem", case.problem),
                    ("second_problem", case.second_problem),
                )
            ),
            self.item(CASE, "low_intensity_chosen", [{"valueBoolean": case.low_intensity_chosen}]),
            self.item(CASE, "sessions_available", [{"valueInteger": case.sessions_available}]),
            self.coded(CASE, "anxiety_measure", [case.anxiety_measure]),
            self.coded(CASE, "step", [case.step]),
            self.coded(CASE, "status", [case.status]),
            self.item(CASE, "referral_date", _date(case.referral_date)),
            self.item(CASE, "ending_date", _date(case.ending_date)),
            self.coded(CASE, "ending_reason", [case.ending_reason] if case.ending_reason else []),
        ]
        self.add(self.response("case", CASE, items, complete=True))

    def checklists(self, done: dict[str, tuple[int, int]]) -> None:
        """The three checklists, each completed once all its questions are answered (``done``)."""
        answers = self.case.answers
        items = {
            "preferences": [
                self.group("preferences", i.id, self.preference(i.id, answers.preferences[i.id]))
                for i in self.content.preferences
                if i.id in answers.preferences
            ],
            "social": [
                self.group("social", d.id, self.domain(d.id, answers.social[d.id]))
                for d in self.content.social
                if d.id in answers.social
            ],
            "alliance": self.alliance_items(answers.alliance),
        }
        for name, section in items.items():
            answered, total = done[name]
            self.add(self.response(name, name, section, complete=answered == total))

    def preference(self, item_id: str, answer: PreferenceAnswer) -> list[dict[str, Any]]:
        parts = []
        value = answer.value
        if value is not None:
            codes = [str(v) for v in value] if isinstance(value, list) else [str(value)]
            parts.append(self.coded("preferences", f"{item_id}.value", codes))
        if answer.importance is not None:
            parts.append(
                self.coded("preferences", f"{item_id}.importance", [str(answer.importance)])
            )
        return parts

    def domain(self, domain_id: str, answer: SocialAnswer) -> list[dict[str, Any]]:
        parts = []
        for part in ("present", "maintains", "helping"):
            value = getattr(answer, part)
            if value is not None:
                parts.append(self.coded("social", f"{domain_id}.{part}", [value]))
        if answer.details:
            parts.append(self.coded("social", f"{domain_id}.details", answer.details))
        if answer.note:
            parts.append(self.item("social", f"{domain_id}.note", [{"valueString": answer.note}]))
        return parts

    def group(self, name: str, link_id: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
        group = self.item(name, link_id)
        if parts:
            group["item"] = parts
        return group

    def alliance_items(self, answers: dict[str, AllianceAnswer]) -> list[dict[str, Any]]:
        return [
            self.item("alliance", item.id)
            if answers[item.id].value is None
            else self.coded("alliance", item.id, [str(answers[item.id].value)])
            for item in self.content.alliance
            if item.id in answers
        ]

    # Sessions ----------------------------------------------------------------------------------

    def session(self, session: Session) -> None:
        prefix = f"session-{session.number}"
        items = [
            self.item(SESSION, "date", [{"valueDate": session.date.isoformat()}]),
            self.coded(SESSION, "attendance", [session.attendance]),
            self.coded(SESSION, "kind", [session.kind]),
        ]
        if session.note:
            items.append(self.item(SESSION, "note", [{"valueString": session.note}]))
        self.add(self.response(prefix, SESSION, items, complete=True, session=session))
        for measure in measures_in_order(self.content):
            if measure.id in session.measures:
                self.measure(prefix, session, measure.id, session.measures[measure.id])
        if session.alliance:
            complete = all(
                (a := session.alliance.get(i.id)) is not None and a.value is not None
                for i in self.content.alliance
            )
            items = self.alliance_items(session.alliance)
            response = self.response(f"{prefix}-alliance", "alliance", items, complete, session)
            self.add(response)

    def measure(
        self, prefix: str, session: Session, measure_id: str, answers: dict[str, ItemValue]
    ) -> None:
        measure = self.content.measure(measure_id)
        items = [
            self.item(measure_id, item.id)
            if answers[item.id] is None
            else self.scored(measure_id, item.id, answers[item.id])
            for item in measure.items
            if item.id in answers
        ]
        score = score_measure(measure, answers)
        if score.total is not None:
            items.append(self.item(measure_id, TOTAL, [{"valueInteger": score.total}]))
        resource_id = f"{prefix}-{measure_id.replace('_', '-')}"
        url = self.add(self.response(resource_id, measure_id, items, score.complete, session))
        if score.total is None:
            return
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"{resource_id}-total",
            "status": "final",
            "category": [{"coding": [SURVEY]}],
            "code": {
                "coding": [measure_code(self.set.urls, measure, total=True)],
                "text": f"{measure.short_name} total",
            },
            "effectiveDateTime": session.date.isoformat(),
            "valueInteger": score.total,
        }
        if score.band:
            observation["interpretation"] = [{"text": score.band}]
        observation["derivedFrom"] = [{"reference": url}]
        self.add(observation)


def _date(value: datetime.date | None) -> list[dict[str, Any]]:
    """A date answer, or none for a date not recorded."""
    return [] if value is None else [{"valueDate": value.isoformat()}]


def _index(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every item of a questionnaire by linkId, nested ones included."""
    index = {}
    for item in items:
        index[item["linkId"]] = item
        index.update(_index(item.get("item", [])))
    return index


def case_bundle(
    content: ContentLibrary, case: Case, report: FitReport, generated_at: datetime.datetime
) -> dict[str, Any]:
    """The case as a collection Bundle (JSON-ready dict), led by its fit report."""
    writer = _Writer(content, case)
    writer.add(fit_report_document(report, generated_at, writer.set.urls.code_system("documents")))
    writer.case_facts()
    writer.checklists(report.completeness.by_section)
    for session in case.sessions:
        writer.session(session)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": generated_at.isoformat(timespec="seconds"),
        "entry": writer.entries,
    }


# The fit report --------------------------------------------------------------------------------


def fit_report_document(
    report: FitReport, generated_at: datetime.datetime, documents: str
) -> dict[str, Any]:
    """The fit report as a DocumentReference: a narrative to read, the report as HTML and JSON;
    ``documents`` is our code system of document types."""
    div = fit_report_narrative(report)
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Fit report '
        f"{html.escape(report.case_reference)}</title></head><body>{div}</body></html>"
    )
    return {
        "resourceType": "DocumentReference",
        "id": "fit-report",
        "text": {"status": "generated", "div": div},
        "status": "current",
        "type": {
            "coding": [{"system": documents, "code": "fit-report", "display": "Fit report"}],
            "text": "Fit report",
        },
        "date": generated_at.isoformat(timespec="seconds"),
        "description": (
            f"Fit report of case {report.case_reference} with {report.protocol_name}, "
            f"content {report.content_version}"
        ),
        "content": [
            _attachment("text/html", page, "Fit report (summary)"),
            _attachment("application/json", report_json(report), "Fit report (fit-report/1 JSON)"),
        ],
    }


def _attachment(content_type: str, text: str, title: str) -> dict[str, Any]:
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return {
        "attachment": {
            "contentType": f"{content_type}; charset=utf-8",
            "language": "en",
            "data": data,
            "title": title,
        }
    }


def _change_words(change: MeasureChange) -> str:
    if change.first is None:
        return f"{change.short_name}: no score yet"
    words = f"{change.short_name}: {change.first} ({change.first_band}) at session "
    words += f"{change.first_session}"
    if change.change is None:
        return words
    words += f", {change.last} ({change.last_band}) at session {change.last_session}"
    if change.reliable_drop:
        return f"{words}: a reliable drop"
    if change.reliable_rise:
        return f"{words}: a reliable rise"
    return f"{words}: change {change.change:+d}"


def fit_report_narrative(report: FitReport) -> str:
    """A short XHTML summary of the report (every text escaped), for FHIR narratives."""

    def esc(text: object) -> str:
        return html.escape(str(text), quote=True)

    fit = fit_value(report, "not enough answers")
    ruled_out = contraindication_words(report)
    capped = " (capped by a demand the patient cannot meet)" if report.capped else ""
    done = report.completeness
    parts = [
        f'<div xmlns="{XHTML}">',
        f"<h3>Fit report · {esc(report.case_reference)}</h3>",
        *([f"<p><b>{esc(ruled_out)}</b></p>"] if ruled_out else []),
        "<p>",
        f"<b>Planned protocol:</b> {esc(report.protocol_name)}; "
        f"{report.sessions_available} sessions available.<br/>",
        f"<b>Overall fit:</b> {esc(fit)}{capped}.<br/>",
        f"<b>Answered:</b> {done.percent}% of the checklist "
        f"({done.answered} of {done.total}).<br/>",
        f"<b>Content version:</b> {esc(report.content_version)}",
        "</p>",
        f"<h4>Flags ({len(report.flags)})</h4>",
    ]
    if report.flags:
        parts.append("<ul>")
        parts.extend(
            f"<li><b>{esc(f.severity.capitalize())}</b> · {esc(f.title)} "
            f"({esc(f.theme_title)})</li>"
            for f in report.flags
        )
        parts.append("</ul>")
    else:
        parts.append("<p>No flags raised.</p>")
    if report.outcomes is not None:
        outcomes = report.outcomes
        changes = [outcomes.depression, outcomes.anxiety]
        if outcomes.functioning is not None:
            changes.append(outcomes.functioning)
        parts.append("<h4>Outcomes</h4><ul>")
        parts.extend(f"<li>{esc(_change_words(c))}</li>" for c in changes)
        parts.append(
            f"<li>Attended treatment sessions: {outcomes.treatment_sessions_attended}; "
            f"reliable improvement: {esc(outcomes.reliable_improvement.replace('_', ' '))}; "
            f"recovery: {esc(outcomes.recovery.replace('_', ' '))}</li></ul>"
        )
    if report.session_plan:
        parts.append("<h4>Session plan</h4><ol>")
        parts.extend(f"<li>{esc(a.title)}</li>" for a in report.session_plan)
        parts.append("</ol>")
    parts.append(f"<p><i>{esc(DISCLAIMER)}</i></p></div>")
    return "".join(parts)
