"""Chaos tests: real processes and real faults around many concurrent order-to-cash runs.

- `dev_server`: a Temporal dev server (the `temporal` CLI from the venv, the command of
  `starters.devstack.dev_server_command`), persisted to a SQLite file so it can be stopped
  and started again mid-run; one per session.
- `WorkerProcess`: `python -m workers.main` as a separate OS process configured only through
  its environment (so `kill -9` is real), restartable.
- `TcpProxy`: a loopback TCP forwarder whose outage counts connections (cut the open ones,
  refuse the next N), so it lasts until the worker has met it on any machine load.
- `OrderDriver`: starts orders and plays every human of the happy path from this process
  (accept the terms, approve the license, record the payment) from the search attributes
  the workflows publish (`PendingTask`, `AmountDueCents`): no query, so it keeps driving
  while the worker is dead or the server restarts.
- `check_records`: after the runs, every order has exactly its rows, no more, no less.

Sizes: the reduced default runs inside `make test` (a few runs, a few faults);
`CHAOS_FULL=1` (`make chaos`) runs the full sizes. `CHAOS_SEED` replays a random schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlmodel import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from activities.database import migrate, session_scope
from models.settings import Settings
from models.tables import DecisionRow, EmailRow, InvoiceRow, LicenseRow, OrderRow
from starters.devstack import dev_server_command
from tests.eventually import GiveUp, eventually
from tests.factories import order_input
from workers.client import connect
from workflows.order_fulfillment import OrderFulfillment
from workflows.search_attributes import AMOUNT_DUE_CENTS, PENDING_TASK

FULL = os.environ.get("CHAOS_FULL") == "1"
SEED = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1_000_000))
STRIPE_KEY = "sk_test_partnerflow_double"
SENDGRID_KEY = "SG.chaos-test-key"
EMAIL_STEPS = {"acceptance:request", "license:issued", "invoice:issued", "invoice:paid"}
DECISIONS = {
    ("terms_review", "accepted"),
    ("accept_terms", "accepted"),
    ("review_license", "approve"),
    ("invoice:pay", "pay"),
}
ACCEPT = {
    "name": "Anna Schmidt",
    "title": "Head of IT",
    "email": "anna.schmidt@stadtwerke-kiel.example",
    "agreed": True,
}
APPROVE = {"reviewer": "license-desk@mattermost.com", "decision": "approve"}


def scale(reduced: Any, full: Any) -> Any:
    """The reduced size inside `make test`, the full one under `CHAOS_FULL=1`."""
    return full if FULL else reduced


def rng(name: str) -> random.Random:
    """A random source per test, reproducible with CHAOS_SEED (printed in the report)."""
    return random.Random(f"{SEED}:{name}")


def pytest_report_header() -> str:
    return f"chaos: {'full' if FULL else 'reduced'} sizes, CHAOS_SEED={SEED}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str) -> None:
    """Progress on stderr (shown with -s, and in the failure report)."""
    print(f"[chaos {time.strftime('%H:%M:%S')} seed={SEED}] {message}", file=sys.stderr, flush=True)


# --- Temporal dev server ----------------------------------------------------------------------


class DevServer:
    """`temporal server start-dev` persisted to `<directory>/temporal.db`, restartable on the
    same port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        settings = Settings(
            PARTNERFLOW_DATA_DIR=directory,
            TEMPORAL_ADDRESS=self.address,
            TEMPORAL_UI_URL=f"http://127.0.0.1:{free_port()}",
            _env_file=None,
        )
        self.command = [*dev_server_command(settings), "--headless"]
        self.db_file = directory / "temporal.db"
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log_file = (self.directory / "temporal-server.log").open("ab")
        self.process = subprocess.Popen(
            self.command, stdout=log_file, stderr=log_file, start_new_session=True
        )
        log_file.close()

    async def wait_ready(self, timeout: float = 60.0) -> None:
        async def serving() -> bool:
            if self.process is None or self.process.poll() is not None:
                raise GiveUp("the dev server exited")
            with socket.socket() as sock:
                sock.settimeout(0.2)
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return False
            client = await Client.connect(self.address)
            await client.count_workflows()
            return True

        await eventually(serving, timeout=timeout, interval=0.05, what="the dev server")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server: SIGTERM (clean shutdown) or SIGKILL."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    async def restart(self, down_for: float, *, kill: bool = False) -> float:
        """Stop, stay down `down_for` seconds, start; returns how long it was unreachable."""
        began = time.monotonic()
        self.stop(kill=kill)
        await asyncio.sleep(down_for)
        self.start()
        await self.wait_ready()
        self.restarts += 1
        return time.monotonic() - began


