"""The case review PDF for supervision: fit, flags, outcomes, sessions, flag history and notes.

Same page, fonts and colours as the session plan (export/pdf_page.py); unlike the plan it runs
onto as many pages as the case needs, each with the case reference and a page number.

Supervision notes and flag history come from storage as plain dicts (``dataclasses.asdict`` of
its ``SupervisionNote`` and ``FlagEvent``). Keys read (others are ignored; a missing one prints
as a dash):
- a note: ``created_at``, ``updated_at``, ``author``, ``status`` (open or done), ``text`` and
  ``action`` (the action agreed; may be empty).
- a flag event, oldest first: ``at``, ``flag_id``, ``title``, ``event`` (raised, cleared,
  acknowledged, resolved, reopened), ``severity``, ``actor`` and ``reason`` (may be empty).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tailoring.engine.caseload import alliance_figures, case_outcome
from tailoring.export.pdf_page import (
    ACCENT,
    BOTTOM,
    INK,
    MARGIN,
    MUTED,
    PANEL,
    PT,
    RULE,
    SEVERITY_COLOUR,
    TOP,
    WIDTH,
    Page,
    dejavu_fonts,
    draw_footer,
    draw_heading,
)
from tailoring.export.text import contraindication_words, fit_value, problem_words
from tailoring.model.caseload import OUTCOME_WORDS
from tailoring.model.report import (
    INDICATION_LABELS,
    SEVERITIES,
    FitReport,
    MeasureChange,
    SessionSummary,
)

FOOTER = (
    "For clinical supervision; it does not assess risk or make a diagnosis. "
    "Pseudonymous: contains no patient identifiers."
)
BODY, SMALL, HEADING = 9.5, 8.5, 12.0
LINE = BODY * PT * 1.4
SMALL_LINE = SMALL * PT * 1.4
ROW = LINE + 0.8
SECTION_GAP = 5.0
NOTE_LINES = 80
STATUS_WORDS = {
    "yes": "yes",
    "no": "no",
    "not_enough_data": "not enough data",
    "not_at_caseness": "not at caseness at the start",
}


def _text(value: Any) -> str:
    """A value as the review prints it: dates as YYYY-MM-DD, nothing as a dash."""
    if value is None or value == "":
        return "–"
    if isinstance(value, datetime.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, datetime.date):
        return f"{value:%Y-%m-%d}"
    return str(value)


class Flow:
    """Writes down the page and starts a new one, with header and footer, when it is full.

    Shared with the case summary (export/summary_pdf.py), which has its own title and footer.
    """

    def __init__(
        self, page: Page, reference: str, title: str = "Case review", footer: str = FOOTER
    ) -> None:
        self.page = page
        self.reference = reference
        self.title = title
        self.footer = footer
        self.y = TOP

    def new_page(self) -> None:
        self.page.add_page()
        self.y = TOP
        if self.page.page_no() > 1:
            self.page.use(SMALL, colour=MUTED)
            self.page.text_at(MARGIN, self.y, WIDTH, 5, f"{self.title} · {self.reference}")
            self.y += 8.0
        draw_footer(self.page, self.footer, f"Page {self.page.page_no()} of {{nb}}")

    def room(self, height: float) -> None:
        """Start a new page unless ``height`` fits on this one."""
        if self.y + height > BOTTOM:
            self.new_page()

    def heading(self, text: str, aside: str = "") -> None:
        self.room(SECTION_GAP + 2 * LINE + 8.0)
        self.y = draw_heading(self.page, self.y + SECTION_GAP, text, aside, HEADING, SMALL)

    def paragraph(
        self, text: str, colour: tuple[int, int, int] = MUTED, size: float = BODY, indent: float = 0
    ) -> None:
        """Wrapped text that runs onto the next page when it must."""
        page = self.page
        leading = size * PT * 1.4
        page.use(size, colour=colour)
        for line in page.lines(text, WIDTH - indent, NOTE_LINES):
            if self.y + leading > BOTTOM:
                self.new_page()
                page.use(size, colour=colour)
            page.text_at(MARGIN + indent, self.y, WIDTH - indent, leading, line)
            self.y += leading

    def muted(self, text: str) -> None:
        self.paragraph(text)

    def table(
        self,
        widths: Sequence[float],
        header: Sequence[str],
        rows: list[list[str]],
        details: Sequence[str] = (),
    ) -> None:
        """A ruled table, the header repeated on each new page; a row's detail (if any) is
        printed under it in small type."""
        page = self.page

        def draw_header() -> None:
            page.use(SMALL, bold=True, colour=MUTED)
            x = MARGIN
            for width, title in zip(widths, header, strict=True):
                page.text_at(x, self.y, width - 1.5, ROW, page.line_of(title, width - 1.5))
                x += width
            self.y += ROW
            page.set_draw_color(*RULE)
            page.set_line_width(0.2)
            page.line(MARGIN, self.y, MARGIN + WIDTH, self.y)
            self.y += 0.6

        self.room(2 * ROW + 1)
        draw_header()
        page.use(BODY)
        for index, row in enumerate(rows):
            if self.y + ROW > BOTTOM:
                self.new_page()
                draw_header()
            page.use(BODY)
            x = MARGIN
            for width, cell in zip(widths, row, strict=True):
                page.text_at(x, self.y, width - 1.5, ROW, page.line_of(cell, width - 1.5))
                x += width
            self.y += ROW
            if index < len(details) and details[index]:
                self.paragraph(details[index], size=SMALL, indent=widths[0])


def draw_case_header(
    flow: Flow, report: FitReport, generated_on: datetime.date, therapist: str
) -> None:
    """The title, the case's facts and the panel of its three headline figures."""
    page = flow.page
    page.use(20, bold=True, colour=ACCENT)
    page.text_at(MARGIN, flow.y, WIDTH, 9, flow.title)
    flow.y += 11.5
    page.set_draw_color(*ACCENT)
    page.set_line_width(0.6)
    page.line(MARGIN, flow.y, MARGIN + WIDTH, flow.y)
    flow.y += 3.5
    label_w = 34.0
    rows = [
        [("Case reference", report.case_reference), ("Date", f"{generated_on:%Y-%m-%d}")],
        [("Planned protocol", report.protocol_name)],
        [
            ("Presenting problem", problem_words(report.problem_titles) or "not recorded"),
            ("Indication", INDICATION_LABELS[report.indication.status]),
        ],
        [("Therapist", therapist or "–"), ("Sessions available", str(report.sessions_available))],
        [("Content version", report.content_version)],
    ]
    for row in rows:
        cell_w = WIDTH / len(row)
        for column, (label, value) in enumerate(row):
            x = MARGIN + column * cell_w
            page.use(9, colour=MUTED)
            page.text_at(x, flow.y, label_w, 5.5, label)
            page.use(9.5, bold=True)
            value_w = cell_w - label_w - 3.0
            page.text_at(x + label_w, flow.y, value_w, 5.5, page.line_of(value, value_w))
        flow.y += 5.5
    flow.y += 3.0
    _panel(flow, report)


