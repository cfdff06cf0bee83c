"""Grades a trainee's attempt at a teaching scenario against its reference answers and flags.

Rules (documented here because trainees and their supervisors read the marks):
- Items. Every checklist item the reference answers is graded; an item only the attempt answers
  is not (it can still raise an extra flag). An item the attempt leaves unanswered is "missing".
  - Scale preference: exact on the same point, close one point apart, far otherwise.
  - Choice preference: exact on the same option, far otherwise.
  - Multi-choice preference: exact on the same set, close when the overlap is at least half of
    the union (Jaccard ≥ 0.5), far otherwise.
  - Importance, when the reference rates it: exact when equal, close one apart, far otherwise,
    missing when the attempt leaves it out.
  - Social domain: exact when present, keeps-going and helping all match; close when only
    "present" matches; far otherwise. Details are not graded here: those that matter raise flags.
  - Alliance item: exact when equal, close one apart, far otherwise.
  Scores: exact 1, close 0.5, far and missing 0. A preference whose reference rates importance
  scores 3/4 on its value and 1/4 on its importance. The item score is 100 × the mean.
- Flags. The engine runs on the attempt's answers against the scenario's protocol and sessions:
  the protocol and sessions written in the attempt file are ignored, because the scenario sets
  the plan and the trainee judges its fit. Its flag ids are compared with the reference flags:
  found, missed, extra. Precision = found / raised, recall = found / expected. "No flag" is a
  right answer: with none expected and none raised, both are 1. With flags expected and none
  raised, both are 0; with none expected and some raised, precision is 0 and recall 1.
  The flag score is 100 × F1 (the harmonic mean of precision and recall; 0 when both are 0).
- Mark: 50% item score + 50% flag score, rounded to one decimal.
- Feedback: the flags found, by name; one entry per missed flag (the reference's teaching
  rationale and the flag's theme) and per extra flag (the engine's explanation and theme), each
  naming the items behind the flag where the attempt's answer differs from the reference; when
  those agree (the overall alliance flag depends on every rating), the other items of the same
  section that differ.
- A scenario whose reference flags no longer match what the engine raises on its reference
  answers (content edited since) is refused with ValueError; validate-content reports it.
"""

from __future__ import annotations

from typing import Literal

from tailoring.engine.assess import protocol_fit
from tailoring.engine.describe import alliance_trigger, preference_trigger, social_trigger
from tailoring.model.answers import (
    SECTIONS,
    AllianceAnswer,
    Answers,
    PreferenceAnswer,
    Section,
    SocialAnswer,
)
from tailoring.model.case import Case
from tailoring.model.content import AllianceItem, ContentLibrary, PreferenceItem, SocialDomain
from tailoring.model.grade import (
    AGREEMENTS,
    Agreement,
    FlagAgreement,
    FlagFeedback,
    FoundFlag,
    Grade,
    ItemGrade,
)
from tailoring.model.report import Flag
from tailoring.model.scenario import Scenario

SCORES: dict[Agreement, float] = {"exact": 1.0, "close": 0.5, "far": 0.0, "missing": 0.0}
VALUE_SHARE = 0.75
ITEM_SHARE = 0.5
CLOSE_JACCARD = 0.5
# The checklist section each kind of flag comes from (flag ids: pref.*, social.*, demand.*, ...).
FLAG_SECTIONS: dict[str, Section] = {
    "pref": "preferences",
    "social": "social",
    "demand": "social",
    "alliance": "alliance",
}


