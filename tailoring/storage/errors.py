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
    """Another case already uses this reference."""

    def __init__(self) -> None:
        super().__init__("Another case already uses this reference; choose a different one.")


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


class StorageUnavailable(StorageError):
    """The database is down, locked or read-only."""

    def __init__(self) -> None:
        super().__init__(
            "The case database cannot be used right now (it is unreachable, busy or read-only). "
            "Nothing was changed; please try again in a moment."
        )
