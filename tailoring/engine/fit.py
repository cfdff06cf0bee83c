"""Scores how well a protocol fits the patient's preferences, one dimension at a time.

The rules, in words:
- A scale preference inside the protocol's flexibility range (low…high) fits fully (100). When it
  is off the protocol's default, the fit carries an "adapt within the protocol" suggestion that
  moves the way the patient leans: below the default, the item's "lower" adaptation (e.g. keep
  to the present), above it, its "higher" one (e.g. link the present to its roots).
- Outside the range, the fit falls linearly with the distance to the nearest end of the range:
  100 × (1 − distance / 3), so one point beyond scores 67, two points 33, three or more 0.
- Format fits when the protocol's usual format is acceptable (100), is adaptable when another
  format it offers is acceptable (100, with a suggestion), and misfits when none is (0).
- Availability (the times the patient can attend) fits a protocol whose times are agreed with
  the patient (100); a protocol with fixed hours fits when the patient can attend at one of them
  (100) and misfits when they cannot (0). The format's explanation says so too when the usual
  format meets at hours the patient cannot attend.
- Goals score the mean of how well the protocol serves each goal the patient named
  (core aim 100, partly 50, not 0).
- The overall fit is the importance-weighted mean of answered dimensions (weights 0, 1, 2, 3 for
  "doesn't matter" … "essential"; 1 when the value is given without its importance). An importance
  of 0 removes the dimension. A demand the patient cannot meet caps the overall fit at 40.
- Unanswered dimensions do not count as agreement: they are left out and shown as incompleteness.
"""

from __future__ import annotations

from dataclasses import dataclass

from tailoring.engine.describe import actions, preference_trigger
from tailoring.model.answers import Answers, PreferenceAnswer, chosen_options
from tailoring.model.content import (
    SCALE_MAX,
    SCALE_MIN,
    ContentLibrary,
    PreferenceItem,
    Protocol,
)
from tailoring.model.report import Action, DimensionFit, DimensionStatus, Trigger

SPAN = SCALE_MAX - SCALE_MIN
# Three points beyond what a protocol can stretch to is as far apart as a 1–5 scale allows in
# practice (a protocol's range is never a single end point in our content), so it scores 0.
ZERO_FIT_DISTANCE = 3
DEFAULT_IMPORTANCE = 1
HARD_MISMATCH_CAP = 40.0
GOAL_SCORES = {0: 0.0, 1: 50.0, 2: 100.0}
TIME_WORDS = {
    "weekday_daytime": "weekdays in the day",
    "weekday_evening": "weekday evenings",
    "weekend": "weekends",
}
FORMAT_WORDS = {
    "in_person": "in person",
    "video": "by video",
    "phone": "by phone",
    "digital": "digital (online programme)",
    "group": "in a group",
}


@dataclass(frozen=True)
class RawFit:
    """A dimension's figures before they are dressed in words."""

    status: DimensionStatus
    fit: float | None
    weight: float
    distance: float = 0.0


def weight_of(answer: PreferenceAnswer) -> float:
    return float(DEFAULT_IMPORTANCE if answer.importance is None else answer.importance)


def is_answered(answer: PreferenceAnswer | None) -> bool:
    return answer is not None and answer.value is not None and answer.value != []