@pytest_asyncio.fixture(scope="session")
async def dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    server = DevServer(tmp_path_factory.mktemp("temporal"))
    server.start()
    try:
        await server.wait_ready()
        yield server
    finally:
        server.stop()


# --- the worker, a separate OS process ----------------------------------------------------------


class WorkerProcess:
    """`python -m workers.main`, configured by environment only; `kill()` is `kill -9`."""

    READY = b"worker listening on task queue"

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.directory = directory
        self.log_path = directory / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self._offset = 0

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workers.main"],
            env=self.env,
            cwd=self.directory,  # no stray .env is read
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        self.starts += 1

    async def wait_ready(self, timeout: float = 60.0) -> None:
        def listening() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise GiveUp(f"worker exited with {self.process.returncode}: {self.tail()}")
            with self.log_path.open("rb") as f:
                f.seek(self._offset)
                return self.READY in f.read()

        try:
            await eventually(listening, timeout=timeout, what="the worker to listen")
        except GiveUp:
            raise
        except AssertionError as waited:
            raise AssertionError(f"{waited}: {self.tail()}") from None

    async def start_ready(self) -> None:
        self.start()
        await self.wait_ready()

    def kill(self) -> None:
        """kill -9: no cleanup, no graceful shutdown, activities die mid-flight."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def count(self, text: str) -> int:
        """How often `text` appears in the worker's log (all of its lives)."""
        return (
            self.log_path.read_text(errors="replace").count(text) if self.log_path.exists() else 0
        )


@dataclass
class Stack:
    """One test's configuration: records database, data dir, task queue, adapters."""

    directory: Path
    server: DevServer
    database_url: str
    task_queue: str = field(default_factory=lambda: f"chaos-{uuid.uuid4().hex[:8]}")
    env_extra: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def env(self) -> dict[str, str]:
        return {
            "PARTNERFLOW_DATA_DIR": str(self.data_dir),
            "DATABASE_URL": self.database_url,
            "TEMPORAL_ADDRESS": self.server.address,
            "TEMPORAL_NAMESPACE": "default",
            "TEMPORAL_TASK_QUEUE": self.task_queue,
            "PARTNERFLOW_WEBHOOK_SECRET": "chaos-webhook-secret",
            "PARTNERFLOW_LINK_SECRET": "chaos-link-secret",
            "BILLING_BACKEND": "local",
            "EMAIL_BACKEND": "outbox",
            **self.env_extra,
        }

    def settings(self, database_url: str | None = None) -> Settings:
        env = {**self.env, "DATABASE_URL": database_url or self.database_url}
        return Settings(**env, _env_file=None)  # type: ignore[arg-type]

    def use_stripe(self, url: str) -> None:
        self.env_extra.update(
            BILLING_BACKEND="stripe", STRIPE_API_KEY=STRIPE_KEY, STRIPE_API_BASE=url
        )

    def use_sendgrid(self, url: str) -> None:
        self.env_extra.update(
            EMAIL_BACKEND="sendgrid", SENDGRID_API_KEY=SENDGRID_KEY, SENDGRID_HOST=url
        )

    def worker(self) -> WorkerProcess:
        return WorkerProcess(self.env, self.directory / "worker")

    async def client(self) -> Client:
        return await connect(self.settings())


@pytest.fixture
def sqlite_stack(tmp_path: Path, dev_server: DevServer) -> Stack:
    """A fresh SQLite records database (migrated), local adapters unless the test switches."""
    url = f"sqlite:///{tmp_path / 'records.db'}"
    migrate(url)
    return Stack(tmp_path, dev_server, url)


@pytest.fixture
def running_workers() -> Iterator[list[WorkerProcess]]:
    """Workers a test started; stopped (killed if need be) at the end whatever happens."""
    workers: list[WorkerProcess] = []
    yield workers
    for worker in workers:
        with contextlib.suppress(Exception):
            worker.stop()


# --- a TCP proxy that can be taken down ---------------------------------------------------------