def grade(content: ContentLibrary, scenario: Scenario, attempt: Case) -> Grade:
    """The grade of an attempt; ValueError when the scenario is out of date with the content."""
    reference = {f.id: f for f in scenario_flags(content, scenario, scenario.reference)}
    problems = _listing_problems(scenario, set(reference))
    if problems:
        raise ValueError(f"scenario {scenario.id!r} is out of date: " + "; ".join(problems))
    raised = {f.id: f for f in scenario_flags(content, scenario, attempt.answers)}
    items = item_grades(content, scenario.reference, attempt.answers)
    flags = flag_agreement(set(reference), set(raised))
    item_score = round(100 * sum(i.score for i in items) / len(items), 1) if items else 100.0
    flag_score = round(100 * flags.f1, 1)
    answers = (scenario.reference, attempt.answers)
    feedback = [
        _feedback(content, reference[i], "missed", scenario.rationale(i), *answers)
        for i in flags.missed
    ] + [
        _feedback(content, raised[i], "extra", raised[i].explanation, *answers) for i in flags.extra
    ]
    return Grade(
        scenario_id=scenario.id,
        scenario_title=scenario.title,
        protocol_id=scenario.protocol_id,
        sessions_available=scenario.sessions_available,
        mark=round(ITEM_SHARE * item_score + (1 - ITEM_SHARE) * flag_score, 1),
        item_score=item_score,
        flag_score=flag_score,
        counts={a: sum(i.agreement == a for i in items) for a in AGREEMENTS},
        items=items,
        flags=flags,
        feedback=feedback,
        found_themes={i: reference[i].theme for i in flags.found},
        found=[
            FoundFlag(
                flag_id=i,
                severity=reference[i].severity,
                theme_title=reference[i].theme_title,
                title=reference[i].title,
            )
            for i in flags.found
        ],
    )


# A scenario's assessment has no real date; one fixed date keeps grading reproducible.
ASSESSMENT_DATE = "2026-01-05"


def scenario_case(scenario: Scenario, answers: Answers) -> Case:
    """A case of the scenario's plan (protocol, problem, sessions, assessment measures) with the
    given answers."""
    return Case.model_validate(
        {
            "reference": f"SCEN-{scenario.id}",
            "protocol_id": scenario.protocol_id,
            "problem": scenario.problem,
            "second_problem": scenario.second_problem,
            "sessions_available": scenario.sessions_available,
            "answers": answers,
            "sessions": [
                {
                    "number": 1,
                    "date": ASSESSMENT_DATE,
                    "attendance": "attended",
                    "kind": "assessment",
                    "measures": scenario.assessment,
                }
            ]
            if scenario.assessment
            else [],
        }
    )


def scenario_flags(content: ContentLibrary, scenario: Scenario, answers: Answers) -> list[Flag]:
    """The flags the engine raises for these answers against the scenario's plan."""
    protocol = content.protocol(scenario.protocol_id)
    return protocol_fit(content, scenario_case(scenario, answers), protocol).flags


def reference_flag_problems(content: ContentLibrary, scenario: Scenario) -> list[str]:
    """How the reference flags differ from what the engine raises on the reference answers."""
    return _listing_problems(
        scenario, {f.id for f in scenario_flags(content, scenario, scenario.reference)}
    )


def _listing_problems(scenario: Scenario, raised: set[str]) -> list[str]:
    listed = scenario.flag_ids()
    return [
        *(
            f"reference_flags: the engine raises {i!r} on the reference answers; list it"
            for i in sorted(raised - listed)
        ),
        *(
            f"reference_flags: {i!r} is listed, but the engine does not raise it on the "
            "reference answers"
            for i in sorted(listed - raised)
        ),
    ]


def flag_agreement(expected: set[str], raised: set[str]) -> FlagAgreement:
    """Found, missed and extra flag ids with precision, recall and F1 (see the module rules)."""
    found = expected & raised
    precision = len(found) / len(raised) if raised else float(not expected)
    recall = len(found) / len(expected) if expected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return FlagAgreement(
        found=sorted(found),
        missed=sorted(expected - raised),
        extra=sorted(raised - expected),
        precision=round(precision, 3),
        recall=round(recall, 3),
        f1=round(f1, 3),
    )


