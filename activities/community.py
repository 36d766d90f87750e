"""The partner's workgroup on Rocket.Chat's community server (open.rocket.chat).

Two adapters behind one activity, chosen by `ROCKETCHAT_BACKEND`:
- `local` (default): the workgroup is recorded in the records database only;
- `rest`: the Rocket.Chat REST API, `POST /api/v1/groups.create` (private group) or
  `POST /api/v1/channels.create` (public channel), authenticated with the `X-User-Id` and
  `X-Auth-Token` headers (a bot's personal access token). A room that already exists under
  the name (`error-duplicate-channel-name`, e.g. a retry after a lost answer) is looked up
  with `groups.info`/`channels.info` and taken as the result.

Either way the workgroup is recorded once per idempotency key (`rocketchat_workgroups`).
Authentication and validation failures are permanent (non-retryable); network errors and
5xx answers are retried by Temporal.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel import select
from temporalio import activity

from activities.database import session_scope
from activities.errors import RocketChatRefused, RocketChatUnauthorized, RocketChatUnavailable
from models.rocketchat import Workgroup, WorkgroupRequest
from models.settings import Settings
from models.tables import RocketChatWorkgroupRow

TIMEOUT = httpx.Timeout(20.0)


def room_name_for(partner_id: str) -> str:
    """`partner-{partner_id}`: Rocket.Chat room names allow letters, digits, `-`, `_`, `.`."""
    return "partner-" + re.sub(r"[^a-z0-9._-]", "-", partner_id.lower())[:80]


class RocketChatClient:
    """The few REST calls the program needs."""

    def __init__(
        self,
        server_url: str,
        user_id: str,
        token: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base = server_url.rstrip("/") + "/api/v1/"
        self.http = httpx.Client(
            timeout=TIMEOUT,
            transport=transport,
            headers={
                "X-User-Id": user_id,
                "X-Auth-Token": token,
                "Content-Type": "application/json",
            },
        )

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, endpoint: str, **kw: Any) -> dict[str, Any]:
        try:
            response = self.http.request(method, self.base + endpoint, **kw)
        except httpx.HTTPError as exc:
            raise RocketChatUnavailable(
                f"Rocket.Chat {endpoint}: {type(exc).__name__}: {exc}"
            ) from None
        try:
            data: dict[str, Any] = response.json()
        except ValueError:
            data = {}
        if response.status_code in (401, 403):
            raise RocketChatUnauthorized(
                f"Rocket.Chat {endpoint}: not authorized "
                "(check ROCKETCHAT_USER_ID / ROCKETCHAT_AUTH_TOKEN)"
            )
        if response.status_code >= 500 or response.status_code == 429:
            raise RocketChatUnavailable(f"Rocket.Chat {endpoint}: HTTP {response.status_code}")
        if response.status_code >= 400 or not data.get("success", False):
            raise RocketChatRefused(
                endpoint,
                data.get("errorType") or data.get("error") or f"HTTP {response.status_code}",
                data,
            )
        return data

    def create_room(
        self, name: str, members: list[str], private: bool, topic: str | None = None
    ) -> dict[str, Any]:
        kind = "groups" if private else "channels"
        key = "group" if private else "channel"
        try:
            room: dict[str, Any] = self._call(
                "POST", f"{kind}.create", json={"name": name, "members": members, "readOnly": False}
            )[key]
        except RocketChatRefused as exc:
            if exc.error_type != "error-duplicate-channel-name":
                raise
            room = self._call("GET", f"{kind}.info", params={"roomName": name})[key]
        if topic:
            self._call("POST", f"{kind}.setTopic", json={"roomId": room["_id"], "topic": topic})
        return room


class CommunityActivities:
    """The workgroup activity, over `transport` when given (tests)."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport

    @activity.defn(name="create_workgroup")
    def create_workgroup(self, request: WorkgroupRequest) -> Workgroup:
        """Create (once) the partner's workgroup and record it."""
        url = self.settings.resolved_database_url
        with session_scope(url) as session:
            existing = session.exec(
                select(RocketChatWorkgroupRow).where(
                    RocketChatWorkgroupRow.idempotency_key == request.idempotency_key
                )
            ).first()
            if existing is not None:
                return _workgroup(existing)
        name = room_name_for(request.partner_id)
        private = self.settings.rocketchat_workgroup_private
        server = self.settings.rocketchat_server_url.rstrip("/")
        if self.settings.rocketchat_backend == "rest":
            token = self.settings.rocketchat_auth_token
            if not self.settings.rocketchat_user_id or token is None:
                raise RocketChatUnauthorized(
                    "ROCKETCHAT_BACKEND=rest needs ROCKETCHAT_USER_ID and ROCKETCHAT_AUTH_TOKEN"
                )
            client = RocketChatClient(
                server, self.settings.rocketchat_user_id, token.get_secret_value(), self.transport
            )
            try:
                room = client.create_room(name, request.members, private, request.topic)
            finally:
                client.close()
            room_id, backend = room["_id"], "rest"
        else:
            room_id, backend = (
                "local-" + uuid.uuid5(uuid.NAMESPACE_URL, request.idempotency_key).hex[:17],
                "local",
            )
        row = RocketChatWorkgroupRow(
            room_name=name,
            idempotency_key=request.idempotency_key,
            partner_id=request.partner_id,
            workflow_id=request.workflow_id,
            room_id=room_id,
            room_type="private" if private else "public",
            backend=backend,
            server_url=server,
            members_json=json.dumps(request.members),
            created_at=datetime.now(UTC),
        )
        with session_scope(url) as session:
            stored = session.get(RocketChatWorkgroupRow, name)
            if stored is None:
                session.add(row)
                session.commit()
                stored = row
            else:  # the same room, recorded by an earlier attempt
                stored.idempotency_key, stored.room_id = request.idempotency_key, room_id
                session.add(stored)
                session.commit()
            session.refresh(stored)
            return _workgroup(stored)


def _workgroup(row: RocketChatWorkgroupRow) -> Workgroup:
    path = "group" if row.room_type == "private" else "channel"
    return Workgroup(
        room_id=row.room_id,
        room_name=row.room_name,
        room_type=row.room_type,
        backend=row.backend,
        url=f"{row.server_url}/{path}/{row.room_name}",
    )


def list_workgroups(settings: Settings, partner_id: str | None = None) -> list[Workgroup]:
    """The recorded workgroups, optionally of one partner."""
    with session_scope(settings.resolved_database_url) as session:
        query = select(RocketChatWorkgroupRow)
        if partner_id:
            query = query.where(RocketChatWorkgroupRow.partner_id == partner_id)
        return [_workgroup(r) for r in session.exec(query)]
