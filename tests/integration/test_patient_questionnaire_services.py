"""The patient questionnaires use cases in services, on a real SQLite database: links and codes, the
patient's answers, perception gaps, the fit's source, coded free text and caseload themes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tailoring import services
from tailoring.engine.patient_questionnaires import UNKNOWN_CLIENTS_POLICY, normalise
from tailoring.model.actor import Actor
from tailoring.storage.tables import patient_links
from tests.store import app_store

# Client addresses (of a documentation range): a patient's, a guesser's and someone else's.
PATIENT, GUESSER, OTHER = "198.51.100.7", "203.0.113.9", "203.0.113.10"
HELPED = "The sessions felt rushed and I never had time to talk about my childhood."


@pytest.fixture
def database(tmp_path, monkeypatch, upgrade) -> None:
    monkeypatch.setenv("TAILORING_DATABASE_URL", f"sqlite:///{tmp_path / 'patient.db'}")
    upgrade(f"sqlite:///{tmp_path / 'patient.db'}")
    services.start(load_demo=False)


@pytest.fixture
def case_id(database) -> int:
    case_id = services.new_case("PV-001", "cbt_depression", 12)
    services.update_case(case_id, therapist="dr.a")
    return case_id


def opened(case_id: int, set_id: str = "preferences", session: int | None = None) -> int:
    _, code = services.create_patient_link(case_id, {set_id: session})  # type: ignore[dict-item]
    return services.open_patient_link(code, PATIENT).id


WRONG = "7K2M-QX9D-AAAA-BBBB-CCCC-DDDD-EEEE"


def restart() -> None:
    """Forget every engine and store, as a new server process would."""
    services.shared.engine_at.cache_clear()


def stored_link_rows() -> list[dict]:
    with app_store().unit() as uow:
        return [dict(row._mapping) for row in uow.connection.execute(select(patient_links))]


# Links and codes -------------------------------------------------------------------------------


def test_a_link_gives_its_code_once_and_stores_only_the_hash(case_id):
    link, code = services.create_patient_link(case_id, {"after_session": 2})
    [carried] = link.questionnaires
    assert (carried.set_id, carried.session_number, carried.done_at) == ("after_session", 2, None)
    assert link.created_by == "local user"
    assert link.expires_at - link.created_at == timedelta(days=14)
    assert len(normalise(code)) == 28
    [row] = stored_link_rows()
    assert normalise(code) not in str(row) and code not in str(row)
    # Typed by hand: small letters, no dashes, O for 0 and I for 1 all open it.
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "i")
    assert services.open_patient_link(typed, PATIENT).id == link.id
    assert services.patient_links(case_id)[0].opened_at is not None


def test_expired_revoked_and_unknown_codes_get_the_same_refusal(case_id):
    expired_link, expired = services.create_patient_link(case_id, {"preferences": None})
    services.expire_patient_link(expired_link.id)
    revoked_link, revoked = services.create_patient_link(case_id, {"preferences": None})
    services.revoke_patient_link(revoked_link.id)
    messages = set()
    for code in (expired, revoked, "7K2M-QX9D-AAAA-BBBB-CCCC-DDDD-EEEE", "not a code"):
        with pytest.raises(services.LinkRefused) as refused:
            services.open_patient_link(code, PATIENT)
        messages.add(str(refused.value))
    assert messages == {"This link or code does not work. Ask your therapist for a new one."}


def test_repeated_wrong_codes_lock_the_client_out_even_with_a_right_code(case_id):
    _, code = services.create_patient_link(case_id, {"preferences": None})
    for _ in range(4):
        with pytest.raises(services.LinkRefused):
            services.open_patient_link(WRONG, GUESSER)
    with pytest.raises(services.TooManyAttempts, match="wait 15 minutes"):
        services.open_patient_link(WRONG, GUESSER)
    with pytest.raises(services.TooManyAttempts):
        services.open_patient_link(code, GUESSER)
    assert services.open_patient_link(code, OTHER).case_id == case_id


def test_wrong_codes_without_an_address_are_throttled_in_one_bucket_and_kept(case_id):
    """Behind a proxy on the same host no client has an address: before, each reload was a new
    key and wrong codes were never throttled; the count also survives a restart."""
    _, code = services.create_patient_link(case_id, {"preferences": None})
    for _ in range(UNKNOWN_CLIENTS_POLICY.max_failures - 1):
        with pytest.raises(services.LinkRefused):
            services.open_patient_link(WRONG, None)
    with pytest.raises(services.TooManyAttempts):
        services.open_patient_link(WRONG, None)
    restart()
    with pytest.raises(services.TooManyAttempts):
        services.open_patient_link(code, None)
    assert services.open_patient_link(code, PATIENT).case_id == case_id


def test_links_are_extended_expired_and_revoked_for_good(case_id):
    link, _ = services.create_patient_link(case_id, {"preferences": None}, days=3)
    longer = services.extend_patient_link(link.id)
    assert longer.expires_at - link.expires_at == timedelta(days=14)
    stopped = services.expire_patient_link(link.id)
    assert stopped.status(datetime.now(UTC)) == "expired"
    assert services.extend_patient_link(link.id).status(datetime.now(UTC)) == "open"
    services.revoke_patient_link(link.id)
    with pytest.raises(ValueError, match="revoked"):
        services.extend_patient_link(link.id)
    assert [entry.detail for entry in services.audit_entries(reference="PV-001")][:4] == [
        f"patient link {link.id} revoked",
        f"patient link {link.id} extended",
        f"patient link {link.id} expired",
        f"patient link {link.id} extended",
    ]


def test_sets_about_a_session_need_its_number_and_attempts_get_no_links(case_id):
    with pytest.raises(ValueError, match="session"):
        services.create_patient_link(case_id, {"before_session": None})
    with pytest.raises(ValueError, match="one questionnaire or more"):
        services.create_patient_link(case_id, {})
    with pytest.raises(ValueError, match="1 hour to 42 days"):
        services.create_patient_link(case_id, {"preferences": None}, days=60)
    attempt = services.start_attempt(services.scenarios()[0].id)
    with pytest.raises(services.CaseFileError, match="real cases"):
        services.create_patient_link(attempt, {"preferences": None})


def test_the_sessions_offered_are_before_the_next_unrecorded_and_after_the_last(case_id):
    assert services.link_sessions(case_id) == {"before_session": 1, "after_session": 1}
    for number in (1, 2, 4):  # session 3 is not written up yet: it is in the past all the same
        session = {"number": number, "date": f"2026-11-0{number}", "attendance": "attended"}
        services.record_session(case_id, session)
    assert services.link_sessions(case_id) == {"before_session": 5, "after_session": 4}


# One link for a patient's visit ----------------------------------------------------------------


def test_one_link_carries_several_questionnaires_each_answer_under_its_own(case_id):
    visit = {"preferences": None, "before_session": 2, "after_session": 1}
    link, code = services.create_patient_link(case_id, visit)
    assert [(q.set_id, q.session_number) for q in link.questionnaires] == list(visit.items())
    assert services.audit_entries(reference="PV-001")[0].detail == (
        f"patient link {link.id} created (preferences, before_session, after_session)"
    )
    opened_link = services.open_patient_link(code, PATIENT)
    asked = services.link_questionnaires(opened_link)
    assert [q.set_id for q in asked] == list(visit)
    keys = [q.key for q in services.patient_questions(opened_link)]
    # The open questions end the preferences and the after-session set: asked once, first.
    assert keys.count("open.helped") == 1 and len(keys) == len(set(keys))
    assert [q.key for q in asked[0].pages[-1].questions] == ["open.helped", "open.fit_better"]
    assert all(not q.key.startswith("open.") for q in asked[2].questions)
    assert [len(q.pages) for q in asked] == [7, 3, 2]

    services.save_patient_answer(link.id, "preferences.structure", {"value": 5, "importance": 2})
    services.save_patient_answer(link.id, "open.helped", {"value": HELPED})
    for item in range(1, 10):
        services.save_patient_answer(link.id, f"measure.phq9.phq9_{item}", {"value": 2})
    services.save_patient_answer(link.id, "alliance.bond", {"value": 1})
    [stored] = services.patient_links(case_id)
    assert [q.answered for q in stored.questionnaires] == [2, 9, 1]
    assert stored.answered == 12

    # Each answer counts for the session its questionnaire is about.
    [measured] = services.patient_measures(case_id)
    assert (measured.session_number, measured.scores[0].total) == (2, 18)
    patient, alliance_session = services.patient_answers_for_case(case_id)
    assert alliance_session == 1 and patient.alliance["bond"].value == 1
    assert patient.open == {"helped": HELPED}
    [text] = [t for t in services.coded_texts(case_id) if t.who == "patient"]
    assert text.label == "What has helped so far? (What you want from therapy)"


def test_a_questionnaire_of_a_link_is_done_on_its_own_and_the_link_finished_at_the_end(case_id):
    _, code = services.create_patient_link(case_id, {"preferences": None, "before_session": 3})
    link_id = services.open_patient_link(code, PATIENT).id
    done = services.finish_patient_questionnaire(link_id, "before_session")
    assert [q.done_at is not None for q in done.questionnaires] == [False, True]
    again = services.finish_patient_questionnaire(link_id, "before_session")
    assert again.questionnaire("before_session") == done.questionnaire("before_session")
    # Done is not finished: the answers can still change until the link is.
    services.save_patient_answer(link_id, "measure.phq9.phq9_1", {"value": 1})
    with pytest.raises(ValueError, match="carries no 'after_session'"):
        services.finish_patient_questionnaire(link_id, "after_session")
    with pytest.raises(ValueError, match="not a question of this link"):
        services.save_patient_answer(link_id, "alliance.bond", {"value": 1})
    services.complete_patient_link(link_id)
    with pytest.raises(services.LinkClosed):
        services.finish_patient_questionnaire(link_id, "preferences")
    details = [d for _, _, _, d in patient_entries()]
    assert details.count("questionnaire before_session done") == 1
    assert details[-1] == "questionnaire finished"


def test_item_9_from_a_link_of_several_questionnaires_names_its_session(case_id):
    link, code = services.create_patient_link(case_id, {"preferences": None, "before_session": 2})
    services.open_patient_link(code, PATIENT)
    services.save_patient_answer(link.id, "measure.phq9.phq9_9", {"value": 2})
    [risk] = services.link_risks()
    assert (risk.link_id, risk.session_number, risk.completed) == (link.id, 2, False)
    assert services.item9_cases() == {case_id: "by link (partly answered)"}


# The patient's answers -------------------------------------------------------------------------


def test_before_session_asks_the_case_anxiety_measure_in_order(case_id):
    link_id = opened(case_id, "before_session", 3)
    keys = [q.key for q in services.patient_questions(services.patient_link(link_id))]
    assert keys[0].startswith("measure.phq9.")
    assert any(k.startswith("measure.gad7.") for k in keys)
    assert keys[-1].startswith("measure.wsas.")


def test_answers_are_checked_saved_as_given_and_cleared(case_id):
    link_id = opened(case_id)
    services.save_patient_answer(link_id, "preferences.structure", {"value": 5, "importance": 2})
    services.save_patient_answer(link_id, "barriers.childcare", {"value": ["childcare"]})
    services.save_patient_answer(link_id, "open.helped", {"value": f"  {HELPED}  "})
    assert services.patient_link_answers(link_id) == {
        "preferences.structure": {"value": 5, "importance": 2},
        "barriers.childcare": {"value": ["childcare"]},
        "open.helped": {"value": HELPED},
    }
    services.save_patient_answer(link_id, "open.helped", {"value": "   "})
    assert services.patient_link_answers(link_id)["open.helped"] == {"value": None}
    for key, payload in (
        ("preferences.structure", {"value": 6}),
        ("barriers.childcare", {"value": ["childcare", "none"]}),
        ("alliance.bond", {"value": 2}),  # not a question of this questionnaire
    ):
        with pytest.raises(ValueError):
            services.save_patient_answer(link_id, key, payload)


def test_free_text_with_identifiers_is_held_unsaved(case_id):
    link_id = opened(case_id)
    with pytest.raises(services.IdentifiersFound) as found:
        services.save_patient_answer(link_id, "open.fit_better", {"value": "Text 07700 900123"})
    assert "07700" not in str(found.value)
    assert found.value.redacted() == {"open.fit_better": "Text [phone number removed]"}
    assert "open.fit_better" not in services.patient_link_answers(link_id)


def test_a_finished_or_stopped_link_takes_no_more_answers(case_id):
    link_id = opened(case_id)
    services.save_patient_answer(link_id, "preferences.pace", {"value": 2})
    services.complete_patient_link(link_id)
    with pytest.raises(services.LinkClosed):
        services.save_patient_answer(link_id, "preferences.pace", {"value": 4})
    other = opened(case_id)
    services.revoke_patient_link(other)
    with pytest.raises(services.LinkRefused):
        services.save_patient_answer(other, "preferences.pace", {"value": 4})
    with pytest.raises(services.LinkRefused):
        services.patient_link(other)


# What came back ---------------------------------------------------------------------------------


def test_completion_tracking_lists_outstanding_and_returned_until_seen(case_id):
    waiting = opened(case_id)
    done = opened(case_id, "after_session", 1)
    services.complete_patient_link(done)
    assert [c.link.id for c in services.outstanding_links()] == [waiting]
    assert [c.link.id for c in services.outstanding_links("dr.b")] == []
    [returned] = services.returned_since_seen("dr.a")
    assert (returned.link.id, returned.reference) == (done, "PV-001")
    services.mark_link_seen(done)
    assert services.returned_since_seen() == []


def test_perception_gaps_compare_the_patient_with_the_therapist(case_id):
    services.save_answer(case_id, "preferences", "structure", {"value": 1, "importance": 3})
    services.save_answer(case_id, "preferences", "pace", {"value": 3, "importance": 1})
    link_id = opened(case_id)
    services.save_patient_answer(link_id, "preferences.structure", {"value": 5, "importance": 3})
    services.save_patient_answer(link_id, "preferences.pace", {"value": 3, "importance": 1})
    compared = services.patient_side_by_side(case_id)
    assert [g.id for g in compared.gaps] == ["gap.pref.structure"]
    assert compared.gaps[0].severity == "high"
    rows = {(c.section, c.item_id): c for c in compared.comparisons}
    assert rows[("preferences", "structure")].patient.startswith("5 of 5")
    assert rows[("preferences", "structure")].therapist.startswith("1 of 5")
    assert ("preferences", "directiveness") not in rows


def test_alliance_answers_are_compared_with_the_alliance_check_of_their_session(case_id):
    services.record_session(
        case_id,
        {
            "number": 2,
            "date": "2026-11-20",
            "attendance": "attended",
            "alliance": {"bond": {"value": 4}},
        },
    )
    link_id = opened(case_id, "after_session", 2)
    services.save_patient_answer(link_id, "alliance.bond", {"value": 1})
    compared = services.patient_side_by_side(case_id)
    assert compared.alliance_session == 2
    assert compared.therapist.alliance["bond"].value == 4
    assert "gap.alliance.bond" in [g.id for g in compared.gaps]


def test_revoked_links_do_not_count_towards_what_the_patient_said(case_id):
    link_id = opened(case_id)
    services.save_patient_answer(link_id, "preferences.structure", {"value": 5})
    services.revoke_patient_link(link_id)
    patient, _ = services.patient_answers_for_case(case_id)
    assert patient.preferences == {}


def test_the_fit_uses_the_chosen_answers_and_says_whose_each_dimension_is(case_id):
    services.save_answer(case_id, "preferences", "structure", {"value": 1, "importance": 3})
    services.save_answer(case_id, "preferences", "pace", {"value": 3, "importance": 2})
    link_id = opened(case_id)
    services.save_patient_answer(link_id, "preferences.structure", {"value": 5, "importance": 3})
    assert services.answer_source(case_id) == "therapist"
    ours, _ = services.fit_with_source(case_id)
    sources = {d.item_id: d.source for d in ours.dimensions}
    assert (sources["structure"], sources["pace"], sources["focus"]) == (
        "therapist",
        "therapist",
        None,
    )
    services.set_answer_source(case_id, "patient_where_present")
    mixed, source = services.fit_with_source(case_id)
    assert source == "patient_where_present"
    sources = {d.item_id: d.source for d in mixed.dimensions}
    assert (sources["structure"], sources["pace"]) == ("patient", "therapist")
    assert mixed.overall_fit != ours.overall_fit
    services.set_answer_source(case_id, "patient")
    theirs, _ = services.fit_with_source(case_id)
    assert {d.item_id: d.source for d in theirs.dimensions}["pace"] is None
    with pytest.raises(ValueError, match="source"):
        services.set_answer_source(case_id, "supervisor")  # type: ignore[arg-type]


def stored_fit(case_id: int) -> float | None:
    frame = services.caseload_frame()
    return frame.loc[frame["id"] == case_id, "fit"].item()


@pytest.mark.parametrize("source", ["therapist", "patient", "patient_where_present"])
def test_every_place_shows_the_same_fit_for_every_answer_source(case_id, monkeypatch, source):
    """Issue 16: the report, the timeline's fit, both PDFs and the caseload agree."""
    services.save_answer(case_id, "preferences", "structure", {"value": 1, "importance": 3})
    services.save_answer(case_id, "preferences", "pace", {"value": 3, "importance": 2})
    link_id = opened(case_id)
    services.save_patient_answer(link_id, "preferences.structure", {"value": 5, "importance": 3})
    services.set_answer_source(case_id, source)
    printed = []
    monkeypatch.setattr(
        services.review, "case_review_pdf", lambda report, *a: printed.append(report)
    )
    monkeypatch.setattr(
        services.exports.summary_pdf, "case_summary_pdf", lambda report, *a: printed.append(report)
    )

    fit, used = services.fit_with_source(case_id)
    services.review_pdf(case_id)
    services.case_summary_pdf(case_id)

    assert used == source
    assert [r.overall_fit for r in printed] == [fit.overall_fit, fit.overall_fit]
    assert stored_fit(case_id) == pytest.approx(fit.overall_fit)
    therapist_only = services.assess_case(services.open_case(case_id).case).overall_fit
    assert (fit.overall_fit == therapist_only) is (source == "therapist")


