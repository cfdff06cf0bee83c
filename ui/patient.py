"""The patient's questionnaire (no account: the link's code is the key) and the therapist's view of
what came back: links with QR codes, answers side by side, the fit's source and coded free text.

The patient's widgets are keyed ``patient.<item key>`` (``patient.preferences.structure``,
``patient.preferences.structure.importance``, ``patient.barriers.childcare.none``), the
therapist's ``links.…``, ``voice.…`` and ``codes.…``. Text that people wrote is shown with
``st.text`` or, where words are highlighted, HTML-escaped before any mark-up is added: it is never
rendered as Markdown or HTML.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import segno
import streamlit as st

from tailoring import services
from tailoring.model.coding import ThemeCode
from tailoring.model.patient import SOURCES, PatientLink, Question
from tailoring.model.patient_content import SetId
from tailoring.model.text import NOTE_CHARS
from tailoring.services import CodeDecisionKind
from ui import bound
from ui import report as report_ui
from ui.client import client_address
from ui.common import app_settings, wrapped_table
from ui.review import when
from ui.style import READABLE_CAPTIONS

URL_PATH = "patient"
MODE = "patient.mode"
LINK = "patient.link_id"
SCOPE = "patient.scope"
STORED = "patient.stored"
NOTICE = "patient.notice"
REFUSAL = "patient.refusal"
ADDRESS_CLEARED = "patient.address_cleared"
HELD = "patient.held"
# Radio buttons and tick boxes a thumb can hit on a phone, at least 44 px tall (WCAG 2.5.5), and
# captions dark enough to read (WCAG 1.4.3).
TOUCH_CSS = (
    """
<style>
[data-testid="stRadio"] [role="radiogroup"] label,
[data-testid="stCheckbox"] label {
  min-height: 44px;
  align-items: center;
  padding: 4px 0;
}
[data-testid="stRadio"] [role="radiogroup"] { gap: 0.25rem; }
/* Captions patients read (hints) at 4.5:1 or more: see ui/style.py. */
"""
    + READABLE_CAPTIONS
    + """
.st-key-patient-style { display: none; }
/* Phones zoom into a text field whose text is under 16 px (iOS Safari), and "Press Ctrl+Enter
   to apply" means nothing on a phone: the words save when the box loses focus, as the page says. */
[data-testid="stTextArea"] textarea, [data-testid="stTextInput"] input { font-size: 16px; }
[data-testid="InputInstructions"] { display: none; }
</style>
<span></span>
"""
)
# The page's own words for patients, beside those of content/patient/: held to the same plain
# language (Flesch reading ease of 60 or more) by tests/app/test_patient_pages.py.
WORDS = {
    "title": "Your questions",
    "code_intro": "Your therapist gave you a link or a code. If you have the link, open it. If "
    "you have the code, type it here. Small or capital letters both work.",
    "reopen": "Were you answering when the page closed or reloaded? Open the link from your "
    "message again, or type the code. Your answers so far are kept.",
    "code_label": "Type the code your therapist gave you",
    "open": "Open my questions",
    "works_until": "The link works until {until}.",
    "tick_all": "Tick all that apply.",
    "saves_on_leave": "Your words save when you tap or click outside the box.",
    "sent": "You sent your answers to '{title}' at {when}.",
    "closed": "The link to '{title}' closed at {when}. The answers you gave are saved.",
    "changes": "Want to change an answer? Ask your therapist. They can send you a new link.",
    "answered": "You have answered {answered} of {total} questions. You can leave out any you "
    "prefer not to answer.",
    "progress": "{answered} of {total} questions answered",
    "finish": "I have finished",
    "details": "This answer is not saved yet. It seems to include personal details, such as a "
    "phone number, an email address, a postcode or a date of birth. Please leave these out.",
    "without": "Without them, your answer would read:",
    "remove": "Remove them and save",
    "change": "I will change my answer",
    "not_saved": "Your last answer was not saved. Please try again in a minute.",
    "not_valid": "That answer could not be saved. Please choose again.",
    "not_finished": "Not finished yet. Please try again in a minute.",
}
SET_WORDS: dict[SetId, str] = {
    "preferences": "What the patient wants from therapy",
    "before_session": "Before a session (PHQ-9, anxiety, WSAS)",
    "after_session": "After a session (alliance check)",
}
STATUS_WORDS = {
    "open": "Waiting for the patient",
    "completed": "Came back",
    "expired": "Expired",
    "revoked": "Revoked",
}
SOURCE_WORDS = {
    "patient_where_present": "The patient's answers where given, else yours",
    "patient": "The patient's answers only",
    "therapist": "Your answers only",
}
ORIGIN_WORDS = {"patient": "Patient", "therapist": "You", None: "—"}
SECTION_WORDS = {
    "preferences": "Preferences",
    "social": "Practical barriers",
    "alliance": "Alliance",
}
DECISION_WORDS = {"accepted": "Accepted", "rejected": "Rejected"}


# Which visit is a patient's -------------------------------------------------------------------


def patient_visit() -> bool:
    """Whether this browser session is a patient's: opened with a code in the address or at the
    patient page's address, or earlier in this session. Such a session sees only that page."""
    ss = st.session_state
    if not ss.get(MODE) and ("code" in st.query_params or _at_patient_address()):
        ss[MODE] = True
    return bool(ss.get(MODE))


