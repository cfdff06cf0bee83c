"""Raises the flags of a case against a protocol: each explained, traced to a theme, with actions.

Rules (documented here because clinicians and the teaching scenarios depend on them):
- Preference mismatch: severity from distance beyond the protocol's range (0–4) × importance (0–3):
  6 or more high, 3 or more medium, otherwise low. Importance 0 raises nothing. A format no way
  of meeting suits, or fixed hours the patient cannot attend (a group that meets on weekday
  afternoons, a patient free only in the evenings), counts as distance 2: high when essential.
- Hard mismatch: a circumstance the patient named (e.g. no digital access) against a demand of the
  protocol (e.g. digital access): always high, and it caps the overall fit.
- Social context: a domain that is present, keeps the difficulties going, and that nobody is known
  to be helping with, raises a flag even when every preference fits: high when the protocol cannot
  work on that domain, medium when it can.
- Safeguarding: any "yes" or "not sure" points to the local procedure; the app does not assess risk.
- Alliance: a rupture sign raises a flag (clear sign high, some signs medium); a rating at the weak
  end (0–1 of 4, after reversing "scripted") raises a medium flag; an alliance score below 50 with
  at least three ratings answered raises a high "weak alliance" flag.
- Therapist characteristics and language: a preference that matters raises a low flag (medium when
  essential) to raise with allocation; the protocol does not change it.
- Sessions: fewer sessions available than the protocol's minimum raises a medium pace flag. Where
  the protocol states NICE's therapist hours for the case's problem (CBT for anxiety disorders:
  panic 7–14 hours), the minimum is those hours in sessions of the protocol's length.
- Demands made harder, not impossible (an interpreter needed, against a protocol that relies on
  talking or reading in English) raise a medium flag and do not cap the fit.
- Formats a circumstance rules out (phone and video without a private space): when every way
  the patient would meet (the formats they accept that the protocol offers, or else its usual
  format) is ruled out, a medium format-mismatch flag; high when the protocol offers no other.
"""

from __future__ import annotations

from math import ceil
from typing import Any

from tailoring.engine.alliance import alliance_summary
from tailoring.engine.describe import (
    actions,
    alliance_trigger,
    preference_trigger,
    social_trigger,
)
from tailoring.engine.fit import FORMAT_WORDS, is_answered, weight_of
from tailoring.model.answers import Answers
from tailoring.model.base import ThemeId
from tailoring.model.case import Case
from tailoring.model.content import DEMAND_LABELS, ContentLibrary, Protocol, SocialDetail
from tailoring.model.report import DimensionFit, Flag, Severity, Trigger

REVIEW = "review_protocol_step"
SUPERVISION = "discuss_in_supervision"
REPAIR = "repair_rupture"
WEAK_ALLIANCE_BELOW = 50.0
WEAK_RATING_AT_MOST = 1
MIN_RATINGS_FOR_SCORE = 3


def new_flag(content: ContentLibrary, **fields: Any) -> Flag:
    """A flag carrying its theme's title, so exports read without the content library."""
    return Flag(theme_title=content.theme(fields["theme"]).title, **fields)


def severity_of(score: float) -> Severity:
    return "high" if score >= 6 else ("medium" if score >= 3 else "low")


def preference_flags(
    content: ContentLibrary, answers: Answers, dimensions: list[DimensionFit]
) -> list[Flag]:
    """One flag per mismatched dimension that matters to the patient."""
    flags = []
    for dim in dimensions:
        if dim.status != "mismatch" or dim.weight == 0:
            continue
        item = content.preference(dim.item_id)
        distance = 2 if item.compare in ("format", "availability") else _distance(dim)
        title = (
            f"{item.title}: the protocol meets at set hours the patient cannot attend"
            if item.compare == "availability"
            else f"{item.title}: the protocol cannot stretch to the patient's preference"
        )
        flags.append(
            new_flag(
                content,
                id=f"pref.{item.id}",
                severity=severity_of(distance * dim.weight),
                theme=item.theme,
                title=title,
                explanation=dim.explanation,
                triggers=dim.triggers,
                actions=actions(content, item.on_mismatch),
            )
        )
    return flags


def _distance(dim: DimensionFit) -> float:
    """Points beyond the protocol's range (scales), or the goal shortfall on the same 0–4 span."""
    if dim.patient is not None and dim.protocol_low is not None and dim.protocol_high is not None:
        return max(dim.protocol_low - dim.patient, 0) + max(dim.patient - dim.protocol_high, 0)
    return 4 * (1 - (dim.fit or 0) / 100)


def allocation_flags(content: ContentLibrary, answers: Answers) -> list[Flag]:
    """Therapist characteristics and language that matter to the patient."""
    flags = []
    for item in content.preferences:
        answer = answers.preferences.get(item.id)
        if item.compare != "allocation" or answer is None or not isinstance(answer.value, str):
            continue
        option = next(o for o in item.options or [] if o.id == answer.value)
        weight = weight_of(answer)
        if option.neutral or weight == 0:
            continue
        flags.append(
            new_flag(
                content,
                id=f"pref.{item.id}",
                severity="medium" if weight >= 3 else "low",
                theme=item.theme,
                title=f"{item.title}: {option.label}",
                explanation="A preference about who delivers therapy; raise it with allocation "
                "and with the patient. The protocol does not change it.",
                triggers=[preference_trigger(content, item, answer)],
                actions=actions(content, [option.adaptation] if option.adaptation else []),
            )
        )
    return flags


