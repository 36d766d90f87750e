"""Where the browser tests find Chromium: Debian's package, which `make test` installs
(`make browser`) when it is missing and it runs as root; otherwise those tests are skipped
with the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def chromium_or_reason() -> tuple[str | None, str]:
    """(the path to chromium, "") or (None, why it cannot be used)."""
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        return None, "chromium is missing: run `make browser` as root (apt-get install chromium)"
    return path, ""