def _at_patient_address() -> bool:
    url = st.context.url
    return isinstance(url, str) and url.rstrip("/").endswith(f"/{URL_PATH}")


# The patient's side -------------------------------------------------------------------------


def touch_targets() -> None:
    """Put the page's CSS in the main flow, in a container its own rule hides.

    Streamlit sends an ``st.html`` of style tags alone to its event container, which a later run
    can clear: the rules then vanished now and again (an e2e axe scan caught faint captions). The
    ``<span>`` keeps it in the page, where it stays like any other element of the run.
    """
    with st.container(key="patient-style"):
        st.html(TOUCH_CSS)


def current_link() -> PatientLink | None:
    """The link this visit opened, or None after showing the code form (and why, if refused).

    Once read, the code leaves the address bar: someone who sees the screen, a screenshot or a
    shared address does not get it. A reload then starts a new session without the code, which
    shows the code form: the patient opens the link again and finds their answers kept.
    """
    ss = st.session_state
    link = None
    if ss.get(LINK) is not None:
        try:
            link = services.patient_link(ss[LINK])
        except services.LinkRefused as refused:
            _refuse(str(refused))
    elif code := st.query_params.get("code", ""):
        link = _open(code)
    if link is None:
        _code_form()
    else:
        _forget_code_in_address()
    return link


def _open(code: str) -> PatientLink | None:
    try:
        link = services.open_patient_link(code, client_address())
    except (services.LinkRefused, services.TooManyAttempts) as refused:
        _refuse(str(refused))
        return None
    st.session_state[LINK] = link.id
    return link


def _forget_code_in_address() -> None:
    """Take the code out of the address bar, without leaving it in the browser's back button.

    Setting ``st.query_params`` alone would push a new history entry and keep the one with the
    code; so the browser's own entry is replaced first, and Streamlit's copy of the query is
    emptied on the next run, when the address already matches and nothing is pushed.
    """
    if not st.query_params.get("code"):
        return
    if st.session_state.get(ADDRESS_CLEARED):
        st.query_params["code"] = ""
        return
    st.session_state[ADDRESS_CLEARED] = True
    st.html(
        "<script>history.replaceState(history.state, '', location.pathname + '?code=');</script>",
        unsafe_allow_javascript=True,
    )


def _refuse(message: str) -> None:
    """Forget the link and say why; a refused code leaves the address, so reruns do not try it
    again (and count it again)."""
    st.session_state[LINK] = None
    st.session_state[REFUSAL] = message
    st.query_params["code"] = ""