class TcpProxy:
    """127.0.0.1:<port> -> target. `refuse(n)` is an outage counted in connections: every
    open connection is cut (clients see resets) and the next `n` new ones are closed as
    soon as they are accepted; then it forwards again. `stop()` closes the listener and
    cuts every open connection; `start()` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.outages = 0
        self.refusing = 0  # connections still to refuse in the current outage
        self.refused = 0  # connections refused, all outages together

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self._cut()
        self.outages += 1

    def refuse(self, connections: int) -> None:
        """An outage: cut every open connection, refuse the next `connections` new ones."""
        with self._lock:
            self.refusing = connections
        self._cut()
        self.outages += 1

    def _cut(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self.refusing > 0
                if refuse:
                    self.refusing -= 1
                    self.refused += 1
            if refuse:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._conns.discard(source)
                self._conns.discard(sink)


# --- driving orders like the humans of the happy path -----------------------------------------


class OrderDriver:
    """Starts orders and completes their human tasks from the published search attributes.

    One visibility list per round for all orders (not a query per workflow): it needs no
    worker, so the humans keep acting while the worker is dead; RPC errors (the server
    restarting) are waited out. Tasks in `manual` are left to the test."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        *,
        manual: set[str] = frozenset(),  # type: ignore[assignment]
        task_timeout: timedelta | None = None,
    ) -> None:
        self.client = client
        self.task_timeout = task_timeout  # None: the server's 10 s workflow task timeout
        self.task_queue = task_queue
        self.manual = set(manual)
        self.workflow_ids: list[str] = []
        self.signaled: set[tuple[str, str]] = set()
        self.closed: dict[str, WorkflowExecutionStatus] = {}
        self.pending: dict[str, list[str]] = {}
        self.rpc_errors = 0

    async def start(self, count: int, **overrides: Any) -> list[str]:
        """Start `count` orders at once (as concurrent form submissions would)."""
        orders = [order_input(**overrides) for _ in range(count)]
        ids = [f"order-{order.order_id}" for order in orders]
        await asyncio.gather(
            *(
                self.client.start_workflow(
                    OrderFulfillment.run,
                    order,
                    id=workflow_id,
                    task_queue=self.task_queue,
                    execution_timeout=timedelta(days=400),
                    task_timeout=self.task_timeout,
                )
                for order, workflow_id in zip(orders, ids, strict=True)
            )
        )
        self.workflow_ids += ids
        return ids

    def _payload(self, task: str, workflow_id: str, amount: int | None) -> tuple[str, Any] | None:
        if task == "accept_terms":
            return "accept_terms", ACCEPT
        if task == "review_license":
            return "review_license", APPROVE
        if task == "record_payment" and amount:
            return "record_payment", {
                "recorded_by": "finance@mattermost.com",
                "amount_cents": amount,
                "reference": f"WIRE-{workflow_id}",
            }
        return None

    async def round(self) -> None:
        """One look at every order; act on what is pending."""
        query = f'TaskQueue = "{self.task_queue}"'
        async for execution in self.client.list_workflows(query, rpc_timeout=timedelta(seconds=5)):
            if execution.id not in self.workflow_ids or execution.id in self.closed:
                continue
            if execution.status != WorkflowExecutionStatus.RUNNING:
                self.closed[execution.id] = execution.status  # type: ignore[assignment]
                continue
            attrs = execution.typed_search_attributes
            tasks = list(attrs.get(PENDING_TASK) or [])
            self.pending[execution.id] = tasks
            for task in tasks:
                if task in self.manual:
                    continue
                if (execution.id, task) in self.signaled:
                    continue  # a signal is durable once sent; visibility may lag behind
                action = self._payload(task, execution.id, attrs.get(AMOUNT_DUE_CENTS))
                if action is None:
                    continue
                await self.client.get_workflow_handle(execution.id).signal(
                    action[0], action[1], rpc_timeout=timedelta(seconds=5)
                )
                self.signaled.add((execution.id, task))

    async def drive(self, timeout: float, *, interval: float = scale(0.1, 0.3)) -> None:
        """Act until every order is closed; fails naming the stragglers after `timeout`.
        A round is one visibility list: cheap at the reduced size, so it runs more often."""
        deadline = time.monotonic() + timeout
        while len(self.closed) < len(self.workflow_ids):
            if time.monotonic() > deadline:
                open_ = {w: self.pending.get(w) for w in self.workflow_ids if w not in self.closed}
                raise AssertionError(f"{len(open_)} orders still open after {timeout} s: {open_}")
            try:
                await self.round()
            except (RPCError, RuntimeError) as exc:  # the server is restarting
                self.rpc_errors += 1
                if self.rpc_errors % 20 == 1:
                    log(f"driver: {exc.__class__.__name__}: {str(exc)[:120]}")
            await asyncio.sleep(interval)

    def progress(self) -> Counter[str]:
        """How many orders wait on which task (or are closed)."""
        seen: Counter[str] = Counter()
        for w in self.workflow_ids:
            if w in self.closed:
                seen["closed"] += 1
            else:
                seen[",".join(self.pending.get(w) or ["-"])] += 1
        return seen

    async def outcomes(self) -> dict[str, str]:
        """Every order's result outcome (all must have completed)."""
        bad = {w: s.name for w, s in self.closed.items() if s != WorkflowExecutionStatus.COMPLETED}
        assert bad == {}, f"orders did not complete: {bad}"
        results = {}
        for workflow_id in self.workflow_ids:
            handle = self.client.get_workflow_handle_for(OrderFulfillment.run, workflow_id)
            results[workflow_id] = (await handle.result()).outcome
        return results