def test_the_caseload_and_the_flags_follow_the_answers_the_fit_uses(case_id):
    services.save_answer(case_id, "preferences", "structure", {"value": 1, "importance": 3})
    services.save_answer(case_id, "preferences", "pace", {"value": 3, "importance": 2})
    ours, _ = services.fit_with_source(case_id)
    assert stored_fit(case_id) == pytest.approx(ours.overall_fit)

    services.set_answer_source(case_id, "patient_where_present")
    link_id = opened(case_id)
    # The patient's answer alone moves the caseload's figures, as it moves the report.
    services.save_patient_answer(link_id, "preferences.structure", {"value": 5, "importance": 3})
    mixed, _ = services.fit_with_source(case_id)
    assert mixed.overall_fit != ours.overall_fit
    assert stored_fit(case_id) == pytest.approx(mixed.overall_fit)
    # A batch recompute (as after an import) agrees with the one made by the change.
    services.compute_figures([case_id])
    assert stored_fit(case_id) == pytest.approx(mixed.overall_fit)
    events = services.flag_history(case_id)
    assert {e.actor for e in events} <= {services.current_user(), services.PATIENT_USER}

    services.set_answer_source(case_id, "therapist")
    assert stored_fit(case_id) == pytest.approx(ours.overall_fit)


