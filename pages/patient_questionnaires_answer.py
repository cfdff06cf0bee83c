"""The patient's questionnaires: opened by link, QR code or typed code, with no account.

It shows the questionnaires of one link of one case and nothing else of it: no flags, scores,
notes, other links or other patients. app.py runs this page alone, with no navigation or
sidebar, for any visit that comes with a code or to this page's address.
"""

from __future__ import annotations

import streamlit as st

from ui import patient_questionnaires_answer as patient
from ui.common import friendly_errors, require_entry

require_entry()
patient.touch_targets()

with friendly_errors():
    link = patient.current_link()
    if link is None:
        st.stop()
    if link.completed_at is not None:
        patient.thank_you(link)
        st.stop()
    patient.answer(link)