def demand_flags(content: ContentLibrary, answers: Answers, protocol: Protocol) -> list[Flag]:
    """Circumstances that make a protocol's demands hard to meet (hard), or harder (medium)."""
    flags = []
    for domain in content.social:
        answer = answers.social.get(domain.id)
        if answer is None or answer.present != "yes":
            continue
        for detail in domain.details:
            if detail.id not in answer.details:
                continue
            clash = [d for d in detail.conflicts_with if d in protocol.demands]
            strain = [d for d in detail.strains if d in protocol.demands]
            needs = " and ".join(DEMAND_LABELS[d] for d in clash or strain)
            trigger = social_trigger(domain, answer)
            own = [detail.adaptation] if detail.adaptation else []
            if clash:
                flags.append(
                    new_flag(
                        content,
                        id=f"demand.{domain.id}.{detail.id}",
                        severity="high",
                        theme=domain.theme,
                        hard=True,
                        title=f"{detail.label}: {protocol.name} needs {needs}",
                        explanation=f"{protocol.name} depends on {needs}; the patient's "
                        "circumstances make that hard to meet, so the protocol as planned may "
                        "not be usable.",
                        triggers=[trigger],
                        actions=actions(content, [*own, REVIEW]),
                    )
                )
            elif strain:
                flags.append(
                    new_flag(
                        content,
                        id=f"demand.{domain.id}.{detail.id}",
                        severity="medium",
                        theme=domain.theme,
                        title=f"{detail.label}: {protocol.name} relies on {needs}",
                        explanation=f"{protocol.name} relies on {needs}. It can still work "
                        "with the right support: arrange it before the first session and allow "
                        "for it in the session plan.",
                        triggers=[trigger],
                        actions=actions(content, own),
                    )
                )
            flags.extend(_format_flags(content, answers, protocol, domain.theme, detail, trigger))
    return flags


def _format_flags(
    content: ContentLibrary,
    answers: Answers,
    protocol: Protocol,
    theme: ThemeId,
    detail: SocialDetail,
    trigger: Trigger,
) -> list[Flag]:
    """A format mismatch when every way the patient would meet is ruled out by ``detail``."""
    if not detail.rules_out_formats:
        return []
    answer = answers.preferences.get("format")
    # Importance 0 ("does not matter") leaves the usual format, as an unanswered preference does.
    matters = answer is not None and is_answered(answer) and answer.importance != 0
    accepted = answer.value if matters and answer is not None else None
    used = (
        [f for f in protocol.formats if f in accepted]
        if isinstance(accepted, list)
        else [protocol.default_format]
    ) or [protocol.default_format]
    if not set(used) <= set(detail.rules_out_formats):
        return []
    left = [f for f in protocol.formats if f not in detail.rules_out_formats]
    ways = " or ".join(FORMAT_WORDS[f] for f in used)
    return [
        new_flag(
            content,
            id=f"format.{trigger.item_id}.{detail.id}",
            severity="medium" if left else "high",
            theme=theme,
            title=f"{detail.label}: sessions {ways} will not work",
            explanation=f"{protocol.name} would meet {ways}, which this circumstance rules out. "
            + (
                f"It is also offered {', '.join(FORMAT_WORDS[f] for f in left)}: agree that "
                "with the patient."
                if left
                else "It is offered no other way: review the protocol."
            ),
            triggers=[trigger],
            actions=actions(
                content,
                [*([detail.adaptation] if detail.adaptation else []), *([] if left else [REVIEW])],
            ),
        )
    ]


def social_flags(content: ContentLibrary, answers: Answers, protocol: Protocol) -> list[Flag]:
    """Maintaining social problems nobody addresses, and safeguarding concerns."""
    flags = []
    for domain in content.social:
        answer = answers.social.get(domain.id)
        if answer is None:
            continue
        trigger = social_trigger(domain, answer)
        if domain.safeguarding:
            if answer.present in ("yes", "unsure"):
                flags.append(
                    new_flag(
                        content,
                        id=f"social.{domain.id}",
                        severity="high",
                        theme=domain.theme,
                        title=f"{domain.title}: follow your local procedure",
                        explanation="A concern was recorded. This app does not assess risk: "
                        "follow your service's safeguarding procedure and record it there.",
                        triggers=[trigger],
                        actions=actions(content, domain.signpost),
                    )
                )
            continue
        if answer.present != "yes" or answer.maintains != "yes" or answer.helping == "yes":
            continue
        within = domain.id in protocol.addresses_social
        helping = "nobody is helping" if answer.helping == "no" else "nobody is known to help"
        flags.append(
            new_flag(
                content,
                id=f"social.{domain.id}",
                severity="medium" if within else "high",
                theme=domain.theme,
                title=f"{domain.title}: keeps the difficulties going, not yet addressed",
                explanation=(
                    f"{domain.title}: this keeps the difficulties going and {helping}. "
                    + (
                        f"{protocol.name} can work on it directly: make it a focus."
                        if within
                        else f"{protocol.name} does not work on it: address it first or "
                        "alongside (signpost), and review whether the protocol fits."
                    )
                ),
                triggers=[trigger],
                actions=actions(content, [*domain.signpost, *([] if within else [REVIEW])]),
            )
        )
    return flags


