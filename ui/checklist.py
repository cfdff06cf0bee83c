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
from tailoring.model.case import Answers, Section
from tailoring.model.content import ContentLibrary, PreferenceItem, SocialDomain
from ui import privacy

# save(section, item_id, answer, allow_identifiers=False)
Saver = Callable[..., None]
TRI_OPTIONS = ["yes", "no", "unsure"]
TRI_LABELS = {"yes": "Yes", "no": "No", "unsure": "Not sure"}
PREFIX = {"preferences": "pref", "social": "social", "alliance": "alliance"}
UNSAVED = "_unsaved_answers"
NOTICE = "_checklist_notice"
REVISIONS = "_checklist_revisions"


def widget_values(section: Section, item_id: str, answer: dict[str, Any] | None) -> dict[str, Any]:
    """The session-state values that show one stored answer (None clears a widget)."""
    answer = answer or {}
    if section == "preferences":
        return {
            f"pref.{item_id}": answer.get("value"),
            f"pref.{item_id}.importance": answer.get("importance"),
        }
    if section == "social":
        return {
            f"social.{item_id}.present": answer.get("present"),
            f"social.{item_id}.maintains": answer.get("maintains"),
            f"social.{item_id}.helping": answer.get("helping"),
            f"social.{item_id}.details": answer.get("details") or [],
            f"social.{item_id}.note": answer.get("note", ""),
        }
    return {f"alliance.{item_id}": answer.get("value")}


def load_answers(
    scope: str, answers: Answers, revisions: dict[tuple[str, str], int] | None = None
) -> None:
    """Show stored answers in widgets that hold no value of their own yet.

    Runs on every rerun: Streamlit drops the state of widgets that were not drawn in the last run
    (another step of the walk-through), so they are refilled from storage. A new scope (another
    case or attempt) clears every checklist widget first. The revision of each answer shown is
    kept, so a save can tell whether someone else changed the answer meanwhile.
    """
    ss = st.session_state
    if ss.get("_checklist_scope") != scope:
        for key in [k for k in ss if str(k).split(".")[0] in PREFIX.values()]:
            del ss[key]
        ss["_checklist_scope"] = scope
        ss[UNSAVED] = {}
        ss[REVISIONS] = {}
    for section in PREFIX:
        for item_id, answer in getattr(answers, section).items():
            for key, value in widget_values(section, item_id, answer.model_dump()).items():
                if key not in ss:
                    ss[key] = value
            ss[REVISIONS].setdefault(
                (section, item_id), (revisions or {}).get((section, item_id), 0)
            )


def case_saver(case_id: int) -> Saver:
    """A saver that writes to a stored case, refusing to overwrite someone else's change."""

    def save(
        section: Section, item_id: str, answer: dict[str, Any], allow_identifiers: bool = False
    ) -> None:
        revisions = st.session_state.setdefault(REVISIONS, {})
        try:
            revisions[(section, item_id)] = services.save_answer(
                case_id,
                section,
                item_id,
                answer,
                revisions.get((section, item_id), 0),
                allow_identifiers=allow_identifiers,
            )
        except services.StaleAnswer as exc:
            revisions[(section, item_id)] = exc.revision
            raise

    return save


def forget_scope() -> None:
    """Make the next ``load_answers`` reload from storage (after a conflict or a reset)."""
    st.session_state.pop("_checklist_scope", None)


def answer_from_widgets(section: Section, item_id: str) -> dict[str, Any]:
    ss = st.session_state
    if section == "preferences":
        value = ss.get(f"pref.{item_id}")
        return {
            "value": value or None if isinstance(value, list) else value,
            "importance": ss.get(f"pref.{item_id}.importance"),
        }
    if section == "social":
        return {
            "present": ss.get(f"social.{item_id}.present"),
            "maintains": ss.get(f"social.{item_id}.maintains"),
            "helping": ss.get(f"social.{item_id}.helping"),
            "details": ss.get(f"social.{item_id}.details") or [],
            "note": ss.get(f"social.{item_id}.note") or "",
        }
    return {"value": ss.get(f"alliance.{item_id}")}


def _changed(save: Saver, section: Section, item_id: str, allow_identifiers: bool = False) -> None:
    answer = answer_from_widgets(section, item_id)
    try:
        save(section, item_id, answer, allow_identifiers=allow_identifiers)
    except services.IdentifiersFound as exc:
        # The note stays in its box, unsaved, until the user decides (ui/privacy.py).
        privacy.hold(f"social.{item_id}.note", exc, _retry_note(save, item_id))
    except services.StaleAnswer as exc:
        # Someone else saved this answer first: show theirs, keep ours in the notice.
        st.session_state.update(widget_values(section, item_id, exc.current))
        st.session_state[NOTICE] = (
            "warning",
            "Someone else changed this answer while you had the case open. Their answer is "
            f"now shown; yours was: {_plain(answer)}. Choose again if yours should stand.",
        )
    except services.StorageError as exc:
        st.session_state.setdefault(UNSAVED, {})[(section, item_id)] = answer
        st.session_state[NOTICE] = ("error", f"Not saved: {exc} Your answers stay on this page.")
    except services.CaseFileError as exc:
        st.session_state[NOTICE] = ("error", "Not saved: " + "; ".join(exc.problems))
    except (services.AccessDenied, services.NotSignedIn) as exc:
        st.session_state[NOTICE] = ("error", f"Not saved. {exc}")
    else:
        st.session_state.get(UNSAVED, {}).pop((section, item_id), None)


