"""Checklist widgets shared by the walk-through and practice: every answer saves as it is given.

Widget keys mirror the content ids (``pref.structure``, ``pref.structure.importance``,
``social.housing.present``, ``alliance.bond``), so tests and the browser find widgets by key.
A page passes a ``Saver``; the widgets never know where answers are stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from tailoring import services
from tailoring.model.answers import Answers, Section
from tailoring.model.content import ContentLibrary, PreferenceItem, SocialDomain
from tailoring.model.text import NOTE_CHARS
from ui import bound, privacy

# save(section, item_id, answer, allow_identifiers=False, field=None)
Saver = Callable[..., None]
TRI_OPTIONS = ["yes", "no", "unsure"]
TRI_LABELS = {"yes": "Yes", "no": "No", "unsure": "Not sure"}
PREFIX: dict[Section, str] = {"preferences": "pref", "social": "social", "alliance": "alliance"}
SCOPE = "_checklist_scope"
STORED = "_checklist_stored"
NOTICE = "_checklist_notice"
UNDO = "_checklist_undo"
CLEARING = "_checklist_clearing"
FIELDS: dict[str, tuple[str, ...]] = {
    "preferences": ("value", "importance"),
    "social": ("present", "maintains", "helping", "details", "note"),
    "alliance": ("value",),
}
EMPTY: dict[str, dict[str, Any]] = {
    "preferences": {"value": None, "importance": None},
    "social": {"present": None, "maintains": None, "helping": None, "details": [], "note": ""},
    "alliance": {"value": None},
}


def field_key(section: Section, item_id: str, field: str) -> str:
    """The widget key of one field of an answer (``pref.depth.importance``, ``alliance.bond``)."""
    base = f"{PREFIX[section]}.{item_id}"
    if section == "social":
        return f"{base}.{field}"
    return base if field == "value" else f"{base}.{field}"


def load_answers(
    scope: str, answers: Answers, revisions: dict[tuple[Section, str], int] | None = None
) -> None:
    """Make the stored answers of a case (or attempt) the ones the widgets show on this run.

    Runs on every rerun, with the answers just read from storage: the widgets drawn after it
    show them (ui/bound.py says why they are set from here and not left to Streamlit), and the
    callbacks merge a changed value into them, with the revision each was read at, so a save can
    tell whether someone else changed the answer meanwhile.
    """
    ss = st.session_state
    ss[SCOPE] = scope
    ss[STORED] = {
        (section, item_id): (answer.model_dump(), (revisions or {}).get((section, item_id), 0))
        for section in PREFIX
        for item_id, answer in getattr(answers, section).items()
    }


def _stored(section: Section, item_id: str) -> tuple[dict[str, Any], int]:
    answer, revision = st.session_state.get(STORED, {}).get((section, item_id), ({}, 0))
    return {**EMPTY[section], **answer}, revision


def show(section: Section, item_id: str, field: str, multi: bool = False) -> tuple[str, Any]:
    """Before drawing a field's widget: give it the stored (or held) value, at the answer's
    revision (ui/bound.py's ``show``); returns its key and the value to pass as its default."""
    key = field_key(section, item_id, field)
    answer, revision = _stored(section, item_id)
    stored = (answer[field] or []) if multi else answer[field]
    return key, bound.show(st.session_state.get(SCOPE, ""), key, stored, revision)


def _fields(section: Section, field: str | None) -> tuple[str, ...]:
    """One field of an answer, or without one all its fields."""
    return (field,) if field is not None else FIELDS[section]


def _keys(section: Section, item_id: str, field: str | None = None) -> list[str]:
    """The widget keys of one field of an answer, or of all its fields."""
    return [field_key(section, item_id, f) for f in _fields(section, field)]


def _shown_revision(section: Section, item_id: str, field: str | None = None) -> int:
    """The revision a save expects: the one this browser holds the field at (without
    ``field``, as for undo, the oldest of the answer's fields)."""
    scope = st.session_state.get(SCOPE, "")
    return bound.expected(scope, _keys(section, item_id, field), _stored(section, item_id)[1])


def _expect(
    section: Section, item_id: str, revision: int, field: str | None = None, since: int = -1
) -> None:
    """This browser now holds ``revision`` of the field (of every field, without one), as
    stored now, and of each other field of the answer it held at ``since`` or later."""
    answer, _ = _stored(section, item_id)
    bound.now_holds(
        st.session_state.get(SCOPE, ""),
        {field_key(section, item_id, f): answer[f] for f in _fields(section, field)},
        revision,
        since=since if since >= 0 else None,
        among=_keys(section, item_id),
    )


def case_saver(case_id: int) -> Saver:
    """A saver that writes to a stored case, refusing to overwrite someone else's change."""

    def save(
        section: Section,
        item_id: str,
        answer: dict[str, Any],
        allow_identifiers: bool = False,
        field: str | None = None,
    ) -> None:
        ss = st.session_state
        scope = ss.get(SCOPE, "")
        expected = _shown_revision(section, item_id, field)

        def on_top(stored: dict[str, Any] | None) -> dict[str, Any] | None:
            # The change between touched other fields only (another tab): this field's change
            # stands on top of it.
            current = {**EMPTY[section], **(stored or {})}
            if field is None or not bound.untouched(
                scope, field_key(section, item_id, field), current[field]
            ):
                return None
            return {**current, field: answer[field]}

        try:
            new_revision, saved, saved_over = bound.save_on_top(
                lambda data, revision: services.save_answer(
                    case_id, section, item_id, data, revision, allow_identifiers=allow_identifiers
                ),
                answer,
                expected,
                on_top,
            )
        except services.StaleAnswer as exc:
            # Logged so that a soak can tell a refusal from a loss (bench/state_soak.py).
            bound.log.warning(
                "refused as stale: %s %s %s (this browser holds revision %d, stored %d)",
                section,
                item_id,
                field or "all fields",
                expected,
                exc.revision,
            )
            ss[STORED][(section, item_id)] = (exc.current or {}, exc.revision)
            # The person is told (the notice names both answers): a choice made after it is
            # theirs, made with the newer answer in view.
            _expect(section, item_id, exc.revision, field)
            raise
        ss[STORED][(section, item_id)] = (saved, new_revision)
        _expect(section, item_id, new_revision, field, since=saved_over)

    return save


@bound.uninterrupted
def _changed(
    save: Saver,
    section: Section,
    item_id: str,
    field: str,
    radio: bool = False,
    allow_identifiers: bool = False,
    confirmed: bool = False,
) -> None:
    """One widget changed: merge its value into the stored answer and save that, nothing else."""
    ss = st.session_state
    scope = ss.get(SCOPE, "")
    key = field_key(section, item_id, field)
    value = bound.given(key)
    if value is None and radio:
        # A person cannot empty a radio or a segmented control (``required``; "Undo the last
        # change" takes an answer back): an empty value is a stale one from the browser.
        return
    if isinstance(value, list):
        value = list(value)
        if section == "preferences":
            value = value or None
    before, _ = _stored(section, item_id)
    answer = {**before, field: value}
    if answer == before:
        bound.release(scope, key)
        return
    if field == "note" and not value and not confirmed:
        # An emptied note is only cleared once the person confirms: a text box the browser
        # redraws can send an empty value nobody typed (seen in the soak, bench/state_soak.py).
        ss[CLEARING] = (scope, item_id)
        return
    if _empty(value) and not _empty(before[field]) and not confirmed:
        # Emptied: saved once this browser message's callbacks have run, if it emptied no other.
        bound.defer_clear(
            key,
            lambda: _changed(save, section, item_id, field, radio, allow_identifiers, True),
        )
        return
    try:
        save(section, item_id, answer, allow_identifiers=allow_identifiers, field=field)
    except services.IdentifiersFound as exc:
        # The note stays in its box, unsaved, until the user decides (ui/privacy.py).
        bound.hold(scope, key, value)
        privacy.hold(key, exc, _retry_note(save, item_id))
    except services.StaleAnswer:
        # Someone else saved this answer first: show theirs, keep ours in the notice.
        bound.release(scope, key)
        ss[NOTICE] = (
            "warning",
            "Someone else changed this answer while you had the case open. Their answer is "
            f"now shown; yours was: {_plain(answer)}. Choose again if yours should stand.",
        )
    except services.StorageError as exc:
        bound.hold(scope, key, value)
        ss[NOTICE] = ("error", f"Not saved: {exc} Your answers stay on this page.")
    except services.CaseFileError as exc:
        bound.release(scope, key)
        ss[NOTICE] = ("error", "Not saved: " + "; ".join(exc.problems))
    except (services.AccessDenied, services.NotSignedIn) as exc:
        bound.hold(scope, key, value)
        ss[NOTICE] = ("error", f"Not saved. {exc}")
    else:
        bound.release(scope, key)
        ss[UNDO] = (scope, section, item_id, before)


def _empty(value: Any) -> bool:
    """No answer: nothing chosen, no option ticked, no text (0 is an answer)."""
    return value is None or value == [] or value == ""


def _retry_note(save: Saver, item_id: str) -> privacy.Retry:
    def retry(redacted: dict[str, str] | None) -> None:
        key = field_key("social", item_id, "note")
        scope = st.session_state.get(SCOPE, "")
        if redacted is None:
            _changed(save, "social", item_id, "note", allow_identifiers=True)
        else:
            st.session_state[key] = redacted["note"]
            bound.hold(scope, key, redacted["note"])
            _changed(save, "social", item_id, "note")

    return retry


def _plain(answer: dict[str, Any]) -> str:
    shown = {k: v for k, v in answer.items() if v not in (None, "", [])}
    return ", ".join(f"{k} {v}" for k, v in shown.items()) or "no answer"


def _field_of(key: str) -> tuple[Section, str, str]:
    """The answer field a checklist widget key stands for (the inverse of ``field_key``)."""
    prefix, item_id, *rest = key.split(".")
    section = next(s for s, p in PREFIX.items() if p == prefix)
    return section, item_id, rest[0] if rest else "value"


@bound.uninterrupted
def retry_unsaved(save: Saver) -> None:
    """Save again exactly the values held unsaved (the database was down, say): nothing else.

    Each goes through the same path as the click that gave it; the first that fails again stops
    the retry with that failure's message.
    """
    ss = st.session_state
    scope = ss.get(SCOPE, "")
    for key, value in bound.held(scope).items():
        if privacy.pending(key):
            continue  # waits for the person's decision about identifiers, not for storage
        section, item_id, field = _field_of(key)
        ss[key] = value
        _changed(save, section, item_id, field)
        if bound.is_held(scope, key):
            return
    ss[NOTICE] = ("success", "The answers kept on this page are now saved.")


@bound.uninterrupted
def undo(save: Saver) -> None:
    """Put back the answer as it was before the last change made on this page."""
    ss = st.session_state
    scope, section, item_id, before = ss.pop(UNDO)
    if scope != ss.get(SCOPE):
        return
    try:
        save(section, item_id, before)
    except services.StaleAnswer:
        ss[NOTICE] = ("warning", "Someone else changed that answer since: nothing was undone.")
    except (services.StorageError, services.AccessDenied, services.NotSignedIn) as exc:
        ss[NOTICE] = ("error", f"Not undone: {exc}")
    except services.CaseFileError as exc:
        ss[NOTICE] = ("error", "Not undone: " + "; ".join(exc.problems))


def show_notices(save: Saver) -> None:
    """Conflict and storage messages, a retry while answers are unsaved, and undo."""
    ss = st.session_state
    bound.notices(NOTICE, ss.get(SCOPE, ""), "checklist.retry", retry_unsaved, (save,))
    clearing = ss.get(CLEARING)
    if clearing is not None and clearing[0] == ss.get(SCOPE):
        title = next(d.title for d in services.content().social if d.id == clearing[1])
        st.warning(
            f"The note on {title} was emptied. It stays as saved unless you clear it.",
            icon=":material/delete:",
        )
        clear, keep = st.columns(2)
        clear.button(
            "Clear the note", key="checklist.clear_note", on_click=_clear_note, args=(save,)
        )
        keep.button(
            "Keep the saved note", key="checklist.keep_note", on_click=ss.pop, args=(CLEARING, None)
        )
    last = ss.get(UNDO)
    if last is not None and last[0] == ss.get(SCOPE):
        st.button(
            "Undo the last change",
            key="checklist.undo",
            icon=":material/undo:",
            on_click=undo,
            args=(save,),
        )


@bound.uninterrupted
def _clear_note(save: Saver) -> None:
    _, item_id = st.session_state.pop(CLEARING)
    st.session_state[field_key("social", item_id, "note")] = ""
    _changed(save, "social", item_id, "note", confirmed=True)


def saved_mark(section: Section, item_id: str) -> str:
    """A few words after an item's title: saved, not saved, or nothing yet."""
    scope = st.session_state.get(SCOPE, "")
    keys = [field_key(section, item_id, f) for f in FIELDS[section]]
    if any(bound.is_held(scope, k) for k in keys):
        return " · :red[:material/sync_problem: not saved]"
    if (section, item_id) in st.session_state.get(STORED, {}):
        return " · :gray[:material/cloud_done: saved]"
    return ""


def _importance(lib: ContentLibrary, item: PreferenceItem, save: Saver) -> None:
    key, value = show("preferences", item.id, "importance")
    st.segmented_control(
        "How much does this matter to the patient?",
        options=list(range(len(lib.importance_labels))),
        format_func=lambda i: lib.importance_labels[i],
        default=value,
        key=key,
        required=True,
        on_change=_changed,
        args=(save, "preferences", item.id, "importance", True),
    )


def preference_widget(lib: ContentLibrary, item: PreferenceItem, save: Saver) -> None:
    key, value = show("preferences", item.id, "value", multi=item.kind == "multi")
    args = (save, "preferences", item.id, "value", item.kind != "multi")
    with st.container(border=True):
        st.markdown(
            f"**{item.title}** · _{lib.theme(item.theme).title}_"
            + saved_mark("preferences", item.id)
        )
        if item.kind == "scale":
            labels = item.labels or []
            st.radio(
                item.question,
                options=[1, 2, 3, 4, 5],
                index=bound.index([1, 2, 3, 4, 5], value),
                key=key,
                format_func=lambda v: f"{v} · {labels[v - 1]}",
                help=item.why,
                on_change=_changed,
                args=args,
            )
        elif item.kind == "multi":
            names = {o.id: o.label for o in item.options or []}
            st.pills(
                item.question,
                options=list(names),
                selection_mode="multi",
                default=value,
                key=key,
                format_func=names.__getitem__,
                help=item.why,
                on_change=_changed,
                args=args,
            )
        else:
            names = {o.id: o.label for o in item.options or []}
            st.radio(
                item.question,
                options=list(names),
                index=bound.index(list(names), value),
                key=key,
                horizontal=True,
                format_func=names.__getitem__,
                help=item.why,
                on_change=_changed,
                args=args,
            )
        _importance(lib, item, save)


def social_widget(lib: ContentLibrary, domain: SocialDomain, save: Saver) -> None:
    key = f"social.{domain.id}"
    with st.container(border=True):
        st.markdown(
            f"**{domain.title}** · _{lib.theme(domain.theme).title}_"
            + saved_mark("social", domain.id)
        )
        key_present, present = show("social", domain.id, "present")
        st.segmented_control(
            domain.question,
            TRI_OPTIONS,
            format_func=TRI_LABELS.__getitem__,
            default=present,
            key=key_present,
            required=True,
            help=domain.why,
            on_change=_changed,
            args=(save, "social", domain.id, "present", True),
        )
        if domain.safeguarding:
            st.caption(
                "This app does not assess risk. If there is any concern, follow your service's "
                "local safeguarding procedure and record it there, not here."
            )
        if st.session_state.get(f"{key}.present") not in ("yes", "unsure"):
            return
        if not domain.safeguarding:
            _maintains_and_helping(domain, save)
        if domain.details:
            names = {d.id: d.label for d in domain.details}
            key_details, details = show("social", domain.id, "details", multi=True)
            st.pills(
                # A safeguarding concern records only what kind it is: some kinds rule a
                # protocol out (couple therapy with domestic abuse), and the report must know.
                "What kind of concern?" if domain.safeguarding else "Which of these apply?",
                options=list(names),
                selection_mode="multi",
                format_func=names.__getitem__,
                default=details,
                key=key_details,
                on_change=_changed,
                args=(save, "social", domain.id, "details"),
            )
        if domain.safeguarding:
            return
        key_note, note = show("social", domain.id, "note")
        st.text_area(
            "Note (optional; no names or identifiers)",
            value=note or "",
            key=key_note,
            max_chars=NOTE_CHARS,
            height=68,
            on_change=_changed,
            args=(save, "social", domain.id, "note"),
        )
        privacy.offer(f"{key}.note")


def _maintains_and_helping(domain: SocialDomain, save: Saver) -> None:
    questions = {
        "maintains": "Does it keep the difficulties going?",
        "helping": "Is anyone already helping with it?",
    }
    for column, (field, question) in zip(st.columns(2), questions.items(), strict=True):
        key, value = show("social", domain.id, field)
        column.segmented_control(
            question,
            TRI_OPTIONS,
            format_func=TRI_LABELS.__getitem__,
            default=value,
            key=key,
            required=True,
            on_change=_changed,
            args=(save, "social", domain.id, field, True),
        )


def alliance_widget(lib: ContentLibrary, item_id: str, save: Saver) -> None:
    item = lib.alliance_item(item_id)
    key, value = show("alliance", item.id, "value")
    with st.container(border=True):
        st.markdown(
            f"**{item.title}** · _{lib.theme(item.theme).title}_" + saved_mark("alliance", item.id)
        )
        st.radio(
            item.question,
            options=list(range(len(item.labels))),
            index=bound.index(list(range(len(item.labels))), value),
            key=key,
            horizontal=True,
            format_func=lambda v: item.labels[v],
            help=f"{item.why} ({item.measures})",
            on_change=_changed,
            args=(save, "alliance", item.id, "value", True),
        )


def section_widgets(lib: ContentLibrary, section: Section, save: Saver) -> None:
    """All the widgets of one checklist section, in content order."""
    if section == "preferences":
        for item in lib.preferences:
            preference_widget(lib, item, save)
    elif section == "social":
        for domain in lib.social:
            social_widget(lib, domain, save)
    else:
        for a_item in lib.alliance:
            alliance_widget(lib, a_item.id, save)
