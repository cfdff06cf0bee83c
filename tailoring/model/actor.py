"""Who is acting: the roles of team mode and the actor every use case is done by.

Below authentication, access rules and account storage alike, so each of them can name a role or
an actor without importing the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tailoring.settings import LOCAL_USER

Role = Literal["therapist", "supervisor", "trainee", "admin"]
ROLES: tuple[Role, ...] = ("therapist", "supervisor", "trainee", "admin")


@dataclass(frozen=True)
class Actor:
    """Someone using the app, with what they may do.

    ``supervisees`` are the usernames whose cases and attempts a supervisor reads. ``local`` is
    the single user of local mode, who holds every role and for whom every case is their own.
    """

    username: str
    display_name: str
    roles: frozenset[Role]
    supervisees: frozenset[str] = frozenset()
    local: bool = False


def local_actor(username: str = LOCAL_USER) -> Actor:
    """The one user of local mode (no login), named ``username``: every role, every case."""
    return Actor(username, username, frozenset(ROLES), local=True)