def _retry_note(save: Saver, item_id: str) -> privacy.Retry:
    def retry(redacted: dict[str, str] | None) -> None:
        if redacted is None:
            _changed(save, "social", item_id, allow_identifiers=True)
        else:
            st.session_state[f"social.{item_id}.note"] = redacted["note"]
            _changed(save, "social", item_id)

    return retry


def _plain(answer: dict[str, Any]) -> str:
    shown = {k: v for k, v in answer.items() if v not in (None, "", [])}
    return ", ".join(f"{k} {v}" for k, v in shown.items()) or "no answer"


def retry_unsaved(save: Saver) -> None:
    """Try again to save answers that could not be saved (e.g. the database was down)."""
    for (section, item_id), answer in list(st.session_state.get(UNSAVED, {}).items()):
        try:
            save(section, item_id, answer)
        except services.StorageError as exc:
            st.session_state[NOTICE] = ("error", f"Still not saved: {exc}")
            return
        st.session_state[UNSAVED].pop((section, item_id))
    st.session_state[NOTICE] = ("success", "All answers are saved.")


def show_notices(save: Saver) -> None:
    """Conflict and storage messages, and a retry button while answers are unsaved."""
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        getattr(st, notice[0])(notice[1])
    unsaved = st.session_state.get(UNSAVED) or {}
    if unsaved:
        st.error(
            f"{len(unsaved)} answer(s) are kept on this page but not yet saved.",
            icon=":material/sync_problem:",
        )
        st.button("Try saving again", key="checklist.retry", on_click=retry_unsaved, args=(save,))


def _importance(lib: ContentLibrary, item: PreferenceItem, save: Saver) -> None:
    st.segmented_control(
        "How much does this matter to the patient?",
        options=list(range(len(lib.importance_labels))),
        format_func=lambda i: lib.importance_labels[i],
        key=f"pref.{item.id}.importance",
        on_change=_changed,
        args=(save, "preferences", item.id),
    )


def preference_widget(lib: ContentLibrary, item: PreferenceItem, save: Saver) -> None:
    key = f"pref.{item.id}"
    args = (save, "preferences", item.id)
    with st.container(border=True):
        st.markdown(f"**{item.title}** · _{lib.theme(item.theme).title}_")
        if item.kind == "scale":
            labels = item.labels or []
            st.radio(
                item.question,
                options=[1, 2, 3, 4, 5],
                index=None,
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
                index=None,
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
    args = (save, "social", domain.id)
    with st.container(border=True):
        st.markdown(f"**{domain.title}** · _{lib.theme(domain.theme).title}_")
        st.segmented_control(
            domain.question,
            TRI_OPTIONS,
            format_func=TRI_LABELS.__getitem__,
            key=f"{key}.present",
            help=domain.why,
            on_change=_changed,
            args=args,
        )
        if domain.safeguarding:
            st.caption(
                "This app does not assess risk. If there is any concern, follow your service's "
                "local safeguarding procedure and record it there, not here."
            )
        if st.session_state.get(f"{key}.present") not in ("yes", "unsure") or domain.safeguarding:
            return
        left, right = st.columns(2)
        left.segmented_control(
            "Does it keep the difficulties going?",
            TRI_OPTIONS,
            format_func=TRI_LABELS.__getitem__,
            key=f"{key}.maintains",
            on_change=_changed,
            args=args,
        )
        right.segmented_control(
            "Is anyone already helping with it?",
            TRI_OPTIONS,
            format_func=TRI_LABELS.__getitem__,
            key=f"{key}.helping",
            on_change=_changed,
            args=args,
        )
        if domain.details:
            names = {d.id: d.label for d in domain.details}
            st.pills(
                "Which of these apply?",
                options=list(names),
                selection_mode="multi",
                format_func=names.__getitem__,
                key=f"{key}.details",
                on_change=_changed,
                args=args,
            )
        st.text_area(
            "Note (optional; no names or identifiers)",
            key=f"{key}.note",
            max_chars=2000,
            height=68,
            on_change=_changed,
            args=args,
        )
        privacy.offer(f"{key}.note")


def alliance_widget(lib: ContentLibrary, item_id: str, save: Saver) -> None:
    item = lib.alliance_item(item_id)
    with st.container(border=True):
        st.markdown(f"**{item.title}** · _{lib.theme(item.theme).title}_")
        st.radio(
            item.question,
            options=list(range(len(item.labels))),
            index=None,
            key=f"alliance.{item.id}",
            horizontal=True,
            format_func=lambda v: item.labels[v],
            help=f"{item.why} ({item.measures})",
            on_change=_changed,
            args=(save, "alliance", item.id),
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
