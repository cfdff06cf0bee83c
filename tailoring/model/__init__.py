"""Domain models: content, cases, fit reports, teaching scenarios and grades."""