def item_grades(content: ContentLibrary, reference: Answers, attempt: Answers) -> list[ItemGrade]:
    """One grade per checklist item the reference answers, in checklist order."""
    grades = []
    for item in content.preferences:
        ref = reference.preferences.get(item.id)
        if ref is None or _empty(ref.value):
            continue
        got = attempt.preferences.get(item.id)
        value = _preference_agreement(item, ref, got)
        importance: Agreement | None = None
        score = SCORES[value]
        if ref.importance is not None:
            importance = (
                "missing"
                if value == "missing" or got is None or got.importance is None
                else _by_distance(abs(ref.importance - got.importance))
            )
            score = VALUE_SHARE * score + (1 - VALUE_SHARE) * SCORES[importance]
        grades.append(
            _item(content, "preferences", item.id, value, score, reference, attempt, importance)
        )
    for domain in content.social:
        ref_s = reference.social.get(domain.id)
        if ref_s is None or ref_s.present is None:
            continue
        agreement = _social_agreement(ref_s, attempt.social.get(domain.id))
        grades.append(
            _item(content, "social", domain.id, agreement, SCORES[agreement], reference, attempt)
        )
    for a_item in content.alliance:
        ref_a = reference.alliance.get(a_item.id)
        if ref_a is None or ref_a.value is None:
            continue
        got_a = attempt.alliance.get(a_item.id)
        agreement = (
            "missing"
            if got_a is None or got_a.value is None
            else _by_distance(abs(ref_a.value - got_a.value))
        )
        grades.append(
            _item(content, "alliance", a_item.id, agreement, SCORES[agreement], reference, attempt)
        )
    return grades


def _empty(value: int | str | list[str] | None) -> bool:
    return value is None or value == []


def _by_distance(distance: int) -> Agreement:
    return "exact" if distance == 0 else ("close" if distance == 1 else "far")


def _preference_agreement(
    item: PreferenceItem, ref: PreferenceAnswer, got: PreferenceAnswer | None
) -> Agreement:
    if got is None or _empty(got.value):
        return "missing"
    if item.kind == "scale":
        assert isinstance(ref.value, int) and isinstance(got.value, int)
        return _by_distance(abs(ref.value - got.value))
    if item.kind == "choice":
        return "exact" if ref.value == got.value else "far"
    assert isinstance(ref.value, list) and isinstance(got.value, list)
    wanted, chosen = set(ref.value), set(got.value)
    if wanted == chosen:
        return "exact"
    return "close" if len(wanted & chosen) / len(wanted | chosen) >= CLOSE_JACCARD else "far"


def _social_agreement(ref: SocialAnswer, got: SocialAnswer | None) -> Agreement:
    if got is None or got.present is None:
        return "missing"
    if (ref.present, ref.maintains, ref.helping) == (got.present, got.maintains, got.helping):
        return "exact"
    return "close" if ref.present == got.present else "far"


def _item(
    content: ContentLibrary,
    section: Section,
    item_id: str,
    agreement: Agreement,
    score: float,
    reference: Answers,
    attempt: Answers,
    importance: Agreement | None = None,
) -> ItemGrade:
    entry = _entry(content, section, item_id)
    return ItemGrade(
        section=section,
        item_id=item_id,
        title=entry.title,
        theme=entry.theme,
        agreement=agreement,
        importance=importance,
        score=round(score, 3),
        reference=answer_text(content, section, item_id, reference),
        attempt=answer_text(content, section, item_id, attempt),
    )


def answer_text(content: ContentLibrary, section: Section, item_id: str, answers: Answers) -> str:
    """An answer in the words the fit report uses, or "not answered"."""
    if section == "preferences":
        pref = answers.preferences.get(item_id)
        if pref is None or (_empty(pref.value) and pref.importance is None):
            return "not answered"
        return preference_trigger(content, content.preference(item_id), pref).answer
    if section == "social":
        social = answers.social.get(item_id)
        if social is None or social.present is None:
            return "not answered"
        return social_trigger(content.social_domain(item_id), social).answer
    alliance = answers.alliance.get(item_id) or AllianceAnswer()
    return alliance_trigger(content.alliance_item(item_id), alliance).answer


