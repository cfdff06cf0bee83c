"""Exports of a fit report: the one-page session plan PDF and the JSON document."""
