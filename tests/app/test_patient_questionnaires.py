"""The patient's questionnaire page and the therapist's Patient questionnaires page (AppTest).

The patient page is reached with ``?code=…`` (a link or QR code) or by typing the code; it shows
nothing else of the case. An expired, revoked or wrong code gets the same message.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import textstat
from streamlit.testing.v1 import AppTest

from tailoring import services
from tailoring.engine import patient_questionnaires
from tailoring.engine.patient_questionnaires import REFUSED
from tailoring.engine.throttle import Policy
from tests.app.conftest import APP
from tests.store import app_store, case_id_of
from ui import patient_questionnaires_answer as patient_ui
from ui.patient_questionnaires import highlighted
from ui.patient_questionnaires_answer import WORDS

HELPED = "Sessions felt rushed, and I never had time to talk about my childhood."


@pytest.fixture
def case_id(database) -> int:
    services.start(load_demo=False)
    case_id = services.new_case("PV-APP-1", "cbt_depression", 12)
    services.save_answer(case_id, "preferences", "structure", {"value": 1, "importance": 3})
    services.save_answer(
        case_id, "social", "housing", {"present": "yes", "note": "Damp flat, private rent"}
    )
    return case_id


def visit(code: str | None) -> AppTest:
    """A patient's visit: the app opened with the code in its address (or none, to type one)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["code"] = code or ""
    return at.run()


def page_scripts(at: AppTest) -> str:
    """The HTML the page ran (st.html), where its scripts are."""
    return "\n".join(str(e.proto.body) for e in at.get("html"))


def frame(at: AppTest, column: str, without: str = "—"):
    """The first table with this column (and not that one): AppTest keeps no table keys."""
    return next(
        d.value
        for d in [*at.dataframe, *at.table]
        if column in d.value.columns and without not in d.value
    )


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def page_of(at: AppTest) -> str:
    """The page the patient is on, as its progress bar says ("Page 2 of 7")."""
    return at.get("progress")[0].proto.text


def to_page(at: AppTest, number: int) -> AppTest:
    """Next, Next, ... until the progress bar says this page."""
    while not page_of(at).startswith(f"Page {number} of"):
        at = at.button(key="patient.next").click().run()
        assert not at.exception
    return at


def shown_text(at: AppTest) -> str:
    parts = [
        *(e.value for e in at.title),
        *(e.value for e in at.header),
        *(e.value for e in at.markdown),
        *(e.value for e in at.caption),
        *(e.value for e in at.text),
        *(e.value for e in at.info),
        *(e.value for e in at.warning),
        *(e.value for e in at.error),
        *(e.value for e in at.success),
        *(w.label for w in at.radio),
    ]
    return "\n".join(str(p) for p in parts)


def assert_nothing_of_the_case(at: AppTest) -> None:
    assert not at.exception
    assert len(at.sidebar.children) == 0, "the patient page has a sidebar"
    text = shown_text(at)
    for secret in ("PV-APP-1", "Damp flat", "Fit", "flag", "CBT for depression"):
        assert secret not in text
    assert not at.dataframe and not at.table and not at.metric


# The patient's page ----------------------------------------------------------------------------


def test_a_valid_code_opens_the_questions_and_nothing_else(case_id):
    _, code = services.create_patient_link(case_id, {"preferences": None})
    at = visit(code)
    assert [t.value for t in at.title] == ["What you want from therapy"]
    assert_nothing_of_the_case(at)
    assert "The link works until" in at.info[0].value
    assert "call 999" in at.warning[0].value
    assert at.radio(key="patient.preferences.structure").value is None
    assert services.patient_links(case_id)[0].opened_at is not None
    # The code leaves the address: first in the browser, then in Streamlit's copy of the query.
    assert at.query_params["code"] == code
    assert "history.replaceState" in page_scripts(at)
    at = at.radio(key="patient.preferences.structure").set_value(2).run()
    assert at.query_params["code"] == ""
    assert [t.value for t in at.title] == ["What you want from therapy"]


