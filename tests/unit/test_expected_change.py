"""Expected-change curves derived from finished courses: which courses, which points, and the
shipped file's validity."""

from __future__ import annotations

import yaml

from tailoring import services
from tailoring.content import CONTENT_DIR
from tailoring.engine.expected import derive_expected_change
from tailoring.model.measures import ExpectedChange
from tests.session_factory import case_with_sessions, session


def course(content, phq9s, ending="completed"):
    sessions = [session(content, n, phq9=t, anxiety=3) for n, t in enumerate(phq9s, start=1)]
    return case_with_sessions(content, sessions, ending=ending)


def test_curves_come_from_finished_courses_at_caseness_by_starting_band(content):
    cases = [
        course(content, [16, 12, 8]),
        course(content, [18, 16, 14]),
        course(content, [15, 10]),
        course(content, [17, 17, 17], ending=None),  # open: not a finished course
        course(content, [9, 5, 2]),  # started below caseness
        course(content, [22, 20, 18]),  # severe: its own band
    ]
    curves = derive_expected_change(content, cases, "hand-made", percentile=75, min_cases=2)
    [moderately_severe] = [c for c in curves.curves if c.measure == "phq9" and c.start_min == 15]
    assert (moderately_severe.start_max, moderately_severe.label) == (19, "Moderately severe")
    points = {p.appointment: (p.expected, p.boundary, p.cases) for p in moderately_severe.points}
    # Appointment 1: 16, 18, 15; appointment 2: 12, 16, 10; appointment 3: 8, 14 (two courses).
    assert points == {1: (16.0, 17.0, 3), 2: (12.0, 14.0, 3), 3: (11.0, 12.5, 2)}
    assert not [c for c in curves.curves if c.measure == "phq9" and c.start_min < 10]
    assert not [c for c in curves.curves if c.measure == "phq9" and c.start_min == 20], "1 < 2"
    assert not [c for c in curves.curves if c.measure == "gad7"], "GAD-7 3 is below caseness"


def test_a_band_that_straddles_caseness_starts_at_caseness(content):
    cases = [
        case_with_sessions(
            content,
            [session(content, n, phq9=3, anxiety=t) for n, t in enumerate([9, 6], start=1)],
            ending="completed",
        )
    ] * 2
    curves = derive_expected_change(content, cases, "hand-made", min_cases=2)
    [mild] = [c for c in curves.curves if c.measure == "gad7"]
    assert (mild.start_min, mild.start_max) == (8, 9), "GAD-7 mild is 5–9, caseness 8"


def test_the_example_curves_validate_and_are_not_used(content):
    """Curves from invented patients must never decide whether a real patient is on track: the
    example lies outside content/measures/, and the app ships no curves of its own."""
    raw = yaml.safe_load((CONTENT_DIR / "examples" / "expected_change.demo.yaml").read_text())
    example = ExpectedChange.model_validate(raw)
    assert "invented demo cases" in example.source
    assert {c.measure for c in example.curves} <= {m.id for m in content.measures}
    assert content.expected_change is None
    assert not (CONTENT_DIR / "measures" / "expected_change.yaml").exists()


def test_the_command_writes_the_curves_of_invented_cases(tmp_path):
    text = services.expected_change_yaml(demo=40, seed=1, min_cases=5)
    curves = ExpectedChange.model_validate(yaml.safe_load(text))
    assert curves.source.startswith("computed from 40 invented demo cases")
    assert curves.curves and all(p.cases >= 5 for c in curves.curves for p in c.points)


def test_the_command_line_writes_the_file_a_service_puts_in_its_content(tmp_path):
    from tailoring.__main__ import main

    out = tmp_path / "expected_change.yaml"
    assert main(["expected-change", "--demo", "40", "--min-cases", "5", "--out", str(out)]) == 0
    curves = ExpectedChange.model_validate(yaml.safe_load(out.read_text()))
    assert curves.min_cases == 5 and curves.percentile == 75
    assert main(["expected-change", "--demo", "0"]) == 2
