"""The patient's side of patient questionnaires: a link opened with no account (the link's code
is the key), its questionnaires listed, each answered page by page, the answers checked on one
screen before they are sent, and the thank-you.

The widgets are keyed ``patient.<item key>`` (``patient.preferences.structure``,
``patient.preferences.structure.importance``, ``patient.barriers.childcare.none``); the
buttons that move between screens ``patient.go.…``, ``patient.next``, ``patient.back``,
``patient.change.…`` and ``patient.finish``. Text that the patient wrote is shown with
``st.text`` or HTML-escaped: it is never rendered as Markdown or HTML.

Over 500 lines as one module on purpose: it is everything a patient sees (the code, the list, the
pages, the answers to check, the thank-you) and the binding of their answer widgets to what is
stored, which the screens share; nothing in it is used by the clinicians' pages.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from tailoring import services
from tailoring.model.patient_content import SetId
from tailoring.model.patient_questionnaires import AskedQuestionnaire, PatientLink, Question
from tailoring.model.text import NOTE_CHARS
from ui import bound
from ui.client import client_address
from ui.style import READABLE_CAPTIONS, page_guard

URL_PATH = "patient"
MODE = "patient.mode"
LINK = "patient.link_id"
SCOPE = "patient.scope"
STORED = "patient.stored"
REVISIONS = "patient.revisions"
ELSEWHERE = "patient.changed_elsewhere"
NOTICE = "patient.notice"
REFUSAL = "patient.refusal"
ADDRESS_CLEARED = "patient.address_cleared"
HELD = "patient.held"
SCREEN = "patient.screen"
MOVED = "patient.moved"
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
.st-key-patient-style, .st-key-patient-scroll { display: none; }
/* The answers to check before sending: each question, and under it the answer. */
dl.patient-answers { margin: 0; padding: 0; }
dl.patient-answers dt { margin: 0; padding: 0; font-weight: 600; }
dl.patient-answers dd { margin: 0 0 0.75rem 0; padding: 0; white-space: pre-wrap; }
dl.patient-answers dd.unanswered { color: #595959; font-style: italic; }
/* Phones zoom into a text field whose text is under 16 px (iOS Safari), and "Press Ctrl+Enter
   to apply" means nothing on a phone: the words save when the box loses focus, as the page says. */
[data-testid="stTextArea"] textarea, [data-testid="stTextInput"] input { font-size: 16px; }
[data-testid="InputInstructions"] { display: none; }
</style>
<span></span>
"""
)
# The page's own words for patients, beside those of content/patient/: held to the same plain
# language (Flesch reading ease of 60 or more) by tests/app/test_patient_questionnaires.py.
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
    "sets": "Your therapist asks you {count} sets of questions. Do them in the order you like. "
    "Then check your answers and send them.",
    "done": "Done",
    "not_started": "Not started · {total} questions",
    "start": "Start",
    "carry_on": "Carry on",
    "look_again": "Look again",
    "page": "Page {page} of {pages}",
    "next": "Next page",
    "back": "Back",
    "back_to_list": "Back to the list",
    "set_done": "I am done with these questions",
    "check": "Check my answers",
    "to_review": "Back to my answers",
    "review_title": "Check your answers",
    "review_intro": "Here is what you told us. To change an answer, tap the button under it. "
    "When all is as you want it, send your answers.",
    "change_page": "Change these answers",
    "unsaved": "Some words on this page are not saved yet. Tap the button below to see them.",
    "not_answered": "Not answered",
    "sent": "You sent your answers at {when}. This is what you sent:",
    "sent_set": "{title}: {answered} of {total} questions answered",
    "changes": "Want to change an answer? Ask your therapist. They can send you a new link.",
    "answered": "You have answered {answered} of {total} questions. You can leave out any you "
    "prefer not to answer.",
    "progress": "{answered} of {total} questions answered",
    "finish": "I have finished: send my answers",
    "details": "This answer is not saved yet. It seems to include personal details, such as a "
    "phone number, an email address, a postcode or a date of birth. Please leave these out.",
    "without": "Without them, your answer would read:",
    "remove": "Remove them and save",
    "change": "I will change my answer",
    "not_saved": "Your last answer was not saved. Please try again in a minute.",
    "not_valid": "That answer could not be saved. Please choose again.",
    "not_finished": "Not finished yet. Please try again in a minute.",
    "changed_elsewhere": "This answer was changed on another page of this link (another tab "
    "or device) while this one was open, so your choice here was not saved. The page now shows "
    "the answer saved there: choose again if you want to change it.",
}


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
        # A reload or a closed tab while an answer is on its way asks first, as on the
        # clinicians' pages (soak patient seeds 9394 and 9549 lost answers given just before
        # a reload: this page had no guard).
        page_guard()


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


