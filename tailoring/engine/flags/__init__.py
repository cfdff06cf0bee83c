"""The flag rules, in one home: a case's against a protocol (case.py), on the protocol's
indication for the problem (indication.py), its sessions' (session.py), and the gaps between the
patient's own answers and the therapist's (patient.py).

Callers import from here; the rules import each other from their modules.
"""

from tailoring.engine.flags.case import REVIEW, independent_flags, new_flag, protocol_flags
from tailoring.engine.flags.indication import indication_flags
from tailoring.engine.flags.patient import perception_gaps
from tailoring.engine.flags.session import NOT_ON_TRACK, RISK_FLAG, alliance_fell, session_flags

__all__ = [
    "NOT_ON_TRACK",
    "REVIEW",
    "RISK_FLAG",
    "alliance_fell",
    "independent_flags",
    "indication_flags",
    "new_flag",
    "perception_gaps",
    "protocol_flags",
    "session_flags",
]
