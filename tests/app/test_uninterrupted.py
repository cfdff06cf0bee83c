"""A newer click must not stop a saving callback half-way (ui/bound.py, ``uninterrupted``).

Streamlit checks for a waiting rerun at every use of session state, also inside a callback,
and stops the callback there; the stopped callback never runs again. These tests use
Streamlit's own SafeSessionState with a rerun waiting, so they fail if Streamlit changes how
it checks.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
from streamlit.runtime.state import SafeSessionState, SessionState

from ui import bound

ROOT = Path(__file__).resolve().parents[2]


def _rerun_waiting() -> None:
    raise RerunException(RerunData())


@pytest.fixture
def state(monkeypatch: pytest.MonkeyPatch) -> SafeSessionState:
    waiting = SafeSessionState(SessionState(), yield_callback=_rerun_waiting)
    monkeypatch.setattr(bound, "get_session_state", lambda: waiting)
    return waiting


def _save_two_fields(state: SafeSessionState, saved: list[str]) -> None:
    """As a callback does: read the widget, save, then note what was saved in session state."""
    saved.append(f"given {state['answer']}")
    state["noted"] = True
    saved.append("noted")


def test_a_waiting_rerun_stops_a_plain_callback_at_its_first_use_of_session_state(state):
    saved: list[str] = []
    with pytest.raises(RerunException):
        _save_two_fields(state, saved)
    assert saved == []


def test_an_uninterrupted_callback_runs_to_its_end_and_the_rerun_still_comes(state):
    object.__setattr__(state, "_yield_callback", lambda: None)
    state["answer"] = 3
    object.__setattr__(state, "_yield_callback", _rerun_waiting)
    saved: list[str] = []
    bound.uninterrupted(_save_two_fields)(state, saved)
    assert saved == ["given 3", "noted"]
    with pytest.raises(RerunException):  # the check is back once the callback has returned
        state["answer"]


def test_runs_of_one_session_take_turns():
    """With fast reruns a newer click starts a second run beside the one in progress, and two
    callbacks of one session merge into the same answer at once (the patient soak, seed 109)."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["runner"]["fastReruns"] is False
