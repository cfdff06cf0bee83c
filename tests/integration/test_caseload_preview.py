"""The caseload's preview (its table's first rows, sorted in the database) against the whole
caseload sorted by pandas, on SQLite and PostgreSQL, for every order and for a narrowed view."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailoring import services
from tailoring.model.actor import Actor
from tailoring.storage.db import upgraded_engine
from tests.integration.conftest import (
    BACKENDS,
    POSTGRES_URL,
    copied_database,
    fresh_postgres_database,
)
from ui.caseload import SORTS

LIMIT = 25


@pytest.fixture(scope="module", params=BACKENDS)
def filled_caseload(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, pd.DataFrame]]:
    """A database of 80 demo cases with their figures, built once per backend for this module
    (it took up to 13 s per test), and its caseload table."""
    folder = tmp_path_factory.mktemp("caseload")
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{folder / 'filled.db'}"])
    else:
        assert POSTGRES_URL
        urls = fresh_postgres_database(POSTGRES_URL)
    for url in urls:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("TAILORING_DATABASE_URL", url)
            upgraded_engine(url).dispose()
            services.start(load_demo=False)
            ids = services.store_demo_caseload(80, seed=7)
            services.compute_figures(ids)
            # Ties, empty values and text that sorts differently by locale than by code point.
            first, second = ids[:2]
            services.update_case(first, therapist="b. lower case")
            services.update_case(second, therapist="Émile Accent")
            services.update_case(ids[2], status="archived")
            frame = services.caseload_table()
        yield url, frame


@pytest.fixture
def caseload(
    filled_caseload: tuple[str, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pd.DataFrame]:
    """The services on this test's own copy of the filled database; its caseload table."""
    source, frame = filled_caseload
    for url in copied_database(source, tmp_path):
        monkeypatch.setenv("TAILORING_DATABASE_URL", url)
        monkeypatch.setenv("TAILORING_DEMO", "0")
        yield frame.copy()


def sorted_like_the_page(frame: pd.DataFrame, by: str, descending: bool) -> pd.DataFrame:
    column = frame[by].reset_index(drop=True)
    order = column.sort_values(ascending=not descending, na_position="last", kind="stable")
    return frame.take(order.index.to_numpy()).reset_index(drop=True)


