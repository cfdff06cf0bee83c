"""Trainee practice: teaching scenarios, attempts at them, grades and progress."""

from __future__ import annotations

from typing import Any

from tailoring import access
from tailoring.engine.grading import grade, reference_flag_problems, scenario_case, theme_scores
from tailoring.export.tables import csv_text
from tailoring.model.answers import Answers
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.grade import Grade
from tailoring.model.scenario import Scenario
from tailoring.services.shared import (
    CaseFileError,
    content,
    current_actor,
    guard,
    unit_of_work,
    validated_case,
)
from tailoring.storage.cases import AttemptSummary
from tailoring.storage.errors import ReferenceTaken


def scenarios() -> list[Scenario]:
    """The teaching scenarios, in file-name order."""
    return content().scenarios


def scenario(scenario_id: str) -> Scenario:
    """One teaching scenario; KeyError naming the id when there is none."""
    return content().scenario(scenario_id)


def grade_attempt(scenario_id: str, case: Case) -> Grade:
    """Grade a trainee's answers (a case) against a scenario's reference answers and flags."""
    return grade(content(), scenario(scenario_id), case)


def scenario_flag_problems(lib: ContentLibrary) -> list[str]:
    """Scenarios whose reference flags no longer match what the engine raises, by file."""
    return [
        f"scenarios/{s.id}.yaml: {problem}"
        for s in lib.scenarios
        for problem in reference_flag_problems(lib, s)
    ]


def start_attempt(scenario_id: str) -> int:
    """A new, empty attempt at a scenario, kept apart from real cases."""
    actor = current_actor()
    access.require(actor, "attempt.create", actor.username, "attempt")
    chosen = scenario(scenario_id)
    with unit_of_work() as uow:
        number = len(uow.cases.list_attempts(scenario_id)) + 1
    while True:
        attempt = validated_case(
            {
                "reference": f"T{number}-{chosen.id}"[:32],
                "protocol_id": chosen.protocol_id,
                "problem": chosen.problem,
                "second_problem": chosen.second_problem,
                "sessions_available": chosen.sessions_available,
                # The scenario's assessment measures, so the trainee's report reads the severity
                # the grading reads.
                "sessions": [
                    s.model_dump(mode="json") for s in scenario_case(chosen, Answers()).sessions
                ],
                **({} if actor.local else {"therapist": actor.username}),
            }
        )
        try:
            # A unit of work for each try: a refused insert spoils the transaction it is in.
            with unit_of_work() as uow:
                return uow.cases.create(attempt, kind="attempt", scenario_id=chosen.id)
        except ReferenceTaken:
            number += 1


def submit_attempt(attempt_id: int) -> Grade:
    """Grade an attempt against its scenario's reference and keep the grade."""
    with unit_of_work() as uow:
        guard("case.edit", attempt_id)
        stored = uow.cases.get(attempt_id)
        if stored.kind != "attempt" or stored.scenario_id is None:
            raise CaseFileError(["this is a real case, not a practice attempt"])
        result = grade_attempt(stored.scenario_id, stored.case)
        uow.cases.save_grade(attempt_id, result)
        return result


def attempts(scenario_id: str | None = None) -> list[AttemptSummary]:
    """The practice attempts the current actor may see, newest first (never real cases)."""
    with unit_of_work() as uow:
        listed = uow.cases.list_attempts(scenario_id)
    owners = access.visible_owners(current_actor(), "attempt")
    return listed if owners is None else [a for a in listed if a.therapist in owners]


def attempt_grade(attempt_id: int) -> Grade | None:
    with unit_of_work() as uow:
        guard("case.view", attempt_id)
        return uow.cases.grade(attempt_id)


def practice_progress() -> list[dict[str, Any]]:
    """One row per graded attempt, oldest first: marks and the score on each theme."""
    lib = content()
    rows = []
    with unit_of_work():
        graded = [(summary, attempt_grade(summary.id)) for summary in reversed(attempts())]
    for summary, result in graded:
        if result is None or summary.graded_at is None:
            continue
        scores = theme_scores(result)
        rows.append(
            {
                "attempt": summary.reference,
                "scenario": result.scenario_title,
                "graded": summary.graded_at.strftime("%Y-%m-%d %H:%M"),
                "mark": result.mark,
                "items": result.item_score,
                "flags": result.flag_score,
                "precision": round(result.flags.precision, 2),
                "recall": round(result.flags.recall, 2),
                **{lib.theme(t).title: scores.get(t) for t in (th.id for th in lib.themes)},
            }
        )
    return rows


def progress_csv(rows: list[dict[str, Any]]) -> str:
    return csv_text(rows)
