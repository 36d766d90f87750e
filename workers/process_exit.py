"""Ending a process that used a Temporal client, without the interpreter's teardown.

At teardown the client's native threads can still hold the GIL machinery, and Python aborts
with `Fatal Python error: PyGILState_Release` (sdk-python#300): a command or worker that
finished its work would exit with a crash code (SIGABRT). Everything is flushed first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """Flush the logs and the standard streams, then end the process with `code`."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