# Coded free text -------------------------------------------------------------------------------


def test_every_free_text_gets_suggested_themes_and_decisions_are_kept(case_id):
    services.save_answer(
        case_id,
        "social",
        "housing",
        {"present": "yes", "note": "Waiting list for rehousing; long wait"},
    )
    link_id = opened(case_id, "after_session", 1)
    services.save_patient_answer(link_id, "open.helped", {"value": HELPED})
    texts = {t.source: t for t in services.coded_texts(case_id)}
    patient_text = texts[f"patient:{link_id}:open.helped"]
    assert patient_text.who == "patient"
    assert patient_text.label == "What has helped so far? (How your sessions are going, session 1)"
    assert {c.theme for c in patient_text.codes} >= {"pace", "depth"}
    assert "therapist:social.housing.note" in texts

    source = patient_text.source
    services.decide_code(case_id, source, "pace", "accepted")
    services.decide_code(case_id, source, "depth", "accepted")
    services.decide_code(case_id, source, "depth", "rejected")
    decided = {t.source: t for t in services.coded_texts(case_id)}[source].decisions
    assert (decided["pace"].decision, decided["depth"].decision) == ("accepted", "rejected")
    assert decided["pace"].evidence[0]["text"] == "rushed"
    assert decided["pace"].decided_by == "local user"
    with pytest.raises(ValueError, match="no 'alliance' suggestion"):
        services.decide_code(case_id, source, "alliance", "accepted")


