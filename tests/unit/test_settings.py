"""Every setting read in one place, typed, and documented in the README from the same source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tailoring import services, settings
from tailoring.__main__ import main
from tailoring.content import CONTENT_DIR, content_dir
from tailoring.storage.db import database_url

ROOT = Path(__file__).resolve().parents[2]
# Reading the environment or Streamlit's secrets anywhere but tailoring/settings.py (and
# ui/common.py, which hands the secrets to it).
READS = re.compile(r"os\.environ(?!\[\"TAILORING_DATABASE_URL\"\] = )|getenv|st\.secrets")
ALLOWED = {Path("tailoring/settings.py"), Path("ui/common.py")}


def test_the_readme_table_is_the_one_the_settings_print(capsys) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert main(["settings", "--markdown"]) == 0
    table = capsys.readouterr().out
    assert table == settings.markdown_table()
    assert table in readme, (
        "README.md's configuration table differs from tailoring/settings.py: paste the output "
        "of `python -m tailoring settings --markdown` into it"
    )


def test_every_variable_and_secret_is_in_the_table_with_its_description() -> None:
    table = settings.markdown_table()
    for name, field in settings.Settings.model_fields.items():
        assert field.description, name
        assert field.description in table
    for variable in (
        "TAILORING_DATABASE_URL",
        "TAILORING_CONTENT_DIR",
        "TAILORING_DEMO",
        "TAILORING_MODE",
        "TAILORING_USER",
        "TAILORING_IDLE_MINUTES",
        "TAILORING_IDLE_WATCH_SECONDS",
        "TAILORING_CLIENT_IP_HEADER",
        "TAILORING_PUBLIC_URL",
        "TAILORING_TRACE_WIDGETS",
    ):
        assert f"| `{variable}`" in table
    assert "`mode =` under `[tailoring]`" in table
    assert "section `[auth]`" in table
    assert "TAILORING_MIGRATE" not in table  # the app never migrates: nothing to turn off


def test_no_other_module_reads_the_environment_or_the_secrets() -> None:
    files = [ROOT / "app.py"]
    for folder in ("pages", "ui", "tailoring"):
        files += (ROOT / folder).rglob("*.py")
    readers = [
        str(path.relative_to(ROOT))
        for path in files
        if path.relative_to(ROOT) not in ALLOWED
        and "migrations" not in path.parts
        and READS.search(path.read_text(encoding="utf-8"))
    ]
    assert readers == []


def test_the_defaults_apply_when_nothing_is_set(monkeypatch) -> None:
    for variable, _ in settings._SOURCES.values():
        if variable:
            monkeypatch.delenv(variable, raising=False)
    current = settings.current()
    assert current == settings.Settings()
    assert (current.mode, current.demo, current.user, current.idle_minutes) == (
        "local",
        True,
        "local user",
        30,
    )
    assert content_dir() == CONTENT_DIR
    assert database_url().endswith("/data/tailoring.db")


def test_the_environment_is_read_at_each_call(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TAILORING_DATABASE_URL", "sqlite:///one.db")
    assert database_url() == "sqlite:///one.db"
    monkeypatch.setenv("TAILORING_DATABASE_URL", "sqlite:///two.db")
    assert database_url() == "sqlite:///two.db"
    monkeypatch.setenv("TAILORING_CONTENT_DIR", str(tmp_path))
    assert content_dir() == tmp_path
    monkeypatch.setenv("TAILORING_USER", "dr.who")
    assert services.current_user() == "dr.who"


def test_values_are_typed(monkeypatch) -> None:
    monkeypatch.setenv("TAILORING_DEMO", "0")
    monkeypatch.setenv("TAILORING_IDLE_MINUTES", "2.5")
    monkeypatch.setenv("TAILORING_MODE", "team")
    current = settings.current()
    assert (current.demo, current.idle_minutes, current.mode) == (False, 2.5, "team")


def test_an_empty_variable_counts_as_unset(monkeypatch) -> None:
    monkeypatch.setenv("TAILORING_DEMO", "")
    monkeypatch.setenv("TAILORING_MODE", "")
    assert (settings.current().demo, settings.current().mode) == (True, "local")


def test_a_value_that_cannot_be_used_is_named_with_what_it_must_be(monkeypatch) -> None:
    monkeypatch.setenv("TAILORING_MODE", "teams")
    monkeypatch.setenv("TAILORING_IDLE_MINUTES", "0")
    with pytest.raises(settings.SettingsError) as refused:
        settings.current()
    assert str(refused.value) == (
        "The app's settings are not usable: TAILORING_MODE: Input should be 'local' or 'team'; "
        "TAILORING_IDLE_MINUTES: Input should be greater than 0"
    )


def test_the_command_line_names_a_bad_setting_without_a_traceback(monkeypatch, capsys) -> None:
    monkeypatch.setenv("TAILORING_DEMO", "perhaps")
    assert main(["settings"]) == 2
    assert capsys.readouterr().err.startswith(
        "The app's settings are not usable: TAILORING_DEMO: Input should be a valid boolean"
    )


def test_secrets_win_over_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("TAILORING_MODE", "local")
    secrets = {"tailoring": {"mode": "team"}, "auth": {"client_id": "x"}}
    current = settings.current(secrets)
    assert (current.mode, current.sign_in_provider) == ("team", True)
    assert settings.current({"tailoring": {}}).sign_in_provider is False
    with pytest.raises(settings.SettingsError, match=r"^.*: tailoring\.mode in secrets\.toml: "):
        settings.current({"tailoring": {"mode": "everyone"}})
    with pytest.raises(settings.SettingsError, match=r"tailoring\.mode in secrets\.toml"):
        settings.current({"tailoring": {"mode": ["team"]}})


def test_the_settings_command_hides_the_database_password(monkeypatch, capsys) -> None:
    monkeypatch.setenv("TAILORING_DATABASE_URL", "postgresql+psycopg://app:s3cret@db:5432/t")
    assert main(["settings"]) == 0
    printed = capsys.readouterr().out
    assert '"database_url": "postgresql+psycopg://app:***@db:5432/t"' in printed
    assert "s3cret" not in printed