def test_a_reload_without_the_code_asks_for_the_link_again(case_id):
    at = visit("")
    assert [t.value for t in at.title] == ["Your questions"]
    assert "Open the link from your message again" in shown_text(at)
    assert not at.error


@pytest.mark.parametrize("how", ["expired", "revoked", "wrong"])
def test_expired_revoked_and_wrong_codes_get_the_same_plain_message(case_id, how):
    link, code = services.create_patient_link(case_id, {"preferences": None})
    if how == "expired":
        services.expire_patient_link(link.id)
    elif how == "revoked":
        services.revoke_patient_link(link.id)
    else:
        code = code[:-4] + ("AAAA" if not code.endswith("AAAA") else "BBBB")
    at = visit(code)
    assert not at.exception
    assert [e.value for e in at.error] == [REFUSED]
    assert [t.value for t in at.title] == ["Your questions"]
    assert not at.radio and not at.text_area
    assert_nothing_of_the_case(at)
    # The refused code leaves the address: a rerun does not count it again.
    assert at.query_params["code"] == ""


def test_a_typed_code_opens_the_questions_and_wrong_codes_are_throttled(case_id, monkeypatch):
    monkeypatch.setattr(patient_ui, "client_address", lambda: "203.0.113.9")
    _, code = services.create_patient_link(case_id, {"preferences": None})
    at = visit(None)
    assert [t.value for t in at.title] == ["Your questions"]
    for _ in range(5):
        at.text_input(key="patient.code").input("7K2M-QX9D-AAAA-BBBB-CCCC-DDDD-EEEE")
        at = at.button[0].click().run()
    assert "Too many codes did not work" in at.error[0].value
    again = visit(None)  # a reload: a new session from the same address
    again.text_input(key="patient.code").input(code.lower())
    again = again.button[0].click().run()
    assert "Too many codes did not work" in again.error[0].value
    monkeypatch.setattr(patient_ui, "client_address", lambda: "203.0.113.10")
    other = visit(code)
    assert [t.value for t in other.title] == ["What you want from therapy"]


def test_wrong_codes_from_unknown_addresses_are_throttled_across_reloads(case_id, monkeypatch):
    """Behind a proxy on the same host Streamlit knows no address: each reload used to be a new
    key, so wrong codes were never throttled. Now such clients share one stored bucket."""
    three = Policy(3, timedelta(minutes=15), timedelta(minutes=15), timedelta(minutes=10))
    monkeypatch.setattr(patient_questionnaires, "UNKNOWN_CLIENTS_POLICY", three)
    _, code = services.create_patient_link(case_id, {"preferences": None})
    errors = [visit(f"7K2M-QX9D-AAAA-BBBB-CCCC-DDDD-EEE{n}").error[0].value for n in range(4)]
    assert errors[:2] == [REFUSED] * 2
    assert all("Too many codes did not work" in e for e in errors[2:])
    assert "Too many codes did not work" in visit(code).error[0].value


def test_answers_save_as_given_and_survive_a_new_visit(case_id):
    link, code = services.create_patient_link(case_id, {"preferences": None})
    at = visit(code)
    assert page_of(at) == "Page 1 of 7"
    at.radio(key="patient.preferences.structure").set_value(5).run()
    at.radio(key="patient.preferences.structure.importance").set_value(3).run()
    at = to_page(at, 6)
    assert [h.value for h in at.subheader] == ["What might get in the way"]
    at.checkbox(key="patient.barriers.childcare.childcare").check().run()
    at.checkbox(key="patient.barriers.childcare.none").check().run()  # "none" unticks the rest
    at = to_page(at, 7)
    at.text_area(key="patient.open.helped").input(HELPED).run()
    assert not at.exception
    assert services.patient_link_answers(link.id) == {
        "preferences.structure": {"value": 5, "importance": 3},
        "barriers.childcare": {"value": ["none"]},
        "open.helped": {"value": HELPED},
    }
    at = at.button(key="patient.back").click().run()
    assert page_of(at) == "Page 6 of 7"
    assert at.checkbox(key="patient.barriers.childcare.childcare").value is False
    assert at.checkbox(key="patient.barriers.childcare.none").value is True
    later = visit(code)  # a reload: the patient opens the link again
    assert page_of(later) == "Page 1 of 7", "the first page with a question not answered"
    assert later.radio(key="patient.preferences.structure").value == 5
    assert "3 of 20 questions answered" in [c.value for c in later.caption]
    later = to_page(later, 7)
    assert later.text_area(key="patient.open.helped").value == HELPED