def _code_form() -> None:
    # An empty code in the address keeps a reload on this form (the page's own address is
    # shown as the app's root, which without a code opens the clinicians' app).
    st.query_params["code"] = ""
    st.title(WORDS["title"])
    refusal = st.session_state.pop(REFUSAL, None)
    if refusal:
        st.error(refusal, icon=":material/block:")
    st.write(WORDS["code_intro"])
    st.caption(WORDS["reopen"])
    with st.form("patient.code_form", border=False):
        st.text_input(
            WORDS["code_label"],
            key="patient.code",
            placeholder="For example 7K2M-QX9D-…",
            max_chars=60,
            autocomplete="off",
        )
        st.form_submit_button(WORDS["open"], type="primary", width="stretch", on_click=_submit_code)


def _submit_code() -> None:
    code = st.session_state.get("patient.code", "").strip()
    if code:
        _open(code)


def thank_you(link: PatientLink) -> None:
    """A link that takes no more answers: what was sent and when, and how to change it."""
    wording = services.patient_wording()
    st.title(wording.thank_you.title)
    st.success(wording.thank_you.text, icon=":material/check_circle:")
    title = services.patient_questionnaire(link).title
    if link.completed_at is not None:
        sent = WORDS["sent"].format(title=title, when=_local(link.completed_at))
    else:
        sent = WORDS["closed"].format(title=title, when=_local(link.expires_at))
    st.write(f"{sent} {WORDS['changes']}")
    st.info(wording.urgent_help, icon=":material/call:")


def questionnaire(link: PatientLink) -> None:
    """The link's questions, one per block, each answer saved as it is given."""
    wording = services.patient_wording()
    chosen_set = services.patient_questionnaire(link)
    asked = services.patient_questions(link)
    stored = services.patient_link_answers(link.id)
    _load(link.id, stored)
    st.title(chosen_set.title)
    st.write(chosen_set.intro)
    st.info(
        f"{wording.saving} {WORDS['works_until'].format(until=_local(link.expires_at))}",
        icon=":material/save:",
    )
    st.warning(wording.urgent_help, icon=":material/call:")
    _show_notice()
    answered = sum((stored.get(q.key) or {}).get("value") not in (None, []) for q in asked)
    st.progress(
        answered / len(asked), text=WORDS["progress"].format(answered=answered, total=len(asked))
    )
    for section in chosen_set.sections:
        st.header(section.title)
        if section.intro:
            st.write(section.intro)
        stem = None
        for question in (q for q in asked if q.section == section.title):
            # A measure's question ("Over the last 2 weeks, how often...") once, above its
            # items: repeated in each of nine blocks it made a phone page much longer.
            if question.stem and question.stem != stem:
                st.markdown(f"**{question.stem}**")
            stem = question.stem
            _question(link.id, question, wording.importance.question, wording.importance.labels)
    st.divider()
    st.write(WORDS["answered"].format(answered=answered, total=len(asked)))
    st.button(
        WORDS["finish"],
        key="patient.finish",
        type="primary",
        width="stretch",
        on_click=_finish,
        args=(link.id,),
    )


def _local(moment: datetime) -> str:
    """A time as the patient's browser reads it, e.g. "14:05 on Friday 11 December"."""
    name = st.context.timezone
    try:
        zone = ZoneInfo(name) if isinstance(name, str) else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = moment.astimezone(zone)
    return f"{local:%H:%M} on {local:%A} {local.day} {local:%B %Y}"


def _widget_values(question: Question, payload: dict[str, Any] | None) -> dict[str, Any]:
    payload = payload or {}
    key = f"patient.{question.key}"
    value = payload.get("value")
    if question.multiple:
        chosen = value or []
        values: dict[str, Any] = {f"{key}.{c.value}": c.value in chosen for c in question.choices}
    elif question.kind == "open":
        values = {key: value or ""}
    else:
        values = {key: value}
    if question.importance:
        values[f"{key}.importance"] = payload.get("importance")
    return values