def test_caseload_themes_count_accepted_undecided_and_rejected_per_therapist(case_id):
    other = services.new_case("PV-002", "cbt_depression", 12)
    services.update_case(other, therapist="dr.b")
    first = opened(case_id)
    services.save_patient_answer(first, "open.helped", {"value": HELPED})
    second = opened(other)
    services.save_patient_answer(second, "open.fit_better", {"value": "Less rushed sessions"})
    gone = opened(other)
    services.save_patient_answer(gone, "open.helped", {"value": "It all felt rushed"})
    services.revoke_patient_link(gone)
    services.decide_code(case_id, f"patient:{first}:open.helped", "pace", "accepted")
    services.decide_code(case_id, f"patient:{first}:open.helped", "depth", "rejected")

    themes = services.patient_feedback_themes()
    assert themes.texts == 2
    overall = {t.theme: (t.accepted, t.undecided, t.rejected) for t in themes.overall}
    assert overall["pace"] == (1, 1, 0)
    assert overall["depth"] == (0, 0, 1)
    by_a = {t.theme: (t.accepted, t.undecided, t.rejected) for t in themes.by_therapist["dr.a"]}
    by_b = {t.theme: (t.accepted, t.undecided, t.rejected) for t in themes.by_therapist["dr.b"]}
    assert by_a["pace"] == (1, 0, 0)
    assert by_b == {"pace": (0, 1, 0)}