@dataclass(frozen=True)
class Screen:
    """Where the patient is in a link: the list of its questionnaires, a page of one of them
    (``back`` says to return to the review from it), or the answers to check before sending."""

    link_id: int
    kind: Literal["list", "page", "review"]
    set_id: SetId | None = None
    page: int = 0
    back: bool = False


def thank_you(link: PatientLink) -> None:
    """A finished link: what was sent and when, and how to change it. The answers themselves are
    not shown again: the link may lie in a message that someone else reads later."""
    wording = services.patient_wording()
    asked = services.link_questionnaires(link)
    stored = services.patient_link_answers(link.id)
    st.title(wording.thank_you.title)
    st.success(wording.thank_you.text, icon=":material/check_circle:")
    when = _local(link.completed_at or link.expires_at)
    st.write(WORDS["sent"].format(when=when))
    st.markdown(
        "\n".join(
            "- "
            + WORDS["sent_set"].format(
                title=q.title, answered=_answered(q.questions, stored), total=len(q.questions)
            )
            for q in asked
        )
    )
    st.write(WORDS["changes"])
    st.info(wording.urgent_help, icon=":material/call:")


def answer(link: PatientLink) -> None:
    """The link's questionnaires one screen at a time: their list (for a link that carries
    several), a page of questions, or every answer to check before sending. Each answer is saved
    as it is given; the screens only move the patient about."""
    asked = services.link_questionnaires(link)
    stored, revisions = services.patient_link_answers_at(link.id)
    _load(link.id, stored, revisions)
    screen = _screen(link, asked, stored)
    _scroll_up_after_a_move()
    if screen.kind == "page":
        _page(link, asked, stored, screen)
    elif screen.kind == "review":
        _review(link, asked, stored)
    else:
        _list(link, asked, stored)
    # Shown once, at its question (``_question``).
    st.session_state.pop(ELSEWHERE, None)


def _screen(
    link: PatientLink, asked: list[AskedQuestionnaire], stored: dict[str, dict[str, Any]]
) -> Screen:
    """The screen of this visit, or where a fresh visit starts: the list when the link carries
    several questionnaires; else the first page with a question not yet answered (the one the
    patient stopped at), or the review when all are answered."""
    screen = st.session_state.get(SCREEN)
    sets = {q.set_id: q for q in asked}
    if isinstance(screen, Screen) and screen.link_id == link.id:
        if screen.kind != "page":
            return screen
        if screen.set_id in sets and screen.page < len(sets[screen.set_id].pages):
            return screen
    if len(asked) > 1:
        start = Screen(link.id, "list")
    else:
        page = _first_unanswered(asked[0], stored)
        start = (
            Screen(link.id, "review")
            if page is None
            else Screen(link.id, "page", asked[0].set_id, page)
        )
    st.session_state[SCREEN] = start
    return start


def _answered_in_all(asked: list[AskedQuestionnaire], stored: dict[str, dict[str, Any]]) -> None:
    """Below a line: how many questions of every questionnaire on the link are answered."""
    answered = sum(_answered(q.questions, stored) for q in asked)
    total = sum(len(q.questions) for q in asked)
    st.divider()
    st.write(WORDS["answered"].format(answered=answered, total=total))


def _first_unanswered(asked: AskedQuestionnaire, stored: dict[str, dict[str, Any]]) -> int | None:
    return next(
        (
            i
            for i, page in enumerate(asked.pages)
            if _answered(page.questions, stored) < len(page.questions)
        ),
        None,
    )


def _answered(questions: list[Question], stored: dict[str, dict[str, Any]]) -> int:
    return sum((stored.get(q.key) or {}).get("value") not in (None, []) for q in questions)


