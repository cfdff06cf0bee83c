"""Every setting the app reads from its environment or secrets.toml: one place, typed, documented.

The environment is read at each call (tests and the command line set variables as they go);
validating a given environment is cached. Streamlit's secrets are passed in by the app
(``ui/common.py``), never read here: Streamlit decides which files hold them (the project's
and the user's ``secrets.toml``, the ``secrets.files`` option, secrets set in code) and
``st.login`` reads ``[auth]`` from there, so reading a file here could disagree with what
Streamlit uses, and ``tailoring/`` would depend on Streamlit's rules. The README's
configuration table is printed from these fields (``python -m tailoring settings --markdown``),
and a test keeps the two the same.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

Mode = Literal["local", "team"]
# The one user of local mode when TAILORING_USER does not name them.
LOCAL_USER = "local user"
# Minutes without activity before team mode signs a person out.
IDLE_MINUTES = 30


def _setting(
    default: Any,
    description: str,
    *,
    env: str | None = None,
    secret: str | None = None,
    shown: str | None = None,
    **constraints: Any,
) -> Any:
    """A field read from the environment variable ``env`` and/or the secrets key ``secret``
    (``section.key``, or a whole ``section``). ``description`` is its line in the README, and
    ``shown`` the default as the README gives it (Markdown), when None stands for one worked
    out later."""
    extra: dict[str, JsonValue] = {"env": env, "secret": secret, "shown": shown}
    return Field(default, description=description, json_schema_extra=extra, **constraints)


class Settings(BaseModel):
    """The settings in force: each field's default applies when nothing sets it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str | None = _setting(
        None,
        "any SQLAlchemy URL; PostgreSQL as `postgresql+psycopg://user@host:5432/db`",
        env="TAILORING_DATABASE_URL",
        shown="`sqlite:///data/tailoring.db`",
    )
    content_dir: Path | None = _setting(
        None,
        "a service's own content folder, in the format of `content/`",
        env="TAILORING_CONTENT_DIR",
        shown="`content/`",
    )
    demo: bool = _setting(
        True,
        "`0` keeps the demo cases out of a new, empty database, and with them the invented "
        "caseload `scripts/run` stores in a new `data/tailoring.db`",
        env="TAILORING_DEMO",
    )
    mode: Mode = _setting(
        "local",
        "`team`: sign-in required, roles and access rules, see "
        "[docs/team-mode.md](docs/team-mode.md); the secrets key wins over the variable",
        env="TAILORING_MODE",
        secret="tailoring.mode",
    )
    user: str = _setting(
        LOCAL_USER,
        "the name of the one user of local mode, in histories and the audit log",
        env="TAILORING_USER",
    )
    idle_minutes: float = _setting(
        IDLE_MINUTES,
        "team mode: sign out after this long without activity in any tab; open pages then "
        "hide their content by themselves",
        env="TAILORING_IDLE_MINUTES",
        gt=0,
    )
    idle_watch_seconds: float = _setting(
        20,
        "team mode: how often an open page checks for the idle time-out",
        env="TAILORING_IDLE_WATCH_SECONDS",
        gt=0,
    )
    client_ip_header: str | None = _setting(
        None,
        "behind a reverse proxy, the header in which the proxy adds the client's address "
        "(e.g. `X-Forwarded-For`; its last address counts), so failed sign-ins and wrong "
        "patient codes count per client, not in one bucket for all; see "
        "[docs/team-mode.md](docs/team-mode.md)",
        env="TAILORING_CLIENT_IP_HEADER",
    )
    public_url: str | None = _setting(
        None,
        "the address patients reach the app at, for patient links and QR codes",
        env="TAILORING_PUBLIC_URL",
        shown="the address the clinician's browser uses",
    )
    trace_widgets: bool = _setting(
        False,
        "`1` logs every answer a browser sends to a bound widget and every value the server "
        "pushes to one (key and value; notes as their length only), to follow a lost or stray "
        "answer in the soak (`bench/state_soak.py`); answers then reach the server's log, so "
        "never with real patients",
        env="TAILORING_TRACE_WIDGETS",
    )
    sign_in_provider: bool = _setting(
        False,
        "team mode: an OpenID Connect provider for `st.login`, which Streamlit reads; the app "
        "signs in the account named by the provider's `preferred_username` or email",
        secret="auth",
    )


class SettingsError(ValueError):
    """A variable or secrets key holds a value the app cannot use; the message names each."""


def current(secrets: Mapping[str, Any] | None = None) -> Settings:
    """The settings in force now: the environment as it is at this call, and secrets.toml's
    keys when the app passes its secrets (a mapping of sections, as ``st.secrets``).

    SettingsError, naming the variable or key and what it must be, for a value that is not
    usable.
    """
    from_env = tuple((field, os.environ.get(var)) for field, (var, _) in _SOURCES.items() if var)
    from_secrets = tuple(
        (field, _secret(secrets or {}, key)) for field, (_, key) in _SOURCES.items() if key
    )
    return _validated(from_env, from_secrets)


def markdown_table() -> str:
    """The README's configuration table: where each setting is set, its default, its meaning."""
    rows = [
        "| environment variable or secrets.toml key | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        var, key = _SOURCES[name]
        where = [f"`{var}`"] if var else []
        if key:
            section, _, item = key.partition(".")
            where.append(f"`{item} =` under `[{section}]`" if item else f"section `[{section}]`")
        extra = field.json_schema_extra
        assert isinstance(extra, dict)
        shown = extra["shown"] or _shown(field.default)
        rows.append(f"| {' or '.join(where)} | {shown} | {field.description} |")
    return "\n".join(rows) + "\n"


def _shown(default: Any) -> str:
    if default is None:
        return "(none)"
    if isinstance(default, bool):
        return "`1`" if default else "(none)"
    return f"`{default:g}`" if isinstance(default, float | int) else f"`{default}`"


def _sources() -> dict[str, tuple[str | None, str | None]]:
    """Each field's environment variable and secrets key (either may be None)."""
    found = {}
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra
        assert isinstance(extra, dict)
        env, secret = extra["env"], extra["secret"]
        # _setting gives both as text or None.
        assert isinstance(env, str | None) and isinstance(secret, str | None)
        found[name] = (env, secret)
    return found


_SOURCES = _sources()


def _secret(secrets: Mapping[str, Any], key: str) -> Any:
    """The value at ``section.key`` in the secrets; for a whole section, whether it is there."""
    section, _, item = key.partition(".")
    if not item:
        return section in secrets
    values = secrets.get(section)
    value = values.get(item) if isinstance(values, Mapping) else None
    # Kept hashable for the cache; a table or list where a value belongs fails validation.
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


@lru_cache(maxsize=16)
def _validated(
    from_env: tuple[tuple[str, str | None], ...], from_secrets: tuple[tuple[str, Any], ...]
) -> Settings:
    # An empty variable counts as unset, as an empty line in an env file means "no value".
    values = {field: value for field, value in from_env if value}
    values.update((field, value) for field, value in from_secrets if value not in (None, ""))
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        raise SettingsError(_problems(error, dict(from_secrets))) from None


def _problems(error: ValidationError, from_secrets: dict[str, Any]) -> str:
    lines = []
    for problem in error.errors():
        field = str(problem["loc"][0])
        var, key = _SOURCES[field]
        where = f"{key} in secrets.toml" if key and from_secrets.get(field) else var
        lines.append(f"{where}: {problem['msg']}")
    return "The app's settings are not usable: " + "; ".join(lines)
