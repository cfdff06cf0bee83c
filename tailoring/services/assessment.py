"""The fit engine as use cases: assess a case, the indication matrix, expected change."""

from __future__ import annotations

from typing import Any

import yaml

from tailoring.demo import demo_cases
from tailoring.engine import indications as indication_rules
from tailoring.engine.assess import assess, completeness
from tailoring.engine.expected import derive_expected_change
from tailoring.model.case import (
    Case,
)
from tailoring.model.report import Completeness, FitReport
from tailoring.services.shared import content, unit_of_work


def expected_change_yaml(demo: int | None = None, seed: int = 0, **options: Any) -> str:
    """Expected-change curves as the text of content/measures/expected_change.yaml: from the
    finished courses of every real case in the database, or from ``demo`` invented cases."""
    lib = content()
    if demo is not None:
        cases = demo_cases(lib, demo, seed)
        source = f"computed from {demo} invented demo cases (seed {seed}): replace with your own"
    else:
        with unit_of_work() as uow:
            ids = [c.id for c in uow.cases.summaries(include_archived=True)]
            cases = [stored.case for stored in uow.cases.get_many(ids)]
        source = f"computed from the finished courses of this service's {len(cases)} cases"
    curves = derive_expected_change(lib, cases, source, **options)
    header = (
        "# Expected-change curves with a failure boundary, written by\n"
        "# `python -m tailoring expected-change` (engine/expected.py explains the method).\n"
        "# Recompute them from your service's own finished courses; delete this file to use\n"
        "# the fixed not-on-track rule of rules.yaml instead.\n"
    )
    return header + yaml.safe_dump(curves.model_dump(mode="json"), sort_keys=False)


def assess_case(case: Case) -> FitReport:
    return assess(content(), case)


def indication_matrix() -> list[dict[str, str]]:
    """Every protocol × problem descriptor, with severity range and contraindications."""
    return indication_rules.indication_matrix(content())


def plan_in_words(case: Case) -> str:
    """The case's plan as running text: its protocol and the problem it is for, e.g. "CBT for
    depression" (not "CBT for depression for Depression")."""
    lib = content()
    return indication_rules.plan_words(lib, lib.protocol(case.protocol_id), case.problem)


def answer_completeness(case: Case) -> Completeness:
    """How many checklist questions are answered, by section: all a walk-through step but the
    report needs on every click (the full assessment also weighs every other protocol)."""
    return completeness(content(), case.answers)
