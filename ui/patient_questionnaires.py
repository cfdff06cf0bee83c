"""The therapist's side of patient questionnaires: links with their questionnaires and QR codes,
what came back beside the therapist's own answers, the fit's source and coded free text.

The widgets are keyed ``links.…``, ``answers.…`` and ``codes.…``. Text that people wrote is
shown with ``st.text`` or, where words are highlighted, HTML-escaped before any mark-up is
added: it is never rendered as Markdown or HTML. The patient's side is
ui/patient_questionnaires_answer.py.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import segno
import streamlit as st

from tailoring import services
from tailoring.model.coding import ThemeCode
from tailoring.model.patient_content import SESSION_SETS, SET_IDS, SetId
from tailoring.model.patient_questionnaires import SOURCES, LinkQuestionnaire, PatientLink
from tailoring.services import CodeDecisionKind
from ui import bound
from ui import report as report_ui
from ui.common import app_settings, wrapped_table
from ui.patient_questionnaires_answer import URL_PATH
from ui.review import when

SET_WORDS: dict[SetId, str] = {
    "preferences": "What the patient wants from therapy (preferences)",
    "before_session": "Before a session: PHQ-9, anxiety measure, WSAS",
    "after_session": "After a session: alliance check",
}
SESSION_WORDS: dict[SetId, str] = {
    "before_session": "Before session",
    "after_session": "After session",
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


# The therapist's side: links ------------------------------------------------------------------


def link_url(code: str) -> str:
    """The address that opens the patient's questionnaire with this code."""
    base = app_settings().public_url or _app_url()
    return f"{base.rstrip('/')}/{URL_PATH}?code={code}"


def _app_url() -> str:
    # The address of this page; the app's is the part before the page's own path.
    return (
        (st.context.url or "http://localhost:8501")
        .rstrip("/")
        .removesuffix("/patient_questionnaires")
    )


@st.cache_data(max_entries=32, show_spinner=False)
def qr_png(url: str) -> bytes:
    """The address as a QR code image that a phone camera reads from the screen."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


def new_link_form(case_id: int) -> None:
    """Choose the questionnaires of one link (a patient's visit), their sessions, and create it."""
    sessions = services.link_sessions(case_id)
    st.markdown("**A new link: what the patient answers this time**")
    st.caption(
        "One link can carry several questionnaires, for example the preferences and the measures "
        "before a session: the patient gets one link and goes through a short list."
    )
    chosen: dict[SetId, int | None] = {}
    for set_id in SET_IDS:
        tick, number = st.columns([3, 1], vertical_alignment="bottom")
        ticked = tick.checkbox(
            SET_WORDS[set_id], value=set_id == "preferences", key=f"links.new.{set_id}"
        )
        session: int | None = None
        if set_id in SESSION_SETS:
            session = number.number_input(
                SESSION_WORDS[set_id],
                min_value=1,
                max_value=200,
                value=sessions[set_id],
                step=1,
                # One widget per questionnaire: each offers its own session (before the next
                # one not yet recorded, after the last one recorded).
                key=f"links.new.session.{set_id}",
                disabled=not ticked,
                help="The session the answers are about.",
            )
        if ticked:
            chosen[set_id] = int(session) if session is not None else None
    days = st.number_input(
        "Days to answer", min_value=1, max_value=42, value=14, step=1, key="links.new.days"
    )
    if st.button("Create link", key="links.new.create", type="primary"):
        if not chosen:
            st.error("No link made: tick at least one questionnaire.")
            return
        try:
            _, code = services.create_patient_link(case_id, chosen, int(days))
        except (ValueError, services.CaseFileError) as problem:
            st.error(f"No link made: {problem}")
        else:
            st.session_state["links.made"] = (case_id, code)


def questionnaire_words(carried: LinkQuestionnaire) -> str:
    """A questionnaire of a link in a few words, with its session."""
    if carried.set_id == "before_session":
        return f"Before session {carried.session_number} (PHQ-9, anxiety, WSAS)"
    if carried.set_id == "after_session":
        return f"After session {carried.session_number} (alliance check)"
    return "Preferences"


def link_words(link: PatientLink) -> str:
    """What a link carries, e.g. "Preferences; Before session 2 (PHQ-9, anxiety, WSAS)"."""
    return "; ".join(questionnaire_words(q) for q in link.questionnaires)


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
        # While the link is open, the questionnaires the patient has said are done.
        about = "; ".join(
            questionnaire_words(q)
            + (" (done)" if q.done_at is not None and status == "open" else "")
            for q in link.questionnaires
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
        "Questionnaires": link_words(link),
        "Answered": link.answered,
        word: when(at) if at else "—",
    }


# The therapist's side: what came back -----------------------------------------------------------


def side_by_side(compared: services.SideBySide) -> None:
    """A table per section (item, your answer, the patient's), then the perception gaps."""
    gap_items = {(t.section, t.item_id) for flag in compared.gaps for t in flag.triggers}
    for section, title in SECTION_WORDS.items():
        rows = [c for c in compared.comparisons if c.section == section]
        if not rows:
            continue
        st.markdown(f"**{title}**")
        if section == "alliance" and compared.alliance_session is not None:
            st.caption(
                f"The patient's answers after session {compared.alliance_session}, beside your "
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
            f"answers.{section}",
        )
    st.subheader(f"Perception gaps ({len(compared.gaps)})")
    if not compared.gaps:
        st.success("Where you both answered, your answers and the patient's agree.")
    for flag in compared.gaps:
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
                f"Before session {answered.session_number} the patient answered the "
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
        with st.container(border=True, key=f"answers.measures.{link.id}"):
            st.caption(f"Before session {answered.session_number} · {state}")
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
    if ss.get("answers.source.case") != case_id:
        ss["answers.source"] = source
        ss["answers.source.case"] = case_id
    st.radio(
        "Which answers the fit uses",
        list(SOURCES),
        format_func=SOURCE_WORDS.__getitem__,
        key="answers.source",
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
        key="answers.fit",
        column_config={
            "Fit": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f")
        },
    )


@bound.uninterrupted
def _choose_source(case_id: int) -> None:
    services.set_answer_source(case_id, st.session_state["answers.source"])


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