def test_a_new_visit_starts_at_the_page_the_patient_stopped_at(case_id):
    link, code = services.create_patient_link(case_id, {"preferences": None})
    at = visit(code)
    for key in ("directiveness", "structure", "focus"):
        at.radio(key=f"patient.preferences.{key}").set_value(3).run()
    at = to_page(at, 2)
    at.radio(key="patient.preferences.challenge").set_value(2).run()
    again = visit(code)
    assert page_of(again) == "Page 2 of 7"
    assert again.radio(key="patient.preferences.challenge").value == 2
    assert again.radio(key="patient.preferences.emotional_intensity").value is None
    # Back to the first page: its answers are there, as stored.
    again = again.button(key="patient.back").click().run()
    assert again.radio(key="patient.preferences.focus").value == 3
    assert len(services.patient_link_answers(link.id)) == 4


def test_identifiers_in_free_text_are_held_until_removed(case_id):
    link, code = services.create_patient_link(case_id, {"preferences": None})
    at = to_page(visit(code), 7)
    at.text_area(key="patient.open.fit_better").input("Please ring me on 07700 900123").run()
    assert "not saved yet" in at.warning[0].value
    assert [t.value for t in at.text] == ["Please ring me on [phone number removed]"]
    assert "open.fit_better" not in services.patient_link_answers(link.id)
    labels = [b.label for b in at.button]
    assert "Save as written" not in labels and "I will change my answer" in labels
    # Checked before sending: the page with the words not saved says so, and leads back.
    at = at.button(key="patient.next").click().run()
    assert [w.value for w in at.warning] == [WORDS["unsaved"]]
    at = at.button(key="patient.change.preferences.6").click().run()
    assert at.text_area(key="patient.open.fit_better").value == "Please ring me on 07700 900123"
    at = at.button(key="patient.open.fit_better.remove").click().run()
    assert services.patient_link_answers(link.id)["open.fit_better"] == {
        "value": "Please ring me on [phone number removed]"
    }
    assert not at.warning


def test_finishing_shows_the_thank_you_and_answers_stop_changing(case_id):
    _, code = services.create_patient_link(case_id, {"after_session": 1})
    at = visit(code)
    assert page_of(at) == "Page 1 of 3"
    at.radio(key="patient.alliance.bond").set_value(1).run()
    at = to_page(at, 3)
    assert at.button(key="patient.next").label == "Check my answers"
    at = at.button(key="patient.next").click().run()
    assert titles(at) == ["Check your answers"]
    at = at.button(key="patient.finish").click().run()
    assert titles(at) == ["Thank you"]
    assert "sent to your therapist" in at.success[0].value
    assert not at.radio
    [link] = services.patient_links(case_id)
    assert link.completed_at is not None
    assert link.questionnaires[0].done_at is not None
    again = visit(code)
    assert titles(again) == ["Thank you"]
    # Reopened: what was sent and when, and how to ask for a change; not the answers.
    told = " ".join(m.value for m in again.markdown)
    assert "You sent your answers at " in told and "Ask your therapist" in told
    assert "How your sessions are going: 1 of 11 questions answered" in told
    assert "A little" not in told


