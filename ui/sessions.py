"""Session entry: attendance, the alliance check and the measures item by item, saved as given.

Widget keys: ``session.date``, ``session.attendance``, ``session.kind``, ``session.note``,
``session.alliance.<item>`` and ``session.<measure>.<item>`` (e.g. ``session.phq9.phq9_9``).
Totals and bands are computed by the engine from the items, never typed.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import streamlit as st

from tailoring import services
from tailoring.engine.outcomes import score_measure
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import Measure
from tailoring.model.session import ATTENDANCES, SESSION_KINDS, Session
from ui import bound, privacy

ATTENDANCE_WORDS = {
    "attended": "Attended",
    "did_not_attend": "Did not attend",
    "cancelled": "Cancelled",
}
KIND_WORDS = {
    "assessment": "Assessment",
    "assessment_and_treatment": "Assessment and treatment",
    "treatment": "Treatment",
    "follow_up": "Follow-up",
}
PREFIX = "session."
SCOPE = "_session_scope"
STORED = "_session_stored"
NOTICE = "_session_notice"
NOTE_KEY = "session.note"
DATE_KEY = "session.date"
# The session's own fields, each one widget (the rest are alliance and measure items); a person
# cannot empty the date, the attendance or the kind of contact.
NEVER_EMPTY = ("date", "attendance", "kind")
HEADER = (*NEVER_EMPTY, "note")


def measures_for(lib: ContentLibrary, anxiety_measure: str) -> list[Measure]:
    """The measures recorded at each session: depression, the case's anxiety measure, WSAS."""
    return services.recorded_measures(lib, anxiety_measure)


def load_session(scope: str, session: Session, revision: int) -> None:
    """Make the stored session the one the widgets show on this run (ui/bound.py says why).

    Runs on every rerun with the session just read from storage; the callbacks merge a changed
    value into it and pass back the revision it was read at.
    """
    ss = st.session_state
    ss[SCOPE] = scope
    ss[STORED] = (session.model_dump(), revision)


def show(key: str) -> tuple[str, Any]:
    """Before drawing a session widget: give it the stored (or held) value, at the session's
    revision (ui/bound.py's ``show``); returns its key and the value to pass as its default."""
    ss = st.session_state
    data, revision = ss[STORED]
    return key, bound.show(ss[SCOPE], key, _value(data, key), revision)


def _expected(key: str) -> int:
    """The revision a save of ``key`` expects: the one this browser holds the field at."""
    ss = st.session_state
    return bound.expected(ss.get(SCOPE, ""), [key], ss[STORED][1])


def _holds(key: str, revision: int, since: int | None = None) -> None:
    """This browser now holds ``revision`` of ``key``, as stored now, and of each other field
    it held at ``since`` or later (a save changes one field; the others are unchanged by it)."""
    ss = st.session_state
    value = _value(ss[STORED][0], key)
    bound.now_holds(ss.get(SCOPE, ""), {key: value}, revision, since=since)


