"""Domain models: content, cases, fit reports, teaching scenarios and grades."""

# Importing scenario completes ContentLibrary, which names Scenario only as a forward reference.
from tailoring.model import scenario as _scenario  # noqa: F401

# Importing session completes Case, which names Session only as a forward reference.
from tailoring.model import session as _session  # noqa: F401