def _entry(
    content: ContentLibrary, section: str, item_id: str
) -> PreferenceItem | SocialDomain | AllianceItem:
    if section == "preferences":
        return content.preference(item_id)
    if section == "social":
        return content.social_domain(item_id)
    return content.alliance_item(item_id)


def _entries(
    content: ContentLibrary, section: Section
) -> list[PreferenceItem] | list[SocialDomain] | list[AllianceItem]:
    if section == "preferences":
        return content.preferences
    if section == "social":
        return content.social
    return content.alliance


def _differences(
    content: ContentLibrary,
    items: list[tuple[Section, str]],
    reference: Answers,
    attempt: Answers,
) -> list[tuple[str, str]]:
    """("section.item_id", a sentence) for each of the items the attempt answers differently."""
    differences = []
    for section, item_id in items:
        ref_text = answer_text(content, section, item_id, reference)
        got_text = answer_text(content, section, item_id, attempt)
        if ref_text != got_text:
            title = _entry(content, section, item_id).title
            yours = (
                "you left it unanswered"
                if got_text == "not answered"
                else f'you answered "{got_text}"'
            )
            differences.append(
                (f"{section}.{item_id}", f'{title}: the reference answers "{ref_text}", {yours}')
            )
    return differences


def _feedback(
    content: ContentLibrary,
    flag: Flag,
    outcome: Literal["missed", "extra"],
    explanation: str,
    reference: Answers,
    attempt: Answers,
) -> FlagFeedback:
    # The case's own figures (its protocol, its sessions) are the scenario's, never the trainee's.
    behind = [(t.section, t.item_id) for t in flag.triggers if t.section in SECTIONS]
    differing = _differences(content, behind, reference, attempt)
    lead = (
        "Your answers do not raise it because they differ from the reference."
        if outcome == "missed"
        else "Not expected, because the reference answers differ."
    )
    section = FLAG_SECTIONS.get(flag.id.partition(".")[0])
    if not differing and section is not None:
        # A flag can also depend on answers beyond its triggers (the overall alliance score
        # depends on every rating): point to what differs in the same section.
        items = [(section, entry.id) for entry in _entries(content, section)]
        differing = _differences(content, items, reference, attempt)
        lead = (
            "The answers behind this flag agree with the reference, but it also depends on "
            "other answers in the same section, and these differ."
        )
    details = ". ".join(text for _, text in differing)
    why = f"{lead} {details}." if differing else "Your answers and the reference agree here."
    return FlagFeedback(
        flag_id=flag.id,
        outcome=outcome,
        severity=flag.severity,
        theme=flag.theme,
        theme_title=flag.theme_title,
        title=flag.title,
        explanation=explanation,
        differing_items=[key for key, _ in differing],
        why=why,
    )


def theme_scores(result: Grade) -> dict[str, float]:
    """Per theme, the share (0–100) of the attempt's graded items and reference flags it got right.

    An item counts its score (exact 1, close 0.5); a reference flag counts 1 when found, 0 when
    missed; an extra flag counts 0 against its theme. Themes with nothing graded are left out.
    """
    earned: dict[str, float] = {}
    possible: dict[str, float] = {}
    for item in result.items:
        earned[item.theme] = earned.get(item.theme, 0.0) + item.score
        possible[item.theme] = possible.get(item.theme, 0.0) + 1
    for entry in result.feedback:
        possible[entry.theme] = possible.get(entry.theme, 0.0) + 1
    for theme in result.found_themes.values():
        earned[theme] = earned.get(theme, 0.0) + 1
        possible[theme] = possible.get(theme, 0.0) + 1
    return {t: round(100 * earned.get(t, 0.0) / n, 1) for t, n in possible.items() if n}