def test_before_sending_the_patient_checks_and_changes_answers(case_id):
    link, code = services.create_patient_link(case_id, {"preferences": None})
    at = visit(code)
    at.radio(key="patient.preferences.structure").set_value(1).run()
    at.radio(key="patient.preferences.structure.importance").set_value(2).run()
    at = to_page(at, 7)
    at.text_area(key="patient.open.helped").input("<b>Walks</b> & *talks*").run()
    at = at.button(key="patient.next").click().run()
    assert titles(at) == ["Check your answers"]
    assert [c.key for c in at.button if c.key and c.key.startswith("patient.change.")] == [
        f"patient.change.preferences.{i}" for i in range(7)
    ]
    shown = "".join(h.value for h in at.get("html") if "patient-answers" in str(h.proto.body))
    assert "<dd>A clear plan each time. It matters a lot.</dd>" in shown
    assert "<dd>&lt;b&gt;Walks&lt;/b&gt; &amp; *talks*</dd>" in shown  # their words, escaped
    assert '<dd class="unanswered">Not answered</dd>' in shown
    assert "You have answered 2 of 20 questions." in " ".join(m.value for m in at.markdown)

    # Change: back to that page, then straight back to the answers.
    at = at.button(key="patient.change.preferences.0").click().run()
    assert page_of(at) == "Page 1 of 7"
    assert at.button(key="patient.next").label == "Back to my answers"
    assert not [b for b in at.button if b.key == "patient.back"]
    at.radio(key="patient.preferences.structure").set_value(4).run()
    at = at.button(key="patient.next").click().run()
    assert titles(at) == ["Check your answers"]
    shown = "".join(h.value for h in at.get("html") if "patient-answers" in str(h.proto.body))
    assert "<dd>Mostly open, with a loose plan. It matters a lot.</dd>" in shown
    assert services.patient_links(case_id)[0].completed_at is None
    at = at.button(key="patient.finish").click().run()
    assert titles(at) == ["Thank you"]
    assert services.patient_link_answers(link.id)["preferences.structure"]["value"] == 4


def test_one_link_for_a_visit_shows_a_short_list_done_or_not(case_id):
    visit_sets = {"preferences": None, "before_session": 2, "after_session": 1}
    _, code = services.create_patient_link(case_id, visit_sets)
    at = visit(code)
    assert titles(at) == ["Your questions"]
    assert_nothing_of_the_case(at)
    assert "asks you 3 sets of questions" in " ".join(m.value for m in at.markdown)
    assert "call 999" in at.warning[0].value
    assert [c.value for c in at.caption][-3:] == [
        "Not started · 20 questions",
        "Not started · 21 questions",
        "Not started · 9 questions",
    ]
    assert [b.label for b in at.button if b.key and b.key.startswith("patient.go.")] == [
        "Start: What you want from therapy",
        "Start: Before we meet",
        "Start: How your sessions are going",
    ]
    # The measures before session 2: three pages, one per measure, the last one done.
    at = at.button(key="patient.go.before_session").click().run()
    assert titles(at) == ["Before we meet"] and page_of(at) == "Page 1 of 3"
    at.radio(key="patient.measure.phq9.phq9_9").set_value(1).run()
    at = to_page(at, 3)
    assert at.button(key="patient.next").label == "I am done with these questions"
    at = at.button(key="patient.next").click().run()
    assert titles(at) == ["Your questions"]
    states = [c.value for c in at.caption]
    assert ":material/check_circle: Done · 1 of 21 questions answered" in states
    assert [b.label for b in at.button if b.key == "patient.go.before_session"] == [
        "Look again: Before we meet"
    ]
    # The alliance questions, half done: "carry on" opens the first page still to answer.
    at = at.button(key="patient.go.after_session").click().run()
    assert at.button(key="patient.back").label == "Back to the list"
    for item in ("goals_agreement", "task_agreement", "bond", "heard", "individual"):
        at.radio(key=f"patient.alliance.{item}").set_value(3).run()
    at = at.button(key="patient.back").click().run()
    assert "5 of 9 questions answered" in [c.value for c in at.caption]
    at = at.button(key="patient.go.after_session").click().run()
    assert page_of(at) == "Page 2 of 2", "no open questions here: the preferences ask them"
    stored = services.patient_links(case_id)[0]
    assert [(q.set_id, q.answered, q.done_at is not None) for q in stored.questionnaires] == [
        ("preferences", 0, False),
        ("before_session", 1, True),
        ("after_session", 5, False),
    ]
    # Check and send from the list: the answers of every questionnaire on one screen.
    at = at.button(key="patient.back").click().run()
    at = at.button(key="patient.back").click().run()
    at = at.button(key="patient.review").click().run()
    assert titles(at) == ["Check your answers"]
    assert [h.value for h in at.subheader] == [
        "What you want from therapy",
        "Before we meet",
        "How your sessions are going",
    ]
    at = at.button(key="patient.finish").click().run()
    again = visit(code)
    told = " ".join(m.value for m in again.markdown)
    assert "Before we meet: 1 of 21 questions answered" in told
    assert services.patient_links(case_id)[0].completed_at is not None
    assert services.link_risks()[0].session_number == 2


