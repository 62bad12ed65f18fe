"""Widget state mirrored in the URL query string, so a view can be shared.

``seed(key)`` fills a widget's session state from ``?key=`` once (before the
widget is drawn); ``publish(keys)`` writes the current values back.
Session-state keys are the URL keys with a page prefix.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable

import streamlit as st


def _state_key(prefix: str, key: str) -> str:
    return f"{prefix}.{key}"


def seed(prefix: str, key: str, *, kind: str = "text", options: Iterable[str] | None = None) -> str:
    """Seed session state for the widget ``prefix.key`` from the URL; return the state key.

    ``kind``: ``text`` (str), ``multi`` (list, kept only where in ``options``),
    ``one`` (str in ``options``), ``date`` (ISO date or None).
    """
    skey = _state_key(prefix, key)
    if skey in st.session_state:
        if options is not None:  # options may change (filters, another run): keep valid values only
            allowed = set(options)
            if kind == "multi":
                st.session_state[skey] = [v for v in st.session_state[skey] if v in allowed]
            elif kind == "one" and st.session_state[skey] not in allowed:
                del st.session_state[skey]
        return skey
    if kind == "multi":
        values = st.query_params.get_all(key)
        if options is not None:
            allowed = set(options)
            values = [v for v in values if v in allowed]
        st.session_state[skey] = values
    elif kind == "date":
        raw = st.query_params.get(key)
        try:
            st.session_state[skey] = date.fromisoformat(raw) if raw else None
        except ValueError:
            st.session_state[skey] = None
    elif kind == "one":
        raw = st.query_params.get(key)
        if raw is not None and (options is None or raw in set(options)):
            st.session_state[skey] = raw
    else:
        st.session_state[skey] = st.query_params.get(key, "")
    return skey


def value(prefix: str, key: str) -> Any:
    return st.session_state.get(_state_key(prefix, key))


def publish(prefix: str, keys: Iterable[str]) -> None:
    """Write each widget's value to the URL (empty values are removed)."""
    for key in keys:
        v = st.session_state.get(_state_key(prefix, key))
        if isinstance(v, date):
            v = v.isoformat()
        if v in (None, "", []):
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get_all(key) != ([v] if isinstance(v, str) else list(v)):
            st.query_params[key] = v