def _load(link_id: int, answers: dict[str, dict[str, Any]]) -> None:
    """Make the stored answers the ones the widgets show on this run (ui/bound.py says why)."""
    ss = st.session_state
    ss[SCOPE] = link_id
    ss[STORED] = answers


def _show(question: Question, key: str) -> str:
    """Before drawing one of a question's widgets: give it the stored (or held) value."""
    ss = st.session_state
    stored = ss.get(STORED, {}).get(question.key)
    bound.show(f"link:{ss.get(SCOPE)}", key, _widget_values(question, stored)[key])
    return key


def _stored_payload(question: Question) -> dict[str, Any]:
    """The question's answer as stored, with every field (unanswered: None)."""
    payload = {"value": None, **(st.session_state.get(STORED, {}).get(question.key) or {})}
    if question.importance:
        payload.setdefault("importance", None)
    return payload


def _merged(question: Question, key: str, given: Any, ticked: str | int | None) -> dict[str, Any]:
    """The stored answer with the one widget ``key`` changed to ``given``."""
    payload = _stored_payload(question)
    if key.endswith(".importance") and question.importance:
        payload["importance"] = given
    elif question.multiple:
        chosen = set(payload["value"] or [])
        if given:
            # "None of these" and the others exclude each other: the last tick wins.
            chosen = {c for c in chosen if question.exclusive not in (ticked, c)} | {ticked}
        else:
            chosen.discard(ticked)
        payload["value"] = [c.value for c in question.choices if c.value in chosen] or None
    elif question.kind == "open":
        payload["value"] = (given or "").strip() or None
    else:
        payload["value"] = given
    return payload


def _question(link_id: int, question: Question, importance: str, levels: list[str]) -> None:
    key = f"patient.{question.key}"
    labels = {c.value: c.label for c in question.choices}
    with st.container(border=True, key=f"{key}.block"):
        st.markdown(f"**{question.text}**")
        if question.hint:
            st.caption(question.hint)
        if question.kind == "open":
            st.text_area(
                question.text,
                key=_show(question, key),
                max_chars=NOTE_CHARS,
                label_visibility="collapsed",
                on_change=_save,
                args=(link_id, question, key),
            )
            st.caption(WORDS["saves_on_leave"])
            _offer(link_id, question)
        elif question.multiple:
            st.caption(WORDS["tick_all"])
            for choice in question.choices:
                st.checkbox(
                    choice.label,
                    key=_show(question, f"{key}.{choice.value}"),
                    on_change=_save,
                    args=(link_id, question, f"{key}.{choice.value}", choice.value),
                )
        else:
            st.radio(
                question.text,
                list(labels),
                index=None,
                key=_show(question, key),
                format_func=labels.__getitem__,
                label_visibility="collapsed",
                on_change=_save,
                args=(link_id, question, key, None, True),
            )
        if question.importance:
            st.radio(
                importance,
                list(range(len(levels))),
                index=None,
                key=_show(question, f"{key}.importance"),
                format_func=levels.__getitem__,
                on_change=_save,
                args=(link_id, question, f"{key}.importance", None, True),
            )


@bound.uninterrupted
def _save(
    link_id: int,
    question: Question,
    key: str,
    ticked: str | int | None = None,
    radio: bool = False,
) -> None:
    """One widget changed: merge its value into the stored answer and save that, nothing else."""
    ss = st.session_state
    scope = f"link:{link_id}"
    given = bound.given(key)
    if given is None and radio:
        return  # a person cannot empty a radio: a stale value from the browser
    payload = _merged(question, key, given, ticked)
    if payload == _stored_payload(question):
        bound.release(scope, key)
        return
    try:
        services.save_patient_answer(link_id, question.key, payload)
    except services.IdentifiersFound as found:
        bound.hold(scope, key, given)
        ss.setdefault(HELD, {})[question.key] = found.redacted()[question.key]
        return
    except services.LinkRefused as refused:
        _refuse(str(refused))
    except services.StorageError:
        bound.hold(scope, key, given)
        ss[NOTICE] = WORDS["not_saved"]
        return
    except ValueError:
        ss[NOTICE] = WORDS["not_valid"]
    else:
        ss.setdefault(STORED, {})[question.key] = payload
    bound.release(scope, key)
    ss.get(HELD, {}).pop(question.key, None)


