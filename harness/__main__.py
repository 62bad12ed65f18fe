"""``python -m harness``: what launchers run on every rank (``accelerate launch -m harness run …``)."""

import sys

from .cli import main

sys.exit(main())