def same(preview: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Every column of ``caseload_table``, value by value (types aside)."""
    assert list(preview.columns) == list(expected.columns)
    left = preview.reset_index(drop=True).astype(object)
    right = expected.reset_index(drop=True).astype(object)
    pd.testing.assert_frame_equal(left.where(left.notna(), None), right.where(right.notna(), None))


@pytest.mark.parametrize("descending", [True, False], ids=["highest first", "lowest first"])
@pytest.mark.parametrize("by", list(SORTS))
def test_the_preview_is_the_first_rows_of_the_caseload_in_the_pages_order(
    caseload: pd.DataFrame, by: str, descending: bool
) -> None:
    preview = services.caseload_preview(False, by, descending, LIMIT)

    same(preview.rows, sorted_like_the_page(caseload, by, descending).head(LIMIT))
    assert preview.total == len(caseload)
    assert preview.therapists == sorted(set(caseload["therapist"]))
    names = dict(zip(caseload["protocol_id"], caseload["protocol_name"], strict=True))
    assert preview.protocols == dict(sorted(names.items(), key=lambda item: item[1]))


def test_a_preview_holds_only_what_the_person_may_see(caseload: pd.DataFrame) -> None:
    therapist = caseload["therapist"].iloc[5]
    mine = caseload[caseload["therapist"] == therapist]
    person = Actor(therapist, therapist, frozenset({"therapist"}), frozenset())

    with services.acting_as(person):
        preview = services.caseload_preview(False, "fit", False, LIMIT)
    same(preview.rows, sorted_like_the_page(mine, "fit", False).head(LIMIT))
    assert (preview.total, preview.therapists) == (len(mine), [therapist])
    with (
        services.acting_as(Actor("trainee", "T", frozenset({"trainee"}), frozenset())),
        pytest.raises(services.AccessDenied),
    ):
        services.caseload_preview(False, "fit", False, LIMIT)


def test_archived_cases_are_previewed_only_when_asked_for(caseload: pd.DataFrame) -> None:
    everything = services.caseload_table(include_archived=True)
    preview = services.caseload_preview(True, "reference", False, len(everything) + 5)

    assert len(everything) == len(caseload) + 1 == preview.total
    same(preview.rows, sorted_like_the_page(everything, "reference", False))
    assert np.array_equal(preview.rows["id"], everything.sort_values("reference")["id"])


# Updating a kept caseload with the cases changed since ------------------------------------------


def update(frame: pd.DataFrame, since, figures: bool = False, archived: bool = False):
    return services.caseload_update(
        frame, since, services.caseload_stamp(), archived, figures=figures
    )


def same_frames(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True))


def test_a_kept_caseload_updated_with_the_changed_cases_is_the_caseload_read_again(
    caseload: pd.DataFrame,
) -> None:
    since = services.caseload_stamp()
    table, figures = services.caseload_table(), services.caseload_figures()
    archived_too = services.caseload_table(include_archived=True)
    ids = list(caseload["id"])
    # A changed answer (new fit), a case archived, one moved to another therapist, a new case.
    services.save_answer(ids[3], "preferences", "structure", {"value": 5, "importance": 3})
    services.update_case(ids[4], status="archived")
    services.update_case(ids[5], therapist="Z. Newcomer")
    added = services.new_case("NEW-001", "cbt_depression", 12)

    for kept, is_figures, archived in (
        (table, False, False),
        (figures, True, False),
        (archived_too, False, True),
    ):
        updated = update(kept, since, figures=is_figures, archived=archived)
        read = (services.caseload_figures if is_figures else services.caseload_table)(archived)
        assert updated is not None
        same_frames(updated, read)
    assert added in set(update(table, since)["id"])
    assert ids[4] not in set(update(table, since)["id"])


def test_a_deleted_case_or_another_database_means_reading_everything_again(
    caseload: pd.DataFrame,
) -> None:
    since = services.caseload_stamp()
    ids = list(caseload["id"])
    assert update(caseload, since) is not None  # nothing changed: the same rows
    services.delete_case(ids[6])
    services.new_case("NEW-002", "cbt_depression", 12)  # the count alone would not tell
    assert update(caseload, since) is None
    elsewhere = dataclasses.replace(since, database="sqlite:///elsewhere.db")
    assert update(services.caseload_table(), elsewhere) is None


def test_many_changes_mean_reading_everything_again(
    caseload: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    since = services.caseload_stamp()
    monkeypatch.setattr(services.caseload, "MAX_UPDATED_ROWS", 2)
    for case_id in list(caseload["id"])[:5]:
        services.refresh_case(case_id)  # new figures, as after a recompute
    assert update(caseload, since) is None
    # Every case here was computed within the margin before the stamp: all are read again.
    monkeypatch.setattr(services.caseload, "MAX_UPDATED_ROWS", 1000)
    same_frames(update(caseload, since), services.caseload_table())


def test_a_change_committed_late_with_an_earlier_time_is_still_picked_up(
    caseload: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tailoring.storage import cases as storage

    since = services.caseload_stamp()
    case_id = int(caseload["id"].iloc[10])
    # The change's time was taken two seconds before the stamp was read; it committed after.
    early = since.taken_at - timedelta(seconds=2)
    with monkeypatch.context() as clock:
        clock.setattr(storage, "utc_now", lambda: early)
        services.update_case(case_id, therapist="Late Committer")

    updated = update(caseload, since)
    assert updated is not None
    assert updated.loc[updated["id"] == case_id, "therapist"].item() == "Late Committer"
