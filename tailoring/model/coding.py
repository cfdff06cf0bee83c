"""Pydantic models of the free-text theme coder: its lexicon, its codes, its evaluation set.

A lexicon phrase is written in lower case, one slot per word, slots separated by spaces:

- ``rush``: the word and its inflections (rushed, rushes, rushing); write the base form.
- ``judg*``: any word that starts with ``judg`` (judge, judged, judgement, judgemental).
- ``short|shorter``: either word, each with its inflections.
- ``...``: up to three words of any kind (``took ... time`` matches "took their time").

A hyphen separates slots as a space does, as it does in the text ("one-size-fits-all").
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from tailoring.model.base import Identifier, Strict, ThemeId

GAP = "..."
# Up to this many words of any kind stand for one GAP slot.
GAP_WORDS = 3
# A prefix shorter than this would match too many unrelated words.
MIN_PREFIX = 3
_WORD = r"[a-z0-9']+"
_SLOT = re.compile(rf"{_WORD}(?:\*)?(?:\|{_WORD}(?:\*)?)*")


def phrase_slots(phrase: str) -> list[str]:
    """The slots of a lexicon phrase: words, alternatives, prefixes and gaps, in order."""
    return phrase.replace("-", " ").split()


def _valid_phrase(phrase: str) -> str:
    slots = phrase_slots(phrase)
    if not slots:
        raise ValueError("a phrase needs at least one word")
    for slot in slots:
        if slot == GAP:
            continue
        if not _SLOT.fullmatch(slot):
            raise ValueError(
                f"{slot!r} in {phrase!r}: write lower-case words, 'word*' for a prefix, "
                f"'a|b' for either word, '{GAP}' for a gap"
            )
        for part in slot.split("|"):
            if part.endswith("*") and len(part) - 1 < MIN_PREFIX:
                raise ValueError(f"{part!r} in {phrase!r}: a prefix needs {MIN_PREFIX} letters")
    if GAP in (slots[0], slots[-1]):
        raise ValueError(f"{phrase!r}: a phrase cannot start or end with '{GAP}'")
    if any(a == b == GAP for a, b in pairwise(slots)):
        raise ValueError(f"{phrase!r}: two gaps in a row")
    return " ".join(slots)


Phrase = Annotated[str, AfterValidator(_valid_phrase)]


class LexiconEntry(Strict):
    """A group of phrases that point to one theme, e.g. the words for waiting."""

    id: Identifier
    theme: ThemeId
    note: str | None = Field(None, description="What the phrases cover, for people who edit them.")
    phrases: list[Phrase] = Field(min_length=1)
    unless: list[Phrase] = Field(
        default_factory=list,
        description="Phrases that cancel a match lying inside them ('waiting room' is no wait).",
    )


class Lexicon(Strict):
    """Every lexicon entry (content/coding/lexicon.yaml); an empty lexicon codes nothing."""

    entries: list[LexiconEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_repeats(self) -> Lexicon:
        errors = []
        ids: set[str] = set()
        seen: dict[tuple[str, str], str] = {}
        for entry in self.entries:
            if entry.id in ids:
                errors.append(f"[{entry.id}].id: duplicate id")
            ids.add(entry.id)
            for phrase in entry.phrases:
                first = seen.setdefault((entry.theme, phrase), entry.id)
                if first != entry.id or entry.phrases.count(phrase) > 1:
                    errors.append(
                        f"[{entry.id}].phrases: {phrase!r} is already a {entry.theme} phrase"
                        + (f" in {first}" if first != entry.id else "")
                    )
        if errors:
            raise ValueError("; ".join(dict.fromkeys(errors)))
        return self


class Evidence(BaseModel):
    """Words of the text that triggered a code, as they appear, with their character span."""

    model_config = ConfigDict(frozen=True)

    text: str
    start: int = Field(ge=0, description="Offset of the first character in the coded text.")
    end: int = Field(ge=0, description="Offset just after the last character: text[start:end].")
    entry: str = Field(description="The lexicon entry whose phrase matched.")


class ThemeCode(BaseModel):
    """A suggested theme for a free-text answer, with the words that suggested it."""

    model_config = ConfigDict(frozen=True)

    theme: ThemeId
    evidence: list[Evidence] = Field(min_length=1)


class LabelledStatement(Strict):
    """An invented statement in a patient's voice, with the themes a person coded it with."""

    text: str = Field(min_length=1)
    themes: list[ThemeId] = Field(description="Empty when no theme applies.")

    @model_validator(mode="after")
    def _themes_once(self) -> LabelledStatement:
        if len(set(self.themes)) != len(self.themes):
            raise ValueError("themes: a theme is listed twice")
        return self


class CodingEvaluation(Strict):
    """The coder's labelled statements (content/coding/evaluation.yaml): tuned on dev only."""

    heldout: list[LabelledStatement] = Field(min_length=1)
    dev: list[LabelledStatement] = Field(min_length=1)


class ThemeScore(BaseModel):
    """Precision, recall and F1 of one theme over a set of statements."""

    theme: ThemeId
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float


class CodingScores(BaseModel):
    """How well the coder agrees with the labels of a set of statements."""

    statements: int
    themes: list[ThemeScore]
    macro_f1: float = Field(description="The mean of the per-theme F1 scores.")
