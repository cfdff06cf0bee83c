"""The one-page session plan PDF that a clinician takes into the next session."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from tailoring.export.pdf_page import (
    ACCENT,
    BOTTOM,
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
    tidy,
)
from tailoring.export.pdf_page import to_latin1 as to_latin1
from tailoring.export.text import (
    contraindication_words,
    fit_value,
    practicalities,
    problem_words,
    with_where,
)
from tailoring.model.report import (
    AGENDA_KIND_LABELS,
    INDICATION_LABELS,
    SEVERITIES,
    AgendaItem,
    FitReport,
    Flag,
)

FOOTER = (
    "Supports clinical judgement; it does not assess risk or make a diagnosis. "
    "Contains no patient identifiers."
)
# Body text shrinks in these steps before anything is cut.
SCALES = (1.0, 0.92, 0.84)
MAX_FLAG_ROWS_WHEN_FULL = 8


@dataclass(frozen=True)
class _Type:
    """Font sizes (points) and spacing (millimetres) of the body at one scale."""

    scale: float
    heading: float
    title: float
    body: float
    small: float
    section_gap: float
    item_gap: float
    box: float

    @classmethod
    def at(cls, scale: float) -> _Type:
        return cls(
            scale=scale,
            heading=12.0 * scale,
            title=10.5 * scale,
            body=9.5 * scale,
            small=8.5 * scale,
            section_gap=5.0 * scale,
            item_gap=2.6 * scale,
            box=4.0 * scale,
        )

    def leading(self, size: float) -> float:
        return size * PT * 1.4

    @property
    def heading_h(self) -> float:
        return self.leading(self.heading) + 2.0 * self.scale


@dataclass(frozen=True)
class _Item:
    title: list[str]
    kind: str
    detail: list[str]


@dataclass(frozen=True)
class _FlagRow:
    severity: str
    first_of_severity: bool
    title: str
    theme: str


INDENT = 8.0
KIND_W = 44.0
SEVERITY_W = 20.0
THEME_W = 44.0


def _prepare_items(
    page: Page, items: list[AgendaItem], t: _Type, title_lines: int, detail_lines: int
) -> list[_Item]:
    title_w = WIDTH - INDENT - KIND_W - 3.0
    prepared = []
    for number, item in enumerate(items, start=1):
        page.use(t.title, bold=True)
        title = page.lines(f"{number}. {item.title}", title_w, title_lines)
        page.use(t.body)
        has_detail = bool(tidy(item.detail))
        detail = page.lines(item.detail, WIDTH - INDENT, detail_lines) if has_detail else []
        page.use(t.small)
        kind = page.line_of(AGENDA_KIND_LABELS.get(item.kind, item.kind), KIND_W)
        prepared.append(_Item(title, kind, detail))
    return prepared


def _item_height(item: _Item, t: _Type) -> float:
    return len(item.title) * t.leading(t.title) + len(item.detail) * t.leading(t.body) + t.item_gap


def _prepare_flags(page: Page, flags: list[Flag], t: _Type) -> list[_FlagRow]:
    rows = []
    for severity in SEVERITIES:
        group = [f for f in flags if f.severity == severity]
        for index, flag in enumerate(group):
            page.use(t.body)
            title = page.line_of(flag.title, WIDTH - SEVERITY_W - THEME_W - 3.0)
            page.use(t.small)
            theme = page.line_of(flag.theme_title, THEME_W)
            rows.append(_FlagRow(severity, index == 0, title, theme))
    return rows


def _flag_row_height(t: _Type) -> float:
    return t.leading(t.body) + 0.8 * t.scale


@dataclass(frozen=True)
class _Layout:
    type: _Type
    items: list[_Item]
    hidden_items: int
    flags: list[_FlagRow]
    hidden_flags: int


def _body_height(layout: _Layout) -> float:
    t = layout.type
    height = t.heading_h + sum(_item_height(i, t) for i in layout.items)
    if not layout.items or layout.hidden_items:
        height += t.leading(t.body) + t.item_gap
    height += t.section_gap + t.heading_h
    height += max(len(layout.flags), 1) * _flag_row_height(t)
    if layout.hidden_flags:
        height += _flag_row_height(t)
    return height


def _plan(page: Page, report: FitReport, room: float) -> _Layout:
    """Shrink the type first; if the page is still full, show fewer items and say how many."""
    for scale in SCALES:
        t = _Type.at(scale)
        items = _prepare_items(page, report.session_plan, t, title_lines=2, detail_lines=3)
        flags = _prepare_flags(page, report.flags, t)
        layout = _Layout(t, items, 0, flags, 0)
        if _body_height(layout) <= room:
            return layout
    # A full page trades detail for breadth: more items, each in fewer lines. Agenda items come
    # first; flags beyond the first few take only the room the agenda leaves.
    items = _prepare_items(page, report.session_plan, t, title_lines=1, detail_lines=2)

    def layout_with(item_count: int, flag_count: int) -> _Layout:
        return _Layout(
            t,
            items[:item_count],
            len(items) - item_count,
            flags[:flag_count],
            len(flags) - flag_count,
        )

    item_count, flag_count = 0, min(len(flags), MAX_FLAG_ROWS_WHEN_FULL)
    while item_count < len(items) and _body_height(layout_with(item_count + 1, flag_count)) <= room:
        item_count += 1
    while flag_count < len(flags) and _body_height(layout_with(item_count, flag_count + 1)) <= room:
        flag_count += 1
    return layout_with(item_count, flag_count)


def _draw_header(page: Page, report: FitReport, generated_on: datetime.date) -> float:
    y = TOP
    page.use(20, bold=True, colour=ACCENT)
    page.text_at(MARGIN, y, WIDTH, 9, "Session plan")
    y += 11.5
    page.set_draw_color(*ACCENT)
    page.set_line_width(0.6)
    page.line(MARGIN, y, MARGIN + WIDTH, y)
    y += 3.5

    label_w = 34.0
    rows = [
        [("Case reference", report.case_reference), ("Date", f"{generated_on:%Y-%m-%d}")],
        [("Planned protocol", report.protocol_name)],
        *([[("Practicalities", " · ".join(stated))]] if (stated := practicalities(report)) else []),
        [
            ("Presenting problem", problem_words(report.problem_titles) or "not recorded"),
            ("Indication", INDICATION_LABELS[report.indication.status]),
        ],
        [
            ("Sessions available", str(report.sessions_available)),
            ("Content version", report.content_version),
        ],
    ]
    for row in rows:
        cell_w = WIDTH / len(row)
        value_w = cell_w - label_w - 3.0
        for column, (label, value) in enumerate(row):
            x = MARGIN + column * cell_w
            page.use(9, colour=MUTED)
            page.text_at(x, y, label_w, 5.5, label)
            page.use(9.5, bold=True)
            page.text_at(x + label_w, y, value_w, 5.5, page.line_of(value, value_w))
        y += 5.5
    y += 3.0

    panel_h = 17.0
    page.set_fill_color(*PANEL)
    page.rect(MARGIN, y, WIDTH, panel_h, style="F", round_corners=True, corner_radius=2)
    page.use(8.5, colour=MUTED)
    page.text_at(MARGIN + 5, y + 2.2, 50, 4.5, "Overall fit")
    note_x = MARGIN + 70
    note_w = WIDTH - 75
    done = report.completeness
    notes = [f"{done.percent}% of questions answered ({done.answered} of {done.total})"]
    if report.capped:
        notes.append("Capped by a demand the patient cannot meet")
    if report.contraindicated:
        # The contraindication takes the figure's place, with its reason, as a high flag reads.
        page.use(14, bold=True, colour=SEVERITY_COLOUR["high"])
        page.text_at(MARGIN + 5, y + 7.0, 60, 8, "Contraindicated")
        page.use(9.5, bold=True, colour=SEVERITY_COLOUR["high"])
        notes = page.lines(contraindication_words(report), note_w, 3)
    elif report.overall_fit is None:
        page.use(11, bold=True)
        page.text_at(MARGIN + 5, y + 7.5, 60, 7, fit_value(report))
        page.use(9.5)
    else:
        page.use(17, bold=True, colour=ACCENT)
        page.text_at(MARGIN + 5, y + 7.0, 55, 8, fit_value(report))
        page.use(9.5)
    note_y = y + (panel_h - len(notes) * 5.2) / 2
    for note in notes:
        page.text_at(note_x, note_y, note_w, 5.2, page.line_of(note, note_w))
        note_y += 5.2
    return y + panel_h + 6.0


def _draw_heading(page: Page, y: float, t: _Type, text: str, aside: str = "") -> float:
    return draw_heading(page, y, text, aside, size=t.heading, aside_size=t.small, scale=t.scale)


def _draw_agenda(page: Page, y: float, layout: _Layout) -> float:
    t = layout.type
    y = _draw_heading(page, y, t, "Agenda", "tick each item as it is covered")
    for item in layout.items:
        title_h = t.leading(t.title)
        page.set_draw_color(*MUTED)
        page.set_line_width(0.3)
        page.rect(MARGIN, y + (title_h - t.box) / 2, t.box, t.box)
        page.use(t.small, colour=ACCENT)
        page.text_at(MARGIN + WIDTH - KIND_W, y, KIND_W, title_h, item.kind, align="R")
        page.use(t.title, bold=True)
        for line in item.title:
            page.text_at(MARGIN + INDENT, y, WIDTH - INDENT - KIND_W - 3.0, title_h, line)
            y += title_h
        page.use(t.body, colour=MUTED)
        for line in item.detail:
            page.text_at(MARGIN + INDENT, y, WIDTH - INDENT, t.leading(t.body), line)
            y += t.leading(t.body)
        y += t.item_gap
    page.use(t.body, colour=MUTED)
    if layout.hidden_items:
        note = f"+{layout.hidden_items} more in the app"
        page.text_at(MARGIN + INDENT, y, WIDTH - INDENT, t.leading(t.body), note)
        y += t.leading(t.body) + t.item_gap
    elif not layout.items:
        page.text_at(MARGIN, y, WIDTH, t.leading(t.body), "No agenda items yet.")
        y += t.leading(t.body) + t.item_gap
    return y


def _draw_flags(page: Page, y: float, layout: _Layout) -> float:
    t = layout.type
    y = _draw_heading(page, y + t.section_gap, t, "Flags", "by severity, with their theme")
    row_h = _flag_row_height(t)
    if not layout.flags:
        page.use(t.body, colour=MUTED)
        page.text_at(MARGIN, y, WIDTH, row_h, "No flags raised.")
        return y + row_h
    title_x = MARGIN + SEVERITY_W
    for row in layout.flags:
        if row.first_of_severity:
            page.use(t.body, bold=True, colour=SEVERITY_COLOUR[row.severity])
            page.text_at(MARGIN, y, SEVERITY_W, row_h, row.severity.capitalize())
        page.use(t.body)
        page.text_at(title_x, y, WIDTH - SEVERITY_W - THEME_W - 3.0, row_h, row.title)
        page.use(t.small, colour=MUTED)
        page.text_at(MARGIN + WIDTH - THEME_W, y, THEME_W, row_h, row.theme, align="R")
        y += row_h
    if layout.hidden_flags:
        page.use(t.body, colour=MUTED)
        note = f"+{layout.hidden_flags} more flags in the app"
        page.text_at(title_x, y, WIDTH - SEVERITY_W, row_h, note)
        y += row_h
    return y


def _draw_notes(page: Page, y: float) -> None:
    """Ruled lines for handwritten notes in whatever room is left."""
    y += 6.0
    if BOTTOM - y < 22.0:
        return
    page.use(10, bold=True, colour=MUTED)
    page.text_at(MARGIN, y, WIDTH, 5, "Notes")
    page.set_draw_color(*RULE)
    page.set_line_width(0.2)
    y += 12.0
    while y <= BOTTOM - 2:
        page.line(MARGIN, y, MARGIN + WIDTH, y)
        y += 8.0


def session_plan_pdf(report: FitReport, generated_on: datetime.date) -> bytes:
    """A one-page A4 session plan: the fit, the agenda with tick boxes, and the flags."""
    page = Page(dejavu_fonts())
    page.set_title("Session plan")
    page.set_creator("tailoring")
    page.set_lang("en")
    page.set_creation_date(
        datetime.datetime.combine(generated_on, datetime.time(), tzinfo=datetime.UTC)
    )
    page.add_page()
    report = report.model_copy(update={"session_plan": with_where(report)})
    y = _draw_header(page, report, generated_on)
    layout = _plan(page, report, BOTTOM - y)
    y = _draw_agenda(page, y, layout)
    y = _draw_flags(page, y, layout)
    _draw_notes(page, y)
    draw_footer(page, FOOTER)
    return bytes(page.output())
