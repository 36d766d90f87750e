"""The benchmarks (`make bench`, bench/) still run: every one at a tiny size on the session's
dev server, results written to a temp dir. Numbers are not checked, only that each
benchmark completes and reports its rows."""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from bench.__main__ import parser, run_benchmarks


async def test_every_benchmark_runs_at_a_tiny_size(
    local_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    args = parser().parse_args(
        [
            "--out",
            str(tmp_path),
            "--n",
            "1",
            "--no-warm-up",
            "--poll",
            "0.05",
            "--rates",
            "20",
            "--duration",
            "0.5",
            "--server",
            "thread",
            "--partners",
            "10",
            "--worker",
            "inline",
            "--year-days",
            "15",
        ]
    )
    results = await run_benchmarks(args, env=local_env)
    assert [r["benchmark"] for r in results] == ["order_to_cash", "intake", "scale"]
    for result in results:
        saved = json.loads((tmp_path / f"{result['benchmark']}.json").read_text())
        assert saved["machine"]["cpu_count"] and saved["machine"]["temporalio"]
        assert saved["rows"] and all(row["product"] is not None for row in saved["rows"])
    o2c, intake, scale = results
    assert o2c["per_deal_history"]["deal"]["activities"] > 0 and o2c["ratio"] is not None
    assert intake["levels"][0]["product"]["outcomes"].get("ok", 0) > 0
    assert scale["product"]["workflows"] == 10 and scale["partner_year"]["events"] > 0
