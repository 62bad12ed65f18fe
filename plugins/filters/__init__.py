"""Safety filters: ``refusal``, ``harm``, ``pii`` and ``judge``.

``harness filters measure judge`` (see :mod:`.commands`) measures the judge.
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


@harness.hookimpl
def register_commands(cli):
    from .commands import add_commands

    add_commands(cli)
