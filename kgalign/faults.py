"""Named points where the fault tests kill the process (``kill -9`` at a chosen step).

``KGALIGN_KILL_AT=<name>`` makes :func:`point` send SIGKILL to the process itself when it
reaches the point of that name; unset (always, outside tests), a point costs one
dictionary lookup. The tests then check that answers are exactly those of before.
"""

from __future__ import annotations

import os
import signal

ENV = "KGALIGN_KILL_AT"


def point(name: str) -> None:
    """Die here (SIGKILL, no cleanup) when ``$KGALIGN_KILL_AT`` names this point."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
