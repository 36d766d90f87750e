"""The email port: templates, recipients, signed links, the outbox and SendGrid adapters."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_schema_validator import OAS31Validator
from pydantic import SecretStr
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import activities.email.local as outbox_module
import activities.email.sendgrid as sendgrid_module
from activities.database import session_scope
from activities.email import EmailActivities
from activities.email.local import OutboxMailer
from activities.email.records import list_outbox
from activities.email.render import available_templates, format_date, format_money, render_email
from activities.email.sendgrid import SendGridMailer, sendgrid_body
from models.contracts import EmailAttachment, EmailRequest
from models.links import read_token
from models.settings import Settings
from models.tables import EmailRow
from models.tasks import LinkSpec
from tests.activities.sendgrid_fake import FakeSendGrid

SPEC_PATH = Path(
    os.environ.get(
        "SENDGRID_OPENAPI_SPEC",
        Path(__file__).resolve().parent.parent / "contracts" / "sendgrid-mail-v3.openapi.json",
    )
)
NOW = datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
LINK_EXPIRES = datetime(2099, 1, 1, tzinfo=UTC)

ORDER = {
    "order_id": "ORD-2026-0042",
    "end_customer_name": "Globex Industrie GmbH",
    "reseller_company": "Acme & Sons <EU>",
}
TERMS = {
    **ORDER,
    "contact_name": "Hanna Schmidt",
    "lines": [
        {"sku": "MM-ENT-1Y", "description": "Mattermost Enterprise, 1 year", "seats": 1500},
        {"sku": "MM-SUP-PREM", "description": "Premier Support", "seats": 1},
    ],
    "terms_title": "Enterprise Subscription Terms for Purchase by Resale",
    "terms_url": "https://mattermost.com/enterprise-subscription-terms-resale/",
    "expires_at": (NOW + timedelta(days=14)).isoformat(),  # JSON-borne: a string
}
TASK = {
    "task": "review_license",
    "description": "Review the order and issue the Enterprise license within one business day",
    "handler": "review_license",
    "example": {"reviewer": "Jane O'Neil", "decision": "approve", "notes": None},
    "due_at": (NOW + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
    "assignee": "license_desk",
}
INVOICE = {
    **ORDER,
    "invoice_number": "MM-2026-0107",
    "amount_cents": 12_345_050,
    "currency": "usd",
    "due_at": NOW + timedelta(days=30),
    "hosted_url": None,
}
DEAL = {
    "deal_number": "DR-2026-000123",
    "partner_company": "Nordlicht IT-Systemhaus GmbH",
    "contact_name": "Lena Hoffmann",
    "end_customer_name": "Hanse Logistik AG",
    "product": "Mattermost Enterprise, 1 year",
    "seats": 250,
    "discount_percent": 20,
    "list_cents": 3_000_000,
    "discount_cents": 600_000,
    "net_cents": 2_400_000,
    "review_business_days": 2,
}
AGREEMENT = {
    "agreement_title": "Mattermost Authorized Reseller Agreement (one-time resale)",
    "signer_name": "Jonas Weber",
    "company": "Acme & Sons <EU>",
    "vendor": "Mattermost",
    "expires_at": NOW + timedelta(days=14),
}
RENEWAL = {
    **TERMS,
    "subscription_id": "ORD-2026-0042",
    "term": 1,
    "license_id": "lic_8f2c",
    "expires_at": NOW + timedelta(days=90),
    "days_before": 90,
    "grace_days": 30,
    "value_cents": 15_000_000,
    "currency": "usd",
}
CONTEXTS: dict[str, dict[str, Any]] = {
    # deal registration and authorized resale
    "deal_registration_update": {
        **DEAL,
        "event": "approved",
        "headline": "approved",
        "protected_until": NOW + timedelta(days=90),
        "reason": "",
        "question": "",
        "due_at": None,
        "description": "",
    },
    "referral_fee_instructions": {
        **DEAL,
        "fee_cents": 600_000,
        "note": "Referral fee for deal registration DR-2026-000123",
        "payments_email": "payments@mattermost.com",
    },
    "resale_update": {
        "request_id": "RS-2026-0042",
        "reseller_company": "Acme & Sons <EU>",
        "contact_name": "Mari Tamm",
        "end_customer_name": "Tallinna Sadam AS",
        "event": "rejected",
        "headline": "not approved",
        "reason": "The customer can buy direct",
        "description": "",
        "due_at": None,
        "purchase_order": "",
    },
    "order_refused": {**ORDER, "reason": "Resale orders cannot carry custom terms"},
    "terms_acceptance_request": TERMS,
    "terms_acceptance_reminder": {**TERMS, "reminder_number": 2},
    "terms_acceptance_expired": ORDER,
    "task_reminder": TASK,
    "task_escalation": TASK,
    "partner_task_reminder": {**TASK, "partner_task": "Please send your monthly sales report."},
    "partner_task_escalation": {**TASK, "partner_action": "attach the report"},
    "license_issued": {
        "order_id": ORDER["order_id"],
        "end_customer_name": ORDER["end_customer_name"],
        "contact_name": "Hanna Schmidt",
        "license_id": "lic_8f2c",
        "users": 1500,
        "sku": "mattermost-enterprise",
        "starts_at": NOW,
        "expires_at": NOW + timedelta(days=365),
    },
    "invoice_issued": INVOICE,
    "invoice_due_reminder": {**INVOICE, "days_until_due": 5},
    "invoice_overdue_notice": {**INVOICE, "days_overdue": 12, "notice_number": 2},
    "invoice_paid": {**INVOICE, "hosted_url": "https://invoice.stripe.com/i/acct_1/test_x"},
    "invoice_closed": {**INVOICE, "status": "void", "reason": "Order cancelled by the reseller"},
    "agreement_signature_request": AGREEMENT,
    "agreement_signature_reminder": {**AGREEMENT, "reminder_number": 1},
    "partner_notice": {
        "headline": "Your directory listing is published",
        "company": "Nordlicht IT GmbH",
        "contact_name": "Lena Hoffmann",
        "kind": "listing_published",
        "paragraphs": [
            "The listing of Nordlicht IT is published in the Mattermost partner directory."
        ],
        "facts": [["Partner", "nordlicht-it"]],
    },
    # subscription renewals
    "subscription_renewal_reminder": RENEWAL,
    "subscription_renewal_direct": RENEWAL,
    # the partner portal's sign-in link
    "portal_sign_in": {
        "minutes": 30,
        "action_url": "http://127.0.0.1:8000/portal/sign-in/abc",
        "partner_id": "nordlicht-it",
        "program_name": "Mattermost Partner Program",
    },
    # the partner portal: a partner asks the license desk for its evaluation license's renewal
    "evaluation_renewal_request": {
        "company": "Nordlicht IT GmbH",
        "partner_id": "nordlicht-it",
        "license_id": "abcdefghijklmnopqrstuvwxyz",
        "expires_at": "2027-03-01T00:00:00+00:00",
        "requested_by": "lena@nordlicht.example",
        "renewal_open": False,
    },
    "rocketchat_notice": {
        "headline": "Welcome to the Rocket.Chat Partner Program",
        "company": "Porto Chat Lda",
        "contact_name": "Ana Costa",
        "paragraphs": [
            "Your partner agreement is signed.",
            "Basic training is due within 60 days.",
        ],
        "facts": [["Program fee", "USD 1,200.00"], ["Training due", "January 29, 2027"]],
    },
}
LINKS = {"accept_url": LinkSpec(purpose="accept_terms", expires_at=LINK_EXPIRES)}
SIGN_LINKS = {
    "sign_url": LinkSpec(purpose="sign_agreement", expires_at=LINK_EXPIRES, subject="agr_1")
}


def make_request(template: str = "order_refused", key: str = "order-ORD-1:refused", **kw: Any):
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "workflow_id": "order-ORD-1",
        "step": "refused",
        "to": ["buyer@acme.example"],
        "template": template,
        "context": CONTEXTS[template],
        "links": LINKS
        if template.startswith("terms_acceptance_r")
        else SIGN_LINKS
        if template.startswith("agreement_")
        else {},
        "program": "rocketchat" if template.startswith("rocketchat") else "mattermost",
    }
    return EmailRequest(**{**fields, **kw})


def send(acts: EmailActivities, request: EmailRequest):
    return ActivityEnvironment().run(acts.send_email, request)


def rows(settings: Settings) -> list[EmailRow]:
    with session_scope(settings.resolved_database_url) as session:
        return list(session.exec(select(EmailRow)).all())


# --- rendering -------------------------------------------------------------------------------


def test_every_template_is_covered() -> None:
    assert sorted(CONTEXTS) == available_templates()


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_every_template_renders_text_and_html(settings: Settings, template: str) -> None:
    rendered = render_email(settings, make_request(template))

    assert rendered.subject and "\n" not in rendered.subject and len(rendered.subject) < 200
    assert rendered.text.strip() and rendered.html.lstrip().startswith("<!DOCTYPE html>")
    for body in (rendered.text, rendered.html):
        assert "order-ORD-1" in body  # the reference in the footer
        assert "Undefined" not in body and "None" not in body and "{{" not in body
    if "reseller_company" in CONTEXTS[template]:
        assert "Acme & Sons <EU>" in rendered.text
        assert "Acme &amp; Sons &lt;EU&gt;" in rendered.html and "<EU>" not in rendered.html


def test_values_are_formatted_for_people(settings: Settings) -> None:
    issued = render_email(settings, make_request("invoice_issued"))
    assert "USD 123,450.50" in issued.subject and "April 4, 2026" in issued.subject
    assert "bank transfer" in issued.text  # no hosted_url: payment instructions instead

    terms = render_email(settings, make_request("terms_acceptance_request"))
    assert "1,500 seats" in terms.text and "1 seat\n" in terms.text
    assert "March 19, 2026, 14:30 UTC" in terms.text

    task = render_email(settings, make_request("task_reminder"))
    assert '"reviewer": "Jane O\'Neil"' in task.text  # the example as pretty JSON
    assert "partnerflow act order-ORD-1 review_license --input" in task.text
    assert "http://127.0.0.1:8233/namespaces/default/workflows/order-ORD-1" in task.html

    closed = render_email(settings, make_request("invoice_closed"))
    assert "voided" in closed.subject and "Order cancelled by the reseller" in closed.text


def test_filters() -> None:
    assert format_money(123450, "usd") == "USD 1,234.50"
    assert format_money(5, "eur") == "EUR 0.05"
    assert format_money(-1_000_000, "usd") == "USD -10,000.00"
    assert format_date("2026-03-05T14:30:00Z") == "March 5, 2026"
    assert format_date(datetime(2026, 3, 5, 23, 0), with_time=True) == "March 5, 2026, 23:00 UTC"
    later = datetime(2026, 3, 6, 1, 0, tzinfo=UTC) + timedelta(hours=-3)
    assert format_date(later.isoformat()) == "March 5, 2026"


def test_missing_context_variable_is_a_clear_permanent_error(settings: Settings) -> None:
    context = {k: v for k, v in CONTEXTS["order_refused"].items() if k != "reason"}
    with pytest.raises(ApplicationError) as caught:
        render_email(settings, make_request(context=context))
    assert caught.value.type == "EmailRequestInvalid" and caught.value.non_retryable
    assert "'reason' is undefined" in str(caught.value) and "order_refused" in str(caught.value)


@pytest.mark.parametrize("name", ["no_such_template", "../order_refused", "_layout"])
def test_unknown_template_is_a_permanent_error(settings: Settings, name: str) -> None:
    request = make_request().model_copy(update={"template": name})
    with pytest.raises(ApplicationError) as caught:
        render_email(settings, request)
    assert caught.value.type == "EmailRequestInvalid" and caught.value.non_retryable


def test_roles_resolve_from_settings(settings: Settings) -> None:
    rendered = render_email(
        settings,
        make_request(
            to=["role:finance", "ops@partner.example"],
            cc=[
                "role:license_desk",
                "role:partner_manager",
                "cfo@globex.example",
                "OPS@partner.example",
            ],
        ),
    )
    assert rendered.to == [settings.finance_email, "ops@partner.example"]
    # operations roles collapse to one address; a cc repeating a `to` address is dropped
    assert rendered.cc == [settings.operations_email, "cfo@globex.example"]
    assert rendered.from_addr == settings.email_from


@pytest.mark.parametrize("role", ["operations", "license_desk", "partner_manager", "sales_manager"])
def test_operations_roles(settings: Settings, role: str) -> None:
    rendered = render_email(settings, make_request(to=[f"role:{role}"]))
    assert rendered.to == [settings.operations_email]


def test_unknown_role_is_a_permanent_error(settings: Settings) -> None:
    with pytest.raises(ApplicationError) as caught:
        render_email(settings, make_request(cc=["role:ceo"]))
    assert caught.value.type == "EmailRequestInvalid" and caught.value.non_retryable
    assert "role:ceo" in str(caught.value)


def test_links_are_signed_at_send_time_and_kept_out_of_the_receipt(settings: Settings) -> None:
    request = make_request("terms_acceptance_request", to=["hanna@globex.example"])
    rendered = render_email(settings, request)

    match = re.search(r"http://127\.0\.0\.1:8000/accept/(\S+)", rendered.text)
    assert match, rendered.text
    claims = read_token(settings.secret("link_secret"), match.group(1), "accept_terms")
    assert claims.workflow_id == "order-ORD-1" and claims.expires_at == LINK_EXPIRES
    assert f'href="{match.group(0)}"' in rendered.html
    assert match.group(1) not in request.model_dump_json()

    receipt = send(EmailActivities(settings), request)
    assert match.group(1) not in receipt.model_dump_json()


# --- outbox adapter --------------------------------------------------------------------------


def test_outbox_sends_once_per_key(settings: Settings) -> None:
    acts = EmailActivities(settings)
    assert isinstance(acts.mailer, OutboxMailer)
    request = make_request()

    first = send(acts, request)
    second = send(acts, request)

    assert first.status == "sent" and second.status == "already_sent"
    assert first.backend == second.backend == "outbox"
    assert first.message_id == second.message_id and first.subject == second.subject
    assert len(rows(settings)) == 1
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 1


def test_outbox_eml_has_text_html_and_attachment(settings: Settings) -> None:
    license_text = "-----BEGIN MATTERMOST LICENSE-----\nabc\n-----END MATTERMOST LICENSE-----\n"
    request = make_request(
        "license_issued",
        key="order-ORD-1:license-email",
        to=["hanna@globex.example"],
        cc=["buyer@acme.example"],
        attachments=[
            EmailAttachment(
                filename="mattermost-license.txt", content=license_text, mime_type="text/plain"
            )
        ],
    )
    receipt = send(EmailActivities(settings), request)

    [row] = rows(settings)
    assert row.status == "sent" and row.attachments == "mattermost-license.txt"
    assert row.eml_path and Path(row.eml_path).parent == settings.outbox_dir
    message = email.message_from_bytes(Path(row.eml_path).read_bytes(), policy=email.policy.default)
    assert message["X-Partnerflow-Key"] == "order-ORD-1:license-email"
    assert message["Message-ID"] == receipt.message_id
    assert message["To"] == "hanna@globex.example" and message["Cc"] == "buyer@acme.example"
    assert message["Subject"] == receipt.subject
    assert "lic_8f2c" in message.get_body(preferencelist=("plain",)).get_content()
    assert "<!DOCTYPE html>" in message.get_body(preferencelist=("html",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "mattermost-license.txt"
    assert attachment.get_content_type() == "text/plain"
    # byte-exact (the contract strips surrounding whitespace from str fields on the way in)
    assert attachment.get_payload(decode=True).decode() == request.attachments[0].content
    assert request.attachments[0].content == license_text.strip()


def test_outbox_racing_duplicate_is_already_sent(settings: Settings, monkeypatch) -> None:
    acts = EmailActivities(settings)
    send(acts, make_request())
    real_find = outbox_module.find_email
    calls = iter([None])  # the racing attempt's lookup misses the committed row once
    monkeypatch.setattr(outbox_module, "find_email", lambda s, k: next(calls, real_find(s, k)))

    receipt = send(acts, make_request())

    assert receipt.status == "already_sent"
    assert len(rows(settings)) == 1 and len(list(settings.outbox_dir.glob("*.eml"))) == 1


def test_list_outbox_newest_first(settings: Settings) -> None:
    acts = EmailActivities(settings)
    send(acts, make_request(key="a", workflow_id="order-A"))
    send(acts, make_request(key="b", workflow_id="order-B"))
    send(acts, make_request(key="c", workflow_id="order-A"))

    assert [r.idempotency_key for r in list_outbox(settings)] == ["c", "b", "a"]
    assert [r.idempotency_key for r in list_outbox(settings, limit=1)] == ["c"]
    assert [r.idempotency_key for r in list_outbox(settings, workflow_id="order-A")] == ["c", "a"]


# --- SendGrid adapter ------------------------------------------------------------------------


@lru_cache
def mail_send_validator() -> jsonschema.protocols.Validator:
    """The `POST /v3/mail/send` request body schema, refs resolved within the document."""
    assert SPEC_PATH.is_file(), f"SendGrid OpenAPI spec not found at {SPEC_PATH}"
    spec = json.loads(SPEC_PATH.read_text())
    request_body = spec["paths"]["/v3/mail/send"]["post"]["requestBody"]
    pointer = "/paths/~1v3~1mail~1send/post/requestBody"
    if "$ref" in request_body:  # "#/components/requestBodies/PostMailSend"
        pointer = request_body["$ref"].removeprefix("#")
        request_body = spec
        for part in pointer.strip("/").split("/"):
            request_body = request_body[part.replace("~1", "/").replace("~0", "~")]
    assert "schema" in request_body["content"]["application/json"], "no request schema in spec"
    uri = "urn:sendgrid-mail-v3"
    registry = Registry().with_resource(uri, Resource(spec, DRAFT202012))
    schema = {"$ref": f"{uri}#{pointer}/content/application~1json/schema"}
    return OAS31Validator(schema, registry=registry, format_checker=OAS31Validator.FORMAT_CHECKER)


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    """The fake SendGrid; at teardown every body it received must match the OpenAPI schema."""
    fake = FakeSendGrid().start()
    yield fake
    fake.stop()
    for recorded in fake.requests:
        mail_send_validator().validate(recorded.body)


@pytest.fixture
def sg_settings(settings: Settings, sendgrid: FakeSendGrid) -> Settings:
    return settings.model_copy(
        update={
            "email_backend": "sendgrid",
            "sendgrid_api_key": SecretStr("SG.test-key"),
            "sendgrid_host": sendgrid.url,
        }
    )


def test_backend_follows_settings(settings: Settings, sg_settings: Settings) -> None:
    assert isinstance(EmailActivities(sg_settings).mailer, SendGridMailer)
    with pytest.raises(ValueError, match="SENDGRID_API_KEY"):
        EmailActivities(sg_settings.model_copy(update={"sendgrid_api_key": None}))


def test_sendgrid_202_records_message_id(sg_settings: Settings, sendgrid: FakeSendGrid) -> None:
    request = make_request(
        "license_issued",
        to=["hanna@globex.example"],
        cc=["role:license_desk"],
        attachments=[EmailAttachment(filename="license.txt", content="LICENSE ✓")],
    )
    receipt = send(EmailActivities(sg_settings), request)

    assert receipt.status == "sent" and receipt.backend == "sendgrid"
    assert receipt.message_id == "fake-msg-1"
    [row] = rows(sg_settings)
    assert row.status == "sent" and row.provider_message_id == "fake-msg-1" and row.sent_at
    [call] = sendgrid.requests
    assert call.path == "/v3/mail/send" and call.headers["Authorization"] == "Bearer SG.test-key"
    body = call.body
    [personalization] = body["personalizations"]
    assert personalization["to"] == [{"email": "hanna@globex.example"}]
    assert personalization["cc"] == [{"email": sg_settings.operations_email}]
    assert personalization["custom_args"] == {
        "workflow_id": "order-ORD-1",
        "step": "refused",
        "idempotency_key": "order-ORD-1:refused",
    }
    assert body["from"] == {"email": sg_settings.email_from}
    assert body["subject"] == receipt.subject
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    [attachment] = body["attachments"]
    assert base64.b64decode(attachment["content"]).decode() == "LICENSE ✓"
    assert attachment["filename"] == "license.txt"


def test_sendgrid_retry_after_success_does_not_send_again(
    sg_settings: Settings, sendgrid: FakeSendGrid
) -> None:
    acts = EmailActivities(sg_settings)
    first = send(acts, make_request())
    again = send(acts, make_request())

    assert (first.status, again.status) == ("sent", "already_sent")
    assert again.message_id == first.message_id
    assert len(sendgrid.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_sendgrid_4xx_is_rejected_for_good(
    sg_settings: Settings, sendgrid: FakeSendGrid, status: int
) -> None:
    sendgrid.statuses = [status]
    acts = EmailActivities(sg_settings)

    with pytest.raises(ApplicationError) as caught:
        send(acts, make_request())
    assert caught.value.type == "EmailRejected" and caught.value.non_retryable
    assert str(status) in str(caught.value) and f"fake error {status}" in str(caught.value)
    assert [r.status for r in rows(sg_settings)] == ["rejected"]

    with pytest.raises(ApplicationError) as again:
        send(acts, make_request())
    assert again.value.type == "EmailRejected" and again.value.non_retryable
    assert len(sendgrid.requests) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_sendgrid_transient_error_releases_the_claim(
    sg_settings: Settings, sendgrid: FakeSendGrid, status: int
) -> None:
    sendgrid.statuses = [status]
    sendgrid.retry_after = "7"
    acts = EmailActivities(sg_settings)

    with pytest.raises(ApplicationError) as caught:
        send(acts, make_request())
    assert caught.value.type == "EmailSendFailed" and not caught.value.non_retryable
    assert str(status) in str(caught.value)
    if status == 429:
        assert caught.value.next_retry_delay == timedelta(seconds=7)
    assert rows(sg_settings) == []

    receipt = send(acts, make_request())
    assert receipt.status == "sent" and receipt.message_id == "fake-msg-2"
    assert len(sendgrid.requests) == 2


def test_sendgrid_unreachable_is_retryable(sg_settings: Settings) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = sg_settings.model_copy(update={"sendgrid_host": f"http://127.0.0.1:{port}"})

    with pytest.raises(ApplicationError) as caught:
        send(EmailActivities(down), make_request())
    assert caught.value.type == "EmailSendFailed" and not caught.value.non_retryable
    assert rows(down) == []


def test_sendgrid_timeout_is_unconfirmed_and_never_resent(
    sg_settings: Settings, sendgrid: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sendgrid_module, "SENDGRID_TIMEOUT_SECONDS", 0.2)
    sendgrid.delay_seconds = 0.6  # SendGrid got the request but answers too late
    acts = EmailActivities(sg_settings)
    request = make_request()
    assert send(acts, request).status == "unconfirmed"
    assert send(acts, request).status == "unconfirmed"  # the retry does not send again
    assert len(sendgrid.requests) == 1
    assert [r.status for r in rows(sg_settings)] == ["unconfirmed"]


def test_sendgrid_leftover_claim_is_unconfirmed_not_resent(
    sg_settings: Settings, sendgrid: FakeSendGrid
) -> None:
    request = make_request()
    with session_scope(sg_settings.resolved_database_url) as session:  # a crash after the call
        session.add(
            EmailRow(
                idempotency_key=request.idempotency_key,
                workflow_id=request.workflow_id,
                step=request.step,
                backend="sendgrid",
                status="sending",
                from_addr=sg_settings.email_from,
                to_addrs="buyer@acme.example",
                subject="Order ORD-2026-0042 could not be accepted",
                template=request.template,
                text_body="",
                html_body="",
            )
        )
    acts = EmailActivities(sg_settings)

    receipt = send(acts, request)
    assert receipt.status == "unconfirmed" and receipt.backend == "sendgrid"
    assert [r.status for r in rows(sg_settings)] == ["unconfirmed"]
    assert send(acts, request).status == "unconfirmed"
    assert sendgrid.requests == []


def test_sendgrid_crash_before_confirm_leaves_an_unconfirmed_claim(
    sg_settings: Settings, sendgrid: FakeSendGrid, monkeypatch
) -> None:
    class WorkerCrash(BaseException):
        pass

    def crash() -> datetime:
        raise WorkerCrash

    acts = EmailActivities(sg_settings)
    monkeypatch.setattr(sendgrid_module, "utcnow", crash)  # dies after SendGrid accepted it
    with pytest.raises(WorkerCrash):
        send(acts, make_request())
    monkeypatch.undo()

    assert send(acts, make_request()).status == "unconfirmed"
    assert len(sendgrid.requests) == 1


# --- contract --------------------------------------------------------------------------------


def test_request_bodies_match_the_sendgrid_openapi_schema(
    sg_settings: Settings, sendgrid: FakeSendGrid
) -> None:
    named_sender = sg_settings.model_copy(
        update={"email_from": "Mattermost Partners <partners@mattermost.com>"}
    )
    acts = EmailActivities(named_sender)
    for i, template in enumerate(sorted(CONTEXTS)):
        send(acts, make_request(template, key=f"contract-{i}", cc=["role:finance"]))
    request = make_request(
        "license_issued",
        key="contract-attachments",
        attachments=[EmailAttachment(filename="a.txt", content="x", mime_type="text/plain")],
    )
    send(acts, request)

    validator = mail_send_validator()
    assert len(sendgrid.requests) == len(CONTEXTS) + 1
    for recorded in sendgrid.requests:
        validator.validate(recorded.body)
    assert sendgrid.requests[0].body["from"] == {
        "email": "partners@mattermost.com",
        "name": "Mattermost Partners",
    }

    # The validator is not vacuous: it knows the schema's required fields and types.
    body = sendgrid_body(request, render_email(named_sender, request))
    validator.validate(body)
    assert not validator.is_valid({k: v for k, v in body.items() if k != "from"})
    assert not validator.is_valid({**body, "custom_args": {"a": "b"}})  # string at top level
    assert not validator.is_valid({**body, "from": {"email": "not-an-address"}})


def test_the_sendgrid_send_log_keeps_no_live_token(
    sg_settings: Settings, sendgrid: FakeSendGrid
) -> None:
    """The customer gets the signed link; the records keep the email without it (the local
    outbox, the offline stack's mailbox, keeps it: it is how the email is read there)."""
    request = make_request("terms_acceptance_request", to=["hanna@globex.example"])
    token = re.search(r"/accept/(\S+)", render_email(sg_settings, request).text).group(1)  # type: ignore[union-attr]
    send(EmailActivities(sg_settings), request)
    [call] = sendgrid.requests
    assert token in json.dumps(call.body)  # delivered
    [row] = rows(sg_settings)
    assert token not in row.text_body and token not in row.html_body
    assert "/accept/[token-not-kept]" in row.text_body
