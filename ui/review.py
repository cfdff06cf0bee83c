"""The case review's parts: flags with decisions and their history, supervision notes."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from tailoring import services
from tailoring.model.text import SHORT_TEXT_CHARS, SUPERVISION_NOTE_CHARS
from tailoring.services import FlagStatus, NoteStatus, SupervisionNote
from ui import bound, privacy
from ui.common import wrapped_table

SEVERITY_ICONS = {
    "high": ":material/error:",
    "medium": ":material/warning:",
    "low": ":material/info:",
}
STATUS_WORDS = {
    "raised": ("Open · not reviewed yet", "red"),
    "reopened": ("Open · reopened", "red"),
    "acknowledged": ("Acknowledged", "orange"),
    "resolved": ("Resolved", "green"),
    "cleared": ("No longer raised", "gray"),
}
EVENT_WORDS = {
    "raised": "raised",
    "cleared": "no longer raised",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
    "reopened": "reopened",
}
DECISION_WORDS = {"acknowledged": "Acknowledge", "resolved": "Resolve", "reopened": "Reopen"}
# What a reviewer may decide next, from where the flag stands.
NEXT_DECISIONS: dict[str, tuple[services.FlagDecision, ...]] = {
    "raised": ("acknowledged", "resolved"),
    "reopened": ("acknowledged", "resolved"),
    "acknowledged": ("resolved", "reopened"),
    "resolved": ("reopened",),
    "cleared": ("resolved", "reopened"),
}
NOTE_STATUS_WORDS: dict[NoteStatus, str] = {"open": "Open", "done": "Done"}
NOTICE_KEY = "review.notice"


def when(at: datetime) -> str:
    """A stored time as a reader wants it: local date and minutes."""
    return at.astimezone().strftime("%d %b %Y %H:%M")


def notice(message: str) -> None:
    """A message to show once, after the rerun that an action triggers."""
    st.session_state[NOTICE_KEY] = message


def show_notice() -> None:
    message = st.session_state.pop(NOTICE_KEY, None)
    if message:
        st.success(message, icon=":material/check_circle:")
        # The box is at the top of the page, often scrolled out of view from the form that
        # was used: the toast shows wherever the person is on the page.
        st.toast(message, icon=":material/check_circle:")


# Flags ---------------------------------------------------------------------------------------


def flags(case_id: int, reviewer: bool = True) -> None:
    """Every flag ever raised on the case, open ones first, and the form to decide about one."""
    statuses = services.flag_statuses(case_id)
    if not statuses:
        st.success("No flag has been raised on this case.")
        return
    wrapped_table(
        [
            {
                "Severity": status.severity.capitalize(),
                "Flag": status.title,
                "Theme": status.theme_title,
                "Status": STATUS_WORDS[status.status][0],
                "Since": when(status.latest.at),
                "By": status.latest.actor,
                "Reason": status.latest.reason or "",
            }
            for status in statuses
        ],
        "review.flags",
    )
    if reviewer:
        decision_form(case_id, statuses)
        privacy.offer("review.decide")


def decision_form(case_id: int, statuses: list[FlagStatus]) -> None:
    by_id = {status.flag_id: status for status in statuses}
    with st.form("review.decide", clear_on_submit=True):
        st.markdown("**Record a decision about a flag**")
        flag, pick = st.columns([3, 1])
        flag_id = flag.selectbox(
            "Flag",
            list(by_id),
            format_func=lambda i: f"{by_id[i].title} ({STATUS_WORDS[by_id[i].status][0]})",
            key="review.decide.flag",
        )
        decision = pick.selectbox(
            "Decision",
            tuple(DECISION_WORDS),
            format_func=DECISION_WORDS.__getitem__,
            key="review.decide.decision",
        )
        reason = st.text_input(
            "Reason",
            key="review.decide.reason",
            max_chars=SHORT_TEXT_CHARS,
            placeholder="What was agreed, or why (required to acknowledge or resolve)",
        )
        submitted = st.form_submit_button("Record decision", key="review.decide.record")
    if not submitted or flag_id is None:
        return
    chosen = by_id[flag_id]
    if decision not in NEXT_DECISIONS[chosen.status]:
        st.error(
            f"“{chosen.title}” is {STATUS_WORDS[chosen.status][0].lower()}: it cannot be "
            f"{EVENT_WORDS[decision]} now. Choose "
            + " or ".join(DECISION_WORDS[d].lower() for d in NEXT_DECISIONS[chosen.status])
            + "."
        )
        return
    if not reason.strip() and decision != "reopened":
        st.error("Give a reason: the flag history keeps it with your name and the time.")
        return
    _decide(case_id, flag_id, chosen.title, decision, reason)
    st.rerun()


def _decide(
    case_id: int,
    flag_id: str,
    title: str,
    decision: services.FlagDecision,
    reason: str,
    allow_identifiers: bool = False,
) -> None:
    try:
        services.decide_flag(case_id, flag_id, decision, reason, allow_identifiers)
    except services.IdentifiersFound as exc:

        def retry(redacted: dict[str, str] | None) -> None:
            if redacted is None:
                _decide(case_id, flag_id, title, decision, reason, allow_identifiers=True)
            else:
                _decide(case_id, flag_id, title, decision, redacted["reason"])

        privacy.hold("review.decide", exc, retry)
        return
    notice(f"“{title}”: {EVENT_WORDS[decision]}.")


def flag_history_table(case_id: int) -> None:
    events = services.flag_history(case_id)
    if not events:
        st.caption("No flag events yet.")
        return
    wrapped_table(
        [
            {
                "When": when(event.at),
                "Flag": event.title or event.flag_id,
                "Event": EVENT_WORDS[event.event],
                "By": event.actor,
                "Reason": event.reason or "",
            }
            for event in reversed(events)
        ],
        "review.flag_history",
    )


# Supervision notes ---------------------------------------------------------------------------


def new_note_form(case_id: int) -> None:
    with st.form("review.note.new"):
        st.markdown("**Add a supervision note**")
        st.text_area(
            "Note",
            key="review.note.text",
            max_chars=SUPERVISION_NOTE_CHARS,
            placeholder="What was discussed. No names or other identifiers.",
        )
        action, state = st.columns([3, 1])
        action.text_input(
            "Action agreed (optional)", key="review.note.action", max_chars=SHORT_TEXT_CHARS
        )
        state.selectbox(
            "Status",
            ("open", "done"),
            format_func=NOTE_STATUS_WORDS.__getitem__,
            key="review.note.status",
        )
        st.form_submit_button(
            "Add note", key="review.note.add", type="primary", on_click=_add_note, args=(case_id,)
        )
    error = st.session_state.pop("review.note.error", None)
    if error:
        st.error(error)
    privacy.offer("review.note")


@bound.uninterrupted
def _add_note(case_id: int, allow_identifiers: bool = False) -> None:
    """Save the new note's form (a callback: it runs before the widgets, so it may clear them)."""
    ss = st.session_state
    text, action = ss["review.note.text"], ss["review.note.action"]
    status = ss["review.note.status"]
    if not text.strip():
        ss["review.note.error"] = "Write the note first: an empty note is not saved."
        return
    try:
        services.add_note(case_id, text, action, status, allow_identifiers=allow_identifiers)
    except services.IdentifiersFound as exc:
        privacy.hold("review.note", exc, lambda redacted: _retry_add(case_id, redacted))
        return
    ss["review.note.text"] = ""
    ss["review.note.action"] = ""
    notice("Note added.")


