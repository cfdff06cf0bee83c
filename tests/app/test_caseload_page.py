"""The caseload dashboard through AppTest: figures of every demo case, filters, opening a case."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tailoring import services


def open_caseload(at: AppTest) -> AppTest:
    at.switch_page("pages/caseload.py")
    return at.run()


def test_the_caseload_lists_every_real_case_and_no_attempt(app: AppTest):
    services.start_attempt("cbt_depression_fit")
    at = open_caseload(app)
    assert not at.exception
    table = at.dataframe[0].value
    assert sorted(table["Reference"]) == sorted(c.reference for c in services.list_cases())


def test_filters_narrow_the_table(app: AppTest):
    at = open_caseload(app)
    at.text_input(key="caseload.search").input("DEMO-002").run()
    assert list(at.dataframe[0].value["Reference"]) == ["DEMO-002"]
    at.text_input(key="caseload.search").input("").run()
    at.toggle(key="caseload.high").set_value(True).run()
    frame = services.caseload_frame()
    expected = sorted(frame.loc[frame["flags_high"] > 0, "reference"])
    assert sorted(at.dataframe[0].value["Reference"]) == expected
    assert not at.exception


def test_small_numbers_are_marked_not_shown_as_rates(app: AppTest):
    at = open_caseload(app)
    rates = at.dataframe[1].value
    assert all("%" not in value for value in rates["Value"])
    assert all("small number" in value for value in rates["Value"])


def test_opening_a_case_from_the_caseload(app: AppTest):
    at = open_caseload(app)
    at.selectbox(key="caseload.open_pick").set_value("DEMO-005").run()
    at.button(key="caseload.open").click().run()
    assert at.title[0].value == "Walk-through · DEMO-005"
