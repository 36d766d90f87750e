"""What every benchmark shares: the Temporal servers, settings in a temp dir, the result
file with the machine it ran on, a printed table, percentiles."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
VENV_BIN = Path(sys.executable).parent
WEBHOOK_SECRET = "bench-webhook-secret"
LINK_SECRET = "bench-link-secret"


def binary(name: str) -> str:
    path = VENV_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install the project with `make test` first")
    return found


@asynccontextmanager
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh Temporal dev server (in-memory) with Partnerflow's search attributes."""
    from workflows.search_attributes import ALL_KEYS

    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=binary("temporal"),
        search_attributes=ALL_KEYS,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    from workers.search_attributes import register_search_attributes

    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=binary("temporal-test-server"),
    )
    try:
        await register_search_attributes(env.client, "default")
        yield env
    finally:
        await env.shutdown()


def settings_env(data: Path, address: str, task_queue: str) -> dict[str, str]:
    """The environment of a Partnerflow process (worker, web service) for a benchmark:
    local adapters, SQLite records in `data`, no rate limit in the way."""
    return {
        "PARTNERFLOW_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'records.db'}",
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "PARTNERFLOW_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PARTNERFLOW_LINK_SECRET": LINK_SECRET,
        "PARTNERFLOW_RATE_LIMIT_PER_MINUTE": "100000000",
    }


def bench_settings(data: Path, address: str, task_queue: str) -> Settings:
    """Settings for a benchmark's in-process worker and web app; the records DB migrated."""
    from activities.database import migrate

    data.mkdir(parents=True, exist_ok=True)
    settings = Settings(**settings_env(data, address, task_queue), _env_file=None)  # type: ignore[arg-type]
    migrate(settings.resolved_database_url)
    return settings


def address_of(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


# --- measuring -------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ratio(product: float | None, baseline: float | None) -> float | None:
    if product is None or not baseline:
        return None
    return round(product / baseline, 3)


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process in MB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


# --- reporting -------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    import temporalio

    commit = None
    try:  # read-only
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        if dirty:
            commit += " (with uncommitted changes)"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "load_average_at_start": load,
        "memory_mb": _memory_mb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "temporalio": temporalio.__version__,
        "git_commit": commit,
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def write_results(name: str, data: dict[str, Any], directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    """Rows of {benchmark, metric, product, baseline, ratio, target, ok} as a text table."""
    columns = ["benchmark", "metric", "product", "baseline", "ratio", "target", "ok"]
    cells = [
        [
            fmt(row.get(c))
            if c != "ok"
            else ("" if row.get("ok") is None else ("yes" if row["ok"] else "NO"))
            for c in columns
        ]
        for row in rows
    ]
    widths = [
        max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)
    ]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for r in cells:
        lines.append(
            "  ".join(
                v.rjust(w) if i in (2, 3, 4) else v.ljust(w)
                for i, (v, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    return "\n".join(lines)
