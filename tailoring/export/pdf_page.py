"""The A4 page shared by the PDF exports: fonts, geometry, colours and text helpers."""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

from fpdf import FPDF

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
)

# Page geometry in millimetres (A4 portrait).
PAGE_W, PAGE_H = 210.0, 297.0
MARGIN, TOP = 18.0, 16.0
WIDTH = PAGE_W - 2 * MARGIN
FOOTER_Y = PAGE_H - 15.0
BOTTOM = FOOTER_Y - 4.0
PT = 0.3528  # millimetres per point

INK = (33, 37, 41)
MUTED = (98, 106, 116)
ACCENT = (26, 92, 110)
RULE = (200, 205, 210)
PANEL = (238, 243, 245)
SEVERITY_COLOUR = {"high": (150, 36, 40), "medium": (150, 96, 0), "low": (55, 100, 130)}

# Typographic quotes and dashes have plain equivalents in latin-1; other characters outside it
# are reduced to their base letter (ő → o) or dropped.
_ASCII = str.maketrans(
    {
        "–": "-",
        "—": "-",
        "‑": "-",
        "−": "-",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "≥": ">=",
        "≤": "<=",
        "…": "...",
        "•": "-",
    }
)


@functools.cache
def dejavu_fonts() -> tuple[Path, Path] | None:
    """Paths of DejaVu Sans regular and bold, or None when the system has no copy."""
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def to_latin1(text: str) -> str:
    """Text that the core PDF fonts can print: typographic marks made plain, the rest dropped."""
    out = []
    for char in text.translate(_ASCII):
        if ord(char) < 256:
            out.append(char)
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            out.append("".join(c for c in decomposed if ord(c) < 128))
    return "".join(out)


def tidy(text: str) -> str:
    """One line of printable text: newlines, tabs and control characters become single spaces."""
    printable = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(printable.split())


class Page(FPDF):
    """An A4 page that knows its font and how to make text printable with it."""

    def __init__(self, fonts: tuple[Path, Path] | None) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.set_margins(MARGIN, TOP, MARGIN)
        self.c_margin = 0
        self.unicode = fonts is not None
        if fonts is not None:
            self.add_font("DejaVu", "", str(fonts[0]))
            self.add_font("DejaVu", "B", str(fonts[1]))
            self.family_name, self.ellipsis = "DejaVu", "…"
        else:
            self.family_name, self.ellipsis = "helvetica", "..."
        self._glyph_widths: dict[tuple[str, str], float] = {}

    def clean(self, text: str) -> str:
        return tidy(text if self.unicode else to_latin1(text))

    def use(self, size: float, bold: bool = False, colour: tuple[int, int, int] = INK) -> None:
        self.set_font(self.family_name, "B" if bold else "", size)
        self.set_text_color(*colour)

    def lines(self, text: str, width: float, max_lines: int) -> list[str]:
        """Text wrapped to width in the current font, cut with an ellipsis after max_lines."""
        wrapped = self._wrap(self.clean(text), width, limit=max_lines + 1)
        if len(wrapped) <= max_lines:
            return wrapped or [""]
        rest = " ".join(wrapped[max_lines - 1 :])
        return [*wrapped[: max_lines - 1], self.clip(rest, width)]

    def line_of(self, text: str, width: float) -> str:
        return self.clip(self.clean(text), width)

    def width(self, text: str) -> float:
        """Width of text in the current font, from cached glyph widths.

        Without text shaping, fpdf2 adds up glyph widths too; measuring each glyph once keeps
        wrapping long text fast.
        """
        size, style = self.font_size_pt, self.font_style
        total = 0.0
        for char in text:
            key = (style, char)
            if key not in self._glyph_widths:
                self._glyph_widths[key] = self.get_string_width(char) / size
            total += self._glyph_widths[key]
        return total * size

    def clip(self, text: str, width: float) -> str:
        """Text cut to width with an ellipsis, letter by letter so one long word still fills it."""
        if self.width(text) <= width:
            return text
        return self._prefix(text, width, self.ellipsis).rstrip() + self.ellipsis

    def _prefix(self, text: str, width: float, suffix: str = "") -> str:
        """The longest start of text that fits width with suffix after it (at least a letter)."""
        low, high = 1, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if self.width(text[:middle].rstrip() + suffix) <= width:
                low = middle
            else:
                high = middle - 1
        return text[:low]

    def _wrap(self, text: str, width: float, limit: int) -> list[str]:
        """Greedy word wrap that stops after limit lines.

        fpdf2's own line breaker re-measures the line for every letter, which is slow on long text.
        """
        space = self.width(" ")
        lines: list[str] = []
        current, current_w = "", 0.0
        for word in text.split(" "):
            word_w = self.width(word)
            if current and current_w + space + word_w <= width:
                current, current_w = f"{current} {word}", current_w + space + word_w
                continue
            if current:
                lines.append(current)
            while word_w > width and len(lines) < limit:
                head = self._prefix(word, width)
                lines.append(head)
                word = word[len(head) :]
                word_w = self.width(word)
            if len(lines) >= limit:
                return lines[:limit]
            current, current_w = word, word_w
        if current:
            lines.append(current)
        return lines[:limit]

    def text_at(
        self, x: float, y: float, width: float, height: float, text: str, align: str = "L"
    ) -> None:
        self.set_xy(x, y)
        self.cell(width, height, text, align=align)


def draw_heading(
    page: Page,
    y: float,
    text: str,
    aside: str = "",
    size: float = 12.0,
    aside_size: float = 8.5,
    scale: float = 1.0,
) -> float:
    """A section heading in the accent colour over a thin rule; returns the y below it."""
    leading = size * PT * 1.4
    page.use(size, bold=True, colour=ACCENT)
    page.text_at(MARGIN, y, WIDTH, leading, text)
    if aside:
        page.use(aside_size, colour=MUTED)
        page.text_at(MARGIN, y, WIDTH, leading, aside, align="R")
    line_y = y + leading + 0.4
    page.set_draw_color(*RULE)
    page.set_line_width(0.25)
    page.line(MARGIN, line_y, MARGIN + WIDTH, line_y)
    return y + leading + 2.0 * scale


def draw_footer(page: Page, text: str, aside: str = "") -> None:
    """The rule and small print at the foot of a page, with an optional right-hand aside."""
    page.set_draw_color(*RULE)
    page.set_line_width(0.25)
    page.line(MARGIN, FOOTER_Y, MARGIN + WIDTH, FOOTER_Y)
    page.use(7.5, colour=MUTED)
    page.text_at(MARGIN, FOOTER_Y + 1.5, WIDTH, 4, text)
    if aside:
        page.text_at(MARGIN, FOOTER_Y + 1.5, WIDTH, 4, aside, align="R")
