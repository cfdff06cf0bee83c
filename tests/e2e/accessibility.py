"""axe-core scans of the running app, and the allow-list of findings from Streamlit's own markup.

``serious_findings`` runs axe-core (shipped inside ``axe-playwright-python``, so it works offline)
on the page as it stands and returns its serious and critical violations, one line per element,
leaving out only the findings of ``STREAMLIT_INTERNAL``: markup that Streamlit draws and the app
cannot change. Each entry names the rule, the region it is allowed in, why, and the upstream
reference; docs/accessibility.md says the same for people. An entry matches only inside its
region, so the same rule anywhere else (our own markdown lists, say) still fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

FAILING_IMPACTS = ("serious", "critical")


@dataclass(frozen=True)
class Allowed:
    """A finding that comes from Streamlit's own markup: the rule, and where it may occur."""

    rule: str
    within: str  # CSS selector: the element axe names is this one or inside it
    why: str
    upstream: str


# Streamlit 1.67: st.navigation with sections draws each section as a <div> (header and links)
# directly inside the <ul> of the sidebar menu, so the list holds divs and its <li>s have a div
# for a parent (frontend/app/src/components/Sidebar/SidebarNav.tsx and NavSection). No option
# of st.navigation changes the markup, and the sections are what make the menu readable.
NAV_UPSTREAM = (
    "streamlit/streamlit, frontend/app/src/components/Sidebar (SidebarNav, NavSection); "
    "no issue for this markup found in the issue archive searched on 2026-12-07; the open "
    "accessibility umbrella is streamlit/streamlit#8399"
)
STREAMLIT_INTERNAL: tuple[Allowed, ...] = (
    Allowed(
        "list",
        "[data-testid='stSidebarNavItems']",
        "the sidebar menu's <ul> holds a <div> per section (st.navigation with sections)",
        NAV_UPSTREAM,
    ),
    Allowed(
        "listitem",
        "[data-testid='stSidebarNavItems']",
        "each menu link's <li> sits in its section's <div>, not directly in the <ul>",
        NAV_UPSTREAM,
    ),
    Allowed(
        "scrollable-region-focusable",
        "[data-testid='stTable']",
        "st.table puts a table wider than the screen (the alternatives' nine columns, the flags "
        "of a case review, on a phone) in a box that scrolls sideways and has no tabindex, so "
        "Tab passes it by; letting words break to fit made those tables unreadable",
        "streamlit/streamlit, frontend/lib/src/components/elements/Table/Table.tsx (its scroll "
        "wrapper needs tabindex=0, a role and a name); no issue for it found in the issue "
        "archive searched on 2026-12-07",
    ),
)

# True when the element axe names (a CSS selector in the top document) is inside the region.
INSIDE = """([selector, region]) => {
  const element = document.querySelector(selector);
  return element !== null && element.closest(region) !== null;
}"""


@dataclass
class Scan:
    """Findings of one page state, and the allow-list entries that were used on it."""

    problems: list[str]
    allowed: set[Allowed]


def scan(page: Page) -> Scan:
    """axe-core's serious and critical findings on the page, less the allow-listed ones."""
    results = Axe().run(page).response
    problems: list[str] = []
    allowed: set[Allowed] = set()
    for violation in results["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        for node in violation["nodes"]:
            entry = _allowed(page, violation["id"], node["target"])
            if entry is not None:
                allowed.add(entry)
                continue
            messages = " ".join(check["message"] for check in [*node["any"], *node["all"]])
            problems.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} — "
                f"{' '.join(map(str, node['target']))}: {messages} {node['html'][:160]}"
            )
    return Scan(problems, allowed)


def _allowed(page: Page, rule: str, target: list) -> Allowed | None:
    # A target of one selector is in the top document; anything else (an iframe's element, a
    # shadow root) is never allow-listed.
    if len(target) != 1 or not isinstance(target[0], str):
        return None
    for entry in STREAMLIT_INTERNAL:
        if entry.rule == rule and page.evaluate(INSIDE, [target[0], entry.within]):
            return entry
    return None


def serious_findings(page: Page) -> list[str]:
    """The findings that fail a test: serious or critical, and not Streamlit's own."""
    return scan(page).problems
