"""Properties the fit engine keeps for every valid case (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tailoring.content import library
from tailoring.engine.assess import assess, protocol_fit
from tailoring.engine.fit import score_protocols
from tailoring.engine.indications import STATUS_ORDER, met_contraindications
from tailoring.model.case import Case
from tailoring.model.content import ProfilePoint, Protocol
from tests.strategies import cases

CONTENT = library()
SCALES = [i for i in CONTENT.preferences if i.kind == "scale"]
settings.register_profile("engine", max_examples=150, deadline=None)
settings.load_profile("engine")


def in_range(x: float | None) -> bool:
    return x is None or 0 <= x <= 100


@given(cases(CONTENT))
def test_every_score_stays_within_0_to_100(case: Case):
    report = assess(CONTENT, case)
    assert in_range(report.overall_fit)
    assert in_range(report.preference_fit)
    assert in_range(report.alliance.score)
    assert all(in_range(d.fit) for d in report.dimensions)
    assert all(in_range(a.fit) for a in report.alternatives)


def mirror_protocol(case: Case, base: Protocol) -> Protocol:
    """A protocol positioned exactly where the patient is, offering what they ask for."""
    prefs = case.answers.preferences
    profile = {}
    for item in SCALES:
        answer = prefs.get(item.id)
        p = answer.value if answer is not None and isinstance(answer.value, int) else 3
        profile[item.id] = ProfilePoint(default=p, low=p, high=p)
    formats = prefs.get("format")
    chosen = formats.value if formats is not None and formats.value else ["in_person"]
    return base.model_copy(
        update={
            "id": "mirror",
            "profile": profile,
            "formats": list(chosen),
            "default_format": chosen[0],
            "goals": dict.fromkeys(base.goals, 2),
            "demands": [],
        }
    )


@given(cases(CONTENT))
def test_a_protocol_identical_to_the_preferences_scores_100_with_no_preference_flags(case: Case):
    mirror = mirror_protocol(case, CONTENT.protocols[0])
    result = protocol_fit(CONTENT, case, mirror)
    assert result.overall in (None, 100.0)
    compared = {i.id for i in CONTENT.preferences if i.compare != "allocation"}
    assert not [f for f in result.flags if f.id.removeprefix("pref.") in compared]
    assert all(d.status in ("fit", "unanswered") for d in result.dimensions)


@given(cases(CONTENT), st.sampled_from(CONTENT.preferences))
def test_importance_zero_removes_the_dimension_s_effect(case: Case, item):
    answer = case.answers.preferences.get(item.id)
    if answer is None or item.compare == "allocation":
        return
    protocol = CONTENT.protocol(case.protocol_id)
    zeroed = case.model_copy(deep=True)
    zeroed.answers.preferences[item.id].importance = 0
    removed = case.model_copy(deep=True)
    del removed.answers.preferences[item.id]
    with_zero = protocol_fit(CONTENT, zeroed, protocol)
    without = protocol_fit(CONTENT, removed, protocol)
    assert with_zero.overall == without.overall
    assert {f.id for f in with_zero.flags} == {f.id for f in without.flags}


def toward(point: ProfilePoint, patient: int) -> ProfilePoint:
    """Stretch the protocol one step toward the patient (range and default together)."""
    if patient > point.high:
        return ProfilePoint(default=point.default, low=point.low, high=point.high + 1)
    if patient < point.low:
        return ProfilePoint(default=point.default, low=point.low - 1, high=point.high)
    return point


@given(cases(CONTENT), st.sampled_from(CONTENT.protocols), st.sampled_from(SCALES))
def test_moving_a_protocol_toward_the_patient_never_lowers_the_fit(case, protocol, item):
    answer = case.answers.preferences.get(item.id)
    if answer is None or not isinstance(answer.value, int):
        return
    before = protocol_fit(CONTENT, case, protocol)
    moved = protocol.model_copy(
        update={
            "profile": {
                **protocol.profile,
                item.id: toward(protocol.profile[item.id], answer.value),
            }
        }
    )
    after = protocol_fit(CONTENT, case, moved)
    if before.overall is not None:
        assert after.overall >= before.overall
    before_dim = next(d for d in before.dimensions if d.item_id == item.id)
    after_dim = next(d for d in after.dimensions if d.item_id == item.id)
    assert after_dim.fit >= before_dim.fit


@given(cases(CONTENT))
def test_the_engine_is_deterministic(case: Case):
    assert assess(CONTENT, case) == assess(CONTENT, case)


@given(cases(CONTENT))
def test_the_fast_scores_equal_the_explained_fits(case: Case):
    scores = score_protocols(CONTENT, case.answers)
    for protocol in CONTENT.protocols:
        assert scores[protocol.id] == protocol_fit(CONTENT, case, protocol).overall


@given(cases(CONTENT))
def test_no_contraindicated_protocol_is_ever_suggested(case: Case):
    """Issue 15: not as an alternative, not as the plan's best alternative, not by an action."""
    report = assess(CONTENT, case)
    met = met_contraindications(CONTENT, case.answers)
    ruled_out = {p.id for p in CONTENT.protocols if set(p.contraindications) & set(met)}
    assert not ruled_out & {a.protocol_id for a in report.alternatives}
    assert {r.protocol_id for r in report.ruled_out} == ruled_out - {case.protocol_id}
    names = [CONTENT.protocol(p).name for p in ruled_out]
    plan = " ".join(item.detail for item in report.session_plan)
    assert not any(f"Best-fitting alternative: {name}" in plan for name in names)
    unsafe = {a.id for a in CONTENT.adaptations if set(a.withheld_when) & set(met)}
    suggested = {a.adaptation_id for f in report.flags for a in f.actions}
    suggested |= {a.adaptation_id for d in report.dimensions for a in d.actions}
    assert not suggested & unsafe
    assert (report.indication.status == "contraindicated") == (case.protocol_id in ruled_out)


@given(cases(CONTENT))
def test_alternatives_are_ranked_on_indication_before_fit(case: Case):
    report = assess(CONTENT, case)
    ranks = [STATUS_ORDER.index(a.indication) for a in report.alternatives]
    assert ranks == sorted(ranks)
