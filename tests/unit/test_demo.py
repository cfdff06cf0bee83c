"""The demo caseload: valid, reproducible, varied like a real service, and on the command line."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailoring.__main__ import main
from tailoring.demo import THERAPISTS, demo_cases
from tailoring.engine.caseload import dropped_after_first
from tailoring.engine.outcomes import case_outcomes
from tailoring.imports.caseload import parse_caseload
from tailoring.model.case import Case


@pytest.fixture(scope="module")
def caseload(content) -> list[Case]:
    return demo_cases(content, 2_000, seed=2026)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_demo_case_validates_against_the_content(content, seed) -> None:
    for case in demo_cases(content, 6, seed):
        assert Case.model_validate(case.model_dump(), context={"content": content}) == case


def test_the_same_seed_gives_the_same_cases(content) -> None:
    assert demo_cases(content, 12, seed=5) == demo_cases(content, 12, seed=5)
    assert demo_cases(content, 12, seed=5) != demo_cases(content, 12, seed=6)
    assert demo_cases(content, 12, seed=5)[:4] == demo_cases(content, 4, seed=5)


def test_no_cases_and_a_negative_count(content) -> None:
    assert demo_cases(content, 0) == []
    with pytest.raises(ValueError, match="0 or more"):
        demo_cases(content, -1)


def test_references_are_invented_and_unique(caseload) -> None:
    references = [c.reference for c in caseload]

    assert len(set(references)) == len(references)
    assert all(re.fullmatch(r"DEMO-\d{5,}", r) for r in references)
    assert references[0] == "DEMO-10001"


def test_no_free_text_is_written(caseload) -> None:
    assert all(s.note == "" for c in caseload for s in c.sessions)
    assert all(a.note == "" for c in caseload for a in c.answers.social.values())


def test_every_protocol_and_therapist_appears(content, caseload) -> None:
    assert {c.protocol_id for c in caseload} == {p.id for p in content.protocols}
    assert {c.therapist for c in caseload} == {t.name for t in THERAPISTS}
    per_therapist = Counter(c.therapist for c in caseload)
    assert min(per_therapist.values()) < 0.3 * max(per_therapist.values())  # a small caseload


def test_step_2_practitioners_hold_step_2_protocols(content, caseload) -> None:
    low = {t.name for t in THERAPISTS if not t.high_intensity}
    for case in caseload:
        step = content.protocol(case.protocol_id).step
        assert (case.therapist in low) == (step == "step_2")


def test_attrition_looks_like_the_brief(caseload) -> None:
    treatment = [
        sum(s.kind == "treatment" and s.attendance == "attended" for s in c.sessions)
        for c in caseload
    ]
    started = [n for n in treatment if n >= 1]
    one_only = sum(n == 1 for n in started) / len(started)

    assert 0.05 < sum(not c.sessions for c in caseload) / len(caseload) < 0.12
    assert 0.25 < one_only < 0.42  # "for every one attending one session, two attend more"
    assert sum(dropped_after_first(c.sessions) for c in caseload) > 300
    assert {s.attendance for c in caseload for s in c.sessions} == {
        "attended",
        "did_not_attend",
        "cancelled",
    }


def test_outcomes_vary_as_in_a_real_service(content, caseload) -> None:
    outcomes = [case_outcomes(content, c) for c in caseload if c.sessions]
    finished = [o for o in outcomes if o.finished]
    at_caseness = [o for o in finished if o.caseness_at_start == "yes"]

    recovery = sum(o.recovery == "yes" for o in at_caseness) / len(at_caseness)
    deterioration = sum(o.reliable_deterioration == "yes" for o in finished) / len(finished)
    improved_only = sum(o.reliable_improvement == "yes" and o.recovery != "yes" for o in finished)

    assert 0.35 < recovery < 0.65  # "about half of those finishing"
    assert 0.03 < deterioration < 0.15
    assert improved_only > 20
    assert any(o.caseness_at_start == "no" for o in outcomes)


def test_social_context_and_ruptures_occur(content, caseload) -> None:
    housing = sum(
        c.answers.social.get("housing") is not None and c.answers.social["housing"].present == "yes"
        for c in caseload
    )
    ruptures = sum(
        any(
            a.value
            for s in c.sessions
            for item, a in s.alliance.items()
            if item.startswith("rupture_")
        )
        for c in caseload
    )
    risk = sum(
        any(s.measures.get("phq9", {}).get("phq9_9", 0) for s in c.sessions) for c in caseload
    )

    assert 0.12 < housing / len(caseload) < 0.35
    assert 0.05 < ruptures / len(caseload) < 0.3
    assert 0.01 < risk / len(caseload) < 0.1


def test_the_command_prints_a_json_list_of_case_files(content, capsys) -> None:
    assert main(["demo", "--cases", "3", "--seed", "4"]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert [Case.model_validate(c, context={"content": content}) for c in printed] == demo_cases(
        content, 3, seed=4
    )


def test_the_command_writes_json_or_the_csv_import_format(content, tmp_path, capsys) -> None:
    json_out, csv_out = tmp_path / "demo.json", tmp_path / "demo.csv"

    assert main(["demo", "--cases", "4", "--out", str(json_out)]) == 0
    assert main(["demo", "--cases", "4", "--out", str(csv_out)]) == 0

    assert "wrote 4 invented cases" in capsys.readouterr().err
    assert len(json.loads(json_out.read_text())) == 4
    report = parse_caseload(csv_out.read_bytes(), "demo.csv", content)
    assert report.clean and report.valid_cases == 4


def test_the_command_refuses_a_negative_count(capsys) -> None:
    assert main(["demo", "--cases", "-2"]) == 2
    assert "--cases" in capsys.readouterr().err
