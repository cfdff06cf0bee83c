"""Streamlit components shared by several pages (the domain lives in tailoring/)."""