def _offer(link_id: int, question: Question) -> None:
    """A plain warning when free text seems to name someone or hold their details.

    Unlike the clinicians' check (ui/privacy.py) a patient is not offered to save the text as
    written: they may remove what was found, or change the text themselves.
    """
    redacted = st.session_state.get(HELD, {}).get(question.key)
    if redacted is None:
        return
    st.warning(WORDS["details"], icon=":material/privacy_tip:")
    st.caption(WORDS["without"])
    st.text(redacted)
    remove, change = st.columns(2)
    remove.button(
        WORDS["remove"],
        key=f"patient.{question.key}.remove",
        type="primary",
        width="stretch",
        on_click=_remove_details,
        args=(link_id, question, redacted),
    )
    change.button(
        WORDS["change"],
        key=f"patient.{question.key}.change",
        width="stretch",
        on_click=_keep_editing,
        args=(question.key,),
    )


def _keep_editing(item_key: str) -> None:
    st.session_state.get(HELD, {}).pop(item_key, None)


def _remove_details(link_id: int, question: Question, redacted: str) -> None:
    key = f"patient.{question.key}"
    st.session_state[key] = redacted
    _save(link_id, question, key)


@bound.uninterrupted
def _finish(link_id: int) -> None:
    try:
        services.complete_patient_link(link_id)
    except services.LinkRefused as refused:
        _refuse(str(refused))
    except services.StorageError:
        st.session_state[NOTICE] = WORDS["not_finished"]


def _show_notice() -> None:
    message = st.session_state.pop(NOTICE, None)
    if message:
        st.error(message, icon=":material/error:")


# The therapist's side: links ------------------------------------------------------------------


def link_url(code: str) -> str:
    """The address that opens the patient's questionnaire with this code."""
    base = app_settings().public_url or _app_url()
    return f"{base.rstrip('/')}/{URL_PATH}?code={code}"


def _app_url() -> str:
    # The address of this page; the app's is the part before the page's own path.
    return (st.context.url or "http://localhost:8501").rstrip("/").removesuffix("/patient_links")


