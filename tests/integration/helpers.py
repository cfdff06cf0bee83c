"""Cases, sessions and grades to store, and ways to watch what the database is sent."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, event

from tailoring.model.answers import AllianceAnswer, Answers, PreferenceAnswer, SocialAnswer
from tailoring.model.case import Case
from tailoring.model.caseload import CaseMetrics, OpenFlag
from tailoring.model.grade import FlagAgreement, FlagFeedback, Grade, ItemGrade
from tailoring.model.session import Session
from tailoring.storage.caseload import CaseFigures
from tailoring.storage.supervision import FlagEvent, FlagEventKind, FlagState
from tailoring.storage.unit_of_work import UnitOfWork
from tests.store import Store

NOTE = "Sleeps at her sister's; café shifts — ü"
FIRST_SESSION = datetime.date(2026, 1, 5)


def make_case(reference: str = "CASE-001", **changes: Any) -> Case:
    """A case with answers of all three kinds, including non-ASCII free text."""
    case_answers = Answers(
        preferences={
            "structure": PreferenceAnswer(value=4, importance=2),
            "format": PreferenceAnswer(value="individual"),
            "topics": PreferenceAnswer(value=["sleep", "work"], importance=3),
        },
        social={
            "housing": SocialAnswer(
                present="yes", maintains="unsure", helping="no", details=["crowded"], note=NOTE
            ),
        },
        alliance={"bond": AllianceAnswer(value=3), "withdrawal": AllianceAnswer(value=None)},
    )
    fields: dict[str, Any] = {
        "reference": reference,
        "protocol_id": "cbt-depression",
        "sessions_available": 16,
        "step": "social",
        "answers": case_answers,
    }
    return Case(**{**fields, **changes})


def make_session(number: int, **changes: Any) -> Session:
    """An attended treatment session, weekly from FIRST_SESSION, with every measure answered.

    The answers hold a value, None (not answered yet) and 'na' (where the item allows it).
    """
    fields: dict[str, Any] = {
        "number": number,
        "date": FIRST_SESSION + datetime.timedelta(weeks=number - 1),
        "attendance": "attended",
        "kind": "treatment",
        "alliance": {
            "bond": AllianceAnswer(value=3),
            "goals_agreement": AllianceAnswer(value=None),
            "rupture_withdrawal": AllianceAnswer(value=1),
        },
        "measures": {
            "phq9": {f"phq9_{item}": item % 4 for item in range(1, 10)} | {"phq9_9": None},
            "gad7": {"gad7_1": 3, "gad7_2": 0, "gad7_3": None},
            "wsas": {"wsas_1": "na", "wsas_2": 8, "wsas_3": 0, "wsas_4": None},
        },
        "note": NOTE,
    }
    return Session(**{**fields, **changes})


def make_course() -> list[Session]:
    """Sessions of every kind and attendance, numbered with a gap, as a course is recorded."""
    return [
        make_session(1, kind="assessment"),
        make_session(2),
        make_session(3, attendance="did_not_attend", alliance={}, measures={}, note=""),
        make_session(5, attendance="cancelled", alliance={}, measures={}),
        make_session(6, measures={"phq9": {"phq9_1": 0}}),
        make_session(9, kind="follow_up"),
    ]


def make_grade(scenario_id: str = "cbt_depression_fit", mark: float = 72.5) -> Grade:
    """A grade with one item, one missed flag and its feedback."""
    return Grade(
        scenario_id=scenario_id,
        scenario_title="CBT for depression that fits",
        protocol_id="cbt_depression",
        sessions_available=12,
        mark=mark,
        item_score=80.0,
        flag_score=2 / 3 * 100,
        counts={"exact": 3, "close": 1, "far": 0, "missing": 1},
        items=[
            ItemGrade(
                section="preferences",
                item_id="structure",
                title="Structure",
                theme="personalisation",
                agreement="close",
                importance="exact",
                score=0.5,
                reference="Quite structured",
                attempt="Very structured — ü",
            )
        ],
        flags=FlagAgreement(
            found=["pace_fast"], missed=["bond_low"], extra=[], precision=1, recall=0.5, f1=2 / 3
        ),
        feedback=[
            FlagFeedback(
                flag_id="bond_low",
                outcome="missed",
                severity="high",
                theme="alliance",
                theme_title="Alliance",
                title="The bond is weak",
                explanation="A weak bond predicts dropout.",
                differing_items=["alliance.bond"],
                why="The attempt rates the bond 3; the reference rates it 1.",
            )
        ],
    )


def make_metrics(**changes: Any) -> CaseMetrics:
    """Caseload figures as the engine would compute them, with two open flags."""
    fields: dict[str, Any] = {
        "reference": "CASE-001",
        "therapist": "local user",
        "protocol_id": "cbt-depression",
        "protocol_name": "CBT for depression",
        "status": "active",
        "sessions_available": 16,
        "sessions_recorded": 6,
        "sessions_attended": 4,
        "treatment_sessions_attended": 3,
        "last_session_date": FIRST_SESSION,
        "fit": 71.5,
        "completeness": 80,
        "flags_by_severity": {"high": 1, "medium": 1, "low": 0},
        "open_flags": [
            OpenFlag(
                id="bond_low",
                severity="high",
                theme="alliance",
                theme_title="Alliance",
                title="The bond is weak — ü",
            ),
            OpenFlag(
                id="pref.structure",
                severity="medium",
                theme="personalisation",
                theme_title="Personalisation",
                title="Less structure than wanted",
            ),
        ],
        "alliance_latest": 62.5,
        "alliance_trend": "down",
        "outcome": "not_on_track",
        "caseness_at_start": True,
        "finished": True,
        "recovery": False,
        "reliable_recovery": False,
        "reliable_improvement": True,
        "deterioration": False,
        "not_on_track": True,
        "dropped_after_first": False,
    }
    return CaseMetrics(**{**fields, **changes})


def stored_flags(metrics: CaseMetrics) -> tuple[dict[str, Any], ...]:
    """The open flags of ``metrics`` as the caseload gives them back."""
    return tuple(flag.model_dump() for flag in metrics.open_flags)


def make_flag(flag_id: str, severity: str = "medium", title: str = "") -> FlagState:
    """A flag the engine raises, in the alliance theme unless the id says otherwise."""
    theme = "personalisation" if flag_id.startswith("pref.") else "alliance"
    return FlagState(flag_id, severity, theme, title or f"Flag {flag_id} — ü")  # type: ignore[arg-type]


def count_statements(engine: Engine, action: Callable[[], Any]) -> tuple[Any, int]:
    """The result of ``action`` and how many SQL statements it sent."""
    result, statements = statements_sent(engine, action)
    return result, len(statements)


def statements_sent(engine: Engine, action: Callable[[], Any]) -> tuple[Any, list[str]]:
    """The result of ``action`` and the SQL statements it sent."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        return action(), statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def run_together(target: Callable[[str], None], arguments: list[str]) -> None:
    """Run ``target`` once per argument, each in its own thread, and wait for all."""
    start = threading.Barrier(len(arguments))

    def run(argument: str) -> None:
        start.wait()
        target(argument)

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def save_metrics(store: Store, case: int, metrics: CaseMetrics) -> bool:
    """Store a case's caseload figures as a refresh stores them, its flag history left alone
    (the flags it holds open are kept open); False if there is no such case."""
    with store.unit() as uow:
        stored = uow.cases.get_many([case])
        if not stored:
            return False
        still = tuple(_open_states(uow, case))
        figures = CaseFigures(case, stored[0].version, metrics, still)
        return bool(uow.caseload.save_figures([figures], "test"))


def sync_flags(
    store: Store, case: int, current: Sequence[FlagState], actor: str
) -> list[FlagEvent]:
    """Record the flags a case raises now, as a refresh does (with make_metrics' figures);
    return the events appended."""
    with store.unit() as uow:
        before = len(uow.supervision.flag_history(case))
        version = uow.cases.get(case).version
        figures = CaseFigures(case, version, make_metrics(), tuple(current))
        uow.caseload.save_figures([figures], actor)
        return uow.supervision.flag_history(case)[before:]


def flag_status(store: Store, case: int) -> dict[str, FlagEventKind]:
    """The latest event of each flag ever raised on the case."""
    return {event.flag_id: event.event for event in store.supervision.flag_history(case)}


def _open_states(uow: UnitOfWork, case: int) -> list[FlagState]:
    """The flags open on the case, as the engine raised them."""
    opened: dict[str, FlagEvent] = {}
    for happened in uow.supervision.flag_history(case):
        if happened.event in ("raised", "reopened"):
            opened[happened.flag_id] = happened
        elif happened.event == "cleared":
            opened.pop(happened.flag_id, None)
    return [
        FlagState(e.flag_id, e.severity or "low", e.theme or "", e.title or e.flag_id)
        for e in opened.values()
    ]
