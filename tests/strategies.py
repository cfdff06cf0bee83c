"""Hypothesis strategies that draw valid cases from the content library."""

from __future__ import annotations

from hypothesis import strategies as st

from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary, PreferenceItem

importances = st.one_of(st.none(), st.integers(0, 3))
tri = st.one_of(st.none(), st.sampled_from(["yes", "no", "unsure"]))


def preference_value(item: PreferenceItem) -> st.SearchStrategy:
    if item.kind == "scale":
        return st.integers(1, 5)
    ids = item.option_ids()
    if item.kind == "choice":
        return st.sampled_from(ids)
    return st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True)


@st.composite
def answers(draw: st.DrawFn, content: ContentLibrary) -> dict:
    preferences = {}
    for item in content.preferences:
        if draw(st.booleans()):
            preferences[item.id] = {
                "value": draw(preference_value(item)),
                "importance": draw(importances),
            }
    social = {}
    for domain in content.social:
        if draw(st.booleans()):
            details = [d.id for d in domain.details]
            social[domain.id] = {
                "present": draw(tri),
                "maintains": draw(tri),
                "helping": draw(tri),
                "details": draw(st.lists(st.sampled_from(details), unique=True)) if details else [],
            }
    alliance = {}
    for a_item in content.alliance:
        if draw(st.booleans()):
            alliance[a_item.id] = {"value": draw(st.integers(0, a_item.max_value))}
    return {"preferences": preferences, "social": social, "alliance": alliance}


@st.composite
def cases(draw: st.DrawFn, content: ContentLibrary) -> Case:
    protocol = draw(st.sampled_from(content.protocols))
    return Case.model_validate(
        {
            "reference": "PROP-001",
            "protocol_id": protocol.id,
            "sessions_available": draw(st.integers(1, 30)),
            "answers": draw(answers(content)),
        },
        context={"content": content},
    )
