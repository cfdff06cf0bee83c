"""AppTest fixtures: the real app on a fresh SQLite database per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tailoring import services

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("TAILORING_DATABASE_URL", url)
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