def _retry_add(case_id: int, redacted: dict[str, str] | None) -> None:
    if redacted is None:
        _add_note(case_id, allow_identifiers=True)
    else:
        st.session_state["review.note.text"] = redacted["text"]
        st.session_state["review.note.action"] = redacted["action"]
        _add_note(case_id)


def notes(case_id: int, reviewer: bool = True) -> None:
    """The case's notes, newest first, each with its edit form and history."""
    stored = services.notes(case_id)
    if not stored:
        st.caption("No supervision notes yet.")
    for note in reversed(stored):
        note_card(note, reviewer)


def note_card(note: SupervisionNote, reviewer: bool = True) -> None:
    with st.container(border=True, key=f"review.note.{note.id}"):
        head, badge = st.columns([4, 1], vertical_alignment="center")
        edited = f" · edited {when(note.updated_at)}" if note.version > 1 else ""
        head.markdown(f"**{note.author}** · {when(note.created_at)}{edited}")
        badge.badge(
            NOTE_STATUS_WORDS[note.status], color="green" if note.status == "done" else "blue"
        )
        st.text(note.text)
        if note.action:
            st.markdown("**Action agreed**")
            st.text(note.action)
        stale = st.session_state.get(f"review.stale.{note.id}")
        if stale:
            st.warning(stale, icon=":material/sync_problem:")
        if reviewer:
            with st.expander("Edit", expanded=bool(stale)):
                edit_form(note)
            privacy.offer(f"review.edit.{note.id}")
        if note.version > 1:
            with st.expander(f"Earlier versions ({note.version - 1})"):
                history(note.id)