@st.cache_data(max_entries=32, show_spinner=False)
def qr_png(url: str) -> bytes:
    """The address as a QR code image that a phone camera reads from the screen."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


def new_link_form(case_id: int, sessions: list[int]) -> None:
    """Choose a questionnaire (and its session) and create a link to it."""
    left, middle, right = st.columns([3, 1, 1])
    set_id = left.selectbox(
        "Questionnaire", list(SET_WORDS), format_func=SET_WORDS.__getitem__, key="links.new.set"
    )
    needs_session = set_id != "preferences"
    number = middle.number_input(
        "Session",
        min_value=1,
        max_value=200,
        value=max(sessions, default=0) + (1 if set_id == "before_session" else 0) or 1,
        step=1,
        # One widget per questionnaire: a single one kept the number of the questionnaire
        # first shown, so "before a session" offered the last recorded session, not the next.
        key=f"links.new.session.{set_id}",
        disabled=not needs_session,
        help="The session the answers are about.",
    )
    days = right.number_input(
        "Days to answer", min_value=1, max_value=42, value=14, step=1, key="links.new.days"
    )
    if st.button("Create link", key="links.new.create", type="primary"):
        try:
            _, code = services.create_patient_link(
                case_id, set_id, int(number) if needs_session else None, int(days)
            )
        except (ValueError, services.CaseFileError) as problem:
            st.error(f"No link made: {problem}")
        else:
            st.session_state["links.made"] = (case_id, code)


def made_link(case_id: int) -> None:
    """The link just made: its address, code and QR code, shown this once."""
    made = st.session_state.get("links.made")
    if not made or made[0] != case_id:
        return
    code = made[1]
    url = link_url(code)
    with st.container(border=True, key="links.made.box"):
        st.success(
            "Link made. Give the patient the address, the code or the QR code now: the code "
            "is shown only this once and is not stored.",
            icon=":material/link:",
        )
        text, picture = st.columns([3, 2])
        with text:
            st.caption("Address (a link to send, or to open on the patient's phone)")
            st.code(url, language=None, wrap_lines=True)
            st.caption(f"Code, to type at {url.split('?')[0]}")
            st.code(code, language=None)
        picture.image(qr_png(url), caption="Scan with a phone camera", width=220)
        st.button(
            "Done", key="links.made.done", on_click=st.session_state.pop, args=("links.made",)
        )


def links_list(case_id: int) -> list[PatientLink]:
    """The case's links with their status, and buttons to extend, expire or revoke each."""
    links = services.patient_links(case_id)
    if not links:
        st.info("No questionnaire sent for this case yet.")
        return links
    now = datetime.now(UTC)
    for link in links:
        status = link.status(now)
        about = SET_WORDS[link.set_id] + (
            f" · session {link.session_number}" if link.session_number else ""
        )
        with st.container(border=True, key=f"links.{link.id}"):
            words, actions = st.columns([3, 2])
            words.markdown(f"**{about}**")
            words.caption(
                f"{STATUS_WORDS[status]} · {link.answered} answered · made {when(link.created_at)}"
                + (
                    f" · expires {when(link.expires_at)}"
                    if status == "open"
                    else f" · came back {when(link.completed_at)}"
                    if link.completed_at
                    else ""
                )
            )
            if status == "revoked":
                continue
            extend, expire, revoke = actions.columns(3)
            extend.button(
                "Extend",
                help="Give the patient 14 more days (at most 42 from today).",
                key=f"links.{link.id}.extend",
                on_click=_act,
                args=(services.extend_patient_link, link.id, "Link extended."),
            )
            if status == "open":
                expire.button(
                    "Expire",
                    help="Stop the link now; it can be extended again.",
                    key=f"links.{link.id}.expire",
                    on_click=_act,
                    args=(services.expire_patient_link, link.id, "Link expired."),
                )
            revoke.button(
                "Revoke…",
                key=f"links.{link.id}.revoke",
                on_click=st.session_state.__setitem__,
                args=("links.pending_revoke", link.id),
            )
            if st.session_state.get("links.pending_revoke") == link.id:
                st.warning(
                    "Revoke for good? The link stops working and the answers given through it "
                    "are no longer used (it may have reached someone else)."
                )
                st.button(
                    "Revoke for good",
                    key=f"links.{link.id}.revoke.confirm",
                    type="primary",
                    on_click=_act,
                    args=(services.revoke_patient_link, link.id, "Link revoked."),
                )
    return links


def _act(action: Callable[[int], object], link_id: int, done: str) -> None:
    st.session_state.pop("links.pending_revoke", None)
    try:
        action(link_id)
    except ValueError as problem:
        st.session_state["links.notice"] = ("error", str(problem))
    else:
        st.session_state["links.notice"] = ("success", done)


def links_notice() -> None:
    notice = st.session_state.pop("links.notice", None)
    if notice:
        getattr(st, notice[0])(notice[1])


def tracking(therapist: str | None) -> None:
    """Questionnaires still out, and those that came back since they were last looked at; a
    risk item answered above 0 first, also from a questionnaire not finished."""
    risks = services.link_risks(therapist)
    link_risk_notice(risks)
    risky = {r.link_id for r in risks}
    for heading, lines, when_word, none in (
        (
            "Came back since you last looked",
            services.returned_since_seen(therapist),
            "Came back",
            "Nothing new.",
        ),
        (
            "Waiting for the patient",
            services.outstanding_links(therapist),
            "Expires",
            "No questionnaire is waiting.",
        ),
    ):
        st.markdown(f"**{heading} ({len(lines)})**")
        if not lines:
            st.caption(none)
            continue
        st.dataframe(
            [
                _tracking_row(
                    line,
                    line.link.completed_at if when_word == "Came back" else line.link.expires_at,
                    when_word,
                    line.link.id in risky,
                )
                for line in lines
            ],
            hide_index=True,
            width="stretch",
        )