def alliance_flags(content: ContentLibrary, answers: Answers) -> list[Flag]:
    """Rupture signs, weak ratings and a weak overall alliance, whatever the protocol."""
    flags = []
    weak: list[Trigger] = []
    for item in content.alliance:
        answer = answers.alliance.get(item.id)
        if answer is None or answer.value is None:
            continue
        trigger = alliance_trigger(item, answer)
        if item.kind == "rupture":
            if answer.value == 0:
                continue
            severity: Severity = "high" if answer.value >= 2 else "medium"
            title = f"{item.title}: {item.labels[answer.value].lower()}"
            explanation = "Rupture signs call for open repair: invite the patient's view of "
            explanation += "what is not working, and take it to supervision."
            extra = [SUPERVISION]
        else:
            value = item.max_value - answer.value if item.reverse else answer.value
            if value > WEAK_RATING_AT_MOST:
                continue
            weak.append(trigger)
            severity = "high" if value == 0 else "medium"
            title = f"{item.title}: weak"
            explanation = f"Rated {item.labels[answer.value].lower()}: a sign the working "
            explanation += "relationship needs attention before the technique does."
            extra = []
        flags.append(
            new_flag(
                content,
                id=f"alliance.{item.id}",
                severity=severity,
                theme=item.theme,
                title=title,
                explanation=explanation,
                triggers=[trigger],
                actions=actions(content, [item.adaptation, *extra]),
            )
        )
    summary = alliance_summary(content, answers)
    if (
        summary.score is not None
        and summary.answered >= MIN_RATINGS_FOR_SCORE
        and summary.score < WEAK_ALLIANCE_BELOW
    ):
        flags.append(
            new_flag(
                content,
                id="alliance.weak",
                severity="high",
                theme="alliance",
                title=f"Weak alliance overall (score {summary.score:.0f} of 100)",
                explanation=f"The alliance score is below {WEAK_ALLIANCE_BELOW:.0f}. Agreement "
                "on goals and tasks and the bond come first; repair before pressing on.",
                triggers=weak,
                actions=actions(content, [REPAIR, SUPERVISION]),
            )
        )
    return flags


def minimum_sessions(protocol: Protocol, case: Case) -> int:
    """Sessions the protocol needs: from NICE's hours for the case's problem where it sets them."""
    hours = [
        h.min
        for p in (case.problem, case.second_problem)
        if p is not None and (h := protocol.hours.get(p)) is not None and h.min is not None
    ]
    if not hours:
        return protocol.sessions.min
    return ceil(max(hours) * 60 / protocol.sessions.minutes)


def sessions_flag(content: ContentLibrary, case: Case, protocol: Protocol) -> list[Flag]:
    """Too few sessions available for the protocol as designed (or for the problem's hours)."""
    needed = minimum_sessions(protocol, case)
    if case.sessions_available >= needed:
        return []
    return [
        new_flag(
            content,
            id="case.sessions",
            severity="medium",
            theme="pace",
            title=f"{case.sessions_available} sessions available; {protocol.name} needs "
            f"at least {needed}",
            explanation="A course cut short of its design risks a rushed ending, which patients "
            "in the study described as unhelpful.",
            triggers=[
                Trigger(
                    section="case",
                    item_id="sessions_available",
                    question="Sessions available",
                    answer=str(case.sessions_available),
                )
            ],
            actions=actions(content, [REVIEW]),
        )
    ]


def independent_flags(content: ContentLibrary, answers: Answers) -> list[Flag]:
    """Flags that are the same whatever the protocol: the alliance and who delivers therapy."""
    return [*alliance_flags(content, answers), *allocation_flags(content, answers)]


def protocol_flags(
    content: ContentLibrary,
    case: Case,
    protocol: Protocol,
    dimensions: list[DimensionFit],
    planned: bool = True,
    independent: list[Flag] | None = None,
) -> list[Flag]:
    """Every flag of the case against one protocol, most severe first.

    The sessions available belong to the planned protocol; an alternative is judged on its own
    session range, so ``planned=False`` leaves the sessions check out. ``independent`` passes
    :func:`independent_flags` in when the caller scores many protocols for one case.
    """
    answers = case.answers
    if independent is None:
        independent = independent_flags(content, answers)
    flags = [
        *social_flags(content, answers, protocol),
        *demand_flags(content, answers, protocol),
        *preference_flags(content, answers, dimensions),
        *(sessions_flag(content, case, protocol) if planned else []),
        *independent,
    ]
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(flags, key=lambda f: order[f.severity])
