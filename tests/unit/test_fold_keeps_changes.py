"""ui/bound.py's fold of waiting browser messages keeps a change the newer message leaves out."""

from __future__ import annotations

from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from streamlit.runtime.scriptrunner_utils import script_requests

from ui.bound import keep_every_change


def _states(**values: object) -> WidgetStates:
    states = WidgetStates()
    for widget_id, value in values.items():
        state = WidgetState(id=widget_id)
        if isinstance(value, bool):
            state.trigger_value = value
        else:
            state.string_value = str(value)
        states.widgets.append(state)
    return states


def _values(states: WidgetStates | None) -> dict[str, object]:
    assert states is not None
    return {w.id: getattr(w, w.WhichOneof("value")) for w in states.widgets}


def test_an_answer_the_newer_message_leaves_out_is_kept():
    # An answer (gad7_7 = 1), then a sidebar click whose message no longer carries that widget.
    answered = _states(gad7_7="1", gad7_6="2")
    navigated = _states(gad7_6="2")
    assert _values(keep_every_change(answered, navigated)) == {"gad7_6": "2", "gad7_7": "1"}


def test_the_newer_value_still_wins_and_triggers_are_kept():
    older = _states(focus="2", save=True)
    newer = _states(focus="5")
    assert _values(keep_every_change(older, newer)) == {"focus": "5", "save": True}


def test_one_message_alone_is_left_as_it_is():
    only = _states(focus="2")
    assert keep_every_change(None, only) is only
    assert keep_every_change(only, None) is only
    assert keep_every_change(None, None) is None


def test_streamlit_uses_the_fold_that_keeps_changes():
    assert script_requests._coalesce_widget_states is keep_every_change