def _go(screen: Screen) -> None:
    """Move to another screen; the next run starts it at its top."""
    st.session_state[SCREEN] = screen
    st.session_state[MOVED] = st.session_state.get(MOVED, 0) + 1


def _scroll_up_after_a_move() -> None:
    """After Next, Back or Change, show the new screen from its top, not from where the button
    was: Streamlit keeps the scroll position across runs, which left the patient at the foot
    of the next page. The move's number makes each script new, so the browser runs it."""
    moved = st.session_state.get(MOVED)
    if not moved or st.session_state.get(f"{MOVED}.done") == moved:
        return
    st.session_state[f"{MOVED}.done"] = moved
    with st.container(key="patient-scroll"):
        st.html(
            f"<script>/* move {int(moved)} */"
            "for (const where of ['[data-testid=\"stMain\"]', "
            "'[data-testid=\"stAppViewContainer\"]']) {"
            " const box = document.querySelector(where); if (box) box.scrollTop = 0; }"
            "window.scrollTo(0, 0);</script>",
            unsafe_allow_javascript=True,
        )


def _notes(link: PatientLink) -> None:
    """How answers save, how long the link works, and where to get help now."""
    wording = services.patient_wording()
    st.info(
        f"{wording.saving} {WORDS['works_until'].format(until=_local(link.expires_at))}",
        icon=":material/save:",
    )
    st.warning(wording.urgent_help, icon=":material/call:")


def _list(
    link: PatientLink, asked: list[AskedQuestionnaire], stored: dict[str, dict[str, Any]]
) -> None:
    """The link's questionnaires, each done or not, and the way on to check and send."""
    st.title(WORDS["title"])
    st.write(WORDS["sets"].format(count=len(asked)))
    _notes(link)
    _show_notice()
    for q in asked:
        answered, total = _answered(q.questions, stored), len(q.questions)
        progress = WORDS["progress"].format(answered=answered, total=total)
        if q.done_at is not None:
            state, verb = f":material/check_circle: {WORDS['done']} · {progress}", "look_again"
        elif answered == 0:
            state, verb = WORDS["not_started"].format(total=total), "start"
        else:
            state, verb = progress, "carry_on"
        with st.container(border=True, key=f"patient.list.{q.set_id}"):
            st.markdown(f"**{q.title}**")
            st.caption(state)
            st.button(
                f"{WORDS[verb]}: {q.title}",
                key=f"patient.go.{q.set_id}",
                width="stretch",
                on_click=_go,
                args=(Screen(link.id, "page", q.set_id, _first_unanswered(q, stored) or 0),),
            )
    _answered_in_all(asked, stored)
    st.button(
        WORDS["check"],
        key="patient.review",
        type="primary",
        width="stretch",
        on_click=_go,
        args=(Screen(link.id, "review"),),
    )


def _page(
    link: PatientLink,
    asked: list[AskedQuestionnaire],
    stored: dict[str, dict[str, Any]],
    screen: Screen,
) -> None:
    """One page of one questionnaire, and the buttons to the next and the one before."""
    wording = services.patient_wording()
    questionnaire = next(q for q in asked if q.set_id == screen.set_id)
    pages, index = questionnaire.pages, screen.page
    page = pages[index]
    st.title(questionnaire.title)
    if index == 0:
        st.write(questionnaire.intro)
        _notes(link)
    st.progress(
        (index + 1) / len(pages), text=WORDS["page"].format(page=index + 1, pages=len(pages))
    )
    _show_notice()
    st.subheader(page.title)
    if page.intro:
        st.write(page.intro)
    stem = None
    for question in page.questions:
        # A measure's question ("Over the last 2 weeks, how often...") once, above its items:
        # repeated in each of nine blocks it made a phone page much longer.
        if question.stem and question.stem != stem:
            st.markdown(f"**{question.stem}**")
        stem = question.stem
        _question(link.id, question, wording.importance.question, wording.importance.labels)
    total = len(questionnaire.questions)
    st.caption(
        WORDS["progress"].format(answered=_answered(questionnaire.questions, stored), total=total)
    )
    several = len(asked) > 1
    if screen.back:
        forward, label, done = Screen(link.id, "review"), WORDS["to_review"], False
    elif index + 1 < len(pages):
        forward, label, done = (
            Screen(link.id, "page", screen.set_id, index + 1),
            WORDS["next"],
            False,
        )
    elif several:
        forward, label, done = Screen(link.id, "list"), WORDS["set_done"], True
    else:
        forward, label, done = Screen(link.id, "review"), WORDS["check"], True
    st.button(
        label,
        key="patient.next",
        type="primary",
        width="stretch",
        on_click=_move_on,
        args=(link.id, questionnaire.set_id if done else None, forward),
    )
    if screen.back:
        return
    if index > 0:
        back, label = Screen(link.id, "page", screen.set_id, index - 1), WORDS["back"]
    elif several:
        back, label = Screen(link.id, "list"), WORDS["back_to_list"]
    else:
        return
    st.button(label, key="patient.back", width="stretch", on_click=_go, args=(back,))


