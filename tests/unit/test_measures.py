"""The outcome measures as data: published thresholds pinned, scoring at every edge, validation."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from tailoring import services
from tailoring.content import load_content
from tailoring.engine.outcomes import score_measure
from tailoring.model.case import Case
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import Measure, loinc_check_digit, loinc_problems
from tailoring.services.files import case_json
from tests.content_edits import content_problems, edit_yaml, has_problem
from tests.session_factory import answers_for, case_with_sessions, session

FREQUENCY = ["Not at all", "Several days", "More than half the days", "Nearly every day"]


def bands(measure: Measure) -> list[tuple[int, int, str]]:
    return [(b.min, b.max, b.label) for b in measure.bands]


# --- Published thresholds, pinned as the brief states them -----------------------------------


def test_phq9_as_published(content: ContentLibrary) -> None:
    phq9 = content.measure("phq9")
    assert (phq9.role, phq9.short_name) == ("depression", "PHQ-9")
    assert [i.id for i in phq9.items] == [f"phq9_{n}" for n in range(1, 10)]
    assert [(o.value, o.label) for o in phq9.options] == list(enumerate(FREQUENCY))
    assert (phq9.min_total, phq9.max_total) == (0, 27)
    assert bands(phq9) == [
        (0, 4, "Minimal"),
        (5, 9, "Mild"),
        (10, 14, "Moderate"),
        (15, 19, "Moderately severe"),
        (20, 27, "Severe"),
    ]
    assert phq9.caseness == 10
    assert phq9.reliable_change == 6
    assert phq9.risk_item == "phq9_9"
    assert "better off dead" in phq9.item("phq9_9").text


def test_gad7_as_published(content: ContentLibrary) -> None:
    gad7 = content.measure("gad7")
    assert (gad7.role, gad7.short_name) == ("anxiety", "GAD-7")
    assert [i.id for i in gad7.items] == [f"gad7_{n}" for n in range(1, 8)]
    assert gad7.options[0].label == "Not at all"
    assert [(o.value, o.label) for o in gad7.options] == list(enumerate(FREQUENCY))
    assert (gad7.min_total, gad7.max_total) == (0, 21)
    assert bands(gad7) == [
        (0, 4, "Minimal"),
        (5, 9, "Mild"),
        (10, 14, "Moderate"),
        (15, 21, "Severe"),
    ]
    assert gad7.caseness == 8
    assert gad7.reliable_change == 4
    assert gad7.risk_item is None


def test_wsas_as_published(content: ContentLibrary) -> None:
    wsas = content.measure("wsas")
    assert wsas.role == "functioning"
    assert [i.id for i in wsas.items] == [f"wsas_{n}" for n in range(1, 6)]
    assert [o.value for o in wsas.options] == list(range(9))
    assert (wsas.min_total, wsas.max_total) == (0, 40)
    assert [(lo, hi) for lo, hi, _ in bands(wsas)] == [(0, 9), (10, 20), (21, 40)]
    assert wsas.caseness is None, "WSAS plays no part in recovery"
    assert wsas.reliable_change is None, "the brief gives no reliable-change value for WSAS"
    assert [i.id for i in wsas.items if i.not_applicable] == ["wsas_1"]
    assert wsas.loinc is None


def test_loinc_codes_checked_in_the_field_notes(content: ContentLibrary) -> None:
    phq9, gad7 = content.measure("phq9"), content.measure("gad7")
    assert phq9.loinc is not None and gad7.loinc is not None
    assert (phq9.loinc.panel, phq9.loinc.total) == ("44249-1", "44261-6")
    assert phq9.item("phq9_9").loinc == "44260-8"
    assert (gad7.loinc.panel, gad7.loinc.total) == ("69737-5", "70274-6")


def test_every_phq9_and_gad7_item_and_answer_has_its_loinc_code(content: ContentLibrary) -> None:
    phq9, gad7 = content.measure("phq9"), content.measure("gad7")
    assert [i.loinc for i in phq9.items] == [
        "44250-9", "44255-8", "44259-0", "44254-1", "44251-7",
        "44258-2", "44252-5", "44253-3", "44260-8",
    ]  # fmt: skip
    assert [i.loinc for i in gad7.items] == [
        "69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7",
    ]  # fmt: skip
    answers = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
    for measure in (phq9, gad7):
        assert [(o.value, o.loinc) for o in measure.options] == list(enumerate(answers))
        assert measure.loinc is not None and measure.loinc.not_recorded == ["69722-7"]
    assert gad7.item("gad7_2").other_loinc_answers == {"LA18938-3": 2}


@pytest.mark.parametrize(
    "code",
    [
        "44249-1", "44261-6", "69737-5", "70274-6", "69722-7",
        "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3",
        "44260-8", "69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7",
    ],
)  # fmt: skip
def test_loinc_check_digit_accepts_real_codes(code: str) -> None:
    number, _, check = code.partition("-")
    assert loinc_check_digit(number) == int(check)
    assert loinc_problems(code) == []


def test_loinc_check_digit_catches_a_typo() -> None:
    assert loinc_problems("44249-2")
    assert loinc_problems("44294-1")


def test_tracking_rules_as_documented(content: ContentLibrary) -> None:
    rules = content.tracking
    assert rules.depression_measure == "phq9"
    assert rules.functioning_measure == "wsas"
    assert rules.finished_min_treatment_sessions == 2
    assert rules.not_on_track_after_treatment_sessions == 4
    assert rules.alliance_drop_points == 15
    assert rules.alliance_min_ratings == 3
    assert rules.early_until_treatment_sessions == 2


# --- Scoring at and around every edge ---------------------------------------------------------


def edges(measure_id: str) -> list[tuple[str, int, str]]:
    """(measure, total, band) at both ends of every band of the real content."""
    lib = load_content()
    return [
        (measure_id, total, band.label)
        for band in lib.measure(measure_id).bands
        for total in (band.min, band.max)
    ]


@pytest.mark.parametrize(
    ("measure_id", "total", "band"), edges("phq9") + edges("gad7") + edges("wsas")
)
def test_every_band_edge_scores_into_its_band(
    content: ContentLibrary, measure_id: str, total: int, band: str
) -> None:
    measure = content.measure(measure_id)
    score = score_measure(measure, answers_for(measure, total))
    assert (score.total, score.band, score.complete) == (total, band, True)


@pytest.mark.parametrize(
    ("total", "band"),
    [(4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"), (14, "Moderate"),
     (15, "Moderately severe"), (19, "Moderately severe"), (20, "Severe")],
)  # fmt: skip
def test_phq9_band_edges(content: ContentLibrary, total: int, band: str) -> None:
    phq9 = content.measure("phq9")
    assert score_measure(phq9, answers_for(phq9, total)).band == band


@pytest.mark.parametrize(
    ("total", "band"),
    [(9, "Subclinical"), (10, "Significant functional impairment"),
     (20, "Significant functional impairment"), (21, "Moderately severe impairment or worse")],
)  # fmt: skip
def test_wsas_band_edges(content: ContentLibrary, total: int, band: str) -> None:
    wsas = content.measure("wsas")
    assert score_measure(wsas, answers_for(wsas, total)).band == band


@pytest.mark.parametrize(
    ("measure_id", "total", "caseness"),
    [("phq9", 9, False), ("phq9", 10, True), ("gad7", 7, False), ("gad7", 8, True)],
)
def test_caseness_threshold(
    content: ContentLibrary, measure_id: str, total: int, caseness: bool
) -> None:
    measure = content.measure(measure_id)
    assert score_measure(measure, answers_for(measure, total)).caseness is caseness


def test_wsas_has_no_caseness(content: ContentLibrary) -> None:
    wsas = content.measure("wsas")
    assert score_measure(wsas, answers_for(wsas, 30)).caseness is None


def test_a_partial_measure_is_not_scored(content: ContentLibrary) -> None:
    phq9 = content.measure("phq9")
    answers: dict = {f"phq9_{n}": 3 for n in range(1, 9)}  # 24 from eight items, item 9 missing
    for partial in (answers, {**answers, "phq9_9": None}):
        score = score_measure(phq9, partial)
        assert (score.total, score.band, score.caseness, score.complete) == (
            None,
            None,
            None,
            False,
        )
        assert (score.answered, score.items) == (8, 9)


def test_an_empty_measure_is_not_scored(content: ContentLibrary) -> None:
    score = score_measure(content.measure("gad7"), {})
    assert (score.total, score.answered, score.complete) == (None, 0, False)


def test_wsas_work_not_applicable_sums_the_other_items(content: ContentLibrary) -> None:
    wsas = content.measure("wsas")
    score = score_measure(
        wsas, {"wsas_1": "na", "wsas_2": 8, "wsas_3": 8, "wsas_4": 4, "wsas_5": 1}
    )
    assert (score.total, score.max_total, score.not_applicable, score.complete) == (21, 32, 1, True)
    assert score.band == "Moderately severe impairment or worse" and score.prorated


@pytest.mark.parametrize(
    ("four_items", "band"),
    [
        (7, "Subclinical"),  # 7 × 5/4 = 8.75: below 10
        (8, "Significant functional impairment"),  # 10
        (16, "Significant functional impairment"),  # 20
        (17, "Moderately severe impairment or worse"),  # 21.25
    ],
)
def test_wsas_with_work_not_applicable_reads_bands_pro_rated_to_four_items(
    content: ContentLibrary, four_items: int, band: str
) -> None:
    """Bands on four items: below 8, 8–16, above 16 (10 and 20 scaled by 4/5)."""
    values = [min(8, four_items - 8 * i) if four_items > 8 * i else 0 for i in range(4)]
    answers = {"wsas_1": "na", **{f"wsas_{n}": v for n, v in enumerate(values, start=2)}}
    score = score_measure(content.measure("wsas"), answers)
    assert (score.total, score.band, score.prorated) == (four_items, band, True)
    full = score_measure(content.measure("wsas"), {f"wsas_{n}": 2 for n in range(1, 6)})
    assert (full.total, full.band, full.prorated) == (
        10,
        "Significant functional impairment",
        False,
    )


@pytest.mark.parametrize(
    ("measure_id", "answers", "message"),
    [
        ("wsas", {"wsas_2": "na"}, "not allowed"),
        ("phq9", {"phq9_1": "na"}, "not allowed"),
        ("phq9", {"phq9_1": 4}, "outside 0–3"),
        ("phq9", {"phq9_1": -1}, "outside 0–3"),
        ("gad7", {"gad7_7": 4}, "outside 0–3"),
        ("wsas", {"wsas_3": 9}, "outside 0–8"),
        ("gad7", {"gad7_1": True}, "whole number"),
        ("gad7", {"gad7_8": 1}, "unknown item"),
        ("gad7", {"phq9_1": 1}, "unknown item"),
    ],
)
def test_bad_answers_are_refused(
    content: ContentLibrary, measure_id: str, answers: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        score_measure(content.measure(measure_id), answers)


def test_highest_values_are_accepted(content: ContentLibrary) -> None:
    assert score_measure(content.measure("wsas"), {"wsas_1": 8}).answered == 1
    assert score_measure(content.measure("phq9"), {"phq9_1": 3}).answered == 1


# --- Case files with sessions -------------------------------------------------------------------


def problems_of(content: ContentLibrary, change: Callable[[dict], None]) -> str:
    data = case_with_sessions(
        content, [session(content, 1, phq9=12, anxiety=9), session(content, 2, phq9=8, anxiety=6)]
    ).model_dump(mode="json")
    change(data)
    with pytest.raises(ValidationError) as caught:
        Case.model_validate(data, context={"content": content})
    return str(caught.value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["sessions"][0]["measures"].update(bdi={}), "sessions.0.measures.bdi"),
        (
            lambda d: d["sessions"][1]["measures"]["phq9"].update(phq9_10=1),
            "sessions.1.measures.phq9.phq9_10",
        ),
        (
            lambda d: d["sessions"][1]["measures"]["phq9"].update(phq9_2=4),
            "sessions.1.measures.phq9.phq9_2",
        ),
        (
            lambda d: d["sessions"][0]["measures"].update(wsas={"wsas_2": "na"}),
            "sessions.0.measures.wsas.wsas_2",
        ),
        (
            lambda d: d["sessions"][0]["measures"].update(wsas={"wsas_1": 9}),
            "sessions.0.measures.wsas.wsas_1",
        ),
        (lambda d: d["sessions"][0]["measures"]["gad7"].update(gad7_1=1.0), "gad7_1"),
        (lambda d: d["sessions"][0]["measures"]["gad7"].update(gad7_1="2"), "gad7_1"),
        (
            lambda d: d["sessions"][0]["alliance"].update(telepathy={"value": 1}),
            "sessions.0.alliance.telepathy",
        ),
        (
            lambda d: d["sessions"][0]["alliance"].update(rupture_withdrawal={"value": 3}),
            "sessions.0.alliance.rupture_withdrawal.value",
        ),
        (lambda d: d["sessions"][1].update(number=1), "sessions.1.number"),
        (lambda d: d["sessions"][1].update(date="2025-01-01"), "sessions.1.date"),
        (lambda d: d["sessions"][0].update(attendance="late"), "attendance"),
        (lambda d: d["sessions"][0].update(kind="group"), "kind"),
        (lambda d: d["sessions"][0].update(number=0), "number"),
        (lambda d: d.update(anxiety_measure="ies_r"), "anxiety_measure"),
        (lambda d: d.update(anxiety_measure="wsas"), "anxiety_measure"),
    ],
)
def test_case_file_refuses_bad_sessions_naming_the_field(
    content: ContentLibrary, change: Callable[[dict], None], field: str
) -> None:
    assert field in problems_of(content, change)


def test_case_file_with_sessions_round_trips(content: ContentLibrary) -> None:
    case = case_with_sessions(
        content,
        [
            session(content, 1, phq9=14, anxiety=9, kind="assessment"),
            session(content, 2, attendance="did_not_attend"),
            session(content, 3, phq9=12, anxiety=8, alliance={"bond": 3}),
        ],
    )
    # The file itself, not the export use case (which writes an audit entry to a database).
    assert services.parse_case_file(case_json(case)) == case


def test_the_case_schema_documents_sessions() -> None:
    schema = services.case_schema()
    assert {"sessions", "anxiety_measure"} <= set(schema["properties"])
    assert "Session" in json.dumps(schema)


# --- Broken measure content is reported by file and field -------------------------------------


@pytest.mark.parametrize(
    ("file", "change", "parts"),
    [
        ("phq9", lambda d: d["bands"][1].update(min=6), ("bands", "starts at 6, expected 5")),
        ("phq9", lambda d: d["bands"][1].update(min=4), ("bands", "starts at 4")),
        ("gad7", lambda d: d["bands"][-1].update(max=20), ("bands", "ends at 20, not 21")),
        ("phq9", lambda d: d.update(caseness=28), ("caseness", "outside 1–27")),
        ("gad7", lambda d: d.update(reliable_change=None), ("reliable_change", "needs one")),
        ("phq9", lambda d: d.update(risk_item="phq9_10"), ("risk_item", "not an item")),
        ("phq9", lambda d: d["loinc"].update(total="44261-7"), ("loinc.total", "check digit")),
        ("phq9", lambda d: d["items"][2].update(loinc="44259-1"), ("phq9_3.loinc", "check digit")),
        ("phq9", lambda d: d["items"][2].pop("loinc"), ("phq9_3.loinc", "on every item")),
        ("phq9", lambda d: d["items"][2].update(loinc="44250-9"), ("44250-9 is given twice",)),
        ("gad7", lambda d: d["loinc"].update(not_recorded=["69725-0"]), ("69725-0", "twice")),
        ("gad7", lambda d: d["loinc"].update(not_recorded=["69722-8"]), ("not_recorded",)),
        ("phq9", lambda d: d["options"][1].pop("loinc"), ("options", "every option or on none")),
        ("phq9", lambda d: d["options"][1].update(loinc="LA6568-5"), ("options", "must differ")),
        ("phq9", lambda d: d["options"][1].update(loinc="6569-3"), ("options.1.loinc",)),
        (
            "gad7",
            lambda d: d["items"][1].update(other_loinc_answers={"LA18938-3": 5}),
            ("gad7_2.other_loinc_answers.LA18938-3", "not the value of an option"),
        ),
        (
            "gad7",
            lambda d: d["items"][1].update(other_loinc_answers={"LA6569-3": 1}),
            ("gad7_2.other_loinc_answers.LA6569-3", "already the code of an option"),
        ),
        (
            "wsas",
            lambda d: d["items"][1].update(other_loinc_answers={"LA6569-3": 1}),
            ("wsas_2", "need the measure's loinc codes"),
        ),
        ("gad7", lambda d: d["items"][0].update(id="anx_1"), ("items.anx_1", "gad7_")),
        ("wsas", lambda d: d["options"].reverse(), ("options", "ascending")),
        ("wsas", lambda d: d.update(role="mood"), ("role",)),
    ],
)
def test_a_broken_measure_names_its_file_and_field(
    content_copy: Path, file: str, change: Callable[[dict], None], parts: tuple[str, ...]
) -> None:
    edit_yaml(content_copy / "measures" / f"{file}.yaml", change)
    found = content_problems(content_copy)
    assert has_problem(found, f"measures/{file}.yaml", *parts), found


@pytest.mark.parametrize(
    ("change", "parts"),
    [
        (lambda d: d.update(alliance_drop_points=0), ("alliance_drop_points",)),
        (lambda d: d.update(not_on_track_after=4), ("not_on_track_after",)),
        (lambda d: d.update(depression_measure="gad7"), ("depression_measure", "not a depression")),
        (lambda d: d.update(functioning_measure="phq9"), ("functioning_measure",)),
    ],
)
def test_broken_rules_name_the_rules_file(
    content_copy: Path, change: Callable[[dict], None], parts: tuple[str, ...]
) -> None:
    edit_yaml(content_copy / "measures" / "rules.yaml", change)
    found = content_problems(content_copy)
    assert has_problem(found, "measures/rules.yaml", *parts), found


def test_a_measure_id_must_match_its_file_name(content_copy: Path) -> None:
    measures = content_copy / "measures"
    (measures / "gad7.yaml").rename(measures / "gad_7.yaml")
    assert has_problem(content_problems(content_copy), "measures/gad_7.yaml", "id:", "file name")


def test_missing_measures_are_reported(content_copy: Path) -> None:
    (content_copy / "measures" / "rules.yaml").unlink()
    assert has_problem(content_problems(content_copy), "measures/rules.yaml", "missing")
    shutil.rmtree(content_copy / "measures")
    assert has_problem(content_problems(content_copy), "measures/", "no measure files")


def test_content_needs_an_anxiety_measure(content_copy: Path) -> None:
    edit_yaml(content_copy / "measures" / "gad7.yaml", lambda d: d.update(role="functioning"))
    (content_copy / "measures" / "wsas.yaml").unlink()
    (content_copy / "measures" / "pcl5.yaml").unlink()
    edit_yaml(
        content_copy / "measures" / "rules.yaml", lambda d: d.update(functioning_measure=None)
    )
    # The patient questionnaires name the WSAS: without it they are a problem of their own.
    shutil.rmtree(content_copy / "patient")
    found = content_problems(content_copy)
    assert has_problem(found, "measures/", "no measure has role anxiety"), found


def test_the_pcl5_is_scored_as_its_sources_say(content) -> None:
    """PCL-5 (public domain): 20 items 0–4, total 0–80; caseness 32 (the National Center for
    PTSD's 31–33, as services use it); reliable change 10. Pinned at the edges."""
    pcl5 = content.measure("pcl5")
    assert (pcl5.role, len(pcl5.items), pcl5.min_value, pcl5.max_value) == ("anxiety", 20, 0, 4)
    assert (pcl5.max_total, pcl5.caseness, pcl5.reliable_change) == (80, 32, 10)
    assert [o.label for o in pcl5.options] == [
        "Not at all",
        "A little bit",
        "Moderately",
        "Quite a bit",
        "Extremely",
    ]
    assert pcl5.band(31).label == "Below the probable-PTSD cut-off"
    assert pcl5.band(32).label == "At or above the probable-PTSD cut-off"
    assert pcl5.risk_item is None


def test_a_ptsd_case_reads_its_outcomes_on_the_pcl5(content) -> None:
    from tailoring.engine.outcomes import case_outcomes
    from tests.session_factory import case_with_sessions, session

    def outcomes(first: int, last: int):
        sessions = [
            session(content, 1, phq9=5, anxiety=first, anxiety_measure="pcl5"),
            session(content, 2, phq9=5, anxiety=last, anxiety_measure="pcl5"),
        ]
        case = case_with_sessions(content, sessions, anxiety_measure="pcl5", ending="completed")
        return case_outcomes(content, case)

    below = outcomes(31, 20)
    assert (below.caseness_at_start, below.recovery) == ("no", "not_at_caseness")
    nine = outcomes(40, 31)  # a fall of 9: recovered, not reliably
    assert (nine.recovery, nine.reliable_improvement, nine.reliable_recovery) == ("yes", "no", "no")
    ten = outcomes(40, 30)
    assert (ten.recovery, ten.reliable_recovery, ten.finished) == ("yes", "yes", True)
    rise = outcomes(32, 42)
    assert rise.reliable_deterioration == "yes"


def test_the_wsas_keeps_its_five_areas_and_the_patient_is_told_of_nhs_111(content) -> None:
    wsas = content.measure("wsas")
    assert "form and maintain close relationships" in wsas.item("wsas_5").text
    urgent = content.patient.wording.urgent_help
    assert "NHS 111" in urgent and "mental health option" in urgent and "999" in urgent


def test_severity_runs_from_the_lowest_band_to_the_highest(content):
    phq9, gad7, wsas = (content.measure(m) for m in ("phq9", "gad7", "wsas"))
    assert [phq9.severity(t) for t in (0, 5, 10, 15, 27)] == [0, 0.25, 0.5, 0.75, 1]
    assert gad7.severity(0) == 0 and gad7.severity(21) == 1
    assert wsas.severity(15) == 0.5