def raw_fit(item: PreferenceItem, answer: PreferenceAnswer | None, protocol: Protocol) -> RawFit:
    """The status, fit 0–100, weight and distance (0–4) of one dimension, or unanswered."""
    if not is_answered(answer):
        return RawFit("unanswered", None, 0.0)
    assert answer is not None
    weight = weight_of(answer)
    if item.compare == "position":
        assert isinstance(answer.value, int)
        point = protocol.profile[item.id]
        p = answer.value
        distance = max(point.low - p, 0) + max(p - point.high, 0)
        if distance == 0:
            return RawFit("fit" if p == point.default else "adapt", 100.0, weight)
        return RawFit(
            "mismatch", 100.0 * max(0.0, 1 - distance / ZERO_FIT_DISTANCE), weight, float(distance)
        )
    chosen = chosen_options(answer.value)
    if item.compare == "format":
        if protocol.default_format in chosen:
            return RawFit("fit", 100.0, weight)
        if set(chosen) & set(protocol.formats):
            return RawFit("adapt", 100.0, weight)
        return RawFit("mismatch", 0.0, weight, SPAN / 2)
    if item.compare == "availability":
        if can_attend(protocol, chosen):
            return RawFit("fit", 100.0, weight)
        return RawFit("mismatch", 0.0, weight, SPAN / 2)
    # goals
    fit = sum(GOAL_SCORES[protocol.goals.get(g, 0)] for g in chosen) / len(chosen)
    status: DimensionStatus = "fit" if fit == 100 else ("adapt" if fit >= 50 else "mismatch")
    return RawFit(status, fit, weight, SPAN * (1 - fit / 100) if status == "mismatch" else 0.0)


def can_attend(protocol: Protocol, times: list[str]) -> bool:
    """Whether a patient free at ``times`` can attend: always, unless the hours are fixed."""
    hours = protocol.fixed_hours
    return hours is None or not set(hours.times).isdisjoint(times)


RawFits = list[tuple[PreferenceItem, PreferenceAnswer | None, RawFit]]


def raw_fits(content: ContentLibrary, answers: Answers, protocol: Protocol) -> RawFits:
    """Every compared dimension's figures, with the item and answer behind them."""
    prefs = answers.preferences
    return [
        (item, prefs.get(item.id), raw_fit(item, prefs.get(item.id), protocol))
        for item in content.compared_items
    ]


def dimension_fits(
    content: ContentLibrary, protocol: Protocol, raws: RawFits
) -> list[DimensionFit]:
    """Every compared dimension, explained."""
    times = next(
        (
            a.value
            for i, a, r in raws
            if i.compare == "availability" and a is not None and r.status != "unanswered"
        ),
        None,
    )
    return [
        _explain(content, item, answer, protocol, raw, times if isinstance(times, list) else None)
        for item, answer, raw in raws
    ]


def weighted_fit(raws: RawFits) -> float | None:
    """Importance-weighted mean of answered dimensions; None when none carries weight.

    The mean is taken over the dimension fits as the report shows them (one decimal), so the
    overall figure can be recomputed from the report by hand.
    """
    pairs = [(round(r.fit, 1), r.weight) for _, _, r in raws if r.fit is not None and r.weight > 0]
    total = sum(w for _, w in pairs)
    if not total:
        return None
    return round(sum(f * w for f, w in pairs) / total, 1)


def demand_conflicts(content: ContentLibrary, answers: Answers) -> frozenset[str]:
    """Protocol demands the patient's circumstances clash with (domains answered present)."""
    clashes: set[str] = set()
    for domain in content.social:
        answer = answers.social.get(domain.id)
        if answer is None or answer.present != "yes":
            continue
        for detail in domain.details:
            if detail.id in answer.details:
                clashes.update(detail.conflicts_with)
    return frozenset(clashes)


def capped(preference: float | None, hard: bool) -> float | None:
    """The overall fit: the preference fit, capped when a demand cannot be met."""
    if hard and preference is not None:
        return min(preference, HARD_MISMATCH_CAP)
    return preference


def score_protocols(content: ContentLibrary, answers: Answers) -> dict[str, float | None]:
    """The overall fit of every protocol, figures only: the fast path for ranking."""
    clashes = demand_conflicts(content, answers)
    return {
        p.id: capped(weighted_fit(raw_fits(content, answers, p)), not clashes.isdisjoint(p.demands))
        for p in content.protocols
    }