def _panel(flow: Flow, report: FitReport) -> None:
    """The three figures a supervisor looks at first: fit, alliance, outcome."""
    page = flow.page
    height = 17.0
    page.set_fill_color(*PANEL)
    page.rect(MARGIN, flow.y, WIDTH, height, style="F", round_corners=True, corner_radius=2)
    alliance, trend = alliance_figures(report)
    trend_words = "" if trend == "none" else f", {trend}"
    fit = "Contraindicated" if report.contraindicated else fit_value(report, "not enough answers")
    figures = [
        ("Overall fit", fit),
        (
            "Alliance (latest)",
            "not rated" if alliance is None else f"{round(alliance)} / 100{trend_words}",
        ),
        ("Outcome", OUTCOME_WORDS[case_outcome(report)]),
    ]
    column_w = WIDTH / len(figures)
    for index, (label, value) in enumerate(figures):
        x = MARGIN + 5 + index * column_w
        page.use(8.5, colour=MUTED)
        page.text_at(x, flow.y + 2.2, column_w - 6, 4.5, label)
        ruled_out = index == 0 and report.contraindicated
        page.use(13, bold=True, colour=SEVERITY_COLOUR["high"] if ruled_out else ACCENT)
        page.text_at(x, flow.y + 7.5, column_w - 6, 7, page.line_of(value, column_w - 6))
    flow.y += height + 2.0
    if report.contraindicated:
        flow.paragraph(contraindication_words(report), colour=SEVERITY_COLOUR["high"])
    done = report.completeness
    notes = [f"{done.percent}% of questions answered ({done.answered} of {done.total})"]
    if report.capped:
        notes.append("fit capped by a demand the patient cannot meet")
    flow.muted("; ".join(notes) + ".")


