"""TAILORING_TRACE_WIDGETS: the log the soak reads to follow a stray or lost answer.

Each answer a browser sends to a bound widget and each value the server pushes to one is logged
with its key; a note's text is logged by its length only. Off, nothing of the kind is logged.
"""

from __future__ import annotations

import logging
import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.test_sessions_practice import add_session, open_page

NOTE = "Damp flat, private rent"
TAB = re.compile(r"^tab .{1,6}? (?=widget |run )")


def _session_with_answers(app: AppTest, case_id: int) -> None:
    open_page(app, "pages/sessions.py", case_id)
    add_session(app, 1)
    app.radio(key="session.phq9.phq9_1").set_value(2).run()
    app.text_area(key="session.note").input(NOTE).run()
    assert not app.exception


def _widget_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The trace's lines, without the name of the tab they come from."""
    lines = [r.getMessage() for r in caplog.records if r.name == "tailoring.ui"]
    return [TAB.sub("", line) for line in lines if TAB.match(line)]


def test_the_trace_follows_each_answer_and_logs_notes_by_length_only(
    app: AppTest, fresh_case: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TAILORING_TRACE_WIDGETS", "1")
    caplog.set_level(logging.INFO, logger="tailoring.ui")
    _session_with_answers(app, fresh_case)
    lines = _widget_lines(caplog)
    assert "widget session.phq9.phq9_1 given by the browser: 2" in lines
    assert f"widget session.note given by the browser: <text of {len(NOTE)} characters>" in lines
    assert any(
        line.startswith(
            "widget session.phq9.phq9_2 set by the server: None (the browser holds none"
        )
        for line in lines
    ), lines
    assert not any("Damp" in line for line in lines)
    assert "run completed" in " ".join(lines)


def test_without_the_setting_nothing_of_the_kind_is_logged(
    app: AppTest, fresh_case: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tailoring.ui")
    _session_with_answers(app, fresh_case)
    assert _widget_lines(caplog) == []
