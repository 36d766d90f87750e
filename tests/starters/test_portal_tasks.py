"""The partner portal's "waiting on you" and task pages on the dev server (visibility needs
it): a partner sees and completes only its own tasks; another partner's workflow, or a task
that is not the partner's, is a 404 with nothing of it in the body."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from temporalio.client import WorkflowHandle

from models.directory import EXAMPLE_LOGO, LISTING_DESCRIPTION
from tests.eventually import eventually
from tests.starters.conftest import PagesStack
from tests.starters.test_portal_sign_in import add_partner, sent_links
from tests.workflows.harness import uid
from tests.workflows.test_directory_listing import listing_input

BASE = "http://testserver"


async def start_listing(stack: PagesStack, contact: str) -> tuple[WorkflowHandle[Any, Any], str]:
    data = listing_input()
    add_partner(stack.settings, "mattermost", data.partner_id, contact)
    workflow_id = f"directory-{data.partner_id}"
    handle = await stack.client.start_workflow(
        "DirectoryListing", data, id=workflow_id, task_queue=stack.settings.temporal_task_queue
    )
    stack.started.append(workflow_id)
    return handle, data.partner_id


async def signed_in(app_transport: Any, stack: PagesStack, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=app_transport, base_url=BASE)
    await client.post("/portal", data={"email": email})
    [link] = [link for to, link in sent_links(stack.settings) if to == email]
    path = re.sub(r"^https?://[^/]+", "", link)
    assert (await client.post(path)).status_code == 303
    return client


def csrf_of(page: str) -> str:
    match = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


async def test_a_partner_sees_and_completes_only_its_own_tasks(
    pages_stack: PagesStack, web: httpx.AsyncClient
) -> None:
    stack = pages_stack
    mine, my_id = await start_listing(stack, f"lena-{uid()}@nordlicht.example")
    theirs, their_id = await start_listing(stack, f"max-{uid()}@other.example")
    my_contact = add_contact_email(stack, my_id)
    their_contact = add_contact_email(stack, their_id)
    me = await signed_in(web._transport, stack, my_contact)
    other = await signed_in(web._transport, stack, their_contact)

    async def listed() -> str | None:
        home = (await me.get("/portal/home")).text
        return home if "Submit listing" in home else None

    home = await eventually(listed, timeout=20, what="the partner's task on its portal home")
    assert "/portal/listing" in home and their_id not in home  # the listing has its page
    task_url = f"/portal/tasks/{mine.id}/submit_listing"

    # the other partner: 404 on every route of this task, nothing of it in the body
    for response in (
        await other.get(task_url),
        await other.post(task_url, data={"_csrf": "x"}),
        await other.get(f"/portal/tasks/{mine.id}/review_listing"),
    ):
        assert response.status_code in (403, 404), response.status_code
        assert my_id not in response.text and "Nordlicht" not in response.text
    assert (await other.get(task_url)).status_code == 404
    # not the partner's task (the reviewer's) and a workflow that does not exist: the same 404
    assert (await me.get(f"/portal/tasks/{mine.id}/review_listing")).status_code == 404
    assert (await me.get("/portal/tasks/directory-nobody/submit_listing")).status_code == 404

    page = await me.get(task_url)
    assert page.status_code == 200
    fields = {
        "_csrf": csrf_of(page.text),
        "_task": "submit_listing",
        "partner_id": my_id,
        "name": "Nordlicht IT",
        "description": "Too short.",
        "city": "Berlin",
        "country": "DE",
        "website": "https://nordlicht.example.com",
        "logo": json.dumps(EXAMPLE_LOGO),
    }
    refused = await me.post(task_url, data=fields)
    assert refused.status_code in (400, 422), refused.text
    assert "description" in refused.text.lower()
    # the partner id is the session's, whatever the form says
    accepted = await me.post(
        task_url, data={**fields, "description": LISTING_DESCRIPTION, "partner_id": their_id}
    )
    assert accepted.status_code == 200, accepted.text
    assert "Done:" in accepted.text

    forged = await me.post(task_url, data={**fields, "_csrf": "forged"})
    assert forged.status_code == 403
    await me.aclose()
    await other.aclose()


def add_contact_email(stack: PagesStack, partner_id: str) -> str:
    from activities import portal_access

    email = f"contact-{partner_id}@portal.example"
    portal_access.add_contact(stack.settings, "mattermost", partner_id, email, name="C", by="ops")
    return email
