"""Random sequences of what people do, in a real browser, checked against the database.

Shared by the bounded suite (tests/e2e/test_state_integrity.py, run by CI) and the long soak
(bench/state_soak.py). A sequence does what people do on one page — step changes, sidebar
navigation, answer clicks, text entry, reloads, a second tab on the same case — with delays
from 20 ms to 1 s, keeping a *model* of what the person gave: the stored answers at the start,
changed by every answer the page showed as given. At the end the database must equal the model,
and every widget on the screen must show what the database holds. Seeded: a failure replays.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Error, Page

from tailoring.model.answers import SocialAnswer, social_contradictions
from tests.e2e.conftest import (
    AppServer,
    key_class,
    new_page,
    screenshot,
    settle_paint,
    wait_ready,
)

REPO = Path(__file__).resolve().parents[2]
DEMO_CASE = REPO / "content" / "demo" / "demo-01.json"
STEPS = ["Preferences", "Social context", "Alliance check", "Fit report"]
TRI = ["yes", "no", "unsure"]
SIDEBAR_AWAY = "Timeline"

# Reads every checklist widget named by its key class: which radio or segment is checked, which
# pills are pressed, the text of a text area. Keys missing from the page are left out.
READ_WIDGETS = """(classes) => {
  const out = {};
  for (const cls of classes) {
    const box = document.querySelector("." + cls);
    if (!box) continue;
    const radios = [...box.querySelectorAll("input[type=radio]")];
    if (radios.length) { out[cls] = radios.findIndex((r) => r.checked); continue; }
    const segments = [...box.querySelectorAll("button[role=radio]")];
    if (segments.length) {
      out[cls] = segments.findIndex((b) => b.getAttribute("aria-checked") === "true");
      continue;
    }
    const pills = [...box.querySelectorAll("button[aria-pressed]")];
    if (pills.length) {
      out[cls] = pills.map((b, i) => b.getAttribute("aria-pressed") === "true" ? i : -1)
                      .filter((i) => i >= 0);
      continue;
    }
    const checkbox = box.querySelector("input[type=checkbox]");
    if (checkbox) { out[cls] = checkbox.checked; continue; }
    const text = box.querySelector("textarea");
    if (text) out[cls] = text.value;
  }
  return out;
}"""


def pause(rng: random.Random) -> float:
    """A delay between 20 ms and 1 s, spread evenly on a log scale (many fast, some slow)."""
    return math.exp(rng.uniform(math.log(0.02), math.log(1.0)))


@dataclass
class Widget:
    """One answer field as a widget: its key, and how a screen index maps to a stored value."""

    key: str
    options: list[Any]
    kind: str  # radio, segment, pills, text

    def shown(self, raw: Any) -> Any:
        """The value a widget shows, from what READ_WIDGETS found."""
        if self.kind == "text":
            return raw
        if self.kind == "pills":
            return sorted(self.options[i] for i in raw)
        return None if raw is None or raw < 0 else self.options[raw]


@dataclass
class Outcome:
    """What one sequence found: answers that differ from the model, widgets that differ."""

    seed: int
    actions: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    shown_wrong: list[str] = field(default_factory=list)
    # Answers changed by a click the sequence did not aim (see ``differs``): not counted.
    unaimed: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    # What each tab's browser saw happen: every click and radio change, with the widget it hit.
    events: list[str] = field(default_factory=list)

    def did(self, action: str) -> None:
        """Note an action, and the time of day it was done at (to line up with the server's
        log: bench/state_soak.py writes both for a sequence that differs)."""
        self.actions.append(action)
        self.times.append(datetime.now().strftime("%H:%M:%S.%f")[:-3])

    def timeline(self) -> str:
        return "\n".join(f"{t} {a}" for t, a in zip(self.times, self.actions, strict=True))

    def differs(self, spec: str, widget_key: str, given: Any, stored: Any) -> None:
        """The stored answer ``spec`` (of the widget ``widget_key``) is not the one given.

        Counted as lost, unless the sequence never aimed at it and its browser saw a real click
        land on it: a click Playwright made on a page that moved under the pointer (soak
        practice seed 9367: a step click whose action was tried again, on a page scrolled
        meanwhile, pressed a social answer's "No"; the app saved what was clicked). That is an
        answer the person gave, which the model could not know of; a widget that changed with
        no click on it is still counted.
        """
        line = f"{spec}: given {given!r}, stored {stored!r}"
        aimed = any(f"{spec}=" in action for action in self.actions)
        hit = f" click {key_class(widget_key)} "
        clicked = any(hit in event and not event.endswith("(script)") for event in self.events)
        if clicked and not aimed:
            self.unaimed.append(f"{line} (a click the sequence did not aim landed on it)")
        else:
            self.lost.append(line)

    @property
    def differences(self) -> int:
        return len(self.lost) + len(self.shown_wrong)

    def report(self) -> str:
        return (
            f"seed {self.seed}: {len(self.lost)} answers differ from what was given, "
            f"{len(self.shown_wrong)} widgets differ from the database\n"
            + "\n".join(self.lost + self.shown_wrong)
            + "".join(f"\nnot counted: {line}" for line in self.unaimed)
            + "\nactions: "
            + ", ".join(self.actions)
        )


class Checklist:
    """The walk-through's checklist widgets of one case, read from content."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.widgets: dict[tuple[str, str, str], Widget] = {}
        for item in lib.preferences:
            if item.kind == "scale":
                value = Widget(f"pref.{item.id}", [1, 2, 3, 4, 5], "radio")
            elif item.kind == "multi":
                value = Widget(f"pref.{item.id}", [o.id for o in item.options], "pills")
            else:
                value = Widget(f"pref.{item.id}", [o.id for o in item.options], "radio")
            self.widgets[("preferences", item.id, "value")] = value
            self.widgets[("preferences", item.id, "importance")] = Widget(
                f"pref.{item.id}.importance", list(range(len(lib.importance_labels))), "segment"
            )
        for domain in lib.social:
            base = f"social.{domain.id}"
            for name in ("present", "maintains", "helping"):
                self.widgets[("social", domain.id, name)] = Widget(f"{base}.{name}", TRI, "segment")
            if domain.details:
                self.widgets[("social", domain.id, "details")] = Widget(
                    f"{base}.details", [d.id for d in domain.details], "pills"
                )
            self.widgets[("social", domain.id, "note")] = Widget(f"{base}.note", [], "text")
        for a_item in lib.alliance:
            self.widgets[("alliance", a_item.id, "value")] = Widget(
                f"alliance.{a_item.id}", list(range(len(a_item.labels))), "radio"
            )

    def stored(self, answers: Any) -> dict[tuple[str, str, str], Any]:
        """Every field's stored value, as its widget would show it (unanswered: None / [] / "")."""
        values: dict[tuple[str, str, str], Any] = {}
        for (section, item_id, name), widget in self.widgets.items():
            answer = getattr(answers, section).get(item_id)
            value = None if answer is None else getattr(answer, name)
            if widget.kind == "pills":
                value = sorted(value or [])
            elif widget.kind == "text":
                value = value or ""
            values[(section, item_id, name)] = value
        return values

    def read(self, page: Page) -> dict[tuple[str, str, str], Any]:
        """What the widgets on the screen show, for those that are on it."""
        classes = {key_class(w.key): spec for spec, w in self.widgets.items()}
        raw = page.evaluate(READ_WIDGETS, list(classes))
        return {classes[c]: self.widgets[classes[c]].shown(v) for c, v in raw.items()}


def settle(page: Page) -> None:
    """Let every request in flight finish: idle, a pause for a late rerun, idle, drawn.

    A navigation the sequence started without waiting (a reload, the link typed again) may
    replace the document meanwhile: then start again on the new one.
    """
    for attempt in range(3):
        try:
            for _ in range(3):
                wait_ready(page, timeout=60_000)
                page.wait_for_timeout(700)
            wait_ready(page, timeout=60_000)
            settle_paint(page)
            return
        except Error as exc:
            if "Execution context was destroyed" not in str(exc) or attempt == 2:
                raise
            page.wait_for_load_state("domcontentloaded")


def new_demo_case(services: Any, reference: str) -> int:
    """A copy of demo case 1 (every preference answered), on the running app's database."""
    data = json.loads(DEMO_CASE.read_text(encoding="utf-8"))
    data["reference"] = reference
    data["step"] = "preferences"
    return int(services.import_case(json.dumps(data)))


WATCH_EVENTS = r"""(() => {
  const where = (el) => {
    const box = el.closest("[class*='st-key-']");
    const key = box ? [...box.classList].find((c) => c.startsWith("st-key-")) : "(no key)";
    const hit = el.closest("[data-testid='stRadioOption'], button, label, [role=tab], a") || el;
    const text = (hit.innerText || "").replace(/\s+/g, " ").trim().slice(0, 30);
    return `${key} ${hit.tagName.toLowerCase()} "${text}"`;
  };
  const send = (text) => {
    const at = new Date().toISOString().slice(11, 23);
    try { window.__tailoringEvent(`${at} ${text}`); } catch (e) {}
  };
  document.addEventListener("click", (e) => send(
    `click ${where(e.target)} at ${e.clientX},${e.clientY}${e.isTrusted ? "" : " (script)"}`
  ), true);
  // The page guard refused a click on the page being left (ui/style.py): noted apart.
  document.addEventListener("tailoring:refused", (e) => send(`refused ${where(e.detail)}`));
  document.addEventListener("change", (e) => {
    const input = e.target;
    if (input && input.type === "radio") send(`change ${where(input)} to ${input.value}`);
  }, true);
})();"""


def watched_page(browser: Browser, outcome: Outcome, tab: str) -> Page:
    """A new page whose clicks and radio changes are noted in ``outcome.events``, each with the
    widget it hit, so that a stray answer in the soak's trace shows whether a click made it."""
    page = new_page(browser)
    page.expose_function("__tailoringEvent", lambda text: outcome.events.append(f"{tab}: {text}"))
    page.add_init_script(WATCH_EVENTS)
    return page


def _click_quietly(target: Any) -> bool:
    """Click without waiting for anything after; False if the element was gone or covered."""
    try:
        target.click(timeout=1_500, no_wait_after=True)
    except Error:
        return False
    return True


@contextlib.contextmanager
def _closed_after(page: Page, outcome: Outcome) -> Iterator[None]:
    """A sequence's work on ``page``, whose context is closed after. A sequence that cannot go
    on carries its outcome so far on the exception, for the soak to write its trace."""
    try:
        yield
    except Exception as exc:
        exc.outcome = outcome  # type: ignore[attr-defined]
        raise
    finally:
        page.context.close()


def walkthrough_sequence(
    browser: Browser,
    server: AppServer,
    services: Any,
    seed: int,
    actions: int = 25,
    note: Callable[[str], None] | None = None,
) -> Outcome:
    """One random sequence on the walk-through of a fresh copy of demo case 1."""
    case_id = new_demo_case(services, f"SI-{seed:05d}")
    url = f"{server.url}/walkthrough?case={case_id}"
    outcome = _checklist_sequence(browser, services, seed, actions, case_id, url, "Walk-through")
    if note is not None:
        note(outcome.report() if outcome.differences else f"seed {seed}: ok")
    return outcome


def practice_sequence(
    browser: Browser, server: AppServer, services: Any, seed: int, actions: int = 25
) -> Outcome:
    """One random sequence on a new practice attempt, submitting and grading again on the way.

    The attempt starts empty; the person answers, changes steps, submits for feedback (on the
    last step) and grades again, goes away and back, reloads and opens a second tab.
    """
    rng = random.Random(seed)
    scenario = rng.choice(services.scenarios())
    attempt_id = services.start_attempt(scenario.id)
    url = f"{server.url}/practice?scenario={scenario.id}&attempt={attempt_id}"
    return _checklist_sequence(
        browser, services, seed, actions, attempt_id, url, "Practice", submit=True
    )


def _checklist_sequence(
    browser: Browser,
    services: Any,
    seed: int,
    actions: int,
    case_id: int,
    url: str,
    back_to: str,
    submit: bool = False,
) -> Outcome:
    """Random steps, answers, notes, visits away, reloads and second tabs on a checklist page."""
    rng = random.Random(seed)
    checklist = Checklist(services.content())
    model = checklist.stored(services.open_case(case_id).case.answers)
    outcome = Outcome(seed)
    page = watched_page(browser, outcome, "tab 1")
    taken_by_other_tab: set[tuple[str, str, str]] = set()
    kinds = ["step", "answer", "text", "away", "reload", "tab", "submit"]
    weights = [6, 8, 1, 1, 1, 1, 2 if submit else 0]
    with _closed_after(page, outcome):
        page.goto(url)
        wait_ready(page, since=0)
        for _ in range(actions):
            kind = rng.choices(kinds, weights)[0]
            if kind == "step":
                step = rng.randrange(len(STEPS))
                outcome.did(f"step {step + 1}")
                _click_quietly(
                    page.locator(f".{key_class('walk.step')} button[role=radio]").nth(step)
                )
            elif kind == "answer":
                for spec, value in _answer(page, rng, checklist, taken_by_other_tab).items():
                    if _refused(model, spec, value):
                        outcome.did(f"{'.'.join(spec)}={value} (refused)")
                        continue
                    model[spec] = value
                    outcome.did(f"{'.'.join(spec)}={value}")
            elif kind == "text":
                given = _type_note(page, rng, checklist, taken_by_other_tab)
                if given is not None:
                    spec, value = given
                    model[spec] = value
                    outcome.did(f"{'.'.join(spec)}=“{value}”")
            elif kind in ("away", "reload"):
                _away_or_reload(page, rng, kind, back_to, outcome)
            elif kind == "submit":
                _submit(page, outcome)
            else:
                outcome.did("second tab")
                other = _second_tab(browser, url, rng, checklist, outcome)
                if other is not None and not _refused(model, *other):
                    spec, value = other
                    model[spec] = value
                    taken_by_other_tab.add(spec)
                    outcome.actions[-1] += f" {'.'.join(spec)}={value}"
            time.sleep(pause(rng))
        settle(page)
        # A tab nobody touched since the second tab changed an answer still shows what it drew
        # (Streamlit pushes nothing; a change made there is refused as stale, with a notice):
        # its widgets are compared after the step clicks below, which draw the page again.
        idle_since_other_tab = outcome.actions[-1].startswith("second tab")
        _compare(
            outcome, checklist, model, services, case_id, page, widgets=not idle_since_other_tab
        )
        # Every step, at a person's pace: each widget shows what is stored.
        for step in range(3):
            control = page.locator(f".{key_class('walk.step')} button[role=radio]").nth(step)
            try:
                control.click()
            except Error:
                shot = screenshot(page, f"state-no-step-control-{outcome.seed}")
                outcome.did(f"no step control at {page.url} ({shot.name})")
                raise
            settle(page)
            _compare(outcome, checklist, model, services, case_id, page, f"step {step + 1}: ")
    return outcome


def _refused(
    model: dict[tuple[str, str, str], Any], spec: tuple[str, str, str], value: Any
) -> bool:
    """Whether the app refuses this change as the answer would then stand: a social-context
    answer that contradicts "present: no" (a detail recorded, or "keeps it going: yes"). The page
    says "Not saved" with the reason and shows the stored answer again, so the person's model
    keeps the stored one (the soak counted such a refusal as an answer lost)."""
    section, item_id, name = spec
    if section != "social":
        return False
    fields = {f: v for (s, i, f), v in model.items() if (s, i) == (section, item_id)}
    fields[name] = value
    answer = SocialAnswer.model_validate({f: v for f, v in fields.items() if v is not None})
    return bool(social_contradictions(answer, ""))


def _submit(page: Page, outcome: Outcome) -> None:
    """On the practice's last step: submit for feedback, or grade again; else go there first."""
    outcome.did("submit")
    buttons = page.get_by_role("button", name=re.compile("^(Submit for feedback|Grade again)"))
    try:
        visible = buttons.count() > 0 and buttons.first.is_visible()
    except Error:
        return
    if visible:
        _click_quietly(buttons.first)
    else:
        _click_quietly(
            page.locator(f".{key_class('walk.step')} button[role=radio]").nth(len(STEPS) - 1)
        )


def _reload(page: Page) -> None:
    """Press reload without waiting. While a run is in progress the app asks before the page
    goes (ui/style.py's page guard) and Playwright answers "stay", as a careful person does:
    the page then stays as it is."""
    with contextlib.suppress(Error):
        page.evaluate("location.reload()")


def _away_or_reload(
    page: Page, rng: random.Random, kind: str, back_to: str, outcome: Outcome
) -> None:
    """To another page by the sidebar and back to ``back_to``, or a reload, without waiting."""
    if kind == "reload":
        outcome.did("reload")
        _reload(page)
        return
    outcome.did("sidebar away and back")
    sidebar = page.get_by_test_id("stSidebarNav")
    _click_quietly(sidebar.get_by_role("link", name=SIDEBAR_AWAY))
    time.sleep(pause(rng))
    back = sidebar.get_by_role("link", name=back_to)
    if not _click_quietly(back):
        # On a busy machine the link can take longer than a quick click waits (the page away is
        # still loading): a person clicks again, and the rest of the sequence is on the page.
        outcome.did("back again")
        back.click(timeout=30_000, no_wait_after=True)


def _compare(
    outcome: Outcome,
    checklist: Checklist,
    model: dict[tuple[str, str, str], Any],
    services: Any,
    case_id: int,
    page: Page,
    where: str = "",
    widgets: bool = True,
) -> None:
    stored = checklist.stored(services.open_case(case_id).case.answers)
    if not where:
        for spec, value in model.items():
            if stored[spec] != value:
                key = checklist.widgets[spec].key
                outcome.differs(".".join(spec), key, value, stored[spec])
    for spec, value in checklist.read(page).items() if widgets else ():
        if stored[spec] != value:
            outcome.shown_wrong.append(
                f"{where}{'.'.join(spec)}: shown {value!r}, stored {stored[spec]!r}"
            )


def _visible(page: Page, checklist: Any, kinds: set[str]) -> list[tuple[str, str, str]]:
    present = checklist.read(page)
    return [s for s in present if checklist.widgets[s].kind in kinds]


def _answer(
    page: Page, rng: random.Random, checklist: Any, avoid: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Any]:
    """Choose another option of a radio or segment on the screen; what the page shows as given.

    A fast click can land on another widget than the one aimed at (the page is still drawing
    and moves under the pointer): whatever widget the screen shows changed is what the person
    gave, so every widget is read before and after the click.
    """
    try:
        before = checklist.read(page)
    except Error:
        return {}
    specs = [
        s for s in before if checklist.widgets[s].kind in ("radio", "segment") and s not in avoid
    ]
    if not specs:
        return {}
    spec = rng.choice(specs)
    widget = checklist.widgets[spec]
    value = rng.choice([v for v in widget.options if v != before[spec]])
    index = widget.options.index(value)
    box = page.locator(f".{key_class(widget.key)}").first
    if widget.kind == "radio":
        target = box.locator("[data-testid='stRadioOption']").nth(index)
    else:
        target = box.locator("button[role=radio]").nth(index)
    if not _click_quietly(target):
        return {}
    try:
        after = checklist.read(page)
    except Error:
        return {}
    return {
        s: v
        for s, v in after.items()
        if s in before and before[s] != v and s not in avoid and checklist.widgets[s].kind != "text"
    }


def _type_note(
    page: Page, rng: random.Random, checklist: Checklist, avoid: set[tuple[str, str, str]]
) -> tuple[tuple[str, str, str], Any] | None:
    """Type a note in a social-context box on the screen and leave it (which saves it)."""
    try:
        specs = [s for s in _visible(page, checklist, {"text"}) if s not in avoid]
    except Error:
        return None
    if not specs:
        return None
    spec = rng.choice(specs)
    text = rng.choice(["Stairs are hard", "Works nights", "Rent arrears", "Cares for mum"])
    area = page.locator(f".{key_class(checklist.widgets[spec].key)} textarea").first
    try:
        area.fill(text, timeout=1_500)
        area.press("Tab", timeout=1_500)
        shown = area.input_value(timeout=1_500)
    except Error:
        return None
    return (spec, text) if shown == text else None


def _second_tab(
    browser: Browser, url: str, rng: random.Random, checklist: Checklist, outcome: Outcome
) -> tuple[tuple[str, str, str], Any] | None:
    """Open the same case in a second tab, change one alliance answer there, close it."""
    other = watched_page(browser, outcome, "tab 2")
    try:
        other.goto(url)
        wait_ready(other, since=0)
        other.locator(f".{key_class('walk.step')} button[role=radio]").nth(2).click()
        settle(other)
        spec = rng.choice([s for s in checklist.widgets if s[0] == "alliance" and s[2] == "value"])
        widget = checklist.widgets[spec]
        current = checklist.read(other).get(spec)
        value = rng.choice([v for v in widget.options if v != current])
        box = other.locator(f".{key_class(widget.key)}").first
        box.locator("[data-testid='stRadioOption']").nth(widget.options.index(value)).click()
        settle(other)
        # A click the page refused (while a step was being left) gave nothing.
        return (spec, value) if checklist.read(other).get(spec) == value else None
    except Error:
        return None
    finally:
        other.context.close()


class SessionForm:
    """The Sessions page's widgets for one session: alliance check and measures, item by item."""

    def __init__(self, lib: Any, measures: list[Any]) -> None:
        self.widgets: dict[tuple[str, str, str], Widget] = {
            ("alliance", item.id, "value"): Widget(
                f"session.alliance.{item.id}", list(range(len(item.labels))), "radio"
            )
            for item in lib.alliance
        }
        self.tabs = {"alliance": "Alliance check"}
        for measure in measures:
            self.tabs[measure.id] = measure.short_name
            for item in measure.items:
                options: list[Any] = [o.value for o in measure.options]
                if item.not_applicable:
                    options.append("na")
                self.widgets[(measure.id, item.id, "value")] = Widget(
                    f"session.{measure.id}.{item.id}", options, "radio"
                )

    def stored(self, session: Any) -> dict[tuple[str, str, str], Any]:
        values: dict[tuple[str, str, str], Any] = {}
        for group, item_id, name in self.widgets:
            if group == "alliance":
                answer = session.alliance.get(item_id)
                values[(group, item_id, name)] = None if answer is None else answer.value
            else:
                values[(group, item_id, name)] = session.measures.get(group, {}).get(item_id)
        return values

    def read(self, page: Page) -> dict[tuple[str, str, str], Any]:
        """What the widgets of the tab on show say (hidden tabs are left out)."""
        classes = {key_class(w.key): spec for spec, w in self.widgets.items()}
        raw = page.evaluate(
            READ_WIDGETS.replace(
                "if (!box) continue;", "if (!box || box.offsetParent === null) continue;"
            ),
            list(classes),
        )
        return {classes[c]: self.widgets[classes[c]].shown(v) for c, v in raw.items()}


def session_case(services: Any, reference: str) -> int:
    """A copy of demo case 5, which has six recorded sessions."""
    data = json.loads((REPO / "content/demo/demo-05.json").read_text(encoding="utf-8"))
    data["reference"] = reference
    return int(services.import_case(json.dumps(data)))


def sessions_sequence(
    browser: Browser,
    server: AppServer,
    services: Any,
    seed: int,
    actions: int = 25,
) -> Outcome:
    """One random sequence on the Sessions page of a copy of demo case 5 (its last session)."""
    rng = random.Random(seed)
    lib = services.content()
    case_id = session_case(services, f"SS-{seed:05d}")
    case = services.open_case(case_id).case
    number = case.sessions[-1].number
    form = SessionForm(lib, services.recorded_measures(lib, case.anxiety_measure))

    def stored() -> dict[tuple[str, str, str], Any]:
        sessions = services.open_case(case_id).case.sessions
        return form.stored(next(s for s in sessions if s.number == number))

    model = stored()
    outcome = Outcome(seed)
    url = f"{server.url}/sessions?case={case_id}"
    page = watched_page(browser, outcome, "tab 1")
    with _closed_after(page, outcome):
        page.goto(url)
        wait_ready(page, since=0)
        for _ in range(actions):
            kind = rng.choices(["tab", "answer", "away", "reload"], [4, 8, 2, 1])[0]
            if kind == "tab":
                name = rng.choice(list(form.tabs.values()))
                outcome.did(f"tab {name}")
                _click_quietly(page.get_by_role("tab", name=name, exact=True))
            elif kind == "answer":
                for spec, value in _answer(page, rng, form, set()).items():
                    model[spec] = value
                    outcome.did(f"{'.'.join(spec)}={value}")
            else:
                _away_or_reload(page, rng, kind, "Sessions", outcome)
            time.sleep(pause(rng))
        settle(page)
        now = stored()
        for spec, value in model.items():
            if now[spec] != value:
                outcome.differs(".".join(spec), form.widgets[spec].key, value, now[spec])
        if not _on_sessions_page(page, outcome):
            return outcome
        for name in form.tabs.values():
            page.get_by_role("tab", name=name, exact=True).click()
            page.wait_for_timeout(200)
            for spec, value in form.read(page).items():
                if now[spec] != value:
                    outcome.shown_wrong.append(
                        f"{name}: {'.'.join(spec)}: shown {value!r}, stored {now[spec]!r}"
                    )
    return outcome


def _on_sessions_page(page: Page, outcome: Outcome) -> bool:
    """Before reading the form: the sessions page with its tabs, as the person expects it.

    A sidebar click taken while the page was reloading can leave the person on the page they
    went away to; they click Sessions again, as anyone would. A sessions page that draws no
    form (the blank page of issue 13) is a difference, with a screenshot.
    """
    tabs = page.get_by_role("tab")
    with contextlib.suppress(Error):
        tabs.first.wait_for(timeout=10_000)
    if tabs.count():
        return True
    if "/sessions" not in page.url:
        outcome.did("back to Sessions by the sidebar")
        _click_quietly(page.get_by_test_id("stSidebarNav").get_by_role("link", name="Sessions"))
        settle(page)
        with contextlib.suppress(Error):
            tabs.first.wait_for(timeout=10_000)
        if tabs.count():
            return True
    shot = screenshot(page, f"state-sessions-no-form-{outcome.seed}")
    outcome.shown_wrong.append(f"the sessions page drew no form at {page.url} ({shot.name})")
    return False


REVIEW_TABS = ["Flags", "Supervision notes", "Fit report", "Timeline"]
DECISIONS = {"acknowledged": "Acknowledge", "resolved": "Resolve", "reopened": "Reopen"}
NEXT = {
    "raised": ("acknowledged", "resolved"),
    "reopened": ("acknowledged", "resolved"),
    "acknowledged": ("resolved", "reopened"),
    "resolved": ("reopened",),
    "cleared": ("resolved", "reopened"),
}


def review_sequence(
    browser: Browser, server: AppServer, services: Any, seed: int, actions: int = 20
) -> Outcome:
    """One random sequence on the case review of a fresh copy of demo case 1.

    Notes and flag decisions are forms: each is filled and sent at a person's pace (the model
    counts it once the page has run), while tab changes, visits away, reloads and a second tab
    adding a note come fast in between. The database must hold every note once and every
    decision once; the notes tab must show exactly the stored notes.
    """
    rng = random.Random(seed)
    case_id = new_demo_case(services, f"RV-{seed:05d}")
    decisions_before = len(_decisions(services, case_id))
    notes: list[str] = []
    decided: list[tuple[str, str]] = []
    outcome = Outcome(seed)
    url = f"{server.url}/review?case={case_id}"
    page = watched_page(browser, outcome, "tab 1")
    with _closed_after(page, outcome):
        page.goto(url)
        wait_ready(page, since=0)
        for n in range(actions):
            kind = rng.choices(
                ["tab", "note", "decide", "away", "reload", "second"], [6, 3, 3, 1, 1, 1]
            )[0]
            if kind == "tab":
                name = rng.choice(REVIEW_TABS)
                outcome.did(f"tab {name}")
                _click_quietly(page.get_by_role("tab", name=name, exact=True))
            elif kind in ("note", "second"):
                text = f"Note {seed}-{n}: agreed to revisit the pace"
                target = page if kind == "note" else watched_page(browser, outcome, "tab 2")
                outcome.did(("note " if kind == "note" else "second tab note ") + text)
                try:
                    if _add_note(target, url if kind == "second" else None, text):
                        notes.append(text)
                finally:
                    if target is not page:
                        target.context.close()
            elif kind == "decide":
                made = _decide(page, rng, services, case_id, f"Reason {seed}-{n}")
                if made is not None:
                    decided.append(made)
                    outcome.did(f"decide {made[0]}={made[1]}")
            else:
                _away_or_reload(page, rng, kind, "Case review", outcome)
            time.sleep(pause(rng))
        settle(page)
        stored_notes = sorted(note.text for note in services.notes(case_id))
        if stored_notes != sorted(notes):
            outcome.lost.append(f"notes: given {sorted(notes)!r}, stored {stored_notes!r}")
        made = [(e.flag_id, e.event) for e in _decisions(services, case_id)[decisions_before:]]
        if made != decided:
            outcome.lost.append(f"decisions: given {decided!r}, stored {made!r}")
        # A page shows what was stored when it last ran: the person's next click (here the
        # sidebar's link to this page) brings in what the second tab added.
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Case review").click()
        settle(page)
        page.get_by_role("tab", name="Supervision notes", exact=True).click()
        settle(page)
        shown = sorted(
            t.strip()
            for t in page.locator("[class*='st-key-review-note-'] [data-testid=stText]")
            .filter(has_text="Note ")
            .all_inner_texts()
        )
        if shown != stored_notes:
            outcome.shown_wrong.append(f"notes: shown {shown!r}, stored {stored_notes!r}")
    return outcome


def _decisions(services: Any, case_id: int) -> list[Any]:
    return [e for e in services.flag_history(case_id) if e.event in DECISIONS]


def _add_note(page: Page, url: str | None, text: str) -> bool:
    """Write a note and add it, at a person's pace; True once the page has run the form."""
    try:
        if url is not None:
            page.goto(url)
            wait_ready(page, since=0)
        settle(page)
        page.get_by_role("tab", name="Supervision notes", exact=True).click()
        page.locator(f".{key_class('review.note.text')} textarea").fill(text)
        page.locator(f".{key_class('review.note.add')} button").click()
        settle(page)
    except Error:
        return False
    return True


def _decide(
    page: Page, rng: random.Random, services: Any, case_id: int, reason: str
) -> tuple[str, str] | None:
    """Record a decision allowed for a random flag, at a person's pace; None if not sent."""
    statuses = services.flag_statuses(case_id)
    if not statuses:
        return None
    chosen = rng.choice(statuses)
    decision = rng.choice(NEXT[chosen.status])
    try:
        settle(page)
        page.get_by_role("tab", name="Flags", exact=True).click()
        form = page.get_by_test_id("stForm").filter(has_text="Record a decision about a flag")
        _choose(page, form.get_by_test_id("stSelectbox").nth(0), chosen.title)
        _choose(page, form.get_by_test_id("stSelectbox").nth(1), DECISIONS[decision])
        page.locator(f".{key_class('review.decide.reason')} input").fill(reason)
        page.locator(f".{key_class('review.decide.record')} button").click()
        settle(page)
    except Error:
        return None
    return (chosen.flag_id, decision)


def _choose(page: Page, selectbox: Any, starts_with: str) -> None:
    selectbox.click()
    page.get_by_role("option").filter(has_text=starts_with).first.click()


class PatientForm:
    """The patient page's widgets for one link: a radio per question (and its importance), a
    checkbox per choice of a question with several answers, a text box per open question."""

    def __init__(self, questions: list[Any], levels: int) -> None:
        self.questions = {q.key: q for q in questions}
        self.widgets: dict[tuple[str, str, str], Widget] = {}
        for q in questions:
            key = f"patient.{q.key}"
            if q.kind == "open":
                self.widgets[(q.key, "", "value")] = Widget(key, [], "text")
            elif q.multiple:
                for c in q.choices:
                    self.widgets[(q.key, str(c.value), "ticked")] = Widget(
                        f"{key}.{c.value}", [], "checkbox"
                    )
            else:
                self.widgets[(q.key, "", "value")] = Widget(
                    key, [c.value for c in q.choices], "radio"
                )
            if q.importance:
                self.widgets[(q.key, "", "importance")] = Widget(
                    f"{key}.importance", list(range(levels)), "radio"
                )

    def tick(
        self, model: dict[tuple[str, str, str], Any], spec: tuple[str, str, str], on: bool
    ) -> None:
        """A box ticked or unticked, with the page's rule: "none of these" and the others
        exclude each other (the last tick wins)."""
        model[spec] = on
        exclusive = self.questions[spec[0]].exclusive
        if not on or exclusive is None:
            return
        for other in self.widgets:
            same_question = other[0] == spec[0] and other != spec and other[2] == "ticked"
            if same_question and str(exclusive) in (spec[1], other[1]):
                model[other] = False

    def stored(self, answers: dict[str, dict[str, Any]]) -> dict[tuple[str, str, str], Any]:
        values: dict[tuple[str, str, str], Any] = {}
        for spec, widget in self.widgets.items():
            payload = answers.get(spec[0]) or {}
            if widget.kind == "checkbox":
                values[spec] = any(str(v) == spec[1] for v in payload.get("value") or [])
            elif widget.kind == "text":
                values[spec] = payload.get("value") or ""
            else:
                values[spec] = payload.get(spec[2])
        return values

    def read(self, page: Page) -> dict[tuple[str, str, str], Any]:
        classes = {key_class(w.key): spec for spec, w in self.widgets.items()}
        raw = page.evaluate(READ_WIDGETS, list(classes))
        return {
            classes[c]: v
            if self.widgets[classes[c]].kind == "checkbox"
            else self.widgets[classes[c]].shown(v)
            for c, v in raw.items()
        }


def patient_sequence(
    browser: Browser, server: AppServer, services: Any, seed: int, actions: int = 25
) -> Outcome:
    """One random sequence on a patient's questionnaire (preferences) for a fresh case.

    The patient answers radios, ticks and unticks boxes, writes in a text box, moves between
    its pages (Next, Back, and Change on the answers to check), reloads (which asks for the
    link again: it is opened again, as from the message) and opens the link in a second tab to
    answer one question there. Every answer the page showed as given must be stored, and every
    widget must show what is stored.
    """
    rng = random.Random(seed)
    case_id = services.new_case(f"PS-{seed:05d}", "cbt_depression", 12)
    link, code = services.create_patient_link(case_id, {"preferences": None})
    levels = len(services.patient_wording().importance.labels)
    form = PatientForm(services.patient_questions(link), levels)
    model = form.stored({})
    outcome = Outcome(seed)
    url = f"{server.url}/patient?code={code}"
    page = watched_page(browser, outcome, "tab 1")
    taken_by_other_tab: set[tuple[str, str, str]] = set()
    kinds = ["answer", "tick", "text", "move", "reload", "tab"]
    with _closed_after(page, outcome):
        page.goto(url)
        wait_ready(page, since=0)
        for _ in range(actions):
            kind = rng.choices(kinds, [8, 3, 1, 3, 1, 1])[0]
            if kind == "answer":
                for spec, value in _answer(page, rng, form, taken_by_other_tab).items():
                    model[spec] = value
                    outcome.did(f"{'.'.join(spec)}={value}")
            elif kind == "tick":
                for spec, value in _tick(page, rng, form).items():
                    form.tick(model, spec, value)
                    outcome.did(f"{'.'.join(spec)}={value}")
            elif kind == "text":
                given = _type_note(page, rng, form, set())
                if given is not None:
                    model[given[0]] = given[1]
                    outcome.did(f"{'.'.join(given[0])}=“{given[1]}”")
            elif kind == "move":
                moved = _move(page, rng)
                if moved is not None:
                    outcome.did(f"tap {moved}")
            elif kind == "tab":
                outcome.did("second tab")
                for spec, value in _patient_second_tab(browser, url, rng, form, outcome).items():
                    model[spec] = value
                    taken_by_other_tab.add(spec)
                    outcome.actions[-1] += f" {'.'.join(spec)}={value}"
            else:
                outcome.did("reload and open the link again")
                _reload(page)
                time.sleep(pause(rng))
                with contextlib.suppress(Error):
                    page.evaluate("(url) => { location.href = url; }", url)
            time.sleep(pause(rng))
        settle(page)
        stored = form.stored(services.patient_link_answers(link.id))
        for spec, value in model.items():
            if stored[spec] != value:
                outcome.differs(".".join(spec), form.widgets[spec].key, value, stored[spec])
        shown = True
        if outcome.actions[-1].startswith("second tab"):
            # A tab nobody touched since the second tab answered still shows what it drew
            # (Streamlit pushes nothing): a tap that runs it again draws the newer answers.
            shown = _move(page, rng) is not None
            settle(page)
        for spec, value in form.read(page).items() if shown else ():
            if stored[spec] != value:
                outcome.shown_wrong.append(
                    f"{'.'.join(spec)}: shown {value!r}, stored {stored[spec]!r}"
                )
    return outcome


def _patient_second_tab(
    browser: Browser, url: str, rng: random.Random, form: PatientForm, outcome: Outcome
) -> dict[tuple[str, str, str], Any]:
    """Open the same link in a second tab (where a fresh visit starts), answer one question
    there, close it; what that tab showed as given."""
    other = watched_page(browser, outcome, "tab 2")
    try:
        other.goto(url)
        wait_ready(other, since=0)
        before = form.read(other)
        _answer(other, rng, form, set())
        settle(other)
        # Read once the tab is idle: a click that seemed to fail may still have answered.
        after = form.read(other)
        return {s: v for s, v in after.items() if s in before and before[s] != v}
    except Error:
        return {}
    finally:
        other.context.close()


def _move(page: Page, rng: random.Random) -> str | None:
    """Tap one of the buttons that move between the patient's screens (never "I have
    finished"), at once; which one, or None when none showed."""
    try:
        keys = page.evaluate(
            """() => [...document.querySelectorAll("[class*='st-key-patient-']")]
              .map((e) => [...e.classList].find((c) => c.startsWith("st-key-patient-")))
              .filter((c) => /^st-key-patient-(next|back|change-|go-)/.test(c))"""
        )
    except Error:  # the link was being opened again (patient soak seed 9319): nothing tapped
        return None
    if not keys:
        return None
    chosen = rng.choice(sorted(set(keys)))
    if not _click_quietly(page.locator(f".{chosen} button").first):
        return None
    return chosen.removeprefix("st-key-")


def _tick(page: Page, rng: random.Random, form: PatientForm) -> dict[tuple[str, str, str], Any]:
    """Tick or untick one box on the screen; every box the screen shows changed."""
    try:
        before = form.read(page)
    except Error:
        return {}
    specs = [s for s in before if form.widgets[s].kind == "checkbox"]
    if not specs:
        return {}
    spec = rng.choice(specs)
    box = page.locator(f".{key_class(form.widgets[spec].key)} label").first
    if not _click_quietly(box):
        return {}
    try:
        after = form.read(page)
    except Error:
        return {}
    return {s: v for s, v in after.items() if s in before and before[s] != v}
