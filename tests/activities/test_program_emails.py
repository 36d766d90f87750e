"""Emails in their program's identity: sender, reply-to, role addresses, brand; and the
partner-facing task emails, which never show the internal tools."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities
from activities.email.render import render_email
from activities.email.sendgrid import sendgrid_body
from models.contracts import EmailRequest
from models.settings import Settings
from models.tables import EmailRow
from tests.workflows.program_mail import INTERNAL_TOOLS, assert_program_mail

TASK = {
    "task": "monthly_sales_report",
    "description": "The partner submits its monthly sales report",
    "handler": "submit_sales_report",
    "example": {"month": "2026-02"},
    "due_at": "2026-03-10T00:00:00Z",
    "assignee": "partner",
    "partner_task": "Please send your monthly sales report.",
}
NOTICE = {
    "headline": "Welcome",
    "company": "Porto Chat Lda",
    "contact_name": "Ana Costa",
    "paragraphs": ["Your partner agreement is signed."],
    "facts": [],
}


def request(program: str, template: str, context: dict[str, Any], **kw: Any) -> EmailRequest:
    fields: dict[str, Any] = {
        "idempotency_key": f"{program}:{template}",
        "workflow_id": "rc-partnership-porto" if program == "rocketchat" else "deal-DR-1",
        "step": "notice",
        "to": ["ana.costa@portochat.example"],
        "cc": ["role:account_manager", "role:finance"],
        "template": template,
        "context": context,
        "program": program,
    }
    return EmailRequest(**{**fields, **kw})


def test_a_rocketchat_email_is_rocketchats(settings: Settings) -> None:
    rendered = render_email(settings, request("rocketchat", "rocketchat_notice", NOTICE))
    assert rendered.from_addr == "Rocket.Chat Partner Program <sales@rocket.chat>"
    assert rendered.reply_to == "sales@rocket.chat"
    assert rendered.cc == ["sales@rocket.chat", "finance@rocket.chat"]
    assert "Rocket.Chat Partner Program" in rendered.html and "#f5455c" in rendered.html
    assert "Rocket.Chat Partner Program" in rendered.text
    for body in (rendered.text, rendered.html, rendered.subject):
        assert "Mattermost" not in body and "mattermost.com" not in body


def test_a_mattermost_email_stays_mattermosts(settings: Settings) -> None:
    rendered = render_email(settings, request("mattermost", "partner_notice", NOTICE))
    assert rendered.from_addr == settings.email_from == rendered.reply_to
    assert rendered.cc == [settings.operations_email, settings.finance_email]
    assert "Mattermost Partner Programs" in rendered.html and "Rocket.Chat" not in rendered.html


def test_a_request_from_before_programs_is_mattermosts() -> None:
    old = {k: v for k, v in request("mattermost", "partner_notice", NOTICE).model_dump().items()}
    del old["program"]
    assert EmailRequest.model_validate(old).program == "mattermost"


@pytest.mark.parametrize("program", ["mattermost", "rocketchat"])
@pytest.mark.parametrize("template", ["partner_task_reminder", "partner_task_escalation"])
@pytest.mark.parametrize("step", ["report:2026-02:reminder", "publish_website:reminder:1"])
def test_partner_task_emails_show_no_internal_tool(
    settings: Settings, program: str, template: str, step: str
) -> None:
    rendered = render_email(settings, request(program, template, TASK, step=step))
    for body in (rendered.subject, rendered.text, rendered.html):
        for word in INTERNAL_TOOLS:
            assert word not in body, (word, body)
    assert "Please send your monthly sales report." in rendered.text
    if step.startswith("report:") and program == "rocketchat":  # the report form and its token
        assert "/webhooks/forms/monthly-sales-report" in rendered.text
        assert '"proof_token": "' in rendered.text
    else:
        assert f"reply to this email ({rendered.reply_to})" in rendered.text


@pytest.mark.parametrize(
    "template", ["subscription_renewal_reminder", "subscription_renewal_direct"]
)
def test_renewal_reminders_show_no_internal_tool(settings: Settings, template: str) -> None:
    from tests.activities.test_email import RENEWAL

    rendered = render_email(settings, request("mattermost", template, RENEWAL))
    for body in (rendered.subject, rendered.text, rendered.html):
        for word in (*INTERNAL_TOOLS, "partnerflow", "Update"):
            assert word not in body, (word, body)
    assert "reply to this email" in rendered.text.lower()
    assert "in 90 days" in rendered.subject


def test_reply_to_reaches_the_message_and_sendgrid(settings: Settings) -> None:
    acts = EmailActivities(settings)
    req = request("rocketchat", "rocketchat_notice", NOTICE)
    ActivityEnvironment().run(acts.send_email, req)
    [eml] = Path(settings.outbox_dir).glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["Reply-To"] == "sales@rocket.chat"
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Rocket.Chat Partner Program",
        "sales@rocket.chat",
    )
    body = sendgrid_body(req, render_email(settings, req))
    assert body["reply_to"] == {"email": "sales@rocket.chat"}
    assert body["from"] == {"email": "sales@rocket.chat", "name": "Rocket.Chat Partner Program"}


def test_the_mail_check_catches_an_internal_tool_and_another_brand(settings: Settings) -> None:
    rendered = render_email(settings, request("rocketchat", "partner_task_reminder", TASK))
    row = EmailRow(
        idempotency_key="k",
        workflow_id="rc-partnership-porto",
        step="report:2026-02:reminder",
        backend="outbox",
        status="sent",
        from_addr=rendered.from_addr,
        to_addrs="ana.costa@portochat.example",
        subject=rendered.subject,
        template="partner_task_reminder",
        text_body=rendered.text + "\nOpen the Temporal UI.",
        html_body=rendered.html,
    )
    with pytest.raises(AssertionError, match="mentions 'Temporal'"):
        assert_program_mail(settings, "rocketchat", [row])
    with pytest.raises(AssertionError):  # not Mattermost's sender, and names Rocket.Chat
        assert_program_mail(settings, "mattermost", [row])