@bound.uninterrupted
def _move_on(link_id: int, done: SetId | None, screen: Screen) -> None:
    """Next: to the next screen, marking the questionnaire done after its last page."""
    if done is not None:
        try:
            services.finish_patient_questionnaire(link_id, done)
        except services.LinkRefused as refused:
            _refuse(str(refused))
            return
        except (services.LinkClosed, services.StorageError):
            st.session_state[NOTICE] = WORDS["not_saved"]
            return
    _go(screen)


def _review(
    link: PatientLink, asked: list[AskedQuestionnaire], stored: dict[str, dict[str, Any]]
) -> None:
    """Every answer, page by page, each page with a way back to change it, then the button that
    sends them all."""
    levels = services.patient_wording().importance.labels
    st.title(WORDS["review_title"])
    st.write(WORDS["review_intro"])
    _show_notice()
    # Words held back (personal details found, or a save that failed) are on their page only.
    held = bound.held(f"link:{link.id}")
    for q in asked:
        st.subheader(q.title)
        for i, page in enumerate(q.pages):
            with st.container(border=True, key=f"patient.review.{q.set_id}.{i}"):
                st.markdown(f"**{page.title}**")
                st.html(_answers_html(page.questions, stored, levels))
                if any(f"patient.{q.key}" in held for q in page.questions):
                    st.warning(WORDS["unsaved"], icon=":material/edit_note:")
                st.button(
                    WORDS["change_page"],
                    key=f"patient.change.{q.set_id}.{i}",
                    width="stretch",
                    on_click=_go,
                    args=(Screen(link.id, "page", q.set_id, i, back=True),),
                )
    _answered_in_all(asked, stored)
    st.button(
        WORDS["finish"],
        key="patient.finish",
        type="primary",
        width="stretch",
        on_click=_finish,
        args=(link.id,),
    )
    if len(asked) > 1:
        back, label = Screen(link.id, "list"), WORDS["back_to_list"]
    else:
        last = len(asked[0].pages) - 1
        back, label = Screen(link.id, "page", asked[0].set_id, last), WORDS["back"]
    st.button(label, key="patient.back", width="stretch", on_click=_go, args=(back,))


def _answers_html(
    questions: list[Question], stored: dict[str, dict[str, Any]], levels: list[str]
) -> str:
    """The questions and the patient's answers as a list of terms, every word escaped."""
    items = "".join(
        f"<dt>{html.escape(q.text)}</dt>"
        + (
            f"<dd>{html.escape(_answer_words(q, stored.get(q.key), levels))}</dd>"
            if _answered([q], stored)
            else f'<dd class="unanswered">{WORDS["not_answered"]}</dd>'
        )
        for q in questions
    )
    return f'<dl class="patient-answers">{items}</dl>'


def _answer_words(question: Question, payload: dict[str, Any] | None, levels: list[str]) -> str:
    """An answer given, in the words the patient chose, with how much it matters where asked."""
    payload = payload or {}
    value = payload.get("value")
    labels = {c.value: c.label for c in question.choices}
    if question.kind == "open":
        words = str(value)
    elif isinstance(value, list):
        words = "; ".join(labels.get(v, str(v)) for v in value)
    else:
        words = labels.get(value, str(value)) if isinstance(value, int | str) else str(value)
    importance = payload.get("importance")
    if question.importance and isinstance(importance, int) and 0 <= importance < len(levels):
        words = f"{words}. {levels[importance]}."
    return words


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


