"""The bare-Streamlit floor for bench/latency.py: the walk-through's widgets and a caseload-sized
table, with no database, no saving and no app frame.

A click on the real walk-through can never be faster than the same widgets drawn by Streamlit
alone, so this page is what the app's latency is measured against (issue 17: each click within
1.5× this floor). It mirrors what the walk-through draws, from the same content files: one
bordered container per checklist item with its question (a radio or pills) and, for preferences,
the importance control; the step control, the progress bar, back and next. ``?rows=N`` draws
instead a table of N rows with the caseload's number of columns.

Run by bench/latency.py: ``streamlit run bench/floor_app.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import yaml

CONTENT = Path(__file__).resolve().parent.parent / "content"
STEPS = ["preferences", "social", "alliance", "report"]
TITLES = ["Preferences", "Social context", "Alliance check", "Fit report"]
IMPORTANCE = ["Doesn't matter", "Matters a little", "Matters a lot", "Essential"]
TRI = ["yes", "no", "unsure"]
CASELOAD_COLUMNS = 14


@st.cache_data
def content(name: str) -> list[dict]:
    return yaml.safe_load((CONTENT / f"{name}.yaml").read_text(encoding="utf-8"))


def preference(item: dict) -> None:
    with st.container(border=True):
        st.markdown(f"**{item['title']}** · _{item['theme']}_")
        if item["kind"] == "multi":
            names = {o["id"]: o["label"] for o in item["options"]}
            st.pills(
                item["question"],
                list(names),
                selection_mode="multi",
                format_func=names.__getitem__,
                key=f"pref.{item['id']}",
            )
        elif item["kind"] == "scale":
            labels = item["labels"]
            st.radio(
                item["question"],
                [1, 2, 3, 4, 5],
                index=None,
                format_func=lambda v: f"{v} · {labels[v - 1]}",
                key=f"pref.{item['id']}",
            )
        else:
            names = {o["id"]: o["label"] for o in item["options"]}
            st.radio(
                item["question"],
                list(names),
                index=None,
                horizontal=True,
                format_func=names.__getitem__,
                key=f"pref.{item['id']}",
            )
        st.segmented_control(
            "How much does this matter to the patient?",
            list(range(4)),
            format_func=IMPORTANCE.__getitem__,
            key=f"pref.{item['id']}.importance",
        )


def social(domain: dict) -> None:
    with st.container(border=True):
        st.markdown(f"**{domain['title']}** · _{domain['theme']}_")
        st.segmented_control(domain["question"], TRI, key=f"social.{domain['id']}.present")


def alliance(item: dict) -> None:
    with st.container(border=True):
        st.markdown(f"**{item['title']}** · _{item['theme']}_")
        st.radio(
            item["question"],
            list(range(len(item["labels"]))),
            index=None,
            horizontal=True,
            format_func=item["labels"].__getitem__,
            key=f"alliance.{item['id']}",
        )


def go(step: str) -> None:
    st.session_state["walk.step"] = step


def walkthrough() -> None:
    st.title("Walk-through · floor")
    st.session_state.setdefault("walk.step", "preferences")
    st.segmented_control(
        "Step",
        STEPS,
        format_func=lambda s: f"{STEPS.index(s) + 1}. {TITLES[STEPS.index(s)]}",
        key="walk.step",
        label_visibility="collapsed",
    )
    step = st.session_state["walk.step"] or "preferences"
    st.progress(0.3, text="30% of questions answered")
    if step == "preferences":
        for item in content("preferences"):
            preference(item)
    elif step == "social":
        for domain in content("social"):
            social(domain)
    elif step == "alliance":
        for item in content("alliance"):
            alliance(item)
    else:
        st.markdown("Fit report")
    index = STEPS.index(step)
    back, _, forward = st.columns([1, 3, 1])
    if index > 0:
        back.button("← Back", key="walk.back", on_click=go, args=(STEPS[index - 1],))
    if index < len(STEPS) - 1:
        forward.button("Next →", key="walk.next", on_click=go, args=(STEPS[index + 1],))


def table(rows: int) -> None:
    st.title("Caseload · floor")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "reference": [f"C-{n:06d}" for n in range(rows)],
            **{f"column {c}": rng.integers(0, 100, rows) for c in range(CASELOAD_COLUMNS - 1)},
        }
    )
    st.dataframe(frame.head(5000), hide_index=True)


rows = st.query_params.get("rows")
if rows is None:
    walkthrough()
else:
    table(int(rows))
