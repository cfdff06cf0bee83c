"""Types every model module shares: the content base class, identifiers, themes, importance.

They sit below every other model module, so any two modules can use them without importing
each other.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
ThemeId = Literal["personalisation", "alliance", "depth", "skills_agency", "pace", "heard"]
Importance = Annotated[int, Field(ge=0, le=3, description="0 doesn't matter … 3 essential.")]


class Strict(BaseModel):
    """Base for content: unknown keys are errors, so a typo in a file never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)