# The therapist's page -------------------------------------------------------------------------


def therapist(case_id: int) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["case_id"] = case_id
    at.switch_page("pages/patient_questionnaires.py")
    return at.run()


def test_a_link_is_created_shown_once_and_revoked(case_id):
    at = therapist(case_id)
    assert at.title[0].value == "Patient questionnaires · PV-APP-1"
    at = at.button(key="links.new.create").click().run()
    assert not at.exception
    [link] = services.patient_links(case_id)
    url, code = (c.value for c in at.code)
    assert url == f"http://localhost:8501/patient?code={code}"
    assert services.open_patient_link(code, "test").id == link.id
    at = at.button(key=f"links.{link.id}.revoke").click().run()
    assert "Revoke for good?" in at.warning[0].value
    at = at.button(key=f"links.{link.id}.revoke.confirm").click().run()
    assert services.patient_links(case_id)[0].revoked_at is not None
    assert at.success[0].value == "Link revoked."


def test_a_gap_is_flagged_when_the_answers_differ(case_id):
    link, code = services.create_patient_link(case_id, {"preferences": None})
    services.open_patient_link(code, "test")
    services.save_patient_answer(link.id, "preferences.structure", {"value": 5, "importance": 3})
    services.complete_patient_link(link.id)
    assert [c.link.id for c in services.returned_since_seen()] == [link.id]
    at = therapist(case_id)
    assert not at.exception
    table = frame(at, "The patient answered")
    assert list(table["Gap"]) == ["Gap"]
    assert list(table["The patient answered"]) == [
        "5 of 5: Open: we follow what I bring (it is a must)"
    ]
    assert "Structure: you and the patient answered differently" in [e.label for e in at.expander]
    # Seen: it no longer counts as come back since last looked.
    assert services.returned_since_seen() == []


def test_the_source_choice_changes_the_report(case_id):
    link, code = services.create_patient_link(case_id, {"preferences": None})
    services.open_patient_link(code, "test")
    services.save_patient_answer(link.id, "preferences.structure", {"value": 5, "importance": 3})
    at = therapist(case_id)
    fit = frame(at, "Answer from").set_index("Dimension")
    assert fit.loc["Structure", "Answer from"] == "You"
    at = at.radio(key="answers.source").set_value("patient").run()
    assert services.answer_source(case_id) == "patient"
    fit = frame(at, "Answer from").set_index("Dimension")
    assert fit.loc["Structure", "Answer from"] == "Patient"
    assert "This report uses: the patient's answers only." in [c.value for c in at.caption]
    assert therapist(case_id).radio(key="answers.source").value == "patient"


def test_theme_suggestions_are_accepted_or_rejected_and_kept(case_id):
    link, code = services.create_patient_link(case_id, {"preferences": None})
    services.open_patient_link(code, "test")
    services.save_patient_answer(link.id, "open.helped", {"value": HELPED})
    source = f"patient:{link.id}:open.helped"
    at = therapist(case_id)
    [html] = [h.value for h in at.html if "rushed" in h.value]
    assert "<mark>rushed</mark>" in html and "<mark>childhood</mark>" in html
    at = at.button(key=f"codes.{source}.pace.accepted").click().run()
    at = at.button(key=f"codes.{source}.depth.rejected").click().run()
    assert not at.exception
    stored = app_store().patient_questionnaires.code_decisions(case_id)
    decisions = {d.theme: d.decision for d in stored}
    assert decisions == {"pace": "accepted", "depth": "rejected"}
    assert at.button(key=f"codes.{source}.pace.accepted").disabled
    again = therapist(case_id)
    assert any("Accepted by local user" in t.value for t in again.text)
    assert any("Rejected by local user" in t.value for t in again.text)


