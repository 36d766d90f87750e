"""`python -m bench` (`make bench`): run the benchmarks, print a table, write
`bench/results/<benchmark>.json` (with the machine they ran on). See bench/README.md."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from bench.common import RESULTS, ROOT, dev_server, machine_info, table, write_results

BENCHMARKS = ["order_to_cash", "intake", "scale"]
MAKE_TEST_TARGET_SECONDS = 120.0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Partnerflow benchmarks against a bare Temporal baseline, measured in the same run."
        ),
    )
    p.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of {','.join(BENCHMARKS)} (default: all)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="directory of the result files (default: bench/results)",
    )
    a = p.add_argument_group("order_to_cash")
    a.add_argument(
        "--n", type=int, default=50, help="deal registrations driven to a paid invoice (default 50)"
    )
    a.add_argument(
        "--concurrency", type=int, default=None, help="deals in flight at once (default: all N)"
    )
    a.add_argument(
        "--poll",
        type=float,
        default=0.1,
        help="seconds between pending_tasks queries of a waiting driver (default 0.1)",
    )
    a.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="skip the untimed first deal of each phase",
    )
    b = p.add_argument_group("intake")
    b.add_argument(
        "--rates",
        default="50,100,200",
        help="offered rates, requests per second (default 50,100,200)",
    )
    b.add_argument("--duration", type=float, default=5.0, help="seconds at each rate (default 5)")
    b.add_argument(
        "--server",
        choices=["process", "thread"],
        default="process",
        help="web service in a subprocess (default) or a thread of the bench",
    )
    c = p.add_argument_group("scale")
    c.add_argument(
        "--partners", type=int, default=10_000, help="open partnerships started (default 10000)"
    )
    c.add_argument(
        "--in-flight", type=int, default=100, help="concurrent start requests (default 100)"
    )
    c.add_argument(
        "--worker",
        choices=["process", "inline"],
        default="process",
        help="worker in a subprocess (default; RSS is the worker's alone) or in the bench",
    )
    c.add_argument(
        "--max-cached",
        type=int,
        default=None,
        help=(
            "the workers' max_cached_workflows (default: build_worker's, "
            "PARTNERFLOW_MAX_CACHED_WORKFLOWS's default)"
        ),
    )
    c.add_argument(
        "--year-days",
        type=int,
        default=365,
        help="simulated days of the partner-year run (default 365)",
    )
    d = p.add_argument_group("make test")
    d.add_argument(
        "--make-test", action="store_true", help="also time `make test` (slow; off by default)"
    )
    return p


@contextlib.asynccontextmanager
async def server(shared: WorkflowEnvironment | None) -> AsyncIterator[WorkflowEnvironment]:
    """A fresh dev server per benchmark (none sees another's workflows), or the one given."""
    if shared is not None:
        yield shared
        return
    async with dev_server() as env:
        yield env


async def run_one(
    name: str, args: argparse.Namespace, env: WorkflowEnvironment, workdir: Path
) -> dict[str, Any]:
    if name == "order_to_cash":
        from bench import order_to_cash

        return await order_to_cash.run(
            env,
            workdir,
            n=args.n,
            concurrency=args.concurrency,
            poll=args.poll,
            warm_up=args.warm_up,
        )
    if name == "intake":
        from bench import intake

        rates = [float(r) for r in str(args.rates).split(",") if r.strip()]
        return await intake.run(
            env, workdir, rates=rates, duration=args.duration, server=args.server
        )
    if name == "scale":
        from bench import scale

        return await scale.run(
            env,
            workdir,
            partners=args.partners,
            in_flight=args.in_flight,
            worker=args.worker,
            year_days=args.year_days,
            max_cached=args.max_cached if args.max_cached is not None else scale.PRODUCT_CACHE,
        )
    raise ValueError(f"unknown benchmark {name!r}: choose from {', '.join(BENCHMARKS)}")


def make_test() -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(["make", "test"], cwd=ROOT, capture_output=True, text=True)
    seconds = round(time.perf_counter() - started, 1)
    tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
    ok = done.returncode == 0 and seconds < MAKE_TEST_TARGET_SECONDS
    return {
        "seconds": seconds,
        "returncode": done.returncode,
        "summary": tail,
        "rows": [
            {
                "benchmark": "make_test",
                "metric": "wall seconds"
                + ("" if done.returncode == 0 else f" (exit {done.returncode})"),
                "product": seconds,
                "target": f"< {MAKE_TEST_TARGET_SECONDS:g} s",
                "ok": ok,
            }
        ],
    }


async def run_benchmarks(
    args: argparse.Namespace, env: WorkflowEnvironment | None = None
) -> list[dict[str, Any]]:
    names = [n.strip() for n in str(args.only).split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s) {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}"
        )
    machine = machine_info()
    rows: list[dict[str, Any]] = []
    results = []
    with tempfile.TemporaryDirectory(prefix="partnerflow-bench-") as tmp:
        for name in names:
            print(f"== {name} …", file=sys.stderr, flush=True)
            started = time.perf_counter()
            async with server(env) as used:
                result = await run_one(name, args, used, Path(tmp) / name)
            seconds = round(time.perf_counter() - started, 1)
            result = {"benchmark": name, "machine": machine, "wall_seconds": seconds, **result}
            path = write_results(name, result, args.out)
            print(f"   {seconds} s → {path}", file=sys.stderr, flush=True)
            rows += result["rows"]
            results.append(result)
    if args.make_test:
        print("== make test …", file=sys.stderr, flush=True)
        result = {"benchmark": "make_test", "machine": machine, **make_test()}
        write_results("make_test", result, args.out)
        rows += result["rows"]
        results.append(result)
    print(table(rows))
    print(
        f"\n{machine['cpu_count']} CPUs, Python {machine['python']}, temporalio "
        f"{machine['temporalio']}, load {machine['load_average_at_start']}, commit "
        f"{machine['git_commit']}"
    )
    return results


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM: unwind, so the dev servers and workers are stopped


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    asyncio.run(run_benchmarks(args))


if __name__ == "__main__":
    main()
