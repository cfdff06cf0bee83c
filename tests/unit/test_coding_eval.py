"""The coder's evaluation set holds together, and the coder keeps its held-out score."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from tailoring.content import EVALUATION_FILE, ContentError, load_coding_evaluation
from tailoring.engine.coding import THEME_IDS, evaluate
from tailoring.model.coding import CodingEvaluation, LabelledStatement
from tailoring.model.content import ContentLibrary
from tests.content_edits import edit_yaml, has_problem

# Macro-F1 on the held-out statements: 0.941 when the lexicon was first finished and the
# held-out part first scored, 0.944 after 'unless' phrases for common false alarms ("kind of",
# "NHS trust", "deep breathing"); dev 0.996. The floors sit just under: they may only go up.
HELDOUT_MACRO_F1_FLOOR = 0.94
DEV_MACRO_F1_FLOOR = 0.99
# The held-out statements were written before the lexicon and must not change to fit it.
HELDOUT_SHA256 = "0e1ea1f4274fdf075131cbf38eefa57ca32a4a730a264f23618350a95e8249c0"


@pytest.fixture(scope="module")
def evaluation() -> CodingEvaluation:
    return load_coding_evaluation()


def test_held_out_statements_are_unchanged(evaluation: CodingEvaluation) -> None:
    data = json.dumps([[s.text, s.themes] for s in evaluation.heldout]).encode()
    assert hashlib.sha256(data).hexdigest() == HELDOUT_SHA256


def test_size_and_spread(evaluation: CodingEvaluation) -> None:
    everything = evaluation.heldout + evaluation.dev
    assert len(everything) >= 150
    for part in (evaluation.heldout, evaluation.dev):
        per_theme = Counter(theme for s in part for theme in s.themes)
        assert set(per_theme) == set(THEME_IDS)
        assert min(per_theme.values()) >= 20, per_theme
        assert sum(1 for s in part if len(s.themes) >= 2) >= 10
        assert sum(1 for s in part if not s.themes) >= 10


def test_no_statement_is_in_both_parts(evaluation: CodingEvaluation) -> None:
    texts = [s.text.casefold() for s in evaluation.heldout + evaluation.dev]
    assert len(texts) == len(set(texts))


def test_held_out_macro_f1_floor(content: ContentLibrary, evaluation: CodingEvaluation) -> None:
    scores = evaluate(content.lexicon, evaluation.heldout)
    assert scores.macro_f1 >= HELDOUT_MACRO_F1_FLOOR, scores.model_dump()


def test_dev_macro_f1_floor(content: ContentLibrary, evaluation: CodingEvaluation) -> None:
    scores = evaluate(content.lexicon, evaluation.dev)
    assert scores.macro_f1 >= DEV_MACRO_F1_FLOOR, scores.model_dump()


def test_a_broken_evaluation_file_names_file_and_field(content_copy: Path) -> None:
    def change(data: object) -> None:
        assert isinstance(data, dict)
        data["dev"][2]["themes"] = ["pace", "punctuality"]

    edit_yaml(content_copy / EVALUATION_FILE, change)
    with pytest.raises(ContentError) as caught:
        load_coding_evaluation(content_copy)
    assert has_problem(caught.value.problems, EVALUATION_FILE, "dev.2.themes.1"), caught.value


def test_a_theme_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        LabelledStatement(text="Rushed.", themes=["pace", "pace"])