def _load(link_id: int, answers: dict[str, dict[str, Any]], revisions: dict[str, int]) -> None:
    """Make the stored answers the ones the widgets show on this run (ui/bound.py says why),
    with the revision each was read at (0: not answered)."""
    ss = st.session_state
    ss[SCOPE] = link_id
    ss[STORED] = answers
    ss[REVISIONS] = revisions


def _revision(question: Question) -> int:
    return int(st.session_state.get(REVISIONS, {}).get(question.key, 0))


def _show(question: Question, key: str) -> tuple[str, Any]:
    """Before drawing one of a question's widgets: give it the stored (or held) value; returns
    its key and the value to pass as its default (ui/bound.py's ``show``)."""
    ss = st.session_state
    stored = ss.get(STORED, {}).get(question.key)
    value = _widget_values(question, stored)[key]
    return key, bound.show(f"link:{ss.get(SCOPE)}", key, value, _revision(question))


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
        if st.session_state.get(ELSEWHERE) == question.key:
            # At the question, not at the top: on a phone the top is screens away.
            st.warning(WORDS["changed_elsewhere"], icon=":material/sync_problem:")
        if question.kind == "open":
            key, value = _show(question, key)
            st.text_area(
                question.text,
                value=value or "",
                key=key,
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
                tick_key, ticked = _show(question, f"{key}.{choice.value}")
                st.checkbox(
                    choice.label,
                    value=bool(ticked),
                    key=tick_key,
                    on_change=_save,
                    args=(link_id, question, f"{key}.{choice.value}", choice.value),
                )
        else:
            key, value = _show(question, key)
            st.radio(
                question.text,
                list(labels),
                index=bound.index(list(labels), value),
                key=key,
                format_func=labels.__getitem__,
                label_visibility="collapsed",
                on_change=_save,
                args=(link_id, question, key, None, True),
            )
        if question.importance:
            importance_key, level = _show(question, f"{key}.importance")
            st.radio(
                importance,
                list(range(len(levels))),
                index=bound.index(list(range(len(levels))), level),
                key=importance_key,
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
    # The revision this page holds the widget at, not the latest read (ui/bound.py's fifth
    # cause): the same link open in another tab may have changed the answer meanwhile.
    expected = bound.expected(scope, [key], _revision(question))

    def on_top(stored: dict[str, Any] | None) -> dict[str, Any] | None:
        # The change between touched another part of the answer only (the same link in
        # another tab): this change stands on top of it.
        if not bound.untouched(scope, key, _widget_values(question, stored)[key]):
            return None
        ss.setdefault(STORED, {})[question.key] = stored
        return _merged(question, key, given, ticked)

    try:
        revision, payload, saved_over = bound.save_on_top(
            lambda answer, at: services.save_patient_answer(link_id, question.key, answer, at),
            payload,
            expected,
            on_top,
        )
    except services.StaleAnswer as stale:
        bound.log.warning(
            "refused as stale: %s (this page holds revision %d, stored %d)",
            key,
            expected,
            stale.revision,
        )
        ss.setdefault(STORED, {})[question.key] = stale.current or {}
        ss.setdefault(REVISIONS, {})[question.key] = stale.revision
        # Told (the notice says so): a choice made after it is the patient's own.
        bound.now_holds(scope, {key: _widget_values(question, stale.current)[key]}, stale.revision)
        ss[ELSEWHERE] = question.key
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
        ss.setdefault(REVISIONS, {})[question.key] = revision
        values = _widget_values(question, payload)
        bound.now_holds(scope, {key: values[key]}, revision, since=saved_over, among=list(values))
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
        st.session_state.pop(SCREEN, None)
    except services.LinkRefused as refused:
        _refuse(str(refused))
    except services.StorageError:
        st.session_state[NOTICE] = WORDS["not_finished"]


def _show_notice() -> None:
    message = st.session_state.pop(NOTICE, None)
    if message:
        st.error(message, icon=":material/error:")
