"""The patient's questionnaire: opened by link, QR code or typed code, with no account.

It shows one questionnaire of one case and nothing else of it: no flags, scores, notes, other
questionnaires or other patients. app.py runs this page alone, with no navigation or sidebar,
for any visit that comes with a code or to this page's address.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from ui import patient_questionnaires
from ui.common import friendly_errors, require_entry

require_entry()
patient_questionnaires.touch_targets()

with friendly_errors():
    link = patient_questionnaires.current_link()
    if link is None:
        st.stop()
    if link.completed_at is not None or not link.accepts_answers(datetime.now(UTC)):
        patient_questionnaires.thank_you(link)
        st.stop()
    patient_questionnaires.questionnaire(link)
