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
/* The page guard's "leaving": the page being left takes no clicks until the next one has run. */
html.tailoring-leaving [data-testid="stMain"] {{ opacity: 0.6; cursor: progress; }}
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
# and when the server last said a run had *finished* (its "script finished" message, read from
# the socket: field 6 of Streamlit's ForwardMsg). The page's script state cannot tell: it reads
# "not running" both after a finished run and between a run stopped for a newer click and that
# click's run, which a busy server took over a second to start (sessions soak seed 9536: two
# answers in that gap, the page looked idle, a reload closed the session before their run).
# A click on a page link waits (at most 8 s) until what was given is sent and a run has finished
# after it; leaving or reloading asks first, with the browser's own "changes you made may not be
# saved", while a run is in progress, while a given answer is not yet sent or not yet followed
# by a finished run, and while text typed into a box has not been sent (Streamlit sends it when
# the box is left). Once a page link's click is passed on, the page being left takes no more
# clicks until the next page has run (it is dimmed meanwhile): an answer given there reached
# the server after its widget had gone, and no callback ran (practice soak seed 9542).
PAGE_GUARD = """<script>
if (!window.__tailoringPageGuard) {
  window.__tailoringPageGuard = true;
  window.__tailoringRefused = 0;
  const app = () => document.querySelector("[data-testid='stApp']");
  const state = () => (app() ? app().getAttribute("data-test-script-state") : null);
  const control = "button:not([role=tab]), input, textarea, [role=radio], [role=checkbox]";
  const pageLink = "[data-testid='stSidebarNav'] a, [data-testid='stPageLink'] a";
  const LIMIT = 8000;  // ms: a server that never answers must not hold the page for ever
  let given = 0, sent = 0, done = 0, leaving = 0, typed = false, passing = false;
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
  const dim = (on) => document.documentElement.classList.toggle("tailoring-leaving", on);
  // ForwardMsg.script_finished (6): finished (0) or a compile error (1); not stopped for a
  // rerun (2), not a fragment's run (3).
  const hear = (event) => {
    const bytes = bytesOf(event.data);
    if (bytes && fields(bytes).some(([n, v]) => n === 6 && (v === 0 || v === 1))) {
      done = Date.now();
      if (leaving) { leaving = 0; dim(false); }
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
    }
    return send.call(this, data, ...rest);
  };
  const unsent = () => given >= sent && Date.now() - given < 3000;
  const saving = () => unsent() || (done < sent && Date.now() - sent < LIMIT);
  const isLeaving = () => leaving > 0 && done < leaving && Date.now() - leaving < LIMIT;
  const leave = (link) => {
    const href = link.getAttribute("href");
    if (href && new URL(href, location.href).pathname === location.pathname) return;
    leaving = Date.now();
    dim(true);
    setTimeout(() => { if (!isLeaving()) dim(false); }, LIMIT + 50);
  };
  // Registered first: a refused click reaches no other listener (nor React's, below this one).
  const refuse = (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!isLeaving() || !target || !target.closest("[data-testid='stMain']")) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (event.type === "click") {
      window.__tailoringRefused += 1;
      document.dispatchEvent(new CustomEvent("tailoring:refused", {detail: target}));
    }
  };
  for (const kind of ["pointerdown", "mousedown", "click", "keydown"]) {
    document.addEventListener(kind, refuse, true);
  }
  const give = (event) => {
    const target = event.target;
    if (!(target instanceof Element) || !target.closest(control) || target.closest(pageLink)) {
      return;
    }
    given = Date.now();
    if (event.type === "input" && target.matches("textarea, input")) typed = true;
  };
  for (const kind of ["click", "change", "input"]) document.addEventListener(kind, give, true);
  // Page-link clicks held, in the order given: a later click never overtakes a held one.
  const held = [];
  const follow = () => {
    if (saving() && Date.now() - held[0].at < LIMIT) return setTimeout(follow, 20);
    const {link, href} = held.shift();
    // The run may have drawn the sidebar again: the link of the same address, as it is now.
    const now = link.isConnected ? link : document.querySelector(`a[href="${href}"]`);
    passing = true;
    try { if (now) { leave(now); now.click(); } } finally { passing = false; }
    if (held.length) setTimeout(follow, 20);
  };
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest(pageLink) : null;
    if (!link || passing) return;
    if (!held.length && !saving()) return leave(link);
    event.preventDefault();
    event.stopImmediatePropagation();
    held.push({link, href: link.getAttribute("href"), at: Date.now()});
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
</script>"""


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
