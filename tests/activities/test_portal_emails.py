"""Partner-facing emails point to the partner portal (issue 15, item 4): a partner's task to
the task's portal page, a lifecycle notice to its portal page; a signed one-off link stays;
nothing of the internal tools. The links are computed when the email is rendered, so the
contexts of running workflows (which carry no portal key) get them too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from activities.email.render import render_email
from models.contracts import EmailRequest
from models.notices import notice
from models.settings import Settings
from models.tasks import LinkSpec
from tests.activities.test_program_emails import TASK, request
from tests.workflows.program_mail import INTERNAL_TOOLS

BASE = "http://127.0.0.1:8000"


def bodies(settings: Settings, req: EmailRequest) -> tuple[str, str, str]:
    rendered = render_email(settings, req)
    for body in (rendered.subject, rendered.text, rendered.html):
        for word in INTERNAL_TOOLS:
            assert word not in body, (word, body)
    return rendered.subject, rendered.text, rendered.html


@pytest.mark.parametrize("template", ["partner_task_reminder", "partner_task_escalation"])
@pytest.mark.parametrize("program", ["mattermost", "rocketchat"])
def test_a_partner_task_email_links_the_tasks_portal_page(
    settings: Settings, template: str, program: str
) -> None:
    req = request(program, template, TASK, workflow_id="rc-partnership-porto 1")
    _, text, html = bodies(settings, req)
    base = settings.public_base_url.rstrip("/")
    url = f"{base}/portal/tasks/rc-partnership-porto%201/submit_sales_report"
    assert f"Complete it in the partner portal: {url}" in text
    assert f'href="{url}"' in html
    assert "reply to this email" in text  # still possible, as the second way


def test_a_task_of_another_role_links_the_portal_home_only(settings: Settings) -> None:
    task = {**TASK, "assignee": "account_manager"}
    _, text, _ = bodies(settings, request("rocketchat", "partner_task_reminder", task))
    assert "/portal/tasks/" not in text
    assert f"Your partner portal: {settings.public_base_url.rstrip('/')}/portal/home" in text


def listing_request(settings: Settings, kind: str) -> EmailRequest:
    context: dict[str, Any] = {
        "company": "Nordlicht IT GmbH",
        "contact_name": "Lena Hoffmann",
        "partner_id": "nordlicht-it",
        "comments": "Please shorten the description",
        "reason": "Agreement terminated",
        "effective_date": "2026-12-31",
        "program": "Mattermost Partner Program",
        "open_deals": [],
    }
    expires = datetime.now(UTC) + timedelta(days=30)
    return EmailRequest(
        idempotency_key=f"directory-nordlicht-it:{kind}",
        workflow_id="directory-nordlicht-it",
        step="listing:request",
        to=["lena@nordlicht.example"],
        template="partner_notice",
        context=notice(kind, context),
        links={"action_url": LinkSpec(purpose="directory_listing", expires_at=expires)},
        program="mattermost",
    )


@pytest.mark.parametrize("kind", ["listing_request", "listing_changes_requested"])
def test_a_listing_email_keeps_its_signed_link_and_adds_the_portal(
    settings: Settings, kind: str
) -> None:
    _, text, html = bodies(settings, listing_request(settings, kind))
    assert "/listing/" in text  # the signed one-off link stays
    portal = f"{settings.public_base_url.rstrip('/')}/portal/listing"
    assert f"partner portal: {portal} " in text and f'href="{portal}"' in html


def test_an_email_to_a_partner_that_left_has_no_portal_link(settings: Settings) -> None:
    _, text, html = bodies(settings, listing_request(settings, "partner_offboarded"))
    assert "/portal" not in text and "/portal" not in html


def test_an_old_context_renders_with_the_portal_link(settings: Settings) -> None:
    """A context recorded before the portal existed (no portal key) renders with it."""
    old = {k: v for k, v in TASK.items() if k != "partner_task"}
    _, text, _ = bodies(settings, request("mattermost", "partner_task_reminder", old))
    assert "/portal/tasks/deal-DR-1/submit_sales_report" in text
