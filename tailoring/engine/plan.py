"""Drafts a short session plan: agenda items drawn from the flags, most pressing first."""

from __future__ import annotations

from tailoring.model.report import INDICATION_LABELS, AgendaItem, Alternative, ProtocolFit

MAX_ITEMS = 8
# Local procedures come first whatever else the report says; a review of the protocol comes last
# because the conversation with the patient should shape it.
KIND_ORDER = {
    "local_procedure": 0,
    "discuss": 1,
    "signpost": 2,
    "adapt_within": 3,
    "review_protocol": 4,
}


def session_plan(planned: ProtocolFit, alternatives: list[Alternative]) -> list[AgendaItem]:
    """One agenda item per distinct action; flags sharing an action share its item."""
    by_action: dict[str, AgendaItem] = {}
    for flag in planned.flags:
        for act in flag.actions:
            if act.kind == "review_protocol":
                continue
            item = by_action.get(act.adaptation_id)
            if item is None:
                by_action[act.adaptation_id] = AgendaItem(
                    title=act.title, detail=flag.title, kind=act.kind, flag_id=flag.id
                )
            else:
                item.detail += f"; {flag.title}"
    for dim in planned.dimensions:
        for act in dim.actions:
            by_action.setdefault(
                act.adaptation_id,
                AgendaItem(title=act.title, detail=dim.explanation, kind=act.kind),
            )
    items = sorted(by_action.values(), key=lambda i: KIND_ORDER[i.kind])
    review = _review_item(planned, alternatives)
    if review is not None:
        items = [*items[: MAX_ITEMS - 1], review]
    return items[:MAX_ITEMS]


def _review_item(planned: ProtocolFit, alternatives: list[Alternative]) -> AgendaItem | None:
    """Suggest a protocol review when the plan has a hard or high-severity mismatch."""
    reasons = [
        f.title
        for f in planned.flags
        if any(a.kind == "review_protocol" for a in f.actions) and f.severity == "high"
    ]
    if not reasons:
        return None
    detail = "Because: " + "; ".join(reasons) + "."
    # Alternatives are never contraindicated and come indicated first; one that is not indicated
    # for a recorded problem is not put forward.
    best = next(
        (a for a in alternatives if a.fit is not None and a.indication != "not_indicated"), None
    )
    if best is not None:
        checked = (
            ""
            if best.indication == "indicated"
            else f"; {INDICATION_LABELS[best.indication].lower()}"
        )
        detail += f" Best-fitting alternative: {best.protocol_name} (fit {best.fit:.0f}{checked})."
    return AgendaItem(
        title=f"Review {planned.protocol_name} in supervision", detail=detail, kind="review"
    )
