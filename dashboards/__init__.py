"""The Streamlit dashboard, shipped as package data: ``harness dashboard`` runs ``app.py`` from here
(found with importlib.resources, so a checkout and an installed wheel behave the same)."""
