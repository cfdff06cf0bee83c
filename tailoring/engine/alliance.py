"""The alliance score: the working relationship's ratings on one 0–100 scale, its rupture signs."""

from __future__ import annotations

from tailoring.model.answers import Answers
from tailoring.model.content import ContentLibrary
from tailoring.model.report import AllianceSummary


def alliance_summary(content: ContentLibrary, answers: Answers) -> AllianceSummary:
    """Alliance score 0–100 from rated items (reversed where a high rating is a weak alliance)."""
    scores = []
    ruptures = []
    for item in content.alliance:
        answer = answers.alliance.get(item.id)
        if answer is None or answer.value is None:
            continue
        if item.kind == "rupture":
            if answer.value > 0:
                ruptures.append(item.title)
            continue
        value = item.max_value - answer.value if item.reverse else answer.value
        scores.append(100 * value / item.max_value)
    ratings = [i for i in content.alliance if i.kind == "rating"]
    return AllianceSummary(
        score=round(sum(scores) / len(scores), 1) if scores else None,
        answered=len(scores),
        total=len(ratings),
        ruptures=ruptures,
    )
