"""Free text coded into the study's themes: suggestions, decisions and the tallies."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tailoring import access
from tailoring.content import content_dir, library
from tailoring.engine.coding import code_text
from tailoring.model.coding import ThemeCode
from tailoring.model.content import ContentLibrary
from tailoring.services.cases import open_case
from tailoring.services.shared import (
    changing,
    content,
    current_actor,
    current_user,
    unit_of_work,
)
from tailoring.storage.patient_questionnaires import (
    CodeDecision,
    CodeDecisionKind,
    OpenAnswer,
)

# Free-text answers coded once per process and content folder: the caseload's themes code every
# patient text on each visit, and the texts rarely change.
THEME_CODE_CACHE = 20_000


@dataclass(frozen=True)
class CodedText:
    """A free-text answer with the themes the coder suggests and what clinicians decided."""

    source: str
    who: str
    label: str
    text: str
    codes: list[ThemeCode]
    decisions: dict[str, CodeDecision]


@lru_cache(maxsize=THEME_CODE_CACHE)
def _theme_codes(directory: Path, text: str) -> tuple[ThemeCode, ...]:
    return tuple(code_text(library(directory).lexicon, text))


def theme_codes(text: str) -> list[ThemeCode]:
    """The themes the content's lexicon suggests for a text, with the words behind each."""
    return list(_theme_codes(content_dir(), text))


def _open_label(answer: OpenAnswer, lib: ContentLibrary) -> str:
    """Which question a free-text answer replies to, on which questionnaire and session."""
    if lib.patient is None:
        return answer.item_key
    try:
        question = lib.patient.open_question(answer.item_key.removeprefix("open.")).question
        title = lib.patient.questionnaire(answer.set_id).title
    except KeyError:
        return answer.item_key
    session = f", session {answer.session_number}" if answer.session_number else ""
    return f"{question} ({title}{session})"


def coded_texts(case_id: int) -> list[CodedText]:
    """Every free-text answer of the case, the patient's and the therapist's, with suggested
    theme codes and the latest decision about each."""
    lib = content()
    with unit_of_work() as uow:
        stored = open_case(case_id)
        patient_texts = uow.patient_questionnaires.open_answers(case_id)
        decisions = uow.patient_questionnaires.code_decisions(case_id)
    texts: list[tuple[str, str, str, str]] = [
        (a.source, "patient", _open_label(a, lib), a.text) for a in patient_texts
    ]
    for domain in lib.social:
        note = stored.case.answers.social.get(domain.id)
        if note is not None and note.note.strip():
            texts.append(
                (f"therapist:social.{domain.id}.note", "therapist", domain.title, note.note)
            )
    for session in stored.case.sessions:
        if session.note.strip():
            texts.append(
                (
                    f"therapist:session.{session.number}.note",
                    "therapist",
                    f"Session {session.number} note",
                    session.note,
                )
            )
    decided: dict[str, dict[str, CodeDecision]] = {}
    for decision in decisions:
        decided.setdefault(decision.source, {})[decision.theme] = decision
    return [
        CodedText(source, who, label, text, theme_codes(text), decided.get(source, {}))
        for source, who, label, text in texts
    ]


def decide_code(case_id: int, source: str, theme: str, decision: CodeDecisionKind) -> CodeDecision:
    """Accept or reject a theme the coder suggests for one of the case's texts, keeping the words
    that suggested it (ValueError if the text has no such suggestion now)."""
    with unit_of_work():
        text = next((t for t in coded_texts(case_id) if t.source == source), None)
        code = next((c for c in text.codes if c.theme == theme), None) if text else None
        if code is None:
            raise ValueError(f"no {theme!r} suggestion for {source!r}: the text may have changed")
        with changing(case_id, f"theme {theme} {decision}") as uow:
            evidence = [e.model_dump() for e in code.evidence]
            return uow.patient_questionnaires.record_code_decision(
                case_id, source, theme, evidence, decision, current_user()
            )


@dataclass(frozen=True)
class ThemeTally:
    """How many patient texts carry a theme: accepted by a clinician, suggested and not yet
    decided, or rejected."""

    theme: str
    title: str
    accepted: int = 0
    undecided: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class FeedbackThemes:
    """The themes of patient feedback across the caseload and per therapist."""

    texts: int
    overall: list[ThemeTally]
    by_therapist: dict[str, list[ThemeTally]]


def patient_feedback_themes(include_archived: bool = False) -> FeedbackThemes:
    """Count the themes of every patient free-text answer on the cases the actor may see.

    A text counts once per theme: as accepted or rejected by the latest decision, else as
    suggested and undecided. A decision stands even if the coder no longer suggests the theme.
    """
    owners = access.visible_owners(current_actor())
    with unit_of_work() as uow:
        answers = uow.patient_questionnaires.open_answers(include_archived=include_archived)
        if owners is not None:
            answers = [a for a in answers if a.therapist in owners]
        case_ids = sorted({a.case_id for a in answers})
        decisions = uow.patient_questionnaires.patient_code_decisions(case_ids)
    decided: dict[tuple[int, str], dict[str, str]] = {}
    for d in decisions:
        decided.setdefault((d.case_id, d.source), {})[d.theme] = d.decision
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for answer in answers:
        by_theme = decided.get((answer.case_id, answer.source), {})
        for theme in {c.theme for c in theme_codes(answer.text)} | set(by_theme):
            state = by_theme.get(theme, "undecided")
            for who in ("", answer.therapist):
                tally = counts.setdefault((who, theme), {})
                tally[state] = tally.get(state, 0) + 1
    titles = {t.id: t.title for t in content().themes}

    def tallies(who: str) -> list[ThemeTally]:
        return [
            ThemeTally(theme, title, **counts[(who, theme)])
            for theme, title in titles.items()
            if (who, theme) in counts
        ]

    by_therapist = {t: tallies(t) for t in sorted({a.therapist for a in answers})}
    return FeedbackThemes(
        texts=len(answers),
        overall=tallies(""),
        by_therapist={t: rows for t, rows in by_therapist.items() if rows},
    )
