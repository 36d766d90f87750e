"""The community workgroup: the local adapter (default) and the Rocket.Chat REST client
against a loopback fake of `groups.create` / `channels.create`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError

from activities.community import (
    CommunityActivities,
    WorkgroupRequest,
    list_workgroups,
    room_name_for,
)
from models.settings import Settings


class FakeRocketChat(BaseHTTPRequestHandler):
    rooms: dict[str, dict[str, Any]] = {}
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        if (
            self.headers.get("X-User-Id") != "bot-id"
            or self.headers.get("X-Auth-Token") != "bot-token"
        ):
            self._answer(401, {"status": "error", "message": "You must be logged in to do this."})
            return False
        return True

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        self.calls.append(("POST", self.path, body))
        if not self._authorized():
            return
        kind = self.path.removeprefix("/api/v1/").split(".")[0]
        key = "group" if kind == "groups" else "channel"
        if self.path.endswith(".create"):
            if body["name"] in self.rooms:
                return self._answer(
                    400,
                    {
                        "success": False,
                        "error": (
                            "A channel with name already exists [error-duplicate-channel-name]"
                        ),
                        "errorType": "error-duplicate-channel-name",
                    },
                )
            room = {
                "_id": f"room{len(self.rooms) + 1}",
                "name": body["name"],
                "t": "p" if kind == "groups" else "c",
                "usernames": body.get("members", []),
            }
            self.rooms[body["name"]] = room
            return self._answer(200, {key: room, "success": True})
        if self.path.endswith(".setTopic"):
            return self._answer(200, {"topic": body["topic"], "success": True})
        self._answer(404, {"success": False, "error": "unknown"})

    def do_GET(self) -> None:  # noqa: N802
        self.calls.append(("GET", self.path, {}))
        if not self._authorized():
            return
        name = self.path.split("roomName=")[1]
        kind = "group" if "/groups." in self.path else "channel"
        self._answer(200, {kind: self.rooms[name], "success": True})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    FakeRocketChat.rooms, FakeRocketChat.calls = {}, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeRocketChat)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def request(key: str = "rc-onboarding-porto-chat:workgroup") -> WorkgroupRequest:
    return WorkgroupRequest(
        idempotency_key=key,
        workflow_id="rc-onboarding-porto-chat",
        partner_id="porto-chat",
        company="Porto Chat Lda",
        members=["ana.costa"],
        topic="Porto Chat Lda × Rocket.Chat core team",
    )


def rest(settings: Settings, url: str, **kw: Any) -> Settings:
    return settings.model_copy(
        update={
            "rocketchat_backend": "rest",
            "rocketchat_server_url": url,
            "rocketchat_user_id": "bot-id",
            "rocketchat_auth_token": SecretStr("bot-token"),
            **kw,
        }
    )


def test_local_adapter_records_the_workgroup_once(settings: Settings) -> None:
    activities = CommunityActivities(settings)
    first = activities.create_workgroup(request())
    again = activities.create_workgroup(request())
    assert first == again and first.backend == "local" and first.room_name == "partner-porto-chat"
    assert first.url == "https://open.rocket.chat/group/partner-porto-chat"
    assert [w.room_id for w in list_workgroups(settings, "porto-chat")] == [first.room_id]
    assert room_name_for("Acme Ltd/EU") == "partner-acme-ltd-eu"


def test_rest_client_creates_a_private_group_with_topic(settings: Settings, server: str) -> None:
    group = CommunityActivities(rest(settings, server)).create_workgroup(request())
    assert group.backend == "rest" and group.room_id == "room1" and group.room_type == "private"
    methods = [(m, p) for m, p, _ in FakeRocketChat.calls]
    assert methods == [("POST", "/api/v1/groups.create"), ("POST", "/api/v1/groups.setTopic")]
    assert FakeRocketChat.calls[0][2] == {
        "name": "partner-porto-chat",
        "members": ["ana.costa"],
        "readOnly": False,
    }
    assert list_workgroups(settings)[0].room_id == "room1"


def test_rest_client_public_channel_and_existing_room(settings: Settings, server: str) -> None:
    public = rest(settings, server, rocketchat_workgroup_private=False)
    FakeRocketChat.rooms["partner-porto-chat"] = {
        "_id": "existing",
        "name": "partner-porto-chat",
        "t": "c",
    }
    channel = CommunityActivities(public).create_workgroup(request())
    assert channel.room_id == "existing" and channel.url.endswith("/channel/partner-porto-chat")
    assert [p for _, p, _ in FakeRocketChat.calls][:2] == [
        "/api/v1/channels.create",
        "/api/v1/channels.info?roomName=partner-porto-chat",
    ]


def test_rest_client_bad_token_is_permanent(settings: Settings, server: str) -> None:
    bad = rest(settings, server, rocketchat_auth_token=SecretStr("wrong"))
    with pytest.raises(ApplicationError) as info:
        CommunityActivities(bad).create_workgroup(request())
    assert info.value.non_retryable and info.value.type == "RocketChatUnauthorized"
    unset = settings.model_copy(update={"rocketchat_backend": "rest"})
    with pytest.raises(ApplicationError, match="needs ROCKETCHAT_USER_ID"):
        CommunityActivities(unset).create_workgroup(request())
    assert list_workgroups(settings) == []


def test_unreachable_server_is_retryable(settings: Settings) -> None:
    with pytest.raises(ApplicationError) as info:
        CommunityActivities(rest(settings, "http://127.0.0.1:9")).create_workgroup(request())
    assert not info.value.non_retryable and info.value.type == "RocketChatUnavailable"
