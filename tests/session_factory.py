"""Invented sessions for tests: measures at a chosen total, and random courses from a seed.

Random courses drift up or down from a per-case level, so first-to-last changes cross the
reliable-change and caseness thresholds often; some measures are partial, some missing, some
sessions missed, cancelled, assessments or follow-ups.
"""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tailoring.content import CONTENT_DIR, load_content
from tailoring.model.case import ENDING_REASONS, Case
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import Measure
from tests.case_factory import random_cases

START = datetime.date(2026, 1, 5)
KINDS = ["assessment", "assessment_and_treatment", "treatment", "follow_up"]
ATTENDANCE = ["attended", "did_not_attend", "cancelled"]


def answers_for(measure: Measure, total: int) -> dict[str, int]:
    """Item answers that add up to ``total``, filling items from the first one up."""
    if not measure.min_total <= total <= measure.max_total:
        raise ValueError(f"{total} is outside {measure.short_name}")
    answers = {}
    left = total
    for item in measure.items:
        value = min(left, measure.max_value)
        answers[item.id] = value
        left -= value
    return answers


def session(
    content: ContentLibrary,
    number: int,
    *,
    phq9: int | None = None,
    anxiety: int | None = None,
    anxiety_measure: str = "gad7",
    kind: str = "treatment",
    attendance: str = "attended",
    alliance: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One session as case-file data, with measures at the given totals."""
    measures = {}
    if phq9 is not None:
        measures["phq9"] = answers_for(content.measure("phq9"), phq9)
    if anxiety is not None:
        measures[anxiety_measure] = answers_for(content.measure(anxiety_measure), anxiety)
    return {
        "number": number,
        "date": str(START + datetime.timedelta(weeks=number)),
        "attendance": attendance,
        "kind": kind,
        "measures": measures,
        "alliance": {k: {"value": v} for k, v in (alliance or {}).items()},
    }


def case_with_sessions(
    content: ContentLibrary,
    sessions: list[dict[str, Any]],
    protocol_id: str = "cbt_depression",
    anxiety_measure: str = "gad7",
    ending: str | None = None,
    **answers: Any,
) -> Case:
    """A validated case with the given sessions and walk-through answers.

    ``ending`` is an ending reason: the referral then ends on the day of its last session.
    """
    ended = {}
    if ending is not None:
        last = sessions[-1]["date"] if sessions else str(START)
        ended = {"ending_date": last, "ending_reason": ending}
    return Case.model_validate(
        {
            "reference": "SESS-001",
            "protocol_id": protocol_id,
            "sessions_available": 16,
            "anxiety_measure": anxiety_measure,
            "answers": answers,
            "sessions": sessions,
            **ended,
        },
        context={"content": content},
    )


def random_course(
    content: ContentLibrary, rng: np.random.Generator, anxiety_measure: str = "gad7"
) -> list[dict[str, Any]]:
    """Up to twelve sessions with drifting, sometimes partial or missing, measures."""
    measures = [
        content.measure(content.tracking.depression_measure),
        content.measure(anxiety_measure),
    ]
    if content.tracking.functioning_measure:
        measures.append(content.measure(content.tracking.functioning_measure))
    level = rng.random()
    slope = rng.normal(0, 0.08)
    number = 0
    sessions = []
    for k in range(int(rng.integers(0, 13))):
        number += int(rng.integers(1, 3))
        first_kind = "assessment_and_treatment" if rng.random() < 0.2 else "assessment"
        kind = KINDS[rng.choice(4, p=[0.10, 0.05, 0.75, 0.10])] if k else first_kind
        p = float(np.clip(level + slope * k, 0, 1))
        answers: dict[str, dict[str, Any]] = {}
        for measure in measures:
            if rng.random() < 0.2:
                continue
            values: dict[str, Any] = {
                i.id: int(rng.binomial(measure.max_value, p)) for i in measure.items
            }
            for item in measure.items:
                if item.not_applicable and rng.random() < 0.2:
                    values[item.id] = "na"
            if rng.random() < 0.1:
                gone = rng.choice(
                    list(values), size=int(rng.integers(1, len(values))), replace=False
                )
                for item_id in gone:
                    if rng.random() < 0.5:
                        values[str(item_id)] = None
                    else:
                        del values[str(item_id)]
            answers[measure.id] = values
        sessions.append(
            {
                "number": number,
                "date": str(START + datetime.timedelta(weeks=number)),
                "attendance": ATTENDANCE[rng.choice(3, p=[0.75, 0.15, 0.10])],
                "kind": kind,
                "measures": answers,
                "alliance": {
                    i.id: {"value": int(rng.integers(0, i.max_value + 1))}
                    for i in content.alliance
                    if rng.random() < 0.6
                },
            }
        )
    return sessions


def random_cases_with_sessions(
    content: ContentLibrary, n: int, seed: int, anxiety_measures: tuple[str, ...] = ("gad7",)
) -> list[Case]:
    """``n`` valid cases with random courses, the same for the same seed."""
    rng = np.random.default_rng(seed)
    cases = []
    for case in random_cases(content, n, seed):
        anxiety = anxiety_measures[int(rng.integers(len(anxiety_measures)))]
        data = case.model_dump(mode="json")
        data["anxiety_measure"] = anxiety
        data["sessions"] = random_course(content, rng, anxiety)
        if data["sessions"] and rng.random() < 0.6:
            data["ending_date"] = data["sessions"][-1]["date"]
            data["ending_reason"] = str(rng.choice(ENDING_REASONS))
        cases.append(Case.model_validate(data, context={"content": content}))
    return cases


# An anxiety-disorder-specific measure, invented for tests: 5 items 0–4, caseness 12, change 5.
ADSM = {
    "id": "adsm",
    "name": "An anxiety-disorder-specific measure (invented for tests)",
    "short_name": "ADSM",
    "role": "anxiety",
    "measures": "Invented.",
    "source": "Invented.",
    "question": "How much?",
    "options": [{"value": v, "label": str(v)} for v in range(5)],
    "items": [{"id": f"adsm_{n}", "text": f"Item {n}"} for n in range(1, 6)],
    "bands": [{"min": 0, "max": 11, "label": "Low"}, {"min": 12, "max": 20, "label": "High"}],
    "caseness": 12,
    "reliable_change": 5,
}


def content_with_adsm(tmp_path: Path) -> ContentLibrary:
    """Our content plus the invented ADSM, as a service would add its own anxiety measure."""
    directory = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, directory)
    (directory / "measures" / "adsm.yaml").write_text(yaml.safe_dump(ADSM), encoding="utf-8")
    return load_content(directory)
