"""Imports: files from elsewhere read into the models, row by row (a caseload file)."""
