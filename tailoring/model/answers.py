"""The walk-through's answers, and how a recorded answer is checked against the content.

The answers are the case file's format, which teaching scenarios use for their reference answers
too. The checks take the content library as an argument: the library runs them on its scenarios,
so this module names it for type checking only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from tailoring.model.base import Importance
from tailoring.model.text import NoteText

if TYPE_CHECKING:
    from tailoring.model.content import ContentLibrary, PreferenceItem

Tri = Literal["yes", "no", "unsure"]
Section = Literal["preferences", "social", "alliance"]
SECTIONS: tuple[Section, ...] = ("preferences", "social", "alliance")


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreferenceAnswer(Answer):
    """The patient's position or choices on one preference item, and how much it matters."""

    value: int | str | list[str] | None = Field(
        None, description="Scale point 1–5, an option id, or a list of option ids."
    )
    importance: Importance | None = None


class SocialAnswer(Answer):
    """Whether a social domain is present, keeps the problem going, and is being helped with."""

    present: Tri | None = None
    maintains: Tri | None = Field(None, description="Does it keep the difficulties going?")
    helping: Tri | None = Field(None, description="Is anyone already helping with it?")
    details: list[str] = Field(default_factory=list)
    note: NoteText = ""


class AllianceAnswer(Answer):
    """A rating 0–4, or a rupture sign 0 none, 1 some, 2 clear."""

    value: int | None = Field(None, ge=0, le=4)


class Answers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preferences: dict[str, PreferenceAnswer] = Field(default_factory=dict)
    social: dict[str, SocialAnswer] = Field(default_factory=dict)
    alliance: dict[str, AllianceAnswer] = Field(default_factory=dict)


def chosen_options(value: int | str | list[str] | None) -> list[str]:
    """The option ids of a choice answer (one) or a multi-choice answer (a list), else none."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, str) else []


def unknown_problems(content: ContentLibrary, **named: str | None) -> list[str]:
    """Problem descriptor ids the content does not know, each named by its field."""
    known = {p.id for p in content.problems}
    return [
        f"{field}: unknown problem {value!r}"
        for field, value in named.items()
        if value is not None and value not in known
    ]


def answer_problems(
    content: ContentLibrary,
    section: Section,
    item_id: str,
    answer: PreferenceAnswer | SocialAnswer | AllianceAnswer,
    where: str | None = None,
) -> list[str]:
    """Why one answer does not fit its checklist item (empty when it fits).

    Problems name ``where`` (by default ``answers.<section>.<item id>``), so a session's alliance
    check is reported at its own place in the case file.
    """
    where = where or f"answers.{section}.{item_id}"
    try:
        if section == "preferences":
            assert isinstance(answer, PreferenceAnswer)
            item = content.preference(item_id)
            return [f"{where}.value: {p}" for p in preference_value_problems(item, answer.value)]
        if section == "social":
            assert isinstance(answer, SocialAnswer)
            known = {d.id for d in content.social_domain(item_id).details}
            return [
                *(
                    f"{where}.details: unknown detail {d!r}"
                    for d in answer.details
                    if d not in known
                ),
                *social_contradictions(answer, where),
            ]
        assert isinstance(answer, AllianceAnswer)
        a_item = content.alliance_item(item_id)
    except KeyError:
        return [f"{where}: unknown {section} item"]
    if answer.value is not None and answer.value > a_item.max_value:
        return [f"{where}.value: {answer.value} is above {a_item.max_value}"]
    return []


def social_contradictions(answer: SocialAnswer, where: str) -> list[str]:
    """Answers that contradict "present: no", each naming its field.

    A detail recorded, or "keeps it going: yes", says the circumstance is there; saving it with
    "present: no" would hide a concern (a safeguarding detail would raise nothing).
    """
    if answer.present != "no":
        return []
    problems = []
    if answer.details:
        problems.append(
            f"{where}.details: {', '.join(answer.details)} recorded while present is 'no'; "
            "answer present 'yes' or 'not sure', or clear the details"
        )
    if answer.maintains == "yes":
        problems.append(
            f"{where}.maintains: 'yes' (keeps it going) while present is 'no'; answer present "
            "'yes' or 'not sure', or change this answer"
        )
    return problems


def preference_value_problems(
    item: PreferenceItem, value: int | str | list[str] | None
) -> list[str]:
    """Why a value does not fit a preference item (empty when it fits)."""
    if value is None:
        return []
    if item.kind == "scale":
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"expected a scale point 1–5, got {value!r}"]
        if not 1 <= value <= 5:
            return [f"{value} is outside 1–5"]
        return []
    options = set(item.option_ids())
    if item.kind == "choice":
        if not isinstance(value, str):
            return [f"expected one option id, got {value!r}"]
        return [] if value in options else [f"unknown option {value!r}"]
    if not isinstance(value, list):
        return [f"expected a list of option ids, got {value!r}"]
    problems = [f"unknown option {v!r}" for v in value if v not in options]
    # A repeated option would count twice in the goals fit.
    problems += [f"option {v!r} is repeated" for v in sorted(set(value)) if value.count(v) > 1]
    return problems
