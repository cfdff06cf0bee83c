"""AppTest fixtures: the real app on a fresh SQLite database per test, in local or team mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tailoring import services
from tailoring.auth import hash_password
from tailoring.model.actor import Actor
from tests.store import app_store

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PASSWORD = "correct horse battery"
PEOPLE = {
    "tess": ("therapist",),
    "omar": ("therapist",),
    "sam": ("supervisor",),
    "tara": ("trainee",),
    "ada": ("admin",),
}


@pytest.fixture
def team(database, monkeypatch) -> dict[str, int]:
    """Team mode, five accounts (Sam supervises Tess), one case each for Tess and Omar."""
    monkeypatch.setenv("TAILORING_MODE", "team")
    monkeypatch.setenv("TAILORING_DEMO", "0")
    services.set_mode("team")
    services.start()
    for username, roles in PEOPLE.items():
        app_store().accounts.add_user(
            username, roles, username.title(), hash_password(PASSWORD, username)
        )
    app_store().accounts.assign_supervisor("sam", "tess")
    ids = {}
    for username, reference in (("tess", "TT-001"), ("omar", "OM-001")):
        with services.acting_as(Actor(username, username, frozenset({"therapist"}))):
            ids[username] = services.new_case(reference, "ba_step2", 6)
            services.save_answer(
                ids[username],
                "social",
                "housing",
                {"present": "yes", "maintains": "yes", "helping": "no"},
            )
    yield ids
    services.set_mode("local")


def sign_in(username: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert at.title[0].value == "Sign in to Tailoring"
    at.text_input(key="login.username").input(username)
    at.text_input(key="login.password").input(password)
    return at.button(key="login.submit").click().run()


@pytest.fixture
def database(tmp_path, monkeypatch, upgrade) -> str:
    """A fresh SQLite database at the current schema, as `scripts/run` leaves it."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("TAILORING_DATABASE_URL", url)
    upgrade(url)
    return url


@pytest.fixture
def app(database) -> AppTest:
    """The app, opened once on the Cases page with the demo cases loaded."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


@pytest.fixture
def fresh_case(database) -> int:
    """An empty case on CBT for depression with 16 sessions."""
    services.start()
    return services.new_case("APP-001", "cbt_depression", 16)


def open_walkthrough(at: AppTest, case_id: int, step: str = "preferences") -> AppTest:
    at.session_state["case_id"] = case_id
    at.switch_page("pages/walkthrough.py")
    at.run()
    # As a person does: through the step control, whose change is saved with the case.
    picker = [b for b in at.button_group if b.key == "walk.step"]
    if not picker or picker[0].value == step:
        return at
    return picker[0].set_value(step).run()