def test_the_caseload_shows_the_themes_of_patient_feedback(case_id):
    link, code = services.create_patient_link(case_id, {"preferences": None})
    services.open_patient_link(code, "test")
    services.save_patient_answer(link.id, "open.helped", {"value": HELPED})
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/caseload.py")
    at.session_state["caseload.view"] = "Patient feedback"
    at = at.run()
    assert not at.exception
    assert "Themes of patient feedback" in [s.value for s in at.subheader]
    overall = frame(at, "Suggested, not decided", without="Therapist").set_index("Theme")
    assert overall.loc["Time and pace", "Suggested, not decided"] == 1


def test_highlighting_escapes_what_people_wrote():
    text = '<img src=x onerror="alert(1)"> it felt **rushed** & [odd](javascript:x)'
    shown = highlighted(text, services.theme_codes(text))
    assert "<img" not in shown
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in shown
    assert "**<mark>rushed</mark>** &amp; [odd](javascript:x)" in shown


def test_a_risk_answer_before_a_session_is_shown_above_everything(case_id):
    link, code = services.create_patient_link(case_id, {"preferences": None, "before_session": 2})
    services.open_patient_link(code, "test")
    services.save_patient_answer(link.id, "measure.phq9.phq9_9", {"value": 2})
    at = therapist(case_id)
    assert not at.exception
    assert "follow your service's risk procedure" in at.error[0].value
    assert "PHQ-9" in [m.label for m in at.metric]


@pytest.mark.parametrize("name", sorted(WORDS))
def test_the_page_own_words_for_patients_are_plain(name):
    """As every text of content/patient/ (tests/unit/test_patient_readability.py)."""
    moment = "14:05 on Friday 11 December 2026"
    text = WORDS[name].format(
        until=moment,
        when=moment,
        title="What you want from therapy",
        answered=3,
        total=20,
        count=3,
        page=2,
        pages=7,
    )
    assert textstat.flesch_reading_ease(text) >= 60, text


def test_in_team_mode_the_patient_needs_no_sign_in(case_id, monkeypatch):
    link, code = services.create_patient_link(case_id, {"preferences": None})
    monkeypatch.setenv("TAILORING_MODE", "team")
    services.set_mode("team")
    try:
        at = visit(code)
        at.radio(key="patient.preferences.structure").set_value(2).run()
    finally:
        services.set_mode("local")
    assert not at.exception
    assert [t.value for t in at.title] == ["What you want from therapy"]
    assert_nothing_of_the_case(at)
    assert services.patient_link_answers(link.id)["preferences.structure"]["value"] == 2


def test_the_walkthrough_report_follows_the_chosen_answer_source(app: AppTest):
    from tests.app.conftest import open_walkthrough

    case_id = case_id_of("DEMO-001")
    at = open_walkthrough(app, case_id, "report")
    assert not any("uses the patient's answers" in c.value for c in at.caption)
    services.set_answer_source(case_id, "patient_where_present")
    at = open_walkthrough(app, case_id, "report")
    assert not at.exception
    assert any("uses the patient's answers where given" in c.value for c in at.caption)
    # No patient answers yet: every answered dimension is the therapist's.
    table = at.table[0].value
    answered = table[table["Status"] != "Not answered"]
    assert set(answered["Answer from"]) == {"Therapist"}


