"""Turns answers into the words a clinician reads in explanations and triggers."""

from __future__ import annotations

from tailoring.model.answers import AllianceAnswer, PreferenceAnswer, SocialAnswer, chosen_options
from tailoring.model.content import AllianceItem, ContentLibrary, PreferenceItem, SocialDomain
from tailoring.model.report import Action, Trigger

TRI_WORDS = {"yes": "yes", "no": "no", "unsure": "not sure", None: "not answered"}


def preference_value_text(item: PreferenceItem, value: int | str | list[str] | None) -> str:
    if value is None or value == []:
        return "not answered"
    if item.kind == "scale":
        assert isinstance(value, int) and item.labels is not None
        return f"{value} of 5: {item.labels[value - 1]}"
    labels = {o.id: o.label for o in item.options or []}
    chosen = chosen_options(value)
    return ", ".join(labels.get(v, v) for v in chosen)


def preference_trigger(
    content: ContentLibrary, item: PreferenceItem, answer: PreferenceAnswer
) -> Trigger:
    text = preference_value_text(item, answer.value)
    if answer.importance is not None:
        text += f" ({content.importance_labels[answer.importance].lower()})"
    return Trigger(section="preferences", item_id=item.id, question=item.question, answer=text)


def social_trigger(domain: SocialDomain, answer: SocialAnswer) -> Trigger:
    labels = {d.id: d.label for d in domain.details}
    parts = [
        f"present: {TRI_WORDS[answer.present]}",
        f"keeps the difficulties going: {TRI_WORDS[answer.maintains]}",
        f"someone already helping: {TRI_WORDS[answer.helping]}",
    ]
    if answer.details:
        parts.append("details: " + ", ".join(labels.get(d, d) for d in answer.details))
    return Trigger(
        section="social", item_id=domain.id, question=domain.question, answer="; ".join(parts)
    )


def alliance_trigger(item: AllianceItem, answer: AllianceAnswer) -> Trigger:
    text = "not answered" if answer.value is None else item.labels[answer.value]
    return Trigger(section="alliance", item_id=item.id, question=item.question, answer=text)


def action(content: ContentLibrary, adaptation_id: str) -> Action:
    adaptation = content.adaptation(adaptation_id)
    return Action(
        adaptation_id=adaptation.id,
        kind=adaptation.kind,
        title=adaptation.title,
        description=adaptation.description,
    )


def actions(content: ContentLibrary, adaptation_ids: list[str]) -> list[Action]:
    """Actions in the given order, each adaptation once."""
    return [action(content, a) for a in dict.fromkeys(adaptation_ids)]