def draw_flags(flow: Flow, report: FitReport) -> None:
    flow.heading("Open flags", "by severity, with their theme")
    if not report.flags:
        flow.muted("No flags raised.")
        return
    page = flow.page
    severity_w, theme_w = 20.0, 56.0
    title_w = WIDTH - severity_w - theme_w - 3.0
    for severity in SEVERITIES:
        group = [f for f in report.flags if f.severity == severity]
        for index, flag in enumerate(group):
            page.use(BODY)
            lines = page.lines(flag.title, title_w, 2)
            flow.room(len(lines) * ROW)
            if index == 0:
                page.use(BODY, bold=True, colour=SEVERITY_COLOUR[severity])
                page.text_at(MARGIN, flow.y, severity_w, ROW, severity.capitalize())
            page.use(SMALL, colour=MUTED)
            theme = page.line_of(flag.theme_title, theme_w)
            page.text_at(MARGIN + WIDTH - theme_w, flow.y, theme_w, ROW, theme, align="R")
            page.use(BODY)
            for line in lines:
                page.text_at(MARGIN + severity_w, flow.y, title_w, ROW, line)
                flow.y += ROW


def _change_row(change: MeasureChange) -> list[str]:
    def score(value: int | None, band: str | None) -> str:
        return "–" if value is None else f"{value} ({band})"

    reliable = "–"
    if change.reliable_drop:
        reliable = "reliable drop"
    elif change.reliable_rise:
        reliable = "reliable rise"
    elif change.change is not None and change.reliable_change is not None:
        reliable = "not reliable"
    sessions = "–"
    if change.first_session is not None:
        sessions = f"{change.first_session} → {change.last_session}"
    return [
        change.short_name,
        score(change.first, change.first_band),
        score(change.last, change.last_band),
        sessions,
        "–" if change.change is None else f"{change.change:+d}",
        reliable,
    ]


def draw_outcomes(flow: Flow, report: FitReport) -> None:
    flow.heading("Outcomes", "first to last attended treatment session")
    outcomes = report.outcomes
    if outcomes is None:
        flow.muted("No sessions recorded yet.")
        return
    changes = [outcomes.depression, outcomes.anxiety]
    if outcomes.functioning is not None:
        changes.append(outcomes.functioning)
    flow.table(
        [18.0, 46.0, 46.0, 18.0, 17.0, WIDTH - 145.0],
        ["Measure", "First", "Last", "Sessions", "Change", "Reliable"],
        [_change_row(c) for c in changes],
    )
    flow.y += 2.0
    finished = "yes" if outcomes.finished else "no"
    referral = "ended" if outcomes.ended else "open"
    flow.muted(
        f"Finished course: {finished} (referral {referral}; "
        f"{outcomes.treatment_sessions_attended} attended treatment appointments). Reliable "
        f"improvement: {STATUS_WORDS[outcomes.reliable_improvement]}. "
        f"Recovery: {STATUS_WORDS[outcomes.recovery]}. Reliable recovery: "
        f"{STATUS_WORDS[outcomes.reliable_recovery]}. Reliable deterioration: "
        f"{STATUS_WORDS[outcomes.reliable_deterioration]}."
    )
    for note in outcomes.notes:
        flow.muted(note)


