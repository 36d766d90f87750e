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


def test_history_profile_counts_a_recorded_deal() -> None:
    """bench.history_profile reads a recorded history: its counts add up and name the
    activities and local activities the deal ran."""
    from pathlib import Path

    from bench.history_profile import profile

    path = Path(__file__).parent / "histories"
    history = json.loads(
        (
            path
            / "DealRegistration-test_approved_deal_to_paid_invoice_through_the_child_order-0.json"
        ).read_text()
    )
    counts = profile(history)
    assert counts["events"] == sum(counts["by_kind"].values()) == len(history["events"])
    assert counts["timers_started"] == counts["timers_fired"] + counts["timers_cancelled"]
    assert (
        counts["activities"]["record_deal"] >= 1
        and "business_deadline" in counts["local_activities"]
    )
