"""What can go wrong when storing cases, in words a clinician can be shown."""

from __future__ import annotations

from typing import Any


class StorageError(Exception):
    """Base of every error the storage layer raises on purpose."""


class CaseNotFound(StorageError):
    """No case has this id or reference (it may have been deleted)."""

    def __init__(self) -> None:
        super().__init__("This case no longer exists; it may have been deleted.")


class ReferenceTaken(StorageError):
    """Another case already uses this reference; ``reference`` names it when known."""

    def __init__(self, reference: str | None = None) -> None:
        which = f"the reference {reference}" if reference else "this reference"
        super().__init__(f"Another case already uses {which}; choose a different one.")
        self.reference = reference


class NoteNotFound(StorageError):
    """No supervision note has this id (it, or its case, may have been deleted)."""

    def __init__(self) -> None:
        super().__init__("This supervision note no longer exists; it may have been deleted.")


class StaleCase(StorageError):
    """The case changed since the caller read it, so the update was not applied."""

    def __init__(self, version: int) -> None:
        super().__init__("Someone else changed this case in the meantime; nothing was saved.")
        self.version = version


class StaleAnswer(StorageError):
    """The answer changed since the caller read it; ``current`` is what is stored now."""

    def __init__(self, current: dict[str, Any] | None, revision: int) -> None:
        super().__init__("Someone else changed this answer in the meantime; nothing was saved.")
        self.current = current
        self.revision = revision


class StaleSession(StorageError):
    """The session changed since the caller read it; ``current`` is what is stored now."""

    def __init__(self, current: dict[str, Any] | None, revision: int) -> None:
        super().__init__("Someone else changed this session in the meantime; nothing was saved.")
        self.current = current
        self.revision = revision


class StaleNote(StorageError):
    """The supervision note changed since the caller read it, so the edit was not applied."""

    def __init__(self, version: int) -> None:
        super().__init__(
            "Someone else changed this supervision note in the meantime; nothing was saved. "
            "Reload the note to see their change, then edit it again."
        )
        self.version = version


class StorageUnavailable(StorageError):
    """The database is down, locked or read-only."""

    def __init__(self) -> None:
        super().__init__(
            "The case database cannot be used right now (it is unreachable, busy or read-only). "
            "Nothing was changed; please try again in a moment."
        )


class SchemaOutdated(StorageError):
    """The database's schema is not at the revision this version of the app needs, or it has
    none yet: the app does not migrate, ``python -m tailoring db upgrade`` does."""

    def __init__(self, current: str | None, head: str) -> None:
        state = "has no tables yet" if current is None else f"schema is at revision {current}"
        super().__init__(
            f"The database {state}, and this version of the app needs revision {head}. Run "
            "`python -m tailoring db upgrade` (scripts/run does it; on PostgreSQL, as the role "
            "that owns the tables), then try again."
        )
        self.current = current
        self.head = head


class MayNotMigrate(StorageError):
    """The database refused to change the schema: this role does not own the tables."""

    def __init__(self) -> None:
        super().__init__(
            "The schema needs migrating, and this database role may not change it. Run "
            "`python -m tailoring db upgrade` as the role that owns the tables "
            "(docs/team-mode.md, 'Database roles')."
        )


class UnknownUser(StorageError):
    """No account has this username."""

    def __init__(self, username: str) -> None:
        super().__init__(f"There is no account called {username}.")
        self.username = username


class UsernameTaken(StorageError):
    """Another account already has this username."""

    def __init__(self, username: str) -> None:
        super().__init__(f"There is already an account called {username}; choose another name.")
        self.username = username


class PatientLinkNotFound(StorageError):
    """No patient link has this id (it, or its case, may have been deleted)."""

    def __init__(self) -> None:
        super().__init__("This patient link no longer exists; it may have been deleted.")


class LinkClosed(StorageError):
    """The link is completed, expired or revoked, so its answers can no longer change."""

    def __init__(self) -> None:
        super().__init__(
            "These answers can no longer be changed: the questionnaire is finished or the link "
            "has stopped working."
        )
