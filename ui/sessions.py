"""Session entry: attendance, the alliance check and the measures item by item, saved as given.

Widget keys: ``session.date``, ``session.attendance``, ``session.kind``, ``session.note``,
``session.alliance.<item>`` and ``session.<measure>.<item>`` (e.g. ``session.phq9.phq9_9``).
Totals and bands are computed by the engine from the items, never typed.
"""

from __future__ import annotations

import datetime
from typing import Any

import streamlit as st

from tailoring import services
from tailoring.engine.outcomes import score_measure
from tailoring.model.content import ContentLibrary
from tailoring.model.measures import Measure
from tailoring.model.session import ATTENDANCES, SESSION_KINDS, Session
from ui import privacy

ATTENDANCE_WORDS = {
    "attended": "Attended",
    "did_not_attend": "Did not attend",
    "cancelled": "Cancelled",
}
KIND_WORDS = {"assessment": "Assessment", "treatment": "Treatment", "follow_up": "Follow-up"}
PREFIX = "session."
SCOPE = "_session_scope"
REVISIONS = "_session_revisions"
NOTICE = "_session_notice"
NOTE_KEY = "session.note"


def measures_for(lib: ContentLibrary, anxiety_measure: str) -> list[Measure]:
    """The measures recorded at each session: depression, the case's anxiety measure, WSAS."""
    return services.recorded_measures(lib, anxiety_measure)


def load_session(scope: str, session: Session, revision: int) -> None:
    """Show a stored session in the widgets, once per case and session number."""
    ss = st.session_state
    if ss.get(SCOPE) == scope:
        return
    for key in [k for k in ss if str(k).startswith(PREFIX)]:
        del ss[key]
    ss["session.date"] = session.date
    ss["session.attendance"] = session.attendance
    ss["session.kind"] = session.kind
    ss["session.note"] = session.note
    for item_id, answer in session.alliance.items():
        ss[f"session.alliance.{item_id}"] = answer.value
    for measure_id, answers in session.measures.items():
        for item_id, value in answers.items():
            ss[f"session.{measure_id}.{item_id}"] = value
    ss[SCOPE] = scope
    ss.setdefault(REVISIONS, {})[scope] = revision


def forget_session() -> None:
    st.session_state.pop(SCOPE, None)


def session_from_widgets(
    lib: ContentLibrary, number: int, measures: list[Measure]
) -> dict[str, Any]:
    ss = st.session_state
    alliance = {
        item.id: {"value": ss[f"session.alliance.{item.id}"]}
        for item in lib.alliance
        if ss.get(f"session.alliance.{item.id}") is not None
    }
    scored: dict[str, dict[str, Any]] = {}
    for measure in measures:
        answers = {
            item.id: ss[f"session.{measure.id}.{item.id}"]
            for item in measure.items
            if ss.get(f"session.{measure.id}.{item.id}") is not None
        }
        if answers:
            scored[measure.id] = answers
    return {
        "number": number,
        "date": ss["session.date"],
        "attendance": ss["session.attendance"],
        "kind": ss["session.kind"],
        "note": ss.get("session.note") or "",
        "alliance": alliance,
        "measures": scored,
    }


def changed(
    lib: ContentLibrary,
    case_id: int,
    number: int,
    measures: list[Measure],
    allow_identifiers: bool = False,
) -> None:
    scope = st.session_state.get(SCOPE)
    revisions = st.session_state.setdefault(REVISIONS, {})
    data = session_from_widgets(lib, number, measures)
    try:
        revisions[scope] = services.record_session(
            case_id, data, revisions.get(scope, 0), allow_identifiers=allow_identifiers
        )
    except services.IdentifiersFound as exc:
        # Nothing of this change is saved until the user decides about the note.
        args = (lib, case_id, number, measures)
        privacy.hold(NOTE_KEY, exc, lambda redacted: _retry_note(args, redacted))
        st.session_state[NOTICE] = (
            "warning",
            f"Not saved yet: {exc} The Note tab has the choices.",
        )
    except services.StaleSession as exc:
        revisions[scope] = exc.revision
        forget_session()
        st.session_state[NOTICE] = (
            "warning",
            "Someone else changed this session while you had it open. Their version is now "
            f"shown; yours was: {_entries(data)}. Make your change again if it should stand.",
        )
    except services.CaseFileError as exc:
        st.session_state[NOTICE] = ("error", "Not saved: " + "; ".join(exc.problems))
    except (services.AccessDenied, services.NotSignedIn) as exc:
        st.session_state[NOTICE] = ("error", f"Not saved. {exc}")
    except services.StorageError as exc:
        st.session_state[NOTICE] = ("error", f"Not saved: {exc} Your entries stay on this page.")


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