def test_measures_before_a_session_are_scored_and_a_risk_answer_stands_out(case_id):
    link_id = opened(case_id, "before_session", 4)
    for item in range(1, 10):
        services.save_patient_answer(link_id, f"measure.phq9.phq9_{item}", {"value": 1})
    services.save_patient_answer(link_id, "measure.gad7.gad7_1", {"value": 2})
    [answered] = services.patient_measures(case_id)
    assert answered.session_number == 4
    phq9, gad7 = answered.scores
    assert (phq9.short_name, phq9.total, phq9.complete) == ("PHQ-9", 9, True)
    assert (gad7.total, gad7.answered) == (None, 1)
    assert answered.risk
    assert answered.items[0][0] == "PHQ-9" and len(answered.items) == 10
    services.revoke_patient_link(link_id)
    assert services.patient_measures(case_id) == []


def test_item_9_by_link_shows_at_once_even_when_the_questionnaire_is_unfinished(case_id):
    other = services.new_case("PV-002", "cbt_depression", 12)
    link_id = opened(case_id, "before_session", 2)
    services.save_patient_answer(link_id, "measure.phq9.phq9_1", {"value": 3})
    services.save_patient_answer(link_id, "measure.phq9.phq9_9", {"value": 0})
    assert services.link_risks() == [] and services.item9_cases() == {}, "0 is not above 0"

    services.save_patient_answer(link_id, "measure.phq9.phq9_9", {"value": 1})
    [risk] = services.link_risks()
    assert (risk.case_id, risk.reference, risk.session_number) == (case_id, "PV-001", 2)
    assert (risk.value, risk.completed) == (1, False)
    assert services.case_link_risks(case_id) == [risk]
    assert services.case_link_risks(other) == []
    assert services.item9_cases() == {case_id: "by link (partly answered)"}
    assert services.link_risks("dr.a") == [risk] and services.link_risks("dr.b") == []

    services.complete_patient_link(link_id)
    assert services.item9_cases() == {case_id: "by link (finished)"}
    services.revoke_patient_link(link_id)
    assert services.link_risks() == [], "a revoked link may have reached the wrong person"


