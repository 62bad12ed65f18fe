"""Helpers of the Streamlit dashboard (dashboards/app.py): reading the store with
caching, flattening records into table rows, charts, URL state. They read the
store through ``harness.store.local`` and compute statistics only through ``harness.verdicts.compare``."""
