"""The app's own CSS: only what Streamlit's theme options cannot set, each rule with its reason."""

from __future__ import annotations

import streamlit as st

# Streamlit draws captions in the text colour at 60 % (#828180 on white: 3.9:1), below the 4.5:1
# WCAG 1.4.3 asks of text this size. #55575d reads at 7.2:1 on white and 6.4:1 on the sidebar's
# grey, and still looks quieter than body text. There is no theme option for it.
READABLE_CAPTIONS = '[data-testid="stCaptionContainer"] { color: #55575d; opacity: 1; }'

# Practice: the vignette beside the checklist stays in view while the checklist scrolls (on a
# screen wide enough for two columns; Streamlit stacks them below 640 px). Its box sticks under
# the app's header (60 px) and scrolls by itself when taller than the window. A sticky box stops
# at the end of its column, which ends with the checklist: the checklist's column keeps half a
# window of room below its last item, so the box's top stays in view while the last items are
# answered (it slid out above the window there).
PRACTICE_VIGNETTE = """
@media (min-width: 641px) {
  [data-testid="stLayoutWrapper"]:has(> .st-key-practice-vignette) {
    position: sticky;
    top: 4rem;
    z-index: 1;
  }
  .st-key-practice-vignette {
    max-height: calc(100vh - 5rem);
    overflow-y: auto;
  }
  [data-testid="stColumn"]:has(.st-key-practice-vignette) + [data-testid="stColumn"] {
    padding-bottom: 50vh;
  }
}"""

APP_CSS = f"""
<style>
{READABLE_CAPTIONS}
{PRACTICE_VIGNETTE}
/* The container that carries this style takes no room (not even the gap around it). */
.st-key-app-style, [data-testid="stLayoutWrapper"]:has(> .st-key-app-style) {{ display: none; }}
/* The page guard's "moving" (below): what is left of the page or view being left takes no clicks
   until the next one has run: all of the page before that run starts, then what it has not drawn
   again (Streamlit's "stale"). Streamlit marks nothing stale before the run starts and fades
   stale elements only after a while, so a click refused then showed nothing (a screenshot 0.3 s
   after a refused click looked untouched): the same parts fade here after 0.2 s, not so soon
   that a quick change flickers. */
html.tailoring-moving [data-testid="stMain"] {{ cursor: progress; }}
html.tailoring-moving [data-testid="stApp"]:not([data-test-script-state="running"])
  [data-testid="stMain"],
html.tailoring-moving [data-testid="stMain"] [data-stale="true"] {{
  opacity: 0.6; transition: opacity 0.1s linear 0.2s;
}}
</style>
<span></span>
"""


# An answer is sent to the server a moment after the click that gives it: the widget draws the
# new value first, and Streamlit sends it from an effect React runs after drawing (checked in
# Chromium: nothing is sent in the click's own task). A reload or a click on another page in
# that moment overtook the answer (issue 13, the soak):
# - a reload let the page go before the answer was sent, or before its run had saved it
#   (sessions seeds 5106, 5111, 9006);
# - a click in the sidebar's page list asked for the other page first: the answer then asked
#   for the page it was given on again, and the person stayed where they were; or the two
#   requests reached the server together and were folded into one run of the other page, which
#   dropped the answer's widget before its callback could run (sessions seed 9111, three
#   measure items; 3 of 5 tries in a browser with both clicks in one task). Sent in turn, but
#   before the answer's run had started, they were folded the same way.
# So the page notes when a control was used, when an answer was last sent (a "rerun" message),
# and, read from the socket, when the server began a run (its "new session" message) and when it
# said a run had *finished* (its "script finished" message, not "stopped for a rerun"). An answer
# counts as saved once a run heard to start after it has finished. The page's script state
# cannot tell: it reads "not running" both after a finished run and between a run stopped for a
# newer click and that click's run, which a busy server took over a second to start (sessions
# soak seed 9536: two answers in that gap, the page looked idle, a reload closed the session
# before their run).
# - A click on a page link waits (at most 8 s) until what was given has been saved so; a click
#   that changes the view of the same page (a step, a page of the patient's questions) waits
#   until it has been sent, so that its message carries the answer and one run saves both.
# - Leaving or reloading asks first, with the browser's own "changes you made may not be saved",
#   while a run is in progress, while a given answer is not yet saved as above, and while text
#   typed into a box has not been sent (Streamlit sends it when the box is left).
# - Once such a click has sent its message, what is left of the page or view being left (the
#   elements Streamlit marks "stale" and fades, not yet drawn again by the next run) takes no
#   more clicks until the next one has run: an answer given there reached the server after its
#   widget had gone, and no callback ran (practice soak seeds 9542 and 9547, after a page link;
#   patient seed 9569, two answers on the page of questions just turned). What the next run
#   has drawn already takes clicks as ever, and so do the view controls. A click that sends
#   nothing (on the step already shown) changes nothing (soak practice 9702 refused answers for
#   seconds after one, when the guard counted the click instead of its message).

