"""A loopback stand-in for SendGrid's `POST /v3/mail/send`, for adapter tests.

It records every request (path, headers, JSON body, the status answered) and answers with
the next status code from `statuses` (202 once the list is empty). 202 carries an
`X-Message-Id` header; error answers carry a SendGrid-style `{"errors": [...]}` body.

Fault injection for the chaos tests counts requests, never seconds, so a schedule holds on
any machine load: `fail_next(count, statuses, where=...)` answers the next `count`
matching requests with `statuses` in turn (an outage of `count` calls); faults queue up in
the order they were added, so `fail_next(2, 500)`, `fail_next(1, 429)`,
`fail_next(1, "timeout")` means "two 500s, then a 429, then a timeout, then normal". A
status is an HTTP code or `"timeout"` (the request is held `timeout_seconds`, then the
connection closes without an answer). Faulted requests are not delivered: only 202 answers
count in `sends_by_key()`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TIMEOUT = "timeout"


@dataclass
class _Fault:
    remaining: int
    statuses: tuple[int | str, ...]
    where: Callable[[dict[str, Any]], bool] | None = None
    served: int = 0

    def take(self, body: dict[str, Any]) -> int | str | None:
        if self.remaining <= 0:
            return None
        if self.where is not None and not self.where(body):
            return None
        self.remaining -= 1
        self.served += 1
        return self.statuses[(self.served - 1) % len(self.statuses)]


def idempotency_key(body: dict[str, Any]) -> str:
    """The Partnerflow idempotency key a mail-send body carries (custom_args)."""
    personalizations = body.get("personalizations") or [{}]
    return str((personalizations[0].get("custom_args") or {}).get("idempotency_key", ""))


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int = 0  # what the fake answered (0: no answer, an injected timeout)


@dataclass
class FakeSendGrid:
    statuses: list[int] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    retry_after: str | None = None
    delay_seconds: float = 0.0  # answer this late (after recording the request)
    timeout_seconds: float = 1.0  # how long an injected "timeout" holds the request
    faults: list[_Fault] = field(default_factory=list)
    faults_served: Counter[str] = field(default_factory=Counter)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(
        self,
        count: int = 1,
        statuses: int | str | tuple[int | str, ...] = 500,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Answer the next `count` requests (whose JSON body satisfies `where`) with
        `statuses` in turn: HTTP codes or "timeout". Queued behind the faults added before."""
        cycle = statuses if isinstance(statuses, tuple) else (statuses,)
        with self._lock:
            self.faults.append(_Fault(count, cycle, where))

    def heal(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self.faults.clear()

    def sends_by_key(self) -> Counter[str]:
        """Emails delivered (answered 202) per Partnerflow idempotency key."""
        return Counter(idempotency_key(r.body) for r in list(self.requests) if r.status == 202)

    def _injected(self, body: dict[str, Any]) -> int | str | None:
        with self._lock:
            for fault in self.faults:
                status = fault.take(body)
                if status is not None:
                    self.faults_served[str(status)] += 1
                    return status
        return None

    def start(self) -> FakeSendGrid:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                recorded = RecordedRequest("POST", self.path, dict(self.headers.items()), body)
                fake.requests.append(recorded)
                injected = fake._injected(body)
                if injected == TIMEOUT:  # hold the request, then hang up without an answer
                    time.sleep(fake.timeout_seconds)
                    self.close_connection = True
                    return
                if injected is not None:
                    status = int(injected)
                else:
                    status = fake.statuses.pop(0) if fake.statuses else 202
                if fake.delay_seconds:
                    time.sleep(fake.delay_seconds)
                if self.path != "/v3/mail/send":
                    status = 404
                recorded.status = status
                if status == 202:
                    self.send_response(202)
                    self.send_header("X-Message-Id", f"fake-msg-{len(fake.requests)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = json.dumps(
                    {"errors": [{"message": f"fake error {status}", "field": "from.email"}]}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if status == 429 and fake.retry_after:
                    self.send_header("Retry-After", fake.retry_after)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