def test_item_9_at_a_session_shows_on_the_caseload_with_the_link(case_id):
    services.record_session(
        case_id,
        {
            "number": 1,
            "date": "2026-11-20",
            "attendance": "attended",
            "measures": {"phq9": {"phq9_9": 2}},
        },
        0,
    )
    assert services.item9_cases() == {case_id: "at a session"}
    link_id = opened(case_id, "before_session", 2)
    services.save_patient_answer(link_id, "measure.phq9.phq9_9", {"value": 3})
    assert services.item9_cases() == {case_id: "at a session, by link (partly answered)"}


def test_the_patients_measures_are_recorded_in_their_session_on_request(case_id):
    services.record_session(
        case_id,
        {
            "number": 1,
            "date": "2026-11-20",
            "attendance": "attended",
            "kind": "treatment",
            "note": "first session",
            "alliance": {"bond": {"value": 3}},
            "measures": {"phq9": {"phq9_1": 3}, "wsas": {"wsas_1": 4}},
        },
        0,
    )
    with pytest.raises(LookupError, match="no measure before session 1"):
        services.copy_patient_measures(case_id, 1)
    link_id = opened(case_id, "before_session", 1)
    for item in range(1, 10):
        services.save_patient_answer(link_id, f"measure.phq9.phq9_{item}", {"value": 2})
    services.save_patient_answer(link_id, "measure.gad7.gad7_1", {"value": 1})
    assert services.patient_session_measures(case_id, 1).link.id == link_id
    assert services.patient_session_measures(case_id, 2) is None

    revision = services.open_case(case_id).session_revisions[1]
    services.copy_patient_measures(case_id, 1, revision)

    [session] = services.open_case(case_id).case.sessions
    # The patient's measures, item by item; the therapist's WSAS, alliance and note stay.
    assert session.measures["phq9"] == {f"phq9_{i}": 2 for i in range(1, 10)}
    assert session.measures["gad7"] == {"gad7_1": 1}
    assert session.measures["wsas"] == {"wsas_1": 4}
    assert session.note == "first session" and session.alliance["bond"].value == 3
    [change] = [c for c in services.session_history(case_id) if c.new is not None][-1:]
    assert change.old["measures"]["phq9"] == {"phq9_1": 3}
    # A copy over a version someone else has changed meanwhile is refused, nothing lost.
    with pytest.raises(services.StaleSession):
        services.copy_patient_measures(case_id, 1, revision)
    with pytest.raises(LookupError, match="session 2 is not recorded"):
        services.copy_patient_measures(case_id, 2)