# The controls that change which answers a page shows: the walk-through's and practice's step
# control, and the patient's page turns. By the class Streamlit gives a widget's key.
VIEW_CONTROLS = ", ".join(
    f"[class*='st-key-{key}']"
    for key in (
        "walk-step",
        "patient-next",
        "patient-back",
        "patient-review",
        "patient-finish",
        "patient-go-",
        "patient-change-",
    )
)

PAGE_GUARD = """<script>
if (!window.__tailoringPageGuard) {
  window.__tailoringPageGuard = true;
  window.__tailoringRefused = 0;
  const app = () => document.querySelector("[data-testid='stApp']");
  const state = () => (app() ? app().getAttribute("data-test-script-state") : null);
  const control = "button:not([role=tab]), input, textarea, [role=radio], [role=checkbox]";
  const pageLink = "[data-testid='stSidebarNav'] a, [data-testid='stPageLink'] a";
  const view = "%VIEW_CONTROLS%";
  const LIMIT = 8000;  // ms: a server that never answers must not hold the page for ever
  // When an answer was last given and sent, and when a run was last heard to start (the
  // server's "new session", field 4, begins every run) and when the last run to have finished
  // had been heard to start: a run that started before a message cannot have run it.
  let given = 0, sent = 0, started = 0, done = 0, typed = false, passing = false;
  // When the person last went to another page or view, and which ("page" or "view"): from the
  // message that asks for it. A click that sends none (the step already shown) moves nowhere.
  let moved = 0, movedTo = "", asked = null;
  // The top-level fields of a protobuf message: [number, value of a varint field or null].
  const fields = (bytes) => {
    const out = [];
    let i = 0;
    const varint = () => {
      let value = 0, scale = 1, byte;
      do { byte = bytes[i++]; value += (byte & 127) * scale; scale *= 128; }
      while (byte & 128 && i < bytes.length);
      return value;
    };
    while (i < bytes.length) {
      const tag = varint(), number = Math.floor(tag / 8), wire = tag % 8;
      if (wire === 0) out.push([number, varint()]);
      else if (wire === 2) { const size = varint(); out.push([number, null]); i += size; }
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else break;
    }
    return out;
  };
  const bytesOf = (data) => data instanceof ArrayBuffer ? new Uint8Array(data)
    : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : null;
  // The class the app's CSS shows a "progress" pointer for while the page is moving.
  const showMoving = (on) => document.documentElement.classList.toggle("tailoring-moving", on);
  // ForwardMsg.script_finished (6): finished (0) or a compile error (1); not stopped for a
  // rerun (2), not a fragment's run (3).
  const hear = (event) => {
    const bytes = bytesOf(event.data);
    if (!bytes) return;
    const message = fields(bytes);
    if (message.some(([n]) => n === 4)) started = Date.now();
    if (message.some(([n, v]) => n === 6 && (v === 0 || v === 1))) {
      done = started;
      if (moved && done > moved) { moved = 0; showMoving(false); }
    }
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data, ...rest) {
    if (!this.__tailoringHeard) {
      this.__tailoringHeard = true;
      this.addEventListener("message", hear);
    }
    // BackMsg.rerun_script (11); a message that cannot be read counts as one.
    const bytes = bytesOf(data);
    if (!bytes || fields(bytes).some(([n]) => n === 11)) {
      sent = Date.now();
      typed = false;
      if (asked && sent - asked.at < 500) {
        moved = sent;
        movedTo = asked.to;
        showMoving(true);
        setTimeout(() => { if (!moving()) showMoving(false); }, LIMIT + 50);
      }
      asked = null;
    }
    return send.call(this, data, ...rest);
  };
  const unsent = () => given >= sent && Date.now() - given < 3000;
  const saving = () => unsent() || (done < sent && Date.now() - sent < LIMIT);
  const moving = () => moved > 0 && done < moved && Date.now() - moved < LIMIT;
  const move = (to) => { asked = {to, at: Date.now()}; };
  // Registered first: a refused click reaches no other listener (nor React's, below this one).
  // Typing is refused too ("beforeinput" covers pasting and a test's fill). Tabs still switch
  // (nothing is sent); going to another view, its own controls still work (a second step
  // click); nothing else of the page or view being left does.
  const refuse = (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!moving() || !target || !target.closest("[data-testid='stMain']")) return;
    if (target.closest("[role=tab]") || (movedTo === "view" && target.closest(view))) return;
    // What the next run has drawn already is the next page or view: it takes clicks as ever.
    // Streamlit marks what it has not drawn again "stale"; between runs, nothing is marked.
    if (state() === "running" && !target.closest("[data-stale='true']")) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (event.type === "click") {
      window.__tailoringRefused += 1;
      document.dispatchEvent(new CustomEvent("tailoring:refused", {detail: target}));
    }
  };
  for (const kind of ["pointerdown", "mousedown", "click", "keydown", "beforeinput"]) {
    document.addEventListener(kind, refuse, true);
  }
  const give = (event) => {
    const target = event.target;
    if (!(target instanceof Element) || !target.closest(control) || target.closest(pageLink)) {
      return;
    }
    if (target.closest(view)) return;
    given = Date.now();
    if (event.type === "input" && target.matches("textarea, input")) typed = true;
  };
  for (const kind of ["click", "change", "input"]) document.addEventListener(kind, give, true);
  // Clicks that go to another page or view, held in the order given: a later click never
  // overtakes a held one. A page waits until what was given has been run; a view of the same
  // page, until it is sent (its message then carries the answer, and one run saves both).
  const held = [];
  // And none goes while the one before it has not sent its message yet (a page link clicked
  // twice in a moment, away and back, must reach the server in that order).
  const ready = (to) =>
    !(asked && Date.now() - asked.at < 500) && (to === "page" ? !saving() : !unsent());
  const follow = () => {
    const first = held[0];
    if (!ready(first.to) && Date.now() - first.at < LIMIT) return setTimeout(follow, 20);
    held.shift();
    // The run may have drawn it again: the element at the same place, as it is now.
    const now = first.target.isConnected ? first.target : first.find();
    passing = true;
    try { if (now) { move(first.to); now.click(); } } finally { passing = false; }
    if (held.length) setTimeout(follow, 20);
  };
  const clickable = "button, [role=radio]";
  const finder = (to, target) => {
    if (to === "page") {
      const href = target.getAttribute("href");
      return () => document.querySelector(`a[href="${href}"]`);
    }
    const box = target.closest("[class*='st-key-']");
    const key = [...box.classList].find((c) => c.startsWith("st-key-"));
    const index = [...box.querySelectorAll(clickable)].indexOf(target);
    return () => document.querySelector(`.${key}`)?.querySelectorAll(clickable)[index] || null;
  };
  document.addEventListener("click", (event) => {
    if (passing || !(event.target instanceof Element)) return;
    const link = event.target.closest(pageLink);
    const button = event.target.closest(clickable);
    const mover = link || (button && button.closest(view) ? button : null);
    if (!mover) return;
    const to = link ? "page" : "view";
    if (!held.length && ready(to)) return move(to);
    event.preventDefault();
    event.stopImmediatePropagation();
    held.push({to, target: mover, find: finder(to, mover), at: Date.now()});
    if (held.length === 1) setTimeout(follow, 0);
  }, true);
  window.addEventListener("beforeunload", (event) => {
    const running = state() && state() !== "notRunning";
    const typing = typed && !!document.activeElement?.matches("textarea, input");
    if (running || saving() || typing) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
}
</script>""".replace("%VIEW_CONTROLS%", VIEW_CONTROLS)


def app_style() -> None:
    """Put the app's CSS (and the page guard) in the main flow, in a container its own rule hides.

    A style-only ``st.html`` goes to Streamlit's event container, which a later run can clear,
    and the rules then vanish now and again; the ``<span>`` keeps it an element of the page.
    """
    with st.container(key="app-style"):
        st.html(APP_CSS)
        page_guard()


def page_guard() -> None:
    """The page guard above, drawn where it is called (every page of the app, and the patient's
    page, which draws no other part of the app's frame)."""
    st.html(PAGE_GUARD, unsafe_allow_javascript=True)
