"""Streamlit helpers shared by the pages: URL-backed settings, live job panels, downloads."""