def test_only_the_cases_therapist_records_the_patients_measures(case_id):
    services.record_session(
        case_id,
        {"number": 1, "date": "2026-11-20", "attendance": "attended", "kind": "treatment"},
        0,
    )
    link_id = opened(case_id, "before_session", 1)
    services.save_patient_answer(link_id, "measure.phq9.phq9_1", {"value": 2})
    other = Actor("dr.b", "Dr B", frozenset({"therapist"}), frozenset())
    with services.acting_as(other), pytest.raises(services.AccessDenied):
        services.copy_patient_measures(case_id, 1)
    assert services.open_case(case_id).case.sessions[0].measures == {}


# The audit log of the patient's side ------------------------------------------------------------


def patient_entries() -> list[tuple[str, str, str | None, str]]:
    """Entries about patient links, oldest first: who, what, which case, the detail."""
    return [
        (e.actor, e.action, e.case_reference, e.detail)
        for e in reversed(services.audit_entries(limit=None))
        if e.actor.startswith(("patient link", services.UNKNOWN_CODE))
    ]


def test_codes_and_answers_are_audited_by_link_never_with_the_answers(case_id):
    link_id = opened(case_id)
    services.save_patient_answer(link_id, "preferences.structure", {"value": 5, "importance": 2})
    services.save_patient_answer(link_id, "open.helped", {"value": HELPED})
    services.complete_patient_link(link_id)
    services.complete_patient_link(link_id)
    who = f"patient link {link_id}"
    assert patient_entries() == [
        (who, "viewed", "PV-001", "questionnaire opened by its code"),
        (who, "answered", "PV-001", "answer preferences.structure"),
        (who, "answered", "PV-001", "answer open.helped"),
        (who, "answered", "PV-001", "questionnaire finished"),
    ]
    logged = str(services.audit_entries(limit=None))
    assert "childhood" not in logged and "'importance'" not in logged
    assert services.check_audit_chain().intact


