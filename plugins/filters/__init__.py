"""Safety filters: ``refusal``, ``harm``, ``pii`` and ``judge``.

This module stays light: the filters' own modules import only the standard
library and ``harness``; ``judge`` loads its model through the plugin host
when it first scores.
"""

import harness

from .harm import HarmFilter
from .judge import JudgeFilter
from .pii import PiiFilter
from .refusal import RefusalFilter


@harness.hookimpl
def register_safety_filters(register):
    register(RefusalFilter)
    register(HarmFilter)
    register(PiiFilter)
    register(JudgeFilter)