def _sessions(flow: Flow, sessions: list[SessionSummary]) -> None:
    flow.heading("Sessions", f"{len(sessions)} recorded")
    if not sessions:
        flow.muted("No sessions recorded yet.")
        return
    measures = list(dict.fromkeys(s.short_name for session in sessions for s in session.scores))
    fixed = [10.0, 22.0, 24.0, 30.0]
    alliance_w = 20.0
    measure_w = (WIDTH - sum(fixed) - alliance_w) / max(len(measures), 1)
    rows = []
    for session in sessions:
        scores = {s.short_name: s for s in session.scores}
        cells = []
        for name in measures:
            score = scores.get(name)
            if score is None:
                cells.append("–")
            elif score.total is None:
                cells.append(f"partial {score.answered}/{score.items}")
            else:
                cells.append(f"{score.total}{' (risk item)' if score.risk else ''}")
        alliance = session.alliance.score if session.alliance else None
        rows.append(
            [
                str(session.number),
                _text(session.date),
                session.kind.replace("_", "-"),
                session.attendance.replace("_", " "),
                *cells,
                "–" if alliance is None else f"{round(alliance)}",
            ]
        )
    flow.table(
        [*fixed, *[measure_w] * len(measures), alliance_w],
        ["#", "Date", "Kind", "Attendance", *measures, "Alliance"],
        rows,
    )


def _flag_history(flow: Flow, events: Sequence[Mapping[str, Any]]) -> None:
    flow.heading("Flag history", "raised and cleared by the engine; decided by people")
    if not events:
        flow.muted("No flag history recorded.")
        return
    rows = [
        [
            _text(e.get("at")),
            _text(e.get("title") or e.get("flag_id")),
            _text(e.get("event")),
            _text(e.get("severity")),
            _text(e.get("actor")),
        ]
        for e in events
    ]
    details = [f"Reason: {e['reason']}" if e.get("reason") else "" for e in events]
    flow.table(
        [34.0, WIDTH - 108.0, 27.0, 17.0, 30.0],
        ["When", "Flag", "Event", "Severity", "By"],
        rows,
        details,
    )


def _notes(flow: Flow, notes: Sequence[Mapping[str, Any]]) -> None:
    flow.heading("Supervision notes", f"{len(notes)} recorded")
    if not notes:
        flow.muted("No supervision notes yet.")
        return
    page = flow.page
    for note in notes:
        flow.room(2 * ROW + LINE)
        created, updated = note.get("created_at"), note.get("updated_at")
        edited = f" · edited {_text(updated)}" if updated and updated != created else ""
        meta = f"{_text(created)} · {_text(note.get('author'))}{edited}"
        page.use(BODY, bold=True)
        page.text_at(MARGIN, flow.y, WIDTH - 40, ROW, page.line_of(meta, WIDTH - 40))
        page.use(SMALL, bold=True, colour=ACCENT)
        status = f"Status: {_text(note.get('status'))}"
        page.text_at(MARGIN + WIDTH - 40, flow.y, 40, ROW, page.line_of(status, 40), align="R")
        flow.y += ROW
        flow.paragraph(_text(note.get("text")), colour=INK)
        if note.get("action"):
            flow.paragraph(f"Agreed action: {note['action']}", colour=ACCENT)
        page.set_draw_color(*RULE)
        page.set_line_width(0.2)
        flow.y += 1.5
        page.line(MARGIN, flow.y, MARGIN + WIDTH, flow.y)
        flow.y += 2.5


def new_document(title: str, generated_on: datetime.date, fonts: tuple[Path, Path] | None) -> Page:
    """An empty PDF with its title and, as creation date, the day it is for: same input, same
    bytes."""
    page = Page(fonts)
    page.set_title(title)
    page.set_creator("tailoring")
    page.set_lang("en")
    page.set_creation_date(
        datetime.datetime.combine(generated_on, datetime.time(), tzinfo=datetime.UTC)
    )
    return page


def case_review_pdf(
    report: FitReport,
    notes: list[dict[str, Any]],
    flag_history: list[dict[str, Any]],
    generated_on: datetime.date,
    therapist: str = "",
) -> bytes:
    """An A4 case review for supervision, as many pages as it needs; the same bytes each time."""
    page = new_document(f"Case review {report.case_reference}", generated_on, dejavu_fonts())
    flow = Flow(page, report.case_reference)
    flow.new_page()
    draw_case_header(flow, report, generated_on, therapist)
    draw_flags(flow, report)
    draw_outcomes(flow, report)
    _sessions(flow, report.sessions)
    _flag_history(flow, flag_history)
    _notes(flow, notes)
    return bytes(page.output())
