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
</style>
<span></span>
"""


# Leaving or reloading the page while an answer may be on its way asks first, with the browser's
# own "changes you made may not be saved" (issue 13). The soak lost answers given just before a
# reload: on a busy server the page went before the answer's run (sessions seeds 5106, 5111),
# and on a busy browser before the page had even sent it (sessions seed 9006: the click was
# drawn, but the message that carries it is sent a moment later, after React has redrawn). So
# it asks while a run is in progress or asked for (Streamlit's script state, on its app
# element), for a few seconds after a click on a control that no run has followed yet, and
# while text typed into a box has not been sent (Streamlit sends it when the box is left).
LEAVE_GUARD = """<script>
if (!window.__tailoringLeaveGuard) {
  window.__tailoringLeaveGuard = true;
  const app = () => document.querySelector("[data-testid='stApp']");
  const state = () => (app() ? app().getAttribute("data-test-script-state") : null);
  let given = 0, typed = false, ran = 0;
  const control = "button:not([role=tab]), input, textarea, [role=radio], [role=checkbox]";
  const give = (event) => {
    const target = event.target;
    if (target && target.closest && target.closest(control)) {
      given = Date.now();
      if (event.type === "input" && target.matches("textarea, input[type=text]")) typed = true;
    }
  };
  for (const kind of ["click", "change", "input"]) document.addEventListener(kind, give, true);
  const watch = () => {
    if (!app()) return setTimeout(watch, 200);
    new MutationObserver(() => {
      if (state() !== "notRunning") { ran = Date.now(); typed = false; }
    }).observe(app(), {attributes: true, attributeFilter: ["data-test-script-state"]});
  };
  watch();
  window.addEventListener("beforeunload", (event) => {
    const running = state() && state() !== "notRunning";
    const unsent = given > ran && Date.now() - given < 3000;
    const typing = typed && !!document.activeElement?.matches("textarea, input");
    if (running || unsent || typing) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
}
</script>"""


def app_style() -> None:
    """Put the app's CSS (and the leave guard) in the main flow, in a container its own rule hides.

    A style-only ``st.html`` goes to Streamlit's event container, which a later run can clear,
    and the rules then vanish now and again; the ``<span>`` keeps it an element of the page.
    """
    with st.container(key="app-style"):
        st.html(APP_CSS)
        st.html(LEAVE_GUARD, unsafe_allow_javascript=True)
