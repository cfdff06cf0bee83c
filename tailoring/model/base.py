"""Types every model module shares: the content base class, identifiers, themes, importance.

They sit below every other model module, so any two modules can use them without importing
each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
ThemeId = Literal["personalisation", "alliance", "depth", "skills_agency", "pace", "heard"]
Importance = Annotated[int, Field(ge=0, le=3, description="0 doesn't matter … 3 essential.")]


class Strict(BaseModel):
    """Base for content: unknown keys are errors, so a typo in a file never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Identified(Protocol):
    """Anything content names by id: a checklist item, a protocol, a measure, a scenario."""

    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=Identified)


class ById(Generic[E]):
    """One group of entries by id; an unknown id is a KeyError that names the group."""

    def __init__(self, what: str, entries: Iterable[E]) -> None:
        self._what = what
        self._entries = {entry.id: entry for entry in entries}

    def __getitem__(self, entry_id: str) -> E:
        try:
            return self._entries[entry_id]
        except KeyError:
            raise KeyError(f"unknown {self._what} {entry_id!r}") from None
