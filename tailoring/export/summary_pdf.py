"""The case summary PDF: fit, outcome charts over sessions, outcomes and flags, to file or share.

It draws its charts with fpdf2's own lines and shapes (no plotting library, no image files) and
shares the page flow, header, outcomes table and flag list with the case review
(export/review_pdf.py). Like every export it names the case by its pseudonymous reference only.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from itertools import pairwise

from tailoring.export.pdf_page import ACCENT, INK, MARGIN, MUTED, RULE, WIDTH, Page, dejavu_fonts
from tailoring.export.review_pdf import (
    SECTION_GAP,
    SMALL,
    Flow,
    draw_case_header,
    draw_flags,
    draw_outcomes,
    new_document,
)
from tailoring.model.measures import Measure
from tailoring.model.report import FitReport, SessionSummary

FOOTER = (
    "Supports clinical judgement; it does not assess risk or diagnose. "
    "Pseudonymous: no patient identifiers."
)
# The severity bands, mildest first: the tints of the app's timeline charts, the two most severe
# a little deeper so that they still differ on paper.
BAND_FILLS = [(232, 245, 233), (255, 253, 231), (255, 243, 224), (252, 228, 220), (250, 215, 220)]
CHART_H = 62.0
CHART_GAP = 8.0
AXIS_W = 7.0
TITLE_H = 5.5
X_LABELS_H = 4.5
TINY = 6.5
MAX_X_LABELS = 14
CAPTION = (
    "Dots: the total at each session where every item was answered. Dashed line: caseness "
    "(a total at or above it is at caseness). Shading: the measure's severity bands."
)


def _points(measure: Measure, sessions: Sequence[SessionSummary]) -> list[tuple[int, int]]:
    return [
        (s.number, score.total)
        for s in sessions
        for score in s.scores
        if score.measure_id == measure.id and score.total is not None
    ]


def _band_fill(index: int) -> tuple[int, int, int]:
    return BAND_FILLS[min(index, len(BAND_FILLS) - 1)]


def _legend(
    page: Page, x: float, y: float, width: float, measure: Measure, draw: bool = True
) -> float:
    """The bands as swatches with their names and ranges, wrapped to ``width``; its height.

    Below the chart rather than inside it, where the line of totals would run through them.
    """
    page.use(TINY, colour=MUTED)
    swatch, gap, row = 2.2, 2.5, 3.2
    at_x, at_y = x, y
    for index, band in enumerate(measure.bands):
        text = page.clean(f"{band.label} {band.min}–{band.max}")
        entry_w = swatch + 0.8 + page.width(text)
        if at_x > x and at_x + entry_w > x + width:
            at_x, at_y = x, at_y + row
        if draw:
            page.set_fill_color(*_band_fill(index))
            page.set_draw_color(*RULE)
            page.set_line_width(0.1)
            page.rect(at_x, at_y + 0.4, swatch, swatch, style="DF")
            page.text_at(at_x + swatch + 0.8, at_y, width, 3.0, page.line_of(text, width))
        at_x += entry_w + gap
    return at_y - y + row


def draw_measure_chart(
    page: Page,
    x: float,
    y: float,
    w: float,
    h: float,
    measure: Measure,
    sessions: Sequence[SessionSummary],
) -> None:
    """A measure's totals over session numbers, on its bands, with the caseness line."""
    page.use(9, bold=True)
    page.text_at(x, y, w, TITLE_H, page.line_of(f"{measure.short_name} total", w))
    left, top = x + AXIS_W, y + TITLE_H + 1.0
    width, height = w - AXIS_W - 1.0, h - TITLE_H - 1.0 - X_LABELS_H
    height -= _legend(page, left, y + h, width, measure, draw=False)
    _legend(page, left, top + height + X_LABELS_H, width, measure)
    low, high = measure.min_total, measure.max_total
    numbers = [s.number for s in sessions] or [1]
    first, last = min(numbers) - 0.5, max(numbers) + 0.5

    def at_x(number: float) -> float:
        return left + width * (number - first) / (last - first)

    def at_y(value: float) -> float:
        return top + height * (1 - (min(max(value, low), high) - low) / (high - low))

    for index, band in enumerate(measure.bands):
        page.set_fill_color(*_band_fill(index))
        upper, lower = at_y(band.max + 0.5), at_y(band.min - 0.5)
        page.rect(left, upper, width, lower - upper, style="F")
    page.use(TINY, colour=MUTED)
    for value in sorted({low, high, *(b.min for b in measure.bands)}):
        page.text_at(x, at_y(value) - 1.3, AXIS_W - 1.2, 2.6, str(value), align="R")
    page.set_draw_color(*RULE)
    page.set_line_width(0.2)
    page.rect(left, top, width, height)

    if measure.caseness is not None:
        line_y = at_y(measure.caseness - 0.5)
        page.set_draw_color(*INK)
        page.set_line_width(0.3)
        page.set_dash_pattern(dash=1.2, gap=0.9)
        page.line(left, line_y, left + width, line_y)
        page.set_dash_pattern()
        page.use(TINY, bold=True)
        label = f"caseness {measure.caseness}+"
        page.text_at(left, line_y - 2.9, width - 1.0, 2.6, label, align="R")

    labelled = sorted(set(numbers))
    step = -(-len(labelled) // MAX_X_LABELS)
    page.use(TINY, colour=MUTED)
    for number in labelled[::step]:
        page.text_at(at_x(number) - 4.0, top + height + 0.6, 8.0, 3.0, str(number), align="C")

    points = _points(measure, sessions)
    if not points:
        page.use(8, colour=MUTED)
        page.text_at(left, top + height / 2 - 2, width, 4, "Not recorded at any session yet.", "C")
        return
    page.set_draw_color(*ACCENT)
    page.set_fill_color(*ACCENT)
    page.set_line_width(0.5)
    placed = [(at_x(n), at_y(total)) for n, total in points]
    for (x1, y1), (x2, y2) in pairwise(placed):
        page.line(x1, y1, x2, y2)
    radius = 0.9
    for px, py in placed:
        page.ellipse(px - radius, py - radius, 2 * radius, 2 * radius, style="F")


def _timeline(flow: Flow, report: FitReport, measures: Sequence[Measure]) -> None:
    sessions = report.sessions
    aside = ""
    if sessions:
        aside = f"sessions {sessions[0].number}–{sessions[-1].number}, by session number"
    flow.heading("Outcome measures over sessions", flow.page.clean(aside))
    if not sessions:
        flow.muted("No sessions recorded yet.")
        return
    flow.room(CHART_H + 2 * SECTION_GAP)
    chart_w = (WIDTH - CHART_GAP * (len(measures) - 1)) / len(measures)
    for index, measure in enumerate(measures):
        x = MARGIN + index * (chart_w + CHART_GAP)
        draw_measure_chart(flow.page, x, flow.y, chart_w, CHART_H, measure, sessions)
    flow.y += CHART_H + 1.5
    flow.paragraph(CAPTION, size=SMALL)


def case_summary_pdf(
    report: FitReport,
    measures: Sequence[Measure],
    generated_on: datetime.date,
    therapist: str = "",
) -> bytes:
    """An A4 case summary: fit, the ``measures`` charted over sessions, outcomes and flags.

    ``measures`` are those to chart side by side (the case's depression and anxiety measures).
    It runs onto a second page only when the flags need it; the same bytes each time.
    """
    page = new_document(f"Case summary {report.case_reference}", generated_on, dejavu_fonts())
    flow = Flow(page, report.case_reference, title="Case summary", footer=FOOTER)
    flow.new_page()
    draw_case_header(flow, report, generated_on, therapist)
    _timeline(flow, report, measures)
    draw_outcomes(flow, report)
    draw_flags(flow, report)
    return bytes(page.output())