def edit_form(note: SupervisionNote) -> None:
    prefix = f"review.edit.{note.id}"
    # The version the form was filled from, kept across reruns: the rerun that a save triggers
    # reads the note again, and someone else's edit in between must not pass as the one seen.
    seen = st.session_state.setdefault(f"{prefix}.version", note.version)
    with st.form(prefix, border=False):
        text = st.text_area(
            "Note", value=note.text, key=f"{prefix}.text", max_chars=SUPERVISION_NOTE_CHARS
        )
        action, state = st.columns([3, 1])
        agreed = action.text_input(
            "Action agreed", value=note.action, key=f"{prefix}.action", max_chars=SHORT_TEXT_CHARS
        )
        statuses: tuple[NoteStatus, ...] = ("open", "done")
        status = state.selectbox(
            "Status",
            statuses,
            index=statuses.index(note.status),
            format_func=NOTE_STATUS_WORDS.__getitem__,
            key=f"{prefix}.status",
        )
        save, reload = st.columns(2)
        saved = save.form_submit_button("Save changes", key=f"{prefix}.save", type="primary")
        reloaded = reload.form_submit_button("Discard and reload", key=f"{prefix}.reload")
    if reloaded:
        forget_edits(note.id)
        st.rerun()
    if not saved:
        return
    if not text.strip():
        st.error("A note needs some text. To withdraw a note, mark it done and say why.")
        return
    _save_edit(note.id, seen, text, agreed, status)
    st.rerun()


def _save_edit(
    note_id: int,
    seen: int,
    text: str,
    agreed: str,
    status: NoteStatus,
    allow_identifiers: bool = False,
) -> None:
    try:
        services.edit_note(note_id, seen, text, agreed, status, allow_identifiers)
    except services.IdentifiersFound as exc:
        privacy.hold(
            f"review.edit.{note_id}",
            exc,
            lambda redacted: _retry_edit(note_id, seen, text, agreed, status, redacted),
        )
        return
    except services.StaleNote as exc:
        # Their wording stays in the form; the message says how to see the other change.
        st.session_state[f"review.stale.{note_id}"] = (
            f"{exc} Your wording is still in the form below: copy it before you press "
            "“Discard and reload”."
        )
        return
    forget_edits(note_id)
    notice("Note saved; its earlier wording is kept in its history.")


def _retry_edit(
    note_id: int,
    seen: int,
    text: str,
    agreed: str,
    status: NoteStatus,
    redacted: dict[str, str] | None,
) -> None:
    if redacted is None:
        _save_edit(note_id, seen, text, agreed, status, allow_identifiers=True)
    else:
        _save_edit(note_id, seen, redacted["text"], redacted["action"], status)


def forget_edits(note_id: int) -> None:
    """Drop the edit form's state so it shows the stored note again."""
    prefix = f"review.edit.{note_id}"
    for key in (
        f"{prefix}.text",
        f"{prefix}.action",
        f"{prefix}.status",
        f"review.stale.{note_id}",
    ):
        st.session_state.pop(key, None)


def history(note_id: int) -> None:
    wrapped_table(
        [
            {
                "Changed": when(version.edited_at),
                "By": version.editor,
                "Note was": version.text,
                "Action was": version.action,
                "Status was": NOTE_STATUS_WORDS[version.status],
            }
            for version in reversed(services.note_history(note_id))
        ],
        f"review.history.{note_id}",
    )
