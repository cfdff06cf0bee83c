"""Patient links, their answers and coded-text decisions against real databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from tailoring.engine.patient_questionnaires import (
    LinkRefused,
    expiry,
    extended_expiry,
    new_code,
    resolve,
    token_hash,
)
from tailoring.model.patient_questionnaires import LinkQuestionnaire, PatientAnswers
from tailoring.storage.db import alembic_config, build_engine, migrate
from tailoring.storage.errors import CaseNotFound, LinkClosed, PatientLinkNotFound, StaleAnswer
from tailoring.storage.tables import cases as case_table
from tailoring.storage.tables import (
    patient_answers,
    patient_link_questionnaires,
    patient_links,
    text_codes,
)
from tests.integration.helpers import make_case, run_together
from tests.store import Committing, Store

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
PROFILE = {"preferences": None}
LATER = NOW + timedelta(hours=2)


@pytest.fixture
def cases(engine: Engine) -> Committing:
    return Store.on(engine).cases


@pytest.fixture
def patients(engine: Engine) -> Committing:
    return Store.on(engine).patient_questionnaires


@pytest.fixture
def case_id(cases: Committing) -> int:
    return cases.create(make_case("PV-1", therapist="dr.a"))


def send(
    patients: Committing,
    case_id: int,
    set_id: str = "after_session",
    session: int | None = 2,
    at: datetime = NOW,
) -> tuple[str, int]:
    """Make a link of one questionnaire as the service does: a fresh code, its hash stored, 14
    days to answer."""
    code = new_code()
    link = patients.create_link(
        case_id, {set_id: session}, token_hash(code), "dr.a", expiry(at), at
    )
    return code, link.id


# Links ------------------------------------------------------------------------------------------


def test_a_link_is_stored_by_the_hash_of_its_code(
    engine: Engine, patients: Committing, case_id: int
) -> None:
    code, link_id = send(patients, case_id)
    link = patients.find_by_hash(token_hash(code.lower()))
    assert link is not None
    assert (link.id, link.case_id) == (link_id, case_id)
    assert link.questionnaires == (LinkQuestionnaire(set_id="after_session", session_number=2),)
    assert (link.created_by, link.created_at, link.expires_at) == (
        "dr.a",
        NOW,
        NOW + timedelta(days=14),
    )
    assert link.revoked_at is link.opened_at is link.completed_at is link.seen_at is None
    assert link.answered == 0
    assert patients.find_by_hash(token_hash(new_code())) is None
    with engine.connect() as connection:
        stored = connection.execute(select(patient_links.c.token_hash)).scalars().all()
    assert stored == [token_hash(code)]
    assert code.replace("-", "") not in str(stored)


def test_a_code_opens_its_link_until_revoked(patients: Committing, case_id: int) -> None:
    code, link_id = send(patients, case_id, at=datetime.now(UTC))
    assert resolve(code, datetime.now(UTC), patients.find_by_hash).id == link_id
    with pytest.raises(LinkRefused):
        resolve(new_code(), datetime.now(UTC), patients.find_by_hash)
    patients.revoke(link_id)
    with pytest.raises(LinkRefused):
        resolve(code, datetime.now(UTC), patients.find_by_hash)


@pytest.mark.parametrize(
    ("set_id", "session", "problem"),
    [
        ("preferences", 1, "belongs to no session"),
        ("before_session", None, "needs the number of its session"),
        ("after_session", 0, "1 or more"),
        ("during_session", 1, "set_id must be one of"),
    ],
)
def test_a_link_names_a_session_only_for_the_sets_about_one(
    patients: Committing, case_id: int, set_id: str, session: int | None, problem: str
) -> None:
    hashed = token_hash(new_code())
    with pytest.raises(ValueError, match=problem):
        patients.create_link(case_id, {set_id: session}, hashed, "dr.a", LATER, NOW)
    # Beside a questionnaire that fits, the one that does not still stops the whole link.
    with pytest.raises(ValueError, match=problem):
        patients.create_link(
            case_id, {"after_session": 1, set_id: session}, hashed, "dr.a", LATER, NOW
        )
    assert patients.links(case_id) == []


def test_bad_links_are_refused(patients: Committing, case_id: int) -> None:
    hashed = token_hash(new_code())
    with pytest.raises(ValueError, match="one questionnaire or more"):
        patients.create_link(case_id, {}, hashed, "dr.a", LATER, NOW)
    with pytest.raises(ValueError, match="SHA-256"):
        patients.create_link(case_id, PROFILE, new_code(), "dr.a", LATER, NOW)
    with pytest.raises(ValueError, match="future"):
        patients.create_link(case_id, PROFILE, hashed, "dr.a", NOW, NOW)
    with pytest.raises(ValueError, match="created_by"):
        patients.create_link(case_id, PROFILE, hashed, "", LATER, NOW)
    with pytest.raises(CaseNotFound):
        patients.create_link(case_id + 99, PROFILE, hashed, "dr.a", LATER, NOW)
    patients.create_link(case_id, PROFILE, hashed, "dr.a", LATER, NOW)
    with pytest.raises(IntegrityError):
        patients.create_link(case_id, PROFILE, hashed, "dr.a", LATER, NOW)
    with pytest.raises(PatientLinkNotFound):
        patients.link(12345)


def test_extend_expire_and_revoke(patients: Committing, case_id: int) -> None:
    _, link_id = send(patients, case_id)
    link = patients.link(link_id)
    longer = patients.extend(link_id, extended_expiry(link, NOW))
    assert longer.expires_at == NOW + timedelta(days=28)
    expired = patients.expire(link_id, LATER)
    assert expired.expires_at == LATER and expired.status(LATER) == "expired"
    # Expiring again later keeps the first expiry.
    assert patients.expire(link_id, LATER + timedelta(days=1)).expires_at == LATER
    reopened = patients.extend(link_id, LATER + timedelta(days=7))
    assert reopened.status(LATER) == "open"
    revoked = patients.revoke(link_id, LATER)
    assert patients.revoke(link_id, LATER + timedelta(hours=1)).revoked_at == revoked.revoked_at
    assert revoked.status(LATER) == "revoked"
    with pytest.raises(ValueError, match="revoked"):
        patients.extend(link_id, LATER + timedelta(days=7))
    for change in (patients.revoke, patients.expire, patients.mark_seen, patients.mark_opened):
        with pytest.raises(PatientLinkNotFound):
            change(link_id + 99)


# Answers ----------------------------------------------------------------------------------------


def test_answers_save_one_by_one_and_change_until_completed(
    patients: Committing, case_id: int
) -> None:
    _, link_id = send(patients, case_id)
    patients.save_answer(link_id, "after_session", "alliance.bond", {"value": 3}, NOW)
    assert patients.link(link_id).opened_at == NOW
    patients.save_answer(
        link_id, "after_session", "open.helped", {"value": "Die Spaziergänge — ü"}, LATER
    )
    patients.save_answer(link_id, "after_session", "alliance.bond", {"value": 1}, LATER)
    assert patients.link(link_id).opened_at == NOW
    stored = patients.answers(link_id)
    assert {k: a.payload for k, a in stored.items()} == {
        "alliance.bond": {"value": 1},
        "open.helped": {"value": "Die Spaziergänge — ü"},
    }
    assert stored["alliance.bond"].updated_at == LATER
    assert patients.link(link_id).answered == 2
    assert (
        PatientAnswers.from_payloads({k: a.payload for k, a in stored.items()})
        .alliance["bond"]
        .value
        == 1
    )

    done = patients.complete(link_id, LATER)
    assert done.completed_at == LATER
    assert patients.complete(link_id, LATER + timedelta(hours=1)).completed_at == LATER
    with pytest.raises(LinkClosed):
        patients.save_answer(link_id, "after_session", "alliance.bond", {"value": 4}, LATER)
    assert patients.answers(link_id)["alliance.bond"].payload == {"value": 1}


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_a_closed_link_takes_no_answers_and_cannot_be_completed(
    patients: Committing, case_id: int, how: str
) -> None:
    _, link_id = send(patients, case_id)
    patients.save_answer(link_id, "after_session", "alliance.bond", {"value": 3}, NOW)
    if how == "expired":
        patients.expire(link_id, NOW)
    else:
        patients.revoke(link_id, NOW)
    with pytest.raises(LinkClosed):
        patients.save_answer(link_id, "after_session", "alliance.bond", {"value": 4}, LATER)
    with pytest.raises(LinkClosed):
        patients.complete(link_id, LATER)
    assert patients.answers(link_id)["alliance.bond"].payload == {"value": 3}


def test_answer_keys_and_payloads_are_checked(patients: Committing, case_id: int) -> None:
    _, link_id = send(patients, case_id)
    with pytest.raises(ValueError, match="not an answer key"):
        patients.save_answer(link_id, "after_session", "alliance", {"value": 1}, NOW)
    with pytest.raises(ValueError, match="at most 100"):
        patients.save_answer(link_id, "after_session", "open." + "a" * 100, {"value": 1}, NOW)
    with pytest.raises(ValueError, match="mapping"):
        patients.save_answer(link_id, "after_session", "open.helped", "text", NOW)  # type: ignore[arg-type]
    with pytest.raises(PatientLinkNotFound):
        patients.save_answer(link_id + 99, "after_session", "open.helped", {"value": "x"}, NOW)
    with pytest.raises(PatientLinkNotFound):
        patients.answers(link_id + 99)


def test_two_devices_answering_at_once_lose_nothing(patients: Committing, case_id: int) -> None:
    _, link_id = send(patients, case_id, "before_session", 1, at=datetime.now(UTC))
    keys = [f"measure.phq9.phq9_{n}" for n in range(1, 10)]
    run_together(
        lambda key: patients.save_answer(link_id, "before_session", key, {"value": 1}), keys
    )
    assert sorted(patients.answers(link_id)) == sorted(keys)


def test_an_answer_counts_its_saves_and_refuses_a_save_from_an_older_read(
    patients: Committing, case_id: int
) -> None:
    """One link open twice (issue 13): a save that names the revision it read is refused once
    the answer was saved since, with what is stored now."""
    _, link_id = send(patients, case_id)
    key = "alliance.bond"
    assert patients.save_answer(link_id, "after_session", key, {"value": 3}, NOW, 0) == 1
    assert patients.save_answer(link_id, "after_session", key, {"value": 2}, NOW, 1) == 2
    with pytest.raises(StaleAnswer) as stale:
        patients.save_answer(link_id, "after_session", key, {"value": 4}, LATER, 1)
    assert (stale.value.current, stale.value.revision) == ({"value": 2}, 2)
    with pytest.raises(StaleAnswer):
        patients.save_answer(link_id, "after_session", key, {"value": 4}, LATER, 0)
    assert patients.answers(link_id)[key].payload == {"value": 2}
    assert patients.answers(link_id)[key].revision == 2
    # Without a revision (the FHIR import, the command line) the save is made as before.
    assert patients.save_answer(link_id, "after_session", key, {"value": 4}, LATER) == 3


def test_collected_answers_take_the_latest_of_each_item_and_skip_revoked_links(
    patients: Committing, case_id: int
) -> None:
    _, first = send(patients, case_id, "after_session", 1)
    _, second = send(patients, case_id, "after_session", 2)
    _, revoked = send(patients, case_id, "after_session", 3)
    _, profile = send(patients, case_id, "preferences", None)
    patients.save_answer(first, "after_session", "alliance.bond", {"value": 2}, NOW)
    patients.save_answer(first, "after_session", "alliance.heard", {"value": 3}, NOW)
    patients.complete(first, NOW)
    patients.save_answer(
        second, "after_session", "alliance.bond", {"value": 4}, LATER
    )  # partly answered
    patients.save_answer(revoked, "after_session", "alliance.heard", {"value": 0}, LATER)
    patients.revoke(revoked, LATER)
    patients.save_answer(
        profile, "preferences", "preferences.focus", {"value": 5, "importance": 3}, NOW
    )
    patients.expire(profile, LATER)  # what was said before it expired still counts

    collected = patients.collected_answers(case_id)
    after = collected["after_session"]
    assert {k: (a.payload, a.link_id, a.session_number, a.completed) for k, a in after.items()} == {
        "alliance.bond": ({"value": 4}, second, 2, False),
        "alliance.heard": ({"value": 3}, first, 1, True),
    }
    assert collected["preferences"]["preferences.focus"].payload == {"value": 5, "importance": 3}
    assert "before_session" not in collected
    with pytest.raises(CaseNotFound):
        patients.collected_answers(case_id + 99)


# Completion tracking ----------------------------------------------------------------------------


def test_outstanding_and_returned_links_across_cases(
    cases: Committing, patients: Committing, case_id: int
) -> None:
    other = cases.create(make_case("PV-2", therapist="dr.b"))
    archived = cases.create(make_case("PV-3", therapist="dr.a", status="archived"))
    _, waiting = send(patients, case_id, "after_session", 1, NOW)
    _, done = send(patients, case_id, "after_session", 2, NOW)
    _, expired = send(patients, case_id, "before_session", 3, NOW)
    _, revoked = send(patients, case_id, "preferences", None, NOW)
    _, theirs = send(patients, other, "preferences", None, NOW + timedelta(days=1))
    send(patients, archived, "preferences", None, NOW)
    patients.complete(done, LATER)
    patients.expire(expired, NOW)
    patients.revoke(revoked, NOW)

    everyone = patients.outstanding(now=LATER)
    assert [(c.link.id, c.reference, c.therapist) for c in everyone] == [
        (waiting, "PV-1", "dr.a"),
        (theirs, "PV-2", "dr.b"),
    ]
    assert [c.link.id for c in patients.outstanding("dr.b", LATER)] == [theirs]
    assert patients.outstanding(now=NOW + timedelta(days=20)) == []

    returned = patients.returned_since_seen("dr.a")
    assert [(c.link.id, c.link.completed_at) for c in returned] == [(done, LATER)]
    assert patients.returned_since_seen("dr.b") == []
    patients.mark_seen(done, LATER + timedelta(minutes=5))
    assert patients.returned_since_seen() == []
    assert [link.id for link in patients.links(case_id)] == [revoked, expired, done, waiting]
    with pytest.raises(CaseNotFound):
        patients.links(case_id + 99)


# A link of several questionnaires -----------------------------------------------------------------

VISIT = {"preferences": None, "before_session": 2, "after_session": 1}


def test_a_link_carries_its_questionnaires_in_order_each_answer_under_one(
    patients: Committing, case_id: int
) -> None:
    link = patients.create_link(case_id, VISIT, token_hash(new_code()), "dr.a", LATER, NOW)
    assert [(q.set_id, q.session_number, q.done_at) for q in link.questionnaires] == [
        ("preferences", None, None),
        ("before_session", 2, None),
        ("after_session", 1, None),
    ]
    patients.save_answer(link.id, "preferences", "open.helped", {"value": "Walks"}, NOW)
    patients.save_answer(link.id, "before_session", "measure.phq9.phq9_9", {"value": 2}, NOW)
    patients.save_answer(link.id, "after_session", "alliance.bond", {"value": 1}, NOW)
    stored = patients.link(link.id)
    assert [q.answered for q in stored.questionnaires] == [1, 1, 1] and stored.answered == 3
    with pytest.raises(ValueError, match="carries no 'after_session'"):
        patients.save_answer(
            send(patients, case_id, "preferences", None)[1], "after_session", "open.x", {}, NOW
        )

    collected = patients.collected_answers(case_id)
    assert {s: {k: a.session_number for k, a in c.items()} for s, c in collected.items()} == {
        "preferences": {"open.helped": None},
        "before_session": {"measure.phq9.phq9_9": 2},
        "after_session": {"alliance.bond": 1},
    }
    [risk] = patients.risk_answers(["measure.phq9.phq9_9"])
    assert (risk.link_id, risk.session_number, risk.value) == (link.id, 2, 2)
    [text] = patients.open_answers(case_id)
    assert (text.set_id, text.session_number, text.source) == (
        "preferences",
        None,
        f"patient:{link.id}:open.helped",
    )


def test_a_questionnaire_is_done_on_its_own_until_the_link_closes(
    patients: Committing, case_id: int
) -> None:
    link = patients.create_link(case_id, VISIT, token_hash(new_code()), "dr.a", expiry(NOW), NOW)
    done = patients.finish_questionnaire(link.id, "before_session", NOW)
    assert [q.done_at for q in done.questionnaires] == [None, NOW, None]
    again = patients.finish_questionnaire(link.id, "before_session", LATER)
    assert again.questionnaire("before_session").done_at == NOW  # type: ignore[union-attr]
    assert again.opened_at == NOW and again.completed_at is None
    with pytest.raises(ValueError, match="carries no"):
        patients.finish_questionnaire(send(patients, case_id)[1], "preferences", NOW)
    patients.complete(link.id, LATER)
    with pytest.raises(LinkClosed):
        patients.finish_questionnaire(link.id, "preferences", LATER)


def test_a_set_is_carried_once_per_link(engine: Engine, patients: Committing, case_id: int) -> None:
    link = patients.create_link(case_id, PROFILE, token_hash(new_code()), "dr.a", LATER, NOW)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            patient_link_questionnaires.insert().values(
                link_id=link.id, set_id="preferences", position=1
            )
        )


# Coded free text --------------------------------------------------------------------------------


def test_code_decisions_keep_the_latest_per_text_and_theme(
    engine: Engine, patients: Committing, case_id: int
) -> None:
    evidence = [{"text": "rushed", "start": 10, "end": 16, "entry": "rushing"}]
    source = "patient:7:open.fit_better"
    patients.record_code_decision(case_id, source, "pace", evidence, "accepted", "dr.a", NOW)
    patients.record_code_decision(case_id, source, "depth", [], "accepted", "dr.a", NOW)
    later = patients.record_code_decision(
        case_id, source, "pace", evidence, "rejected", "dr.b", LATER
    )
    patients.record_code_decision(case_id, "therapist:note", "heard", [], "accepted", "dr.a", NOW)
    decisions = patients.code_decisions(case_id)
    assert [(d.source, d.theme, d.decision, d.decided_by) for d in decisions] == [
        (source, "depth", "accepted", "dr.a"),
        (source, "pace", "rejected", "dr.b"),
        ("therapist:note", "heard", "accepted", "dr.a"),
    ]
    assert decisions[1] == later
    assert decisions[1].evidence == evidence
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(text_codes)).scalar() == 4


@pytest.mark.parametrize(
    ("source", "theme", "decision", "problem"),
    [
        ("patient:x:open.helped", "pace", "accepted", "source must be"),
        ("nurse:note", "pace", "accepted", "source must be"),
        ("therapist:note", "speed", "accepted", "theme must be one of"),
        ("therapist:note", "pace", "maybe", "decision must be one of"),
    ],
)
def test_bad_code_decisions_are_refused(
    patients: Committing, case_id: int, source: str, theme: str, decision: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        patients.record_code_decision(case_id, source, theme, [], decision, "dr.a")  # type: ignore[arg-type]


def test_deleting_the_case_deletes_its_links_answers_and_codes(
    engine: Engine, cases: Committing, patients: Committing, case_id: int
) -> None:
    _, link_id = send(patients, case_id)
    patients.save_answer(link_id, "after_session", "alliance.bond", {"value": 3}, NOW)
    patients.record_code_decision(case_id, "therapist:note", "heard", [], "accepted", "dr.a")
    cases.delete(case_id)
    with engine.connect() as connection:
        for table in (patient_links, patient_link_questionnaires, patient_answers, text_codes):
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 0
    with pytest.raises(CaseNotFound):
        patients.code_decisions(case_id)


# Migration --------------------------------------------------------------------------------------


@pytest.fixture
def bare_engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


def test_revision_0006_comes_and_goes_keeping_the_cases(bare_engine: Engine) -> None:
    with bare_engine.connect() as connection:
        command.upgrade(alembic_config(connection), "0005")
    migrate(bare_engine)
    cases = Store.on(bare_engine).cases
    case_id = cases.create(make_case("MIG-6"))
    send(Store.on(bare_engine).patient_questionnaires, case_id)
    with bare_engine.connect() as connection:
        command.downgrade(alembic_config(connection), "0005")
        # Read as the code of that time would: today's store knows later case columns.
        assert connection.execute(select(case_table.c.reference)).scalars().all() == ["MIG-6"]
    migrate(bare_engine)
    assert Store.on(bare_engine).patient_questionnaires.links(case_id) == []


def add_revision_0013_links(engine: Engine, case_id: int) -> tuple[int, int]:
    """A finished preferences link and an unfinished one before session 3 with item 9 above 0,
    as revision 0013 stored them (the set and session on the link)."""
    with engine.begin() as connection:
        ids = []
        for set_id, session, completed in (
            ("preferences", None, LATER),
            ("before_session", 3, None),
        ):
            ids.append(
                connection.execute(
                    text(
                        "INSERT INTO patient_links (case_id, set_id, session_number, token_hash, "
                        "created_by, created_at, expires_at, completed_at) VALUES (:case, :set, "
                        ":session, :hash, 'dr.a', :now, :expires, :completed) RETURNING id"
                    ),
                    {
                        "case": case_id,
                        "set": set_id,
                        "session": session,
                        "hash": token_hash(new_code()),
                        "now": NOW,
                        "expires": expiry(NOW),
                        "completed": completed,
                    },
                ).scalar_one()
            )
        for link_id, key, payload in (
            (ids[0], "preferences.structure", '{"value": 5, "importance": 2}'),
            (ids[0], "open.helped", '{"value": "Walks"}'),
            (ids[1], "measure.phq9.phq9_9", '{"value": 1}'),
        ):
            connection.execute(
                text(
                    "INSERT INTO patient_answers (link_id, item_key, payload, updated_at) "
                    "VALUES (:link, :key, :payload, :now)"
                ),
                {"link": link_id, "key": key, "payload": payload, "now": NOW},
            )
    return ids[0], ids[1]


def test_revision_0014_makes_each_link_one_of_one_questionnaire_and_back(
    bare_engine: Engine,
) -> None:
    # The case is stored as the app stores it now, then the schema goes back to revision 0013
    # (the cases table has columns of later revisions) to hold links as they were then.
    migrate(bare_engine)
    store = Store.on(bare_engine)
    case_id = store.cases.create(make_case("MIG-14", therapist="dr.a"))
    with bare_engine.connect() as connection:
        command.downgrade(alembic_config(connection), "0013")
    profile, before = add_revision_0013_links(bare_engine, case_id)

    migrate(bare_engine)
    patients = store.patient_questionnaires
    migrated = {link.id: link for link in patients.links(case_id)}
    assert migrated[profile].questionnaires == (
        LinkQuestionnaire(set_id="preferences", done_at=LATER, answered=2),
    )
    assert migrated[before].questionnaires == (
        LinkQuestionnaire(set_id="before_session", session_number=3, answered=1),
    )
    assert patients.answers(profile)["preferences.structure"].payload == {
        "value": 5,
        "importance": 2,
    }
    [risk] = patients.risk_answers(["measure.phq9.phq9_9"])
    assert (risk.link_id, risk.session_number, risk.completed) == (before, 3, False)
    patients.save_answer(before, "before_session", "measure.phq9.phq9_1", {"value": 2})

    # A link of several questionnaires does not fit revision 0013: the downgrade says so.
    other = store.cases.create(make_case("MIG-14-B"))
    patients.create_link(other, VISIT, token_hash(new_code()), "dr.a", expiry(NOW), NOW)
    with bare_engine.connect() as connection, pytest.raises(RuntimeError, match="more than one"):
        command.downgrade(alembic_config(connection), "0013")
    store.cases.delete(other)
    with bare_engine.connect() as connection:
        command.downgrade(alembic_config(connection), "0013")
        rows = connection.execute(
            text("SELECT id, set_id, session_number FROM patient_links ORDER BY id")
        ).all()
        answered = connection.execute(
            text("SELECT link_id, item_key FROM patient_answers ORDER BY link_id, item_key")
        ).all()
    assert [tuple(r) for r in rows] == [
        (profile, "preferences", None),
        (before, "before_session", 3),
    ]
    assert [tuple(a) for a in answered] == [
        (profile, "open.helped"),
        (profile, "preferences.structure"),
        (before, "measure.phq9.phq9_1"),
        (before, "measure.phq9.phq9_9"),
    ]
    migrate(bare_engine)
    assert [q.answered for q in patients.link(before).questionnaires] == [2]


def test_revision_0016_counts_existing_answers_as_saved_once(bare_engine: Engine) -> None:
    migrate(bare_engine)
    store = Store.on(bare_engine)
    case_id = store.cases.create(make_case("MIG-16", therapist="dr.a"))
    _, link_id = send(store.patient_questionnaires, case_id)
    store.patient_questionnaires.save_answer(
        link_id, "after_session", "alliance.bond", {"value": 3}
    )
    store.patient_questionnaires.save_answer(
        link_id, "after_session", "alliance.bond", {"value": 1}
    )
    with bare_engine.connect() as connection:
        command.downgrade(alembic_config(connection), "0015")
    migrate(bare_engine)
    answer = store.patient_questionnaires.answers(link_id)["alliance.bond"]
    assert (answer.payload, answer.revision) == ({"value": 1}, 1)
