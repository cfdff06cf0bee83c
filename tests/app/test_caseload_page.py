"""The caseload dashboard through AppTest: figures of every demo case, filters, opening a case."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tailoring import services
from tests.store import case_id_of
from ui import caseload


def open_caseload(at: AppTest, view: str = "Cases") -> AppTest:
    at.switch_page("pages/caseload.py")
    at.session_state["caseload.view"] = view
    return at.run()


def test_only_the_open_tab_is_drawn_and_computed(app: AppTest, monkeypatch):
    summaries = []
    real = services.caseload_overview
    monkeypatch.setattr(services, "caseload_overview", lambda *a: summaries.append(1) or real(*a))
    at = open_caseload(app)
    assert not at.get("plotly_chart") and summaries == []
    assert "Reference" in at.dataframe[0].value
    at.session_state["caseload.view"] = "Charts"
    at.run()
    assert at.get("plotly_chart") and summaries == [1]
    assert not at.exception


def test_clicking_a_row_opens_the_case_in_review(app: AppTest):
    at = open_caseload(app)
    table = at.dataframe[0].value
    row = list(table["Reference"]).index("DEMO-003")
    at.session_state["caseload.table"] = {"selection": {"rows": [row], "columns": []}}
    at.run()
    assert not at.exception
    assert at.title[0].value == "Case review · DEMO-003"


def test_the_caseload_lists_every_real_case_and_no_attempt(app: AppTest):
    services.start_attempt("cbt_depression_fit")
    at = open_caseload(app)
    assert not at.exception
    assert at.title[0].value == "Caseload"
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
    at = open_caseload(app, "Charts")
    rates = at.dataframe[0].value
    assert all("%" not in value for value in rates["Value"])
    assert all("small number" in value for value in rates["Value"])


def test_opening_a_case_from_the_caseload(app: AppTest):
    at = open_caseload(app)
    at.selectbox(key="caseload.open_pick").set_value("DEMO-005").run()
    at.button(key="caseload.open").click().run()
    assert at.title[0].value == "Case review · DEMO-005"


def test_protocol_trend_and_fit_filters(app: AppTest):
    at = open_caseload(app)
    frame = services.caseload_frame()
    protocol = frame["protocol_id"].iloc[0]
    at.multiselect(key="caseload.protocols").set_value([protocol]).run()
    expected = sorted(frame.loc[frame["protocol_id"] == protocol, "reference"])
    assert sorted(at.dataframe[0].value["Reference"]) == expected
    at.multiselect(key="caseload.protocols").set_value([]).run()
    at.number_input(key="caseload.fit_below").set_value(60).run()
    expected = sorted(frame.loc[frame["fit"] < 60, "reference"])
    assert sorted(at.dataframe[0].value["Reference"]) == expected
    at.number_input(key="caseload.fit_below").set_value(None).run()
    at.multiselect(key="caseload.trends").set_value(["none"]).run()
    expected = sorted(frame.loc[frame["alliance_trend"] == "none", "reference"])
    assert sorted(at.dataframe[0].value["Reference"]) == expected
    assert not at.exception


def test_per_therapist_charts_appear_with_two_therapists(app: AppTest):
    case_id = case_id_of("DEMO-001")
    services.update_case(case_id, therapist="B. Second")
    at = open_caseload(app, "Charts")
    assert not at.exception
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Outcome rates, by therapist" in spec for spec in charts)
    assert any("B. Second (small number)" in spec for spec in charts)


def test_the_not_on_track_filter_finds_every_case_not_on_track(app: AppTest):
    at = open_caseload(app)
    at.multiselect(key="caseload.outcomes").set_value(["not_on_track"]).run()
    frame = services.caseload_frame()
    flagged = frame["not_on_track"].astype(bool) | (frame["outcome"] == "not_on_track")
    assert sorted(at.dataframe[0].value["Reference"]) == sorted(frame.loc[flagged, "reference"])
    assert not at.exception


def test_sorting_orders_the_table_and_a_long_caseload_is_cut_with_a_note(app: AppTest, monkeypatch):
    at = open_caseload(app)
    at.selectbox(key="caseload.sort").set_value("fit").run()
    at.toggle(key="caseload.desc.fit").set_value(False).run()
    fits = [f for f in at.dataframe[0].value["Fit"] if f == f]  # unscored cases go last
    assert fits == sorted(fits)
    from ui import caseload as caseload_ui

    monkeypatch.setattr(caseload_ui, "TABLE_ROWS", 2)
    at.run()
    assert len(at.dataframe[0].value) == 2
    assert any("Showing the first 2 of" in c.value for c in at.caption)


def test_the_fit_box_plot_shows_every_case_or_only_the_boxes_of_a_long_caseload(
    app: AppTest, monkeypatch
):
    import json

    from ui import caseload as caseload_ui

    def box() -> dict:
        at.run()
        assert not at.exception
        specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
        (figure,) = [s for s in specs if s["layout"]["title"]["text"] == "Fit, by therapist"]
        return figure["data"][0]

    at = open_caseload(app, "Charts")
    frame = services.caseload_frame()
    dots = box()
    assert dots["boxpoints"] == "all" and "q1" not in dots
    monkeypatch.setattr(caseload_ui, "BOX_POINTS", 1)
    boxes = box()
    # One box per therapist with a fit, drawn from the summary's figures, not from every case.
    overview = services.caseload_overview(frame)
    scored = [t for t in overview.therapists if t.fit.median is not None]
    assert len(scored) > 1 and "x" not in boxes
    assert boxes["y"] == [t.therapist + " (small number)" * t.small for t in scored]
    assert boxes["median"] == [t.fit.median for t in scored]
    assert boxes["upperfence"] == [t.fit.upper_fence for t in scored]


def test_a_first_visit_draws_the_same_table_from_the_preview_as_later_runs(
    app: AppTest, monkeypatch
):
    from ui import caseload as caseload_ui

    previews = []
    real = services.caseload_preview
    monkeypatch.setattr(services, "caseload_preview", lambda *a: previews.append(a) or real(*a))
    monkeypatch.setattr(caseload_ui, "TABLE_ROWS", 3)
    at = open_caseload(app)
    assert len(previews) == 1  # nothing read yet on this server: the first rows come first
    first = at.dataframe[0].value
    assert any("Showing the first 3 of" in c.value for c in at.caption)
    at.run()
    assert len(previews) == 1  # read now: later runs draw from the whole caseload
    assert first.equals(at.dataframe[0].value)
    assert not at.exception


def test_a_first_visit_with_a_filter_set_reads_the_whole_caseload(app: AppTest, monkeypatch):
    previews = []
    monkeypatch.setattr(services, "caseload_preview", lambda *a: previews.append(a))
    app.session_state["caseload.high"] = True
    at = open_caseload(app)
    assert previews == [] and not at.exception
    assert all(n > 0 for n in at.dataframe[0].value["High"])


def test_after_a_change_the_kept_caseload_is_updated_not_read_again(app: AppTest, monkeypatch):
    at = open_caseload(app)
    at.run()  # the whole caseload is kept now
    reads = []
    for name in ("caseload_table", "caseload_figures", "caseload_preview"):
        real = getattr(services, name)
        monkeypatch.setattr(
            services,
            name,
            lambda *a, real=real, name=name, **k: reads.append(name) or real(*a, **k),
        )
    case_id = case_id_of("DEMO-001")
    services.update_case(case_id, therapist="B. Second")
    at.run()
    assert reads == [] and not at.exception
    shown = at.dataframe[0].value
    assert "B. Second" in list(shown["Therapist"])
    assert len(shown) == len(services.caseload_table())


def test_a_rerun_with_nothing_changed_computes_no_figures_again(app: AppTest, monkeypatch):
    at = open_caseload(app, "Charts")
    at.run()
    summaries = []
    real = services.caseload_overview
    monkeypatch.setattr(services, "caseload_overview", lambda *a: summaries.append(1) or real(*a))
    at.run()
    at.run()
    assert summaries == [] and not at.exception


def test_the_caseload_csv_is_audited_when_downloaded_not_when_shown(app: AppTest):
    at = open_caseload(app)
    assert not at.exception
    assert "Caseload (CSV)" in [el.proto.label for el in at.get("download_button")]
    assert services.audit_entries(action="exported") == []

    frame = services.visible_caseload(services.caseload_frame())
    text = caseload.csv(frame, caseload.sort_order(frame, "reference", False))

    assert len(text.splitlines()) == len(frame) + 1
    [entry] = services.audit_entries(action="exported")
    assert (entry.detail, entry.case_id) == (f"caseload CSV ({len(frame)} cases)", None)