def _explain(
    content: ContentLibrary,
    item: PreferenceItem,
    answer: PreferenceAnswer | None,
    protocol: Protocol,
    raw: RawFit,
    times: list[str] | None = None,
) -> DimensionFit:
    point = protocol.profile.get(item.id)
    patient: float | None = None
    explanation = "Not answered yet: left out of the fit."
    triggers: list[Trigger] = []
    suggestion: list[Action] = []
    if answer is not None and raw.status != "unanswered":
        patient = float(answer.value) if isinstance(answer.value, int) else None
        explanation = _words(item, answer, protocol, raw, times)
        triggers = [preference_trigger(content, item, answer)]
        if raw.status == "adapt" and item.adapt_within and raw.weight > 0:
            suggestion = actions(content, [adapt_towards(item, answer, protocol)])
    return DimensionFit(
        item_id=item.id,
        title=item.title,
        theme=item.theme,
        status=raw.status,
        fit=None if raw.fit is None else round(raw.fit, 1),
        weight=raw.weight,
        protocol_default=point.default if point else None,
        protocol_low=point.low if point else None,
        protocol_high=point.high if point else None,
        patient=patient,
        explanation=explanation,
        triggers=triggers,
        actions=suggestion,
    )


def adapt_towards(item: PreferenceItem, answer: PreferenceAnswer, protocol: Protocol) -> str:
    """The adaptation that moves the protocol the way the patient leans from its default."""
    assert item.adapt_within is not None and isinstance(answer.value, int)
    below = answer.value < protocol.profile[item.id].default
    return item.adapt_within.lower if below else item.adapt_within.higher


def _words(
    item: PreferenceItem,
    answer: PreferenceAnswer,
    protocol: Protocol,
    raw: RawFit,
    times: list[str] | None = None,
) -> str:
    """The dimension's explanation; ``times``, when answered, are those the patient can attend."""
    weight_note = (
        " It carries no weight because it doesn't matter to the patient." if raw.weight == 0 else ""
    )
    if item.compare == "position":
        point = protocol.profile[item.id]
        where = (
            f"{protocol.name} sits at {point.default} and can stretch "
            f"from {point.low} to {point.high}"
        )
        if raw.status == "fit":
            return f"Patient at {answer.value}; {where}. A fit.{weight_note}"
        if raw.status == "adapt":
            return (
                f"Patient at {answer.value}; {where}. Within the protocol's flexibility, "
                f"so adapt within the protocol.{weight_note}"
            )
        return (
            f"Patient at {answer.value}; {where}. {raw.distance:g} point(s) beyond its range: "
            f"fit {raw.fit:.0f}.{weight_note}"
        )
    if item.compare == "format":
        offered = ", ".join(FORMAT_WORDS[f] for f in protocol.formats)
        hours = protocol.fixed_hours
        clash = (
            f" But it meets only at set hours ({hours.description}), when the patient cannot "
            "attend."
            if hours is not None and times is not None and not can_attend(protocol, times)
            else ""
        )
        if raw.status == "fit":
            usual = FORMAT_WORDS[protocol.default_format]
            return f"The usual format ({usual}) suits the patient.{clash}"
        if raw.status == "adapt":
            return f"The usual format does not suit, but the protocol is also offered {offered}."
        return f"None of the formats the patient can use is offered (offered: {offered})."
    if item.compare == "availability":
        chosen = answer.value if isinstance(answer.value, list) else [str(answer.value)]
        free = ", ".join(TIME_WORDS.get(t, t) for t in chosen)
        hours = protocol.fixed_hours
        if hours is None:
            return f"{protocol.name} has no set hours: agree times with the patient ({free})."
        if raw.status == "fit":
            return (
                f"{protocol.name} meets at set hours ({hours.description}); the patient can "
                "attend then."
            )
        return (
            f"{protocol.name} meets only at set hours ({hours.description}); the patient can "
            f"attend {free}, not then.{weight_note}"
        )
    chosen = chosen_options(answer.value)
    labels = {o.id: o.label for o in item.options or []}
    served = {0: "not served", 1: "partly served", 2: "a core aim"}
    parts = [f"{labels.get(g, g)}: {served[protocol.goals.get(g, 0)]}" for g in chosen]
    return f"Goals with {protocol.name}: " + "; ".join(parts) + f". Fit {raw.fit:.0f}.{weight_note}"
