"""Invented cases in bulk from a seed: valid answers from the content, for tests and benchmarks.

Hypothesis strategies (tests/strategies.py) explore and shrink; this draws many cases quickly and
reproducibly, including the answers a person leaves half done (a value without an importance, an
importance without a value, an empty choice, details of a domain not marked present).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tailoring.model.case import WALK_STEPS, Case
from tailoring.model.content import ContentLibrary, PreferenceItem

TRI = ["yes", "no", "unsure", None]
# Share of questions answered: cases just opened, half walked through, nearly and fully done.
COMPLETENESS = (0.1, 0.5, 0.8, 0.95)


def random_cases(content: ContentLibrary, n: int, seed: int) -> list[Case]:
    """``n`` valid cases, the same for the same seed; every protocol is planned about equally."""
    rng = np.random.default_rng(seed)
    return [
        Case.model_validate(_case_data(content, rng, i), context={"content": content})
        for i in range(n)
    ]


def full_case(content: ContentLibrary, seed: int = 0) -> Case:
    """A case with every checklist question answered, as after a complete walk-through."""
    rng = np.random.default_rng(seed)
    data = _case_data(content, rng, 0, answered=1.0)
    for answer in data["answers"]["preferences"].values():
        if answer["importance"] is None:
            answer["importance"] = int(rng.integers(0, 4))
    for domain in content.social:
        answer = data["answers"]["social"][domain.id]
        answer["present"] = str(rng.choice(["yes", "no"]))
        if answer["present"] == "no":
            answer["details"] = []
            answer["maintains"] = "no" if answer["maintains"] == "yes" else answer["maintains"]
    return Case.model_validate(data, context={"content": content})


def _case_data(
    content: ContentLibrary, rng: np.random.Generator, i: int, answered: float | None = None
) -> dict[str, Any]:
    if answered is None:
        answered = float(rng.choice(COMPLETENESS))
    preferences = {}
    for item in content.preferences:
        if rng.random() < answered:
            importance = int(rng.integers(-1, 4))
            preferences[item.id] = {
                "value": _value(item, rng, answered),
                "importance": None if importance < 0 else importance,
            }
    social = {}
    for domain in content.social:
        if rng.random() < answered / 2 or answered == 1.0:
            ids = [d.id for d in domain.details]
            picked = rng.random(len(ids)) < 0.3
            present = TRI[rng.integers(len(TRI))]
            maintains = TRI[rng.integers(len(TRI))]
            # "present: no" with details or "keeps it going: yes" is refused as contradictory.
            absent = present == "no"
            social[domain.id] = {
                "present": present,
                "maintains": "unsure" if absent and maintains == "yes" else maintains,
                "helping": TRI[rng.integers(len(TRI))],
                "details": []
                if absent
                else [d for d, keep in zip(ids, picked, strict=True) if keep],
            }
    alliance = {
        item.id: {"value": int(rng.integers(0, item.max_value + 1))}
        for item in content.alliance
        if rng.random() < answered
    }
    return {
        "reference": f"RAND-{i:06d}",
        "protocol_id": content.protocols[rng.integers(len(content.protocols))].id,
        "sessions_available": int(rng.integers(1, 31)),
        "step": WALK_STEPS[rng.integers(len(WALK_STEPS))],
        "answers": {"preferences": preferences, "social": social, "alliance": alliance},
    }


def _value(item: PreferenceItem, rng: np.random.Generator, answered: float) -> Any:
    """A scale point, an option or a subset of options; sometimes left empty."""
    if rng.random() >= answered:
        return [] if item.kind == "multi" else None
    if item.kind == "scale":
        return int(rng.integers(1, 6))
    ids = item.option_ids()
    if item.kind == "choice":
        return ids[rng.integers(len(ids))]
    picked = [o for o in ids if rng.random() < 0.4]
    return picked or [ids[rng.integers(len(ids))]]