def _tracking_row(
    line: services.CaseLink, at: datetime | None, word: str, risk: bool
) -> dict[str, Any]:
    link = line.link
    return {
        "PHQ-9 item 9": "Above 0: follow your risk procedure" if risk else "",
        "Case": line.reference,
        "Therapist": line.therapist,
        "Questionnaire": SET_WORDS[link.set_id]
        + (f" · session {link.session_number}" if link.session_number else ""),
        "Answered": link.answered,
        word: when(at) if at else "—",
    }


# The therapist's side: what came back -----------------------------------------------------------


def side_by_side(voice: services.PatientVoice) -> None:
    """A table per section (item, your answer, the patient's), then the perception gaps."""
    gap_items = {(t.section, t.item_id) for flag in voice.gaps for t in flag.triggers}
    for section, title in SECTION_WORDS.items():
        rows = [c for c in voice.comparisons if c.section == section]
        if not rows:
            continue
        st.markdown(f"**{title}**")
        if section == "alliance" and voice.alliance_session is not None:
            st.caption(
                f"The patient's answers after session {voice.alliance_session}, beside your "
                "alliance check of that session (or the walk-through's if it has none)."
            )
        wrapped_table(
            [
                {
                    "Item": row.title,
                    "You recorded": row.therapist or "—",
                    "The patient answered": row.patient or "—",
                    "Gap": "Gap" if (section, row.item_id) in gap_items else "",
                }
                for row in rows
            ],
            f"voice.{section}",
        )
    st.subheader(f"Perception gaps ({len(voice.gaps)})")
    if not voice.gaps:
        st.success("Where you both answered, your answers and the patient's agree.")
    for flag in voice.gaps:
        report_ui.flag_card(flag)


def link_risk_notice(risks: list[services.RiskAnswer]) -> None:
    """Each risk item answered above 0 by link, finished or left unfinished, named at once."""
    for risk in risks:
        when = f"before session {risk.session_number}" if risk.session_number else "by link"
        state = "finished" if risk.completed else "left unfinished"
        st.error(
            f"{risk.reference}: {when} the patient answered the PHQ-9 question about thoughts of "
            f"being better off dead or of self-harm above 'not at all' ({risk.value}) in a "
            f"questionnaire {state} on {risk.updated_at:%d %b %Y %H:%M}. Follow your service's "
            "risk procedure now; this app does not assess risk.",
            icon=":material/emergency:",
        )


def risk_notice(measures: list[services.PatientMeasures]) -> None:
    """Shown above everything: the patient answered a risk item above 0 on their own."""
    for answered in measures:
        if answered.risk:
            st.error(
                f"Before session {answered.link.session_number} the patient answered the "
                "PHQ-9 question about thoughts of being better off dead or of self-harm above "
                "'not at all'. Nobody saw it as it was given: follow your service's risk "
                "procedure now.",
                icon=":material/emergency:",
            )


def measures_section(measures: list[services.PatientMeasures]) -> None:
    """The measures the patient answered before each session: scores, then item by item."""
    if not measures:
        return
    st.markdown("**Before a session**")
    for answered in measures:
        link = answered.link
        state = "came back" if link.completed_at else "partly answered"
        with st.container(border=True, key=f"voice.measures.{link.id}"):
            st.caption(f"Before session {link.session_number} · {state}")
            columns = st.columns(max(len(answered.scores), 1))
            for column, score in zip(columns, answered.scores, strict=False):
                column.metric(
                    score.short_name,
                    "—" if score.total is None else f"{score.total} / {score.max_total}",
                    help=score.band or f"{score.answered} of {score.items} items answered",
                )
            with st.expander("Item by item"):
                st.dataframe(
                    [
                        {"Measure": measure, "Item": item, "The patient answered": words}
                        for measure, item, words in answered.items
                    ],
                    hide_index=True,
                    width="stretch",
                )


