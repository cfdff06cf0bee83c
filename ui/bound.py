"""Widgets bound to stored answers: what a widget shows is what is stored, or held unsaved.

Why this exists (the root cause of answers erased by fast step changes, of a blank Sessions
form after a visit to another page, and of practice answers erased after Submit):
Streamlit keeps a widget's value twice, in the server's session state and in the browser, and
each side drops it when a script run *completes* without drawing the widget (another step,
another page); a run stopped for a rerun drops nothing. The two drops are not simultaneous. A
click that reaches the server after a run completed there, but was sent before the browser heard
of it, starts a run in which the server still believes the browser holds the old values (the
click carried them), so it redraws the widgets without sending their values; the browser, which
has meanwhile dropped them, draws them empty. The next interaction sends those empty values
back, an ``on_change`` callback fires for each, and the pages built the whole answer from every
widget of the item, so a blank (and the blanks of sibling widgets) was saved over the stored
answer. Navigating away and back did the same through pages that loaded stored values into
widgets only once per case.

A second cause showed under load (the soak, bench/state_soak.py): Streamlit checks for a newer
click at every read or write of ``st.session_state``, also inside a widget callback, and stops
the callback there with a rerun. The rerun takes the newer message's widget values as already
applied, so the stopped callback never runs again: the answer the person gave was shown, never
saved, and a later change to a sibling field saved the old value back. Callbacks that save are
therefore wrapped in ``uninterrupted``: the newer click waits until the callback has finished.
With Streamlit's "fast reruns" (its default) a newer click does not wait at all: it starts a
second run beside the one in progress, and two callbacks of one session merged into the same
answer at once; ``.streamlit/config.toml`` turns fast reruns off, so runs take turns.

A third cause showed in the busy browser test (40 step changes in 2.4 s on a loaded machine):
the browser also drops widgets when the end of a completed run reaches it together with the
first elements of the next run (React applies both, then drops the widgets those new elements
replaced). If that next run is stopped by a newer click, the server still counts the widgets as
drawn in the last completed run and keeps their values, so it drew them again without values and
the browser showed them blank (nothing was saved: the server kept the stored values).

A fourth cause showed in the soak on a busy machine (sessions seed 33): an answer given just
before a click on the sidebar was lost without a notice. Streamlit folds browser messages that
wait for a run in progress into one, keeping only the newest message's widget values; the
sidebar click's message no longer carried the answered widget, so the answer's change never
reached its callback. ``keep_every_change`` makes the fold keep each widget the newer message
leaves out with the value the older one gave, as if both had run in turn.

A fifth cause showed in the soak with a second tab (walk-through seeds 1000 and 3005, the audit
log showing the second tab's answer and, three seconds later, the first tab's old one): the
server draws a widget with a value someone else saved (``show`` sets it), but the browser's
next message, sent before that run reached it, still carries the value the browser held. The
server took the difference for a change by the person and saved the old value over the new one,
because the answer's expected revision had moved on when the widget was drawn, not when the
browser received it. A widget whose value was replaced now keeps the revision the browser had
until the browser sends the new value back (``show``, ``now_holds``), so such a message is
refused as stale, with the notice that names both answers. A save refused so is made again on
the newer revision when the widget's own stored value is still the one the browser was given
(``untouched``): the change between touched only other fields, and both stand.

A sixth cause showed in CI's own browser sequence (walk-through seed 2: a social domain's
"Which of these apply?" emptied though nobody touched it, and nothing logged). A browser that
draws a widget without a value of its own (dropped as in the third cause, while the server
counted it as held and sent none) starts it from the widget's *default* and sends that with its
next message, as if the person had chosen it. The pages drew every bound widget with an empty
default (``index=None``, no ``default``), and an empty multi-choice or note is a value a person
can give, so it was saved. Every bound widget now also gets, as its default, the value ``show``
gives it: a widget the browser draws without a value shows, and sends back, the stored answer.

A seventh cause is on the browser's side, and ui/style.py's page guard handles it (its comment
has the seeds): what the browser shows of a page or step being left stays clickable until the
next run has drawn over it, and an answer clicked there reaches the server after the run that
dropped its widget, so no callback runs; and a reload or a page link in the moment between an
answer and its run closed or left the session before the run. The guard refuses clicks on what
is left of the old view, holds page links and reloads until a run heard to start after the
answer has finished, and holds a step click until the answer is sent.

So, for every widget drawn through ``show``:
1. the server sets the widget's value through session state, which the browser must take,
   whenever the widget was not drawn in the last completed run, the browser's message did not
   carry it, or its value is not the stored one (or the one held unsaved): a widget never shows
   an empty or old value by accident, and the same value is the widget's default;
2. callbacks (in the pages' modules) read only the widget that changed, merge that one value into
   the answer as stored, save nothing when the result equals what is stored, and never save a
   value a person cannot give (an empty radio); answers that could not be saved are *held* here,
   per scope, shown as not saved, and saved again exactly as they were given.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ParamSpec, TypeVar

import streamlit as st
from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.scriptrunner_utils import script_requests
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException
from streamlit.runtime.state import get_session_state

from tailoring import services, settings
from ui import privacy

DRAWN = "_bound_drawn"
HELD = "_bound_held"
# The revision of its answer each widget's value in the browser belongs to, and the stored value
# it was given at that revision, by scope and key.
SHOWN = "_bound_shown"
CLEARS = "_bound_clears"
_MISSING = object()
log = logging.getLogger("tailoring.ui")
P = ParamSpec("P")
R = TypeVar("R")
D = TypeVar("D")


_newest_values_only = script_requests._coalesce_widget_states  # pinned in requirements


def keep_every_change(
    old_states: WidgetStates | None, new_states: WidgetStates | None
) -> WidgetStates | None:
    """Fold two waiting browser messages into one without losing a change the older one carried:
    Streamlit's fold (newest values, older triggers) plus every widget the newer message leaves
    out, with its value from the older one (the fourth cause in the module's docstring)."""
    folded = _newest_values_only(old_states, new_states)
    if old_states is None or new_states is None or folded is None:
        return folded
    carried = {w.id for w in folded.widgets}
    folded.widgets.extend(w for w in old_states.widgets if w.id not in carried)
    return folded


script_requests._coalesce_widget_states = keep_every_change


def uninterrupted(callback: Callable[P, R]) -> Callable[P, R]:
    """A widget callback that a newer click cannot stop half-way (the module's docstring says
    why): Streamlit's check for a waiting rerun, made at each use of session state, is held
    off until the callback returns; the rerun then starts as usual."""

    @functools.wraps(callback)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        state = get_session_state()
        check = state._yield_callback  # Streamlit's SafeSessionState: pinned in requirements
        object.__setattr__(state, "_yield_callback", lambda: None)
        try:
            return callback(*args, **kwargs)
        finally:
            object.__setattr__(state, "_yield_callback", check)

    return run


@contextlib.contextmanager
def script_run() -> Iterator[None]:
    """Around a whole script run (app.py): note which bound widgets a completed run drew.

    A run stopped for a rerun (a newer click, or ``st.rerun``) is not a completed run: neither
    Streamlit nor the browser drops widgets then, so its partial list must not count either.
    ``st.stop()`` does complete a run. The note is made in a dict held from the start of the
    run, not by setting session state: while a run is stopping, setting session state raises
    the stop again before the value is stored.
    """
    track = _track()
    track["now"] = set()
    _trace_from_settings()
    if _tracing:
        _trace_run("started")
    _apply_clears()
    try:
        yield
    except RerunException:
        if _tracing:
            _trace_run("stopped for a rerun")
        raise
    except BaseException as ended:
        track["last"] = track["now"]
        if _tracing:
            _trace_run(f"ended by {type(ended).__name__}, {len(track['now'])} bound widgets drawn")
        raise
    else:
        track["last"] = track["now"]
        if _tracing:
            _trace_run(f"completed, {len(track['now'])} bound widgets drawn")


def defer_clear(key: str, apply: Callable[[], None]) -> None:
    """Empty a stored answer once the callbacks of this browser message have all run.

    A person empties one control per click. A browser message that empties several at once is
    the browser sending widgets it drew without values (the soak saw every social-context answer
    on a step emptied in one message on a busy machine): those are refused, and the widgets are
    given their stored values again on this run.
    """
    st.session_state.setdefault(CLEARS, []).append((key, apply))


def _apply_clears() -> None:
    clears = st.session_state.pop(CLEARS, [])
    if len(clears) == 1:
        clears[0][1]()
    elif clears:
        log.warning("refused %d answers emptied by one browser message", len(clears))


def _track() -> dict[str, set[str]]:
    """The keys of bound widgets drawn in this run ("now") and the last completed one ("last")."""
    track: dict[str, set[str]] = st.session_state.setdefault(DRAWN, {"now": set(), "last": set()})
    return track


def show(scope: str, key: str, stored: Any, revision: int | None = None) -> Any:
    """Before drawing the widget ``key``: make it show ``stored``, or what is held unsaved.

    Returns the value the widget shows; pass it as the widget's default too (``index``,
    ``default``, ``value``), so that a browser that draws the widget without a value of its
    own shows that value, not an empty one (the sixth cause in the module's docstring).

    ``revision`` is the revision of the answer ``stored`` comes from. The revision the browser
    holds the widget at moves to it, unless this run replaces a value the browser holds by
    another (someone else's change, read from storage): the browser keeps sending the value it
    holds until this run reaches it (the fifth cause), so the widget keeps the revision that
    value belongs to until the browser sends the new value back (``now_holds``).
    """
    ss = st.session_state
    held = ss.get(HELD, {}).get(scope, {}).get(key, _MISSING)
    wanted = stored if held is _MISSING else held
    track = _track()
    holds = key in track["last"] and _browser_holds(key)
    replaced = False
    if not holds or ss.get(key, _MISSING) != wanted:
        replaced = holds and ss.get(key, _MISSING) is not _MISSING
        if _tracing:
            why = "the browser holds another" if holds else "the browser holds none"
            _trace("set by the server", key, wanted, f"{why}; it was {_traced(ss.get(key))}")
        ss[key] = wanted
    track["now"].add(key)
    if revision is not None:
        shown = ss.setdefault(SHOWN, {})
        if not replaced or (scope, key) not in shown:
            shown[(scope, key)] = (revision, stored)
    return wanted


def expected(scope: str, keys: Iterable[str], latest: int) -> int:
    """The revision a save of these widgets expects: the oldest one the browser holds them at
    (``latest``, the one just read, for widgets not drawn yet).

    Answers are read afresh on every run, also those of widgets not on the screen; a browser
    that sends an older value of such a widget (from before another tab changed it) must be
    refused as stale, not saved over the newer answer.
    """
    shown = st.session_state.get(SHOWN, {})
    revisions = [int(shown[(scope, k)][0]) for k in keys if (scope, k) in shown]
    return min(revisions) if revisions else latest


def save_on_top(
    save: Callable[[D, int], int],
    data: D,
    expected: int,
    on_top: Callable[[dict[str, Any] | None], D | None],
) -> tuple[int, D, int]:
    """``save(data, expected)``: the change over the revision the browser holds; returns the new
    revision, the data saved and the revision it was saved over.

    Refused as stale, the change is made again on the newer answer when ``on_top`` gives it,
    from what is stored now (None when the widget's own stored value changed meanwhile: see
    ``untouched``), as if the two changes had taken turns; at most twice, then the refusal is
    raised as it is when ``on_top`` gives nothing.
    """
    for _ in range(2):
        try:
            return save(data, expected), data, expected
        except (services.StaleAnswer, services.StaleSession) as stale:
            again = on_top(stale.current)
            if again is None:
                raise
            data, expected = again, stale.revision
    return save(data, expected), data, expected


def untouched(scope: str, key: str, current: Any) -> bool:
    """Whether a save of ``key`` refused as stale may be made again on the newer revision: the
    widget's stored value, ``current``, is still the one the browser was given, so the change
    that came between touched only other parts of the answer (another field, in another tab).
    A value the browser held from before someone else changed it is refused (the fifth cause).
    """
    shown = st.session_state.get(SHOWN, {}).get((scope, key))
    return shown is not None and _same(shown[1], current)


def _same(a: Any, b: Any) -> bool:
    """Equal, counting the empty forms of an answer (None, [], "") as one."""
    empty: tuple[Any, ...] = (None, [], "")
    return (a in empty and b in empty) or a == b


def now_holds(
    scope: str,
    values: dict[str, Any],
    revision: int,
    since: int | None = None,
    among: Iterable[str] | None = None,
) -> None:
    """The browser now holds ``revision`` of the widgets in ``values``, with those stored values
    (a save of theirs, or a refusal it was told of), and of each widget of ``among`` (every
    widget of the scope without it) it held at ``since`` or later: a save changes its own
    widgets, and the others it held at the saved-over revision are unchanged by it."""
    shown = st.session_state.setdefault(SHOWN, {})
    if since is not None:
        others = [k for s, k in shown if s == scope] if among is None else list(among)
        for other in others:
            held_at = shown.get((scope, other))
            if held_at is not None and held_at[0] >= since:
                shown[(scope, other)] = (revision, held_at[1])
    for key, value in values.items():
        shown[(scope, key)] = (revision, value)


def _browser_holds(key: str) -> bool:
    """Whether the browser's message for this run carried the widget ``key``'s value.

    The browser sends every widget value it holds with each message. A widget missing from it
    was dropped by the browser (rule 1 of the module's docstring, third cause), while the
    server, which keeps the last value it had, would draw it again without a value.
    A run with no browser message at all (``st.rerun``) says nothing: it counts as holding, so
    that no value is pushed over one the person may be changing at that moment.
    """
    state = get_session_state()._state  # Streamlit's SessionState: pinned in requirements
    sent = state._new_widget_state.states
    if not sent:
        return True
    widget_id = state._key_id_mapper.get_id_from_key(key)
    return widget_id is not None and widget_id in sent


def given(key: str) -> Any:
    """What the browser says the widget ``key`` holds now (in a callback: the new value)."""
    value = st.session_state.get(key)
    if _tracing:
        _trace("given by the browser", key, value)
    return value


# TAILORING_TRACE_WIDGETS (tailoring/settings.py): log what each side gives each widget, so
# that the soak can follow a stray or lost answer from click to storage.
_tracing = False


def _trace_from_settings() -> None:
    global _tracing
    try:
        _tracing = settings.current().trace_widgets
    except settings.SettingsError:
        _tracing = False  # the app says what is wrong with its settings elsewhere


def _trace(event: str, key: str, value: Any, detail: str = "") -> None:
    log.info(
        "%s widget %s %s: %s%s",
        _session(),
        key,
        event,
        _traced(value),
        f" ({detail})" if detail else "",
    )


def _trace_run(event: str) -> None:
    log.info("%s run %s", _session(), event)


def _session() -> str:
    """A short name for the browser tab (Streamlit session) a trace line comes from."""
    ctx = get_script_run_ctx(suppress_warning=True)
    return f"tab {ctx.session_id[:6]}" if ctx is not None else "tab ?"


def _traced(value: Any) -> str:
    """A value as the trace logs it: an option's id as it is, other text by its length only."""
    if isinstance(value, str) and not _OPTION_ID.fullmatch(value):
        return f"<text of {len(value)} characters>"
    return repr(value)


_OPTION_ID = re.compile(r"[a-z0-9_]{1,40}")


def hold(scope: str, key: str, value: Any) -> None:
    """Keep a value that could not be saved; the widget keeps showing it until it is."""
    st.session_state.setdefault(HELD, {}).setdefault(scope, {})[key] = value


def release(scope: str, key: str) -> None:
    """The value of ``key`` is saved (or given up): show the stored value again."""
    st.session_state.get(HELD, {}).get(scope, {}).pop(key, None)


def held(scope: str) -> dict[str, Any]:
    """Widget values held unsaved in this scope, by key."""
    return dict(st.session_state.get(HELD, {}).get(scope, {}))


def is_held(scope: str, key: str) -> bool:
    return key in st.session_state.get(HELD, {}).get(scope, {})


def notices(
    notice_key: str, scope: str, retry_key: str, retry: Callable[..., None], args: tuple[Any, ...]
) -> None:
    """The last save's message, and while values are held unsaved, how many and a retry.

    Text held for the person's decision about identifiers (ui/privacy.py) waits for that
    decision, not for storage, so it is not counted here.
    """
    ss = st.session_state
    notice = ss.pop(notice_key, None)
    if notice:
        getattr(st, notice[0])(notice[1])
    unsaved = [k for k in held(scope) if not privacy.pending(k)]
    if unsaved:
        st.error(
            f"{len(unsaved)} {'answer is' if len(unsaved) == 1 else 'answers are'} kept on this "
            "page but not yet saved.",
            icon=":material/sync_problem:",
        )
        st.button("Try saving again", key=retry_key, on_click=retry, args=args)


def index(options: list[Any], value: Any) -> int | None:
    """A radio's default for ``value``: its place among ``options``, or none."""
    return options.index(value) if value in options else None


def kept_index(key: str, options: list[Any], default: int = 0) -> int:
    """The default of a chooser that is not an answer (which session, attempt or case a page
    shows): the place of the choice it holds now, else ``default``. A browser that draws it
    without a value of its own (the sixth cause) then keeps the person's choice instead of
    jumping to the first option, and the page does not quietly change what it works on
    (practice seed 9162 answered another attempt than the one it showed before)."""
    found = index(options, st.session_state.get(key, _MISSING))
    return default if found is None else found
