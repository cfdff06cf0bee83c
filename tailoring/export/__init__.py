"""Exports: the session plan and case review PDFs, the JSON report, caseload files and tables."""
