"""A loopback stand-in for SendGrid's `POST /v3/mail/send`, for adapter tests.

It records every request (path, headers, JSON body) and answers with the next status code
from `statuses` (202 once the list is empty). 202 carries an `X-Message-Id` header; error
answers carry a SendGrid-style `{"errors": [...]}` body.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeSendGrid:
    statuses: list[int] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    retry_after: str | None = None
    delay_seconds: float = 0.0  # answer this late (after recording the request)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeSendGrid:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(
                    RecordedRequest("POST", self.path, dict(self.headers.items()), body)
                )
                status = fake.statuses.pop(0) if fake.statuses else 202
                if fake.delay_seconds:
                    time.sleep(fake.delay_seconds)
                if self.path != "/v3/mail/send":
                    status = 404
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
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
