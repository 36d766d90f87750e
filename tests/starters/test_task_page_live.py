"""The task inbox's forms on the real dev server with a real worker: a real order's tasks
completed from their forms (the operator is who decided, whatever the form says), a refused
input shown by its field, and forged posts refused; the status query shows what changed."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from models.tasks import WorkflowStatus
from starters.web.task_page import task_url
from tests.starters.conftest import OPERATOR, PagesStack, sign_in


def csrf_of(page: str) -> str:
    found = re.search(r'name="_csrf" value="([0-9a-f]+)"', page)
    assert found, "no form on the page"
    return found.group(1)


async def status(pages_stack: PagesStack, workflow_id: str) -> WorkflowStatus:
    handle = pages_stack.client.get_workflow_handle(workflow_id)
    return await handle.query("status", result_type=WorkflowStatus)


def posted(example: dict[str, Any], **changes: str) -> dict[str, str]:
    """The example as a browser posts it (a ticked checkbox sends "true")."""
    values = {k: "true" if v is True else str(v) for k, v in example.items() if v is not None}
    return {**values, **changes}


async def test_tasks_are_completed_from_the_inbox_form_by_the_signed_in_operator(
    web: httpx.AsyncClient, pages_stack: PagesStack
) -> None:
    assert (await sign_in(web)).status_code == 303
    workflow_id, _ = await pages_stack.start("order")
    terms = await pages_stack.task(workflow_id, "accept_terms")
    await pages_stack.visible(f'WorkflowId = "{workflow_id}" AND PendingTask = "accept_terms"')

    inbox = await web.get("/tasks", params={"q": workflow_id})
    action = task_url(workflow_id, "accept_terms")
    assert f'action="{action}"' in inbox.text and "Complete this task" in inbox.text
    assert f'value="{html.escape(terms["example"]["email"])}"' in inbox.text  # prefilled
    assert re.search(r'<label for="t1-email">Email', inbox.text)
    assert "Send an Update" in inbox.text and "Send Signal" not in inbox.text
    csrf = csrf_of(inbox.text)

    accepted = await web.post(
        action, data=posted(terms["example"], _csrf=csrf, _task="accept_terms", via="page")
    )
    assert accepted.status_code == 200, accepted.text
    assert "Done: accept_terms" in accepted.text and "license_review" in accepted.text
    assert "review_license" in accepted.text and "license_desk" in accepted.text
    after_terms = await status(pages_stack, workflow_id)
    recorded = [h for h in after_terms.history if h.step == "accept_terms"]
    assert recorded and {(h.actor, h.detail["via"]) for h in recorded} == {
        (terms["example"]["email"], "operator")  # the post said "page": the server sets it
    }

    review = await pages_stack.task(workflow_id, "review_license")
    forged_actor = posted(review["example"], _csrf=csrf, reviewer="mallory@evil.example")
    approved = await web.post(task_url(workflow_id, "review_license"), data=forged_actor)
    assert approved.status_code == 200, approved.text
    assert "Done: approve" in approved.text and f"<dd>{OPERATOR}</dd>" in approved.text
    assert "mallory" not in approved.text
    now = await status(pages_stack, workflow_id)
    assert now.stage != after_terms.stage and f"<strong>{now.stage}</strong>" in approved.text
    decided = [h for h in now.history if h.step == "review_license"]
    assert decided and {h.actor for h in decided} == {OPERATOR}
    assert [t.task for t in now.pending_tasks] == ["record_payment"]


async def test_a_refused_or_forged_post_changes_nothing(
    web: httpx.AsyncClient, pages_stack: PagesStack
) -> None:
    assert (await sign_in(web)).status_code == 303
    workflow_id, _ = await pages_stack.start("order")
    await pages_stack.complete(workflow_id, "accept_terms")
    review = await pages_stack.task(workflow_id, "review_license")
    url = task_url(workflow_id, "review_license")
    page = await web.get(url)
    assert page.status_code == 200 and "Reviewer:</span> <strong>anna</strong>" in page.text
    csrf = csrf_of(page.text)
    before = await status(pages_stack, workflow_id)

    rejected = await web.post(
        url, data={"_csrf": csrf, "decision": "reject", "notes": "kept as typed"}
    )
    assert rejected.status_code == 422, rejected.text
    assert re.search(r'id="task-reason-error">a rejection needs a reason<', rejected.text)
    assert '<option value="reject" selected>' in rejected.text and "kept as typed" in rejected.text

    refusals = [
        await web.post(url, data={"decision": "approve"}),
        await web.post(url, data={"_csrf": csrf[::-1], "decision": "approve"}),
        await web.post(
            url,
            data={"_csrf": csrf, "decision": "approve"},
            headers={"Origin": "https://evil.example"},
        ),
    ]
    assert [r.status_code for r in refusals] == [403, 403, 403]
    closed = await web.post(task_url(workflow_id, "accept_terms"), data={"_csrf": csrf})
    assert closed.status_code == 409 and "not open" in closed.text
    for missing in ("order-no-such", ""):
        unknown = await web.post(task_url(missing, "review_license"), data={"_csrf": csrf})
        assert unknown.status_code == 404, (missing, unknown.text)

    after = await status(pages_stack, workflow_id)
    assert after.stage == before.stage == "license_review"
    assert after.history == before.history
    assert [t.task for t in after.pending_tasks] == [review["task"]]
