"""Showing untrusted text (run names, model outputs) without letting it format the page.

Model outputs go through ``st.text`` / ``st.code`` / dataframes only. Where a
record string must sit inside markdown (a caption, a heading), ``md`` escapes
every markdown and HTML special character first.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def md(text: object) -> str:
    """Escape ``text`` for use inside st.markdown / st.caption / headings."""
    return _SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")