def test_before_a_session_offers_the_next_unrecorded_session(case_id):
    for number in (1, 2):
        services.record_session(
            case_id, {"number": number, "date": f"2026-11-0{number}", "attendance": "attended"}
        )
    at = therapist(case_id)
    assert at.number_input(key="links.new.session.before_session").value == 3
    assert at.number_input(key="links.new.session.after_session").value == 2
    assert at.number_input(key="links.new.session.before_session").disabled
    at.checkbox(key="links.new.before_session").check().run()
    at = at.checkbox(key="links.new.preferences").uncheck().run()
    at.button(key="links.new.create").click().run()
    assert not at.exception
    [link] = services.patient_links(case_id)
    assert [(q.set_id, q.session_number) for q in link.questionnaires] == [("before_session", 3)]


def test_one_link_carries_the_questionnaires_ticked_for_a_visit(case_id):
    services.record_session(case_id, {"number": 1, "date": "2026-11-01", "attendance": "attended"})
    at = therapist(case_id)
    assert at.checkbox(key="links.new.preferences").value is True
    for set_id in ("before_session", "after_session"):
        at.checkbox(key=f"links.new.{set_id}").check().run()
    at = at.button(key="links.new.create").click().run()
    assert not at.exception
    [link] = services.patient_links(case_id)
    assert [(q.set_id, q.session_number) for q in link.questionnaires] == [
        ("preferences", None),
        ("before_session", 2),
        ("after_session", 1),
    ]
    services.finish_patient_questionnaire(link.id, "before_session")
    shown = " ".join(m.value for m in therapist(case_id).markdown)
    assert (
        "Preferences; Before session 2 (PHQ-9, anxiety, WSAS) (done); "
        "After session 1 (alliance check)"
    ) in shown
    for set_id in ("preferences", "before_session", "after_session"):
        at.checkbox(key=f"links.new.{set_id}").uncheck().run()
    at = at.button(key="links.new.create").click().run()
    assert "No link made: tick at least one questionnaire." in [e.value for e in at.error]
    assert len(services.patient_links(case_id)) == 1


def test_a_measures_question_is_shown_once_above_its_items(case_id):
    _, code = services.create_patient_link(case_id, {"before_session": 1})
    at = visit(code)
    assert not at.exception
    stem = services.content().measure("phq9").question.strip()
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert sum(stem in t for t in texts) == 1


def test_a_second_tab_behind_the_first_cannot_save_its_old_answer(case_id):
    """One patient, one link, two tabs (ui/bound.py's fifth cause): the tab that still held the
    older answer sends it after its page was redrawn with the newer one. It is refused and
    the patient told; a choice made after that is saved."""
    link, code = services.create_patient_link(case_id, {"preferences": None})
    key = "patient.preferences.structure"
    first = visit(code)
    first.radio(key=key).set_value(2).run()
    second = visit(code)
    assert second.radio(key=key).value == 2
    first.radio(key=key).set_value(4).run()
    second.run()
    assert second.radio(key=key).value == 4
    second.radio(key=key).set_value(2).run()  # the value the second tab's browser still held
    assert services.patient_link_answers(link.id)["preferences.structure"]["value"] == 4
    assert second.radio(key=key).value == 4
    # Told at the question, not at the top of a page that is screens long on a phone.
    question = _innermost_block_with(second.main, key)
    assert [w.value for w in question.warning] == [WORDS["changed_elsewhere"]]
    assert [w.value for w in second.warning].count(WORDS["changed_elsewhere"]) == 1
    second.radio(key=key).set_value(2).run()  # chosen again after the notice
    assert services.patient_link_answers(link.id)["preferences.structure"]["value"] == 2
    assert not any("another page of this link" in w.value for w in second.warning)
    first.radio(key=f"{key}.importance").set_value(1).run()
    assert services.patient_link_answers(link.id)["preferences.structure"] == {
        "value": 2,
        "importance": 1,
    }
    assert not first.exception and not second.exception


def _innermost_block_with(block, key: str):
    """The deepest container drawn around the widget with ``key``."""
    for child in getattr(block, "children", {}).values():
        if any(radio.key == key for radio in getattr(child, "radio", [])):
            return _innermost_block_with(child, key)
    return block