# --- what must be true afterwards ------------------------------------------------------------


def rows_by_workflow(url: str, table: type, workflow_ids: list[str]) -> dict[str, list[Any]]:
    with session_scope(url) as session:
        rows = list(session.exec(select(table).where(table.workflow_id.in_(workflow_ids))))  # type: ignore[attr-defined]
    grouped: dict[str, list[Any]] = {w: [] for w in workflow_ids}
    for row in rows:
        grouped[row.workflow_id].append(row)
    return grouped


def check_records(
    url: str, workflow_ids: list[str], *, email_statuses: set[str] = frozenset({"sent"})
) -> dict[str, int]:  # type: ignore[assignment]
    """Every paid order has exactly its rows: one order row (paid), one invoice (paid, no
    second one under a suffixed key), one license, one email per step, its decisions once.
    Returns the row counts (for the report)."""
    problems: list[str] = []
    invoices = rows_by_workflow(url, InvoiceRow, workflow_ids)
    licenses = rows_by_workflow(url, LicenseRow, workflow_ids)
    emails = rows_by_workflow(url, EmailRow, workflow_ids)
    decisions = rows_by_workflow(url, DecisionRow, workflow_ids)
    with session_scope(url) as session:
        orders = {
            row.workflow_id: row
            for row in session.exec(select(OrderRow).where(OrderRow.workflow_id.in_(workflow_ids)))
        }  # type: ignore[attr-defined]
    for w in workflow_ids:
        if [r.status for r in invoices[w]] != ["paid"]:
            problems.append(
                f"{w}: invoices {[(r.id, r.idempotency_key, r.status) for r in invoices[w]]}"
            )
        if len(licenses[w]) != 1:
            problems.append(f"{w}: {len(licenses[w])} licenses")
        steps = Counter(r.step for r in emails[w])
        if set(steps) != EMAIL_STEPS or max(steps.values()) != 1:
            problems.append(f"{w}: emails {dict(steps)}")
        if bad := [(r.step, r.status) for r in emails[w] if r.status not in email_statuses]:
            problems.append(f"{w}: email statuses {bad}")
        made = Counter((d.step, d.decision) for d in decisions[w])
        if set(made) != DECISIONS or max(made.values()) != 1:
            problems.append(f"{w}: decisions {dict(made)}")
        if w not in orders or orders[w].status != "paid":
            problems.append(f"{w}: order row {orders[w].status if w in orders else None}")
    assert problems == [], "records are not exactly one set per order:\n" + "\n".join(problems[:20])
    return {
        "orders": len(orders),
        "invoices": sum(map(len, invoices.values())),
        "licenses": sum(map(len, licenses.values())),
        "emails": sum(map(len, emails.values())),
        "decisions": sum(map(len, decisions.values())),
    }