def _as_shown(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """A session as storage keeps it (JSON) in the form the widgets show (dates as dates)."""
    return None if stored is None else Session.model_validate(stored).model_dump()


def _value(data: dict[str, Any], key: str) -> Any:
    """The value in a stored session that the widget ``key`` shows."""
    field = key.removeprefix(PREFIX)
    if field in HEADER:
        return data[field]
    group, item_id = field.split(".", 1)
    if group == "alliance":
        return (data["alliance"].get(item_id) or {}).get("value")
    return data["measures"].get(group, {}).get(item_id)


def _with(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """The stored session with the one value of the widget ``key`` replaced."""
    data = {**data, "alliance": dict(data["alliance"]), "measures": dict(data["measures"])}
    field = key.removeprefix(PREFIX)
    if field in HEADER:
        data[field] = value
        return data
    group, item_id = field.split(".", 1)
    if group == "alliance":
        if value is None:
            data["alliance"].pop(item_id, None)
        else:
            data["alliance"][item_id] = {"value": value}
        return data
    answers = dict(data["measures"].get(group, {}))
    if value is None:
        answers.pop(item_id, None)
    else:
        answers[item_id] = value
    if answers:
        data["measures"][group] = answers
    else:
        data["measures"].pop(group, None)
    return data


@bound.uninterrupted
def changed(key: str, case_id: int, radio: bool = False, allow_identifiers: bool = False) -> None:
    """One widget changed: merge its value into the stored session and save that, nothing else."""
    ss = st.session_state
    scope = ss.get(SCOPE, "")
    value = bound.given(key)
    if value is None and (radio or key.removeprefix(PREFIX) in NEVER_EMPTY):
        return  # a person cannot empty these: a stale value from the browser
    before, _ = ss[STORED]
    data = _with(before, key, value)
    if data == before:
        bound.release(scope, key)
        return
    expected = _expected(key)

    def on_top(stored: dict[str, Any] | None) -> dict[str, Any] | None:
        # The change between touched other fields only (another tab): this field's change
        # stands on top of it.
        current = _as_shown(stored)
        if current is None or not bound.untouched(scope, key, _value(current, key)):
            return None
        return _with(current, key, value)

    try:
        new_revision, saved, saved_over = bound.save_on_top(
            lambda session, revision: services.record_session(
                case_id, session, revision, allow_identifiers=allow_identifiers
            ),
            data,
            expected,
            on_top,
        )
    except services.IdentifiersFound as exc:
        # Nothing of this change is saved until the user decides about the note.
        bound.hold(scope, key, value)
        privacy.hold(NOTE_KEY, exc, lambda redacted: _retry_note(case_id, redacted))
        ss[NOTICE] = ("warning", f"Not saved yet: {exc} The Note tab has the choices.")
    except services.StaleSession as stale:
        # Logged so that a soak can tell a refusal from a loss (bench/state_soak.py).
        bound.log.warning(
            "refused as stale: %s (this browser holds revision %d, stored %d)",
            key,
            expected,
            stale.revision,
        )
        bound.release(scope, key)
        ss[STORED] = (_as_shown(stale.current) or before, stale.revision)
        # Told (the notice names what they gave): a choice made after it is the person's own.
        _holds(key, stale.revision)
        ss[NOTICE] = (
            "warning",
            "Someone else changed this session while you had it open. Their version is now "
            f"shown; yours was: {_entries(data)}. Make your change again if it should stand.",
        )
    except services.CaseFileError as exc:
        bound.release(scope, key)
        ss[NOTICE] = ("error", "Not saved: " + "; ".join(exc.problems))
    except (services.AccessDenied, services.NotSignedIn) as exc:
        bound.hold(scope, key, value)
        ss[NOTICE] = ("error", f"Not saved. {exc}")
    except services.StorageError as exc:
        bound.hold(scope, key, value)
        ss[NOTICE] = ("error", f"Not saved: {exc} Your entries stay on this page.")
    else:
        bound.release(scope, key)
        ss[STORED] = (saved, new_revision)
        _holds(key, new_revision, since=saved_over)


@bound.uninterrupted
def retry_unsaved(case_id: int) -> None:
    """Save again exactly the entries held unsaved on this session: nothing else."""
    ss = st.session_state
    scope = ss.get(SCOPE, "")
    for key, value in bound.held(scope).items():
        if key == NOTE_KEY and privacy.pending(NOTE_KEY):
            continue
        ss[key] = value
        changed(key, case_id)
        if bound.is_held(scope, key):
            return


def _entries(data: dict[str, Any]) -> str:
    """What the user had entered in a session, in a line they can re-enter it from."""
    parts = [f"{data['attendance'].replace('_', ' ')}, {data['kind'].replace('_', ' ')}"]
    for measure_id, items in data["measures"].items():
        parts.append(f"{measure_id} " + " ".join(f"{k}={v}" for k, v in items.items()))
    if data["alliance"]:
        ratings = " ".join(f"{k}={v['value']}" for k, v in data["alliance"].items())
        parts.append(f"alliance {ratings}")
    if data["note"]:
        parts.append(f"note “{data['note']}”")
    return "; ".join(parts)


def _retry_note(case_id: int, redacted: dict[str, str] | None) -> None:
    if redacted is None:
        changed(NOTE_KEY, case_id, allow_identifiers=True)
    else:
        st.session_state[NOTE_KEY] = redacted["note"]
        changed(NOTE_KEY, case_id)


def show_notice(case_id: int) -> None:
    """The last save's message, and a retry while entries are held unsaved."""
    scope = st.session_state.get(SCOPE, "")
    bound.notices(NOTICE, scope, "sessions.retry", retry_unsaved, (case_id,))


def patient_answers(case_id: int, number: int, measures: list[Measure]) -> None:
    """The measures the patient answered by link before this session, and a button that records
    them here: the 7 to 10 minutes of a session that measures take, given back."""
    found = services.patient_session_measures(case_id, number)
    recorded = {m.id for m in measures}
    given = {m: items for m, items in (found.answers if found else {}).items() if m in recorded}
    if found is None or not given:
        return
    ss = st.session_state
    scores = ", ".join(
        f"{s.short_name} {s.total} of {s.max_total}"
        if s.total is not None
        else f"{s.short_name} {s.answered} of {s.items} items"
        for s in found.scores
        if s.measure_id in given
    )
    stored, _ = ss[STORED]
    in_record = all(
        _value(stored, f"{PREFIX}{measure}.{item}") == value
        for measure, items in given.items()
        for item, value in items.items()
    )
    with st.container(border=True, key="sessions.patient_answers"):
        if in_record:
            st.success(
                f"The patient's own answers before this session are in this record: {scores}.",
                icon=":material/check_circle:",
            )
            return
        when = "answered" if found.link.completed_at else "partly answered"
        st.info(
            f"The patient {when} the questionnaire before this session on their own device: "
            f"{scores}. Recording their answers replaces what this session has for those "
            "measures; the earlier entries stay in the change history.",
            icon=":material/smartphone:",
        )
        st.button(
            "Record the patient's answers in this session",
            key="sessions.copy_patient",
            on_click=_copy_patient_answers,
            args=(case_id, number),
        )


def _copy_patient_answers(case_id: int, number: int) -> None:
    ss = st.session_state
    _, revision = ss[STORED]
    try:
        services.copy_patient_measures(case_id, number, revision)
    except services.StaleSession:
        ss[NOTICE] = (
            "warning",
            "Someone else changed this session while you had it open. Their version is now "
            "shown: record the patient's answers again if they should stand.",
        )
    except LookupError as exc:
        ss[NOTICE] = ("warning", f"Nothing recorded: {exc}.")
    except (services.AccessDenied, services.NotSignedIn) as exc:
        ss[NOTICE] = ("error", f"Not saved. {exc}")
    except services.StorageError as exc:
        ss[NOTICE] = ("error", f"Not saved: {exc} Nothing on this page was lost.")
        return
    else:
        ss[NOTICE] = ("success", f"The patient's answers are recorded in session {number}.")


def header_fields(case_id: int) -> None:
    date_col, attendance_col, kind_col = st.columns([1, 2, 2])
    date_key, date = show(DATE_KEY)
    attendance_key, attendance = show("session.attendance")
    kind_key, kind = show("session.kind")
    date_col.date_input(
        "Date",
        value=date,
        key=date_key,
        format="DD/MM/YYYY",
        on_change=changed,
        args=(DATE_KEY, case_id),
    )
    attendance_col.segmented_control(
        "Attendance",
        list(ATTENDANCES),
        default=attendance,
        key=attendance_key,
        required=True,
        format_func=ATTENDANCE_WORDS.__getitem__,
        on_change=changed,
        args=("session.attendance", case_id),
    )
    kind_col.segmented_control(
        "Kind of contact",
        list(SESSION_KINDS),
        default=kind,
        key=kind_key,
        required=True,
        format_func=KIND_WORDS.__getitem__,
        on_change=changed,
        args=("session.kind", case_id),
        help="Only attended treatment appointments (treatment, or assessment and treatment) "
        "count for outcomes and towards a finished course.",
    )


def alliance_fields(lib: ContentLibrary, case_id: int) -> None:
    for item in lib.alliance:
        key, value = show(f"session.alliance.{item.id}")
        options = list(range(len(item.labels)))
        st.radio(
            item.question,
            options,
            index=bound.index(options, value),
            horizontal=True,
            key=key,
            format_func=item.labels.__getitem__,
            on_change=changed,
            args=(f"session.alliance.{item.id}", case_id, True),
        )


def measure_fields(case_id: int, measure: Measure) -> None:
    """One measure item by item, with its total and band computed as answers come in."""
    st.markdown(f"**{measure.question}**")
    labels: dict[Any, str] = {o.value: f"{o.value} · {o.label}" for o in measure.options}
    for item in measure.items:
        options: list[Any] = [o.value for o in measure.options]
        if item.not_applicable:
            options.append("na")
        key, value = show(f"session.{measure.id}.{item.id}")
        st.radio(
            item.text,
            options,
            index=bound.index(options, value),
            horizontal=True,
            key=key,
            format_func=lambda v, i=item: "Not applicable" if v == "na" else labels[v],
            help=item.not_applicable,
            on_change=changed,
            args=(f"session.{measure.id}.{item.id}", case_id, True),
        )
    answers = {
        item.id: st.session_state[f"session.{measure.id}.{item.id}"]
        for item in measure.items
        if st.session_state.get(f"session.{measure.id}.{item.id}") is not None
    }
    score = score_measure(measure, answers)
    if score.risk:
        st.error(
            "An answer above 0 on the question about thoughts of being better off dead or of "
            "self-harm. Follow your service's local risk procedure now, whatever the total. "
            "This app does not assess risk.",
            icon=":material/emergency:",
        )
    if score.total is not None:
        # Only a complete measure has a total.
        # Coloured by the band the total is read in (pro-rated when an item is not applicable).
        banded = score.total * score.items // score.answered
        severity_box(measure.severity(banded))(
            f"{measure.short_name} total {score.total} of {score.max_total}: {score.band}"
        )
        if score.prorated:
            answered = score.items - score.not_applicable
            st.caption(
                f"With {score.not_applicable} item not applicable, the total of the other "
                f"{answered} is read against the bands pro-rated to {answered} items."
            )
    elif score.answered or score.not_applicable:
        st.info(
            f"Partial: {score.answered + score.not_applicable} of {score.items} items answered. "
            "Saved as partial and not scored until every item is answered."
        )


def severity_box(severity: float) -> Callable[[str], object]:
    """The message box for a total ``severity`` (0–1) up its measure's bands: green only for the
    lowest band, then blue, amber and red, so that "Moderate" never looks like good news."""
    if severity == 0:
        return st.success
    if severity < 0.5:
        return st.info
    if severity < 0.75:
        return st.warning
    return st.error


def session_date_default(sessions: list[Session]) -> datetime.date:
    today = datetime.date.today()
    return max(today, sessions[-1].date) if sessions else today