def source_choice(case_id: int) -> None:
    """Which answers the fit uses, and the fit on them with each dimension's source."""
    ss = st.session_state
    source = services.answer_source(case_id)
    if ss.get("voice.source.case") != case_id:
        ss["voice.source"] = source
        ss["voice.source.case"] = case_id
    st.radio(
        "Which answers the fit uses",
        list(SOURCES),
        format_func=SOURCE_WORDS.__getitem__,
        key="voice.source",
        on_change=_choose_source,
        args=(case_id,),
    )
    fit, used = services.fit_with_source(case_id)
    st.caption(f"This report uses: {SOURCE_WORDS[used].lower()}.")
    report_ui.headline(fit)
    st.dataframe(
        [
            {
                "Dimension": d.title,
                "Answer from": ORIGIN_WORDS[d.source],
                "Status": report_ui.STATUS_WORDS[d.status],
                "Fit": d.fit,
                "Why": d.explanation,
            }
            for d in fit.dimensions
        ],
        hide_index=True,
        width="stretch",
        key="voice.fit",
        column_config={
            "Fit": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f")
        },
    )


@bound.uninterrupted
def _choose_source(case_id: int) -> None:
    services.set_answer_source(case_id, st.session_state["voice.source"])


def highlighted(text: str, codes: list[ThemeCode]) -> str:
    """The text HTML-escaped, with the words behind each suggested theme in <mark>."""
    spans = sorted({(e.start, e.end) for code in codes for e in code.evidence})
    parts, at = [], 0
    for start, end in spans:
        if start < at:
            continue
        parts.append(html.escape(text[at:start]))
        parts.append(f"<mark>{html.escape(text[start:end])}</mark>")
        at = end
    parts.append(html.escape(text[at:]))
    return '<p style="white-space: pre-wrap; margin: 0">' + "".join(parts) + "</p>"


def coded_texts(case_id: int) -> None:
    """Every free-text answer with its suggested themes, the words behind each, and the
    clinician's decision to accept or reject each."""
    texts = services.coded_texts(case_id)
    if not texts:
        st.info("No free text yet: the patient's own words and your notes appear here.")
        return
    titles = {t.id: t.title for t in services.content().themes}
    for coded in texts:
        who = "The patient" if coded.who == "patient" else "You"
        with st.container(border=True, key=f"codes.{coded.source}"):
            st.caption(f"{who} · {coded.label}")
            st.html(highlighted(coded.text, coded.codes))
            if not coded.codes:
                st.caption("No theme suggested.")
            for code in coded.codes:
                decision = coded.decisions.get(code.theme)
                words, accept, reject = st.columns([4, 1, 1])
                words.markdown(f"**{titles[code.theme]}**")
                # The words are the patient's or the therapist's: plain text, never Markdown.
                words.text(
                    "Because of: "
                    + ", ".join(f"“{e.text}”" for e in code.evidence)
                    + (
                        f"\n{DECISION_WORDS[decision.decision]} by {decision.decided_by}, "
                        f"{when(decision.decided_at)}"
                        if decision
                        else "\nNot decided yet"
                    )
                )
                for column, kind, label in (
                    (accept, "accepted", "Accept"),
                    (reject, "rejected", "Reject"),
                ):
                    column.button(
                        label,
                        key=f"codes.{coded.source}.{code.theme}.{kind}",
                        disabled=decision is not None and decision.decision == kind,
                        on_click=_decide_code,
                        args=(case_id, coded.source, code.theme, kind),
                        width="stretch",
                    )


def _decide_code(case_id: int, source: str, theme: str, decision: CodeDecisionKind) -> None:
    """A button's callback: record the decision (Streamlit ignores what a callback returns)."""
    services.decide_code(case_id, source, theme, decision)