def test_refused_codes_are_audited_with_their_link_when_they_have_one(case_id):
    expired_link, expired = services.create_patient_link(case_id, {"preferences": None})
    services.expire_patient_link(expired_link.id)
    revoked_link, revoked = services.create_patient_link(case_id, {"preferences": None})
    services.revoke_patient_link(revoked_link.id)
    wrong = "7K2M-QX9D-AAAA-BBBB-CCCC-DDDD-EEEE"
    for code in (expired, revoked, wrong, "not a code"):
        with pytest.raises(services.LinkRefused):
            services.open_patient_link(code, "192.0.2.1")
    with pytest.raises(services.TooManyAttempts):
        services.open_patient_link(wrong, "192.0.2.1")
    with pytest.raises(services.TooManyAttempts):  # paused: refused unread, not logged again
        services.open_patient_link(wrong, "192.0.2.1")
    unknown = services.UNKNOWN_CODE
    assert patient_entries() == [
        (
            f"patient link {expired_link.id}",
            "code_refused",
            "PV-001",
            "code of a link that has expired",
        ),
        (
            f"patient link {revoked_link.id}",
            "code_refused",
            "PV-001",
            "code of a link that was revoked",
        ),
        (unknown, "code_refused", None, "no link has this code"),
        (unknown, "code_refused", None, "no link has this code"),
        (
            unknown,
            "code_refused",
            None,
            "no link has this code; too many wrong codes, client paused",
        ),
    ]
    assert wrong not in str(services.audit_entries(limit=None))
