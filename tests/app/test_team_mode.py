"""Team mode through AppTest: sign-in, menus by role, refusals on the pages, idle time-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from tailoring import services
from tailoring.model.actor import Actor
from tailoring.storage.tables import sign_ins
from tests.app.conftest import APP, sign_in
from tests.store import app_store


def test_nothing_but_the_sign_in_page_without_signing_in(team):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.title[0].value == "Sign in to Tailoring"
    assert not at.dataframe
    assert "TT-001" not in str(at._tree)
    # No command-line instructions for clinicians (issue 17): who to ask instead.
    assert "python -m" not in str(at._tree)
    assert any("Ask your service's administrator" in c.value for c in at.caption)


def test_wrong_password_and_disabled_account_are_refused_alike(team):
    at = sign_in("tess", "not the password")
    assert at.error[0].value == "Wrong username or password, or the account is disabled."
    app_store().accounts.disable("omar")
    at = sign_in("omar")
    assert at.error[0].value == "Wrong username or password, or the account is disabled."
    at = sign_in("nobody")
    assert at.error[0].value == "Wrong username or password, or the account is disabled."


def test_repeated_failures_are_throttled(team):
    for _ in range(5):
        sign_in("tara", "guessing wrong")
    at = sign_in("tara")
    assert "Too many failed logins" in at.error[0].value


def test_a_therapist_signs_in_and_sees_only_their_own_cases(team):
    at = sign_in("tess")
    assert not at.exception
    assert at.title[0].value == "Cases"
    text = str(at._tree)
    assert "TT-001" in text and "OM-001" not in text


def test_each_role_gets_its_own_first_page(team):
    assert sign_in("sam").title[0].value == "Caseload"
    assert sign_in("tara").title[0].value == "Practice"
    assert sign_in("ada").title[0].value == "Audit log"


def test_a_supervisor_reviews_a_supervisees_case_but_not_another(team):
    at = sign_in("sam")
    at.session_state["case_id"] = team["tess"]
    at.switch_page("pages/review.py").run()
    assert not at.exception
    assert at.title[0].value == "Case review · TT-001"
    at.text_area(key="review.note.text").input("Agreed a letter to the housing officer")
    at.button(key="review.note.add").click().run()
    with services.acting_as(Actor("sam", "Sam", frozenset({"supervisor"}), frozenset({"tess"}))):
        assert [n.author for n in services.notes(team["tess"])] == ["sam"]
    at.session_state["case_id"] = team["omar"]
    at.switch_page("pages/review.py").run()
    assert any("You cannot open this case" in e.value for e in at.error)
    assert "OM-001" not in [t.value for t in at.title]


def test_ending_a_supervision_takes_effect_on_the_supervisors_next_click(team):
    """Issue 13.5: the signed-in supervisor is checked against the accounts on every run."""
    at = sign_in("sam")
    at.session_state["case_id"] = team["tess"]
    at.switch_page("pages/review.py").run()
    assert at.title[0].value == "Case review · TT-001"
    app_store().accounts.unassign_supervisor("sam", "tess")
    at.run()
    assert any("You cannot open this case" in e.value for e in at.error)
    assert "TT-001" not in [t.value for t in at.title]
    at.switch_page("pages/caseload.py").run()
    assert "TT-001" not in str(at._tree)


def test_a_therapist_reads_the_review_of_their_case_without_the_supervisors_forms(team):
    at = sign_in("tess")
    at.session_state["case_id"] = team["tess"]
    at.switch_page("pages/review.py").run()
    assert at.title[0].value == "Case review · TT-001"
    with pytest.raises(KeyError):
        at.text_area(key="review.note.text")
    with pytest.raises(KeyError):
        at.selectbox(key="review.decide.flag")


def test_a_trainee_cannot_open_a_real_case_even_by_its_address(team):
    at = sign_in("tara")
    at.session_state["case_id"] = team["tess"]
    # The case pages are not in a trainee's app at all, and the use case refuses them anyway.
    for page in ("pages/review.py", "pages/walkthrough.py", "pages/cases.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
    with (
        services.acting_as(Actor("tara", "Tara", frozenset({"trainee"}))),
        pytest.raises(services.AccessDenied),
    ):
        services.open_case(team["tess"])


def test_an_admin_reads_the_audit_log_but_no_case(team):
    at = sign_in("ada")
    assert at.title[0].value == "Audit log"
    table = at.dataframe[0].value
    assert {"created", "changed", "login"} <= set(table["Action"])
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/review.py")
    with (
        services.acting_as(Actor("ada", "Ada", frozenset({"admin"}))),
        pytest.raises(services.AccessDenied),
    ):
        services.open_case(team["tess"])


def _last_used(at: AppTest, minutes_ago: float) -> None:
    """Make this session, and its sign-in as every tab sees it, last used ``minutes_ago``."""
    then = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    at.session_state["actor.last_seen"] = then
    with app_store().unit() as uow:
        uow.connection.execute(update(sign_ins).values(last_seen_at=then))


def test_an_idle_session_is_signed_out(team):
    at = sign_in("tess")
    _last_used(at, 31)
    at.run()
    assert at.title[0].value == "Sign in to Tailoring"
    assert "without activity" in at.info[0].value


def test_a_session_left_alone_stays_signed_in_while_another_tab_is_in_use(team):
    at = sign_in("tess")
    at.session_state["actor.last_seen"] = datetime.now(UTC) - timedelta(minutes=31)
    at.run()  # the sign-in was used a moment ago (another tab): not idle
    assert at.title[0].value != "Sign in to Tailoring"


def test_signing_out(team):
    at = sign_in("tess")
    at.button(key="account.sign_out").click().run()
    assert at.title[0].value == "Sign in to Tailoring"