def _retry_note(args: tuple[Any, ...], redacted: dict[str, str] | None) -> None:
    if redacted is None:
        changed(*args, allow_identifiers=True)
    else:
        st.session_state[NOTE_KEY] = redacted["note"]
        changed(*args)


def show_notice() -> None:
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        getattr(st, notice[0])(notice[1])


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
    in_record = all(
        ss.get(f"{PREFIX}{measure}.{item}") == value
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
    scope = ss.get(SCOPE)
    revisions = ss.setdefault(REVISIONS, {})
    try:
        services.copy_patient_measures(case_id, number, revisions.get(scope, 0))
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
    forget_session()  # show the session as stored now


def header_fields(lib: ContentLibrary, case_id: int, number: int, measures: list[Measure]) -> None:
    args = (lib, case_id, number, measures)
    date_col, attendance_col, kind_col = st.columns([1, 2, 2])
    date_col.date_input(
        "Date", key="session.date", format="DD/MM/YYYY", on_change=changed, args=args
    )
    attendance_col.segmented_control(
        "Attendance",
        list(ATTENDANCES),
        key="session.attendance",
        format_func=ATTENDANCE_WORDS.__getitem__,
        on_change=changed,
        args=args,
    )
    kind_col.segmented_control(
        "Kind of contact",
        list(SESSION_KINDS),
        key="session.kind",
        format_func=KIND_WORDS.__getitem__,
        on_change=changed,
        args=args,
        help="Only attended treatment sessions count for outcomes.",
    )


def alliance_fields(
    lib: ContentLibrary, case_id: int, number: int, measures: list[Measure]
) -> None:
    for item in lib.alliance:
        st.radio(
            item.question,
            list(range(len(item.labels))),
            index=None,
            horizontal=True,
            key=f"session.alliance.{item.id}",
            format_func=lambda v, i=item: i.labels[v],
            on_change=changed,
            args=(lib, case_id, number, measures),
        )


def measure_fields(
    lib: ContentLibrary, case_id: int, number: int, measures: list[Measure], measure: Measure
) -> None:
    """One measure item by item, with its total and band computed as answers come in."""
    st.markdown(f"**{measure.question}**")
    labels: dict[Any, str] = {o.value: f"{o.value} · {o.label}" for o in measure.options}
    for item in measure.items:
        options: list[Any] = [o.value for o in measure.options]
        if item.not_applicable:
            options.append("na")
        st.radio(
            item.text,
            options,
            index=None,
            horizontal=True,
            key=f"session.{measure.id}.{item.id}",
            format_func=lambda v, i=item: "Not applicable" if v == "na" else labels[v],
            help=item.not_applicable,
            on_change=changed,
            args=(lib, case_id, number, measures),
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
    if score.complete:
        st.success(f"{measure.short_name} total {score.total} of {score.max_total}: {score.band}")
    elif score.answered or score.not_applicable:
        st.info(
            f"Partial: {score.answered + score.not_applicable} of {score.items} items answered. "
            "Saved as partial and not scored until every item is answered."
        )


def session_date_default(sessions: list[Session]) -> datetime.date:
    today = datetime.date.today()
    return max(today, sessions[-1].date) if sessions else today
