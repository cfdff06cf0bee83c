"""The base of every content model, shared by content.py and measures.py."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class Strict(BaseModel):
    """Base for content: unknown keys are errors, so a typo in a file never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)
