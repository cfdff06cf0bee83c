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
            present = draw(tri)
            # "present: no" with a detail or "keeps it going: yes" is refused as contradictory.
            absent = present == "no"
            social[domain.id] = {
                "present": present,
                "maintains": draw(st.sampled_from([None, "no", "unsure"]) if absent else tri),
                "helping": draw(tri),
                "details": []
                if absent or not details
                else draw(st.lists(st.sampled_from(details), unique=True)),
            }
    alliance = {}
    for a_item in content.alliance:
        if draw(st.booleans()):
            alliance[a_item.id] = {"value": draw(st.integers(0, a_item.max_value))}
    return {"preferences": preferences, "social": social, "alliance": alliance}


@st.composite
def problems(draw: st.DrawFn, content: ContentLibrary) -> dict:
    """No problem, one, or two different ones."""
    ids = [p.id for p in content.problems]
    chosen = draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))
    return dict(zip(("problem", "second_problem"), chosen, strict=False))


@st.composite
def assessment(draw: st.DrawFn, content: ContentLibrary) -> list[dict]:
    """No session, or an assessment with a complete depression measure (any total) and, half
    the time, a complete GAD-7."""
    if not draw(st.booleans()):
        return []
    measured = [content.measure(content.tracking.depression_measure)]
    if draw(st.booleans()):
        measured.append(content.measure("gad7"))
    measures = {
        m.id: {i.id: draw(st.sampled_from([o.value for o in m.options])) for i in m.items}
        for m in measured
    }
    return [
        {
            "number": 1,
            "date": "2026-11-02",
            "attendance": "attended",
            "kind": "assessment",
            "measures": measures,
        }
    ]


@st.composite
def cases(draw: st.DrawFn, content: ContentLibrary) -> Case:
    protocol = draw(st.sampled_from(content.protocols))
    return Case.model_validate(
        {
            "reference": "PROP-001",
            "protocol_id": protocol.id,
            "sessions_available": draw(st.integers(1, 30)),
            "answers": draw(answers(content)),
            **draw(problems(content)),
            "low_intensity_chosen": draw(st.booleans()),
            "sessions": draw(assessment(content)),
        },
        context={"content": content},
    )
