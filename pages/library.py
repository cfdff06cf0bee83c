"""Content library: themes → checklist items → protocols, showing why each question is asked."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from tailoring import services
from tailoring.model.content import (
    ACTION_KIND_LABELS,
    DEMAND_LABELS,
    AllianceItem,
    PreferenceItem,
    SocialDomain,
)
from ui.common import require_entry
from ui.report import scale_chart

require_entry()

lib = services.content()
st.title("Content library")
st.caption(
    f"Version {lib.version}. Content is data in the content/ folder; services can edit it. "
    "Every question names the study theme it comes from."
)
st.download_button(
    "Questionnaires (FHIR)",
    # Built only when clicked: every checklist and measure as a FHIR R4B Questionnaire.
    services.fhir_questionnaires,
    file_name=f"questionnaires-{lib.version}.fhir.json",
    mime="application/fhir+json",
    key="library.fhir",
    help="The checklists and measures as FHIR R4B Questionnaires, for an electronic health "
    "record; linkIds are the content ids.",
)

themes_tab, items_tab, protocols_tab, indications_tab, actions_tab = st.tabs(
    ["Themes", "Checklist items", "Protocols", "Indications", "Adaptations"]
)

with themes_tab:
    for theme in lib.themes:
        with st.container(border=True):
            st.markdown(f"**{theme.title}** (`{theme.id}`)")
            st.write(theme.summary)
            st.caption(f"What patients said: {theme.patients_said}")

with items_tab:
    theme_ids = [t.id for t in lib.themes]
    chosen = st.pills(
        "Theme",
        theme_ids,
        selection_mode="multi",
        key="library.themes",
        format_func=lambda t: lib.theme(t).title,
        default=theme_ids,
    )
    sections: list[tuple[str, Sequence[PreferenceItem | SocialDomain | AllianceItem]]] = [
        ("Preferences", lib.preferences),
        ("Social context", lib.social),
        ("Alliance check", lib.alliance),
    ]
    for heading, entries in sections:
        shown = [e for e in entries if e.theme in (chosen or [])]
        st.subheader(f"{heading} ({len(shown)})")
        for entry in shown:
            with st.expander(f"{entry.title} · {lib.theme(entry.theme).title}"):
                st.markdown(f"**Question:** {entry.question}")
                st.markdown(f"**Why we ask:** {entry.why}")
                measures = getattr(entry, "measures", None)
                if measures:
                    st.caption(f"Construct: {measures} (our own wording)")

with protocols_tab:
    names = {p.id: p.name for p in lib.protocols}
    protocol = lib.protocol(
        st.selectbox("Protocol", list(names), format_func=names.__getitem__, key="library.protocol")
    )
    st.markdown(
        f"**{protocol.name}** · {protocol.step.replace('_', ' ')} · "
        f"{protocol.sessions.min}–{protocol.sessions.max} sessions of about "
        f"{protocol.sessions.minutes} minutes"
    )
    st.write(protocol.summary)
    scales = [i for i in lib.preferences if i.kind == "scale"]
    figure = scale_chart(
        [i.title for i in scales],
        [protocol.profile[i.id].low for i in scales],
        [protocol.profile[i.id].high for i in scales],
        [protocol.profile[i.id].default for i in scales],
    )
    st.plotly_chart(figure, width="stretch", key="library.profile")
    st.dataframe(
        [
            {
                "Scale": i.title,
                "Default": protocol.profile[i.id].default,
                "Range": f"{protocol.profile[i.id].low}–{protocol.profile[i.id].high}",
                "1 means": (i.labels or [""])[0],
                "5 means": (i.labels or [""])[-1],
            }
            for i in scales
        ],
        hide_index=True,
        width="stretch",
    )
    left, right = st.columns(2)
    left.markdown("**Can address**\n" + "\n".join(f"- {x}" for x in protocol.can_address))
    right.markdown("**Cannot address**\n" + "\n".join(f"- {x}" for x in protocol.cannot_address))
    demands = ", ".join(DEMAND_LABELS[d] for d in protocol.demands) or "none beyond attending"
    st.markdown(f"**Demands on the patient:** {demands}")
    if protocol.fixed_hours is not None:
        st.markdown(f"**Meets at set hours:** {protocol.fixed_hours.description}")
    found = protocol.indications
    st.markdown(
        "**Indicated for:** "
        + ", ".join(lib.problem(p).title_in_sentence for p in found.problems)
        + f" · depression severity: {found.depression_severity.replace('_', ' ')}"
    )
    for measure_id, limits in found.anxiety_severity.items():
        words = limits.words(lib.measure(measure_id).short_name)
        st.markdown(f"**Anxiety severity:** {words}")
    if found.only_when_why:
        st.caption(found.only_when_why)
    for rule in (lib.contraindication(c) for c in protocol.contraindications):
        unchecked = "" if all(s.checked for s in rule.sources) else " (source not checked here)"
        st.markdown(f"**Contraindicated:** {rule.title}. {rule.why}{unchecked}")
    for problem, hours in protocol.hours.items():
        span = "–".join(f"{h:g}" for h in (hours.min, hours.max) if h is not None)
        st.markdown(f"**Hours for {lib.problem(problem).title_in_sentence}:** {span}")
    st.caption(
        "Sources: "
        + "; ".join(
            f"{s.document}, {s.section}" + ("" if s.checked else " (not checked here)")
            for s in protocol.sources
        )
    )

with indications_tab:
    st.caption(
        "Which protocol is indicated for which presenting problem, the depression severity it "
        "suits (NICE NG222's split at PHQ-9 16), the anxiety totals it suits where it declares "
        "them, and what rules it out. Alternatives in the fit report are ranked on this first; "
        "a contraindicated protocol is never suggested. The last columns say how many of the "
        "sources behind each row were checked against the guideline's text, and which were not: "
        "check those before relying on them."
    )
    st.dataframe(
        services.indication_matrix(),
        hide_index=True,
        width="stretch",
        height="content",
        key="library.indications",
    )

with actions_tab:
    for kind, words in ACTION_KIND_LABELS.items():
        of_kind = [a for a in lib.adaptations if a.kind == kind]
        st.subheader(f"{words} ({len(of_kind)})")
        for adaptation in of_kind:
            st.markdown(f"**{adaptation.title}** — {adaptation.description}")