def unconfirmed_emails(url: str, workflow_ids: list[str]) -> list[str]:
    """Keys of the emails whose send was cut off (SendGrid's answer never recorded)."""
    rows = rows_by_workflow(url, EmailRow, workflow_ids)
    return [
        r.idempotency_key for group in rows.values() for r in group if r.status == "unconfirmed"
    ]


def check_outbox_files(data_dir: Path, url: str, workflow_ids: list[str]) -> None:
    """The local outbox wrote exactly one .eml file per email row (none half-written)."""
    emails = rows_by_workflow(url, EmailRow, workflow_ids)
    paths = {r.eml_path for rows in emails.values() for r in rows}
    files = {str(p) for p in (data_dir / "outbox").glob("*.eml")}
    partial = list((data_dir / "outbox").glob("*.partial"))
    assert paths == files and not partial, (
        f"outbox files differ from rows: {len(paths)} rows, {len(files)} files, "
        f"{len(partial)} partial"
    )


def check_stripe(double: Any, url: str, workflow_ids: list[str]) -> dict[str, int]:
    """In the Stripe double: exactly one invoice per order's key, sent once, paid; no
    invoice for any other key."""
    by_key = double.invoices_by_key()
    wanted = {f"{w}:invoice" for w in workflow_ids}
    problems = [
        f"{k}: {by_key.get(k, 0)} invoices" for k in sorted(wanted) if by_key.get(k, 0) != 1
    ]
    problems += [f"unexpected invoice key {k}" for k in by_key if k not in wanted]
    for invoice in double.invoices.values():
        if invoice["status"] != "paid" or double.sent[invoice["id"]] != 1:
            problems.append(
                f"{invoice['id']}: {invoice['status']}, sent {double.sent[invoice['id']]}x"
            )
    items = Counter(
        (i["invoice"], (i.get("metadata") or {}).get("line")) for i in double.invoice_items.values()
    )
    problems += [f"invoice item {k} made {n}x" for k, n in items.items() if n != 1]
    mirrored = rows_by_workflow(url, InvoiceRow, workflow_ids)
    for w in workflow_ids:
        ids = [r.id for r in mirrored[w]]
        if len(ids) != 1 or ids[0] not in double.invoices:
            problems.append(f"{w}: mirror rows {ids}")
    assert problems == [], "Stripe double:\n" + "\n".join(problems[:20])
    return {
        "stripe_invoices": len(double.invoices),
        "stripe_customers": len(double.customers),
        "stripe_requests": len(double.requests),
    }


def check_sendgrid(fake: Any, workflow_ids: list[str]) -> dict[str, int]:
    """In the SendGrid fake: no idempotency key delivered twice."""
    sends = fake.sends_by_key()
    twice = {k: n for k, n in sends.items() if n > 1}
    assert twice == {}, f"emails delivered more than once: {twice}"
    ours = [k for k in sends if any(k.startswith(f"{w}:") for w in workflow_ids)]
    return {"sendgrid_delivered": len(ours), "sendgrid_requests": len(fake.requests)}


async def stalls(client: Client, workflow_ids: list[str], longer_than: float = 3.0) -> Counter[str]:
    """Where the orders waited longer than `longer_than` between two history events (the
    event that ended the wait, e.g. WORKFLOW_TASK_TIMED_OUT): the cost of the faults."""
    from temporalio.api.enums.v1 import EventType

    seen: Counter[str] = Counter()
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        events = list(history.events)
        for before, after in zip(events, events[1:], strict=False):
            gap = after.event_time.ToDatetime() - before.event_time.ToDatetime()
            if gap.total_seconds() > longer_than:
                name = EventType.Name(after.event_type).removeprefix("EVENT_TYPE_")
                seen[
                    f"{EventType.Name(before.event_type).removeprefix('EVENT_TYPE_')}->{name}"
                ] += 1
    return seen


async def timeline(client: Client, workflow_id: str) -> str:
    """One order's history as `+seconds EVENT` lines (for diagnosing a slow run)."""
    from temporalio.api.enums.v1 import EventType

    history = await client.get_workflow_handle(workflow_id).fetch_history()
    events = list(history.events)
    start = events[0].event_time.ToDatetime()
    lines = []
    for e in events:
        offset = (e.event_time.ToDatetime() - start).total_seconds()
        lines.append(f"+{offset:6.2f} {EventType.Name(e.event_type).removeprefix('EVENT_TYPE_')}")
    return "\n".join(lines)
