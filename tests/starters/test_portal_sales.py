"""The partner portal's sales pages (issue 15, item 3): deals with status, protection and
referral fees, one deal, the deal registration form (the `deal-registration` form's rules,
the partner id the session's), orders with invoices and licenses, a printable invoice.

Records are seeded for two Mattermost partners and the first partner's slug in Rocket.Chat:
every route, for the other partner and for the Rocket.Chat session, is a 404 "Not found" with
nothing of the first partner in the body."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from activities.database import session_scope
from activities.deals import DealActivities
from activities.partners import PartnerActivities
from activities.records import RecordActivities
from models.contracts import OrderRecord, PartnerRecord
from models.deals import VAR_TYPE, DealRecord, ReferralFeeRecord, referral_fee_note
from models.settings import Settings
from models.tables import InvoiceRow, LicenseRow
from models.tasks import HistoryEntry, PendingTask, WorkflowStatus
from starters.web.app import create_app
from starters.web.portal_deal_form import deal_payload, errors_by_field
from starters.web.portal_sales import workflow_view
from tests.starters.test_portal_sign_in import sent_links, settings_for

BASE = "http://127.0.0.1:8000"
MINE = {"partner_id": "nordlicht", "email": "lena@nordlicht.example"}
THEIRS = {"partner_id": "hafenwerk", "email": "max@hafenwerk.example"}
RC_SAME_SLUG = {"partner_id": "nordlicht", "email": "ops@nordlicht-chat.example"}
MY_DEAL, MY_FEE_DEAL, THEIR_DEAL = "DR-2026-000311", "DR-2026-000312", "DR-2026-000411"
MY_INVOICE, THEIR_INVOICE = "in_portal_mine_1", "in_portal_theirs_1"
MY_DIRECT_ORDER, MY_DIRECT_INVOICE = "ORD-MINE-DIRECT", "in_portal_mine_direct"
# what of the first partner must never show on another partner's (or program's) page
MY_TRACES = (
    "Hanse Logistik", MY_DEAL, MY_FEE_DEAL, MY_INVOICE, "Nordlicht IT", "LIC-MINE",
    MY_DIRECT_ORDER, MY_DIRECT_INVOICE, "Werft Bremen",
)  # fmt: skip


def add_var(settings: Settings, program: str, partner_id: str, email: str, company: str) -> None:
    record = PartnerRecord(
        partner_id=partner_id, program=program,  # type: ignore[arg-type]
        partner_type=VAR_TYPE if program == "mattermost" else "hosting",
        company=company, country="DE", contact_name="Contact", contact_email=email,
        status="active", discount_percent=20, at=datetime.now(UTC),
    )  # fmt: skip
    ActivityEnvironment().run(PartnerActivities(settings).upsert_partner, record)


def seed_sales(
    settings: Settings,
    partner_id: str,
    company: str,
    customer: str,
    deal: str,
    invoice_id: str,
    license_id: str,
    *,
    fee_deal: str | None = None,
    recorded_reseller: bool = True,
) -> None:
    """An approved deal with its order, open invoice and license; and a paid referral fee.
    The order records its reseller's partner id unless `recorded_reseller` is False (an
    order recorded before it: the portal finds it by its deal)."""
    now = datetime.now(UTC)
    deals, records = DealActivities(settings), RecordActivities(settings)
    deals.record_deal(
        DealRecord(
            deal_number=deal, workflow_id=f"deal-{deal}", partner_id=partner_id,
            partner_company=company, end_customer_name=customer,
            contact_email=f"it@{customer.split()[0].lower()}.example", sku="MM-ENT-1Y",
            status="ordered", protected_until=now + timedelta(days=40), at=now,
        )
    )  # fmt: skip
    if fee_deal:
        deals.record_deal(
            DealRecord(
                deal_number=fee_deal, workflow_id=f"deal-{fee_deal}", partner_id=partner_id,
                partner_company=company, end_customer_name=f"{customer} Online",
                contact_email="web@online.example", sku="MM-ENT-1Y", status="approved",
                protected_until=now + timedelta(days=80), at=now,
            )
        )  # fmt: skip
        deals.record_referral_fee(
            ReferralFeeRecord(
                deal_number=fee_deal, workflow_id=f"deal-{fee_deal}", partner_id=partner_id,
                amount_cents=240000, note=referral_fee_note(fee_deal), status="paid",
                reference="WIRE-RF-77", at=now,
            )
        )  # fmt: skip
    order_workflow = f"order-{deal}"
    records.record_order(
        OrderRecord(
            order_id=deal, workflow_id=order_workflow, channel="value_added_reseller",
            deal_number=deal, reseller_company=company, end_customer_name=customer,
            reseller_partner_id=partner_id if recorded_reseller else None,
            end_customer_country="DE", amount_cents=2_400_000, currency="usd",
            status="awaiting_payment", at=now,
        )
    )  # fmt: skip
    with session_scope(settings.resolved_database_url) as db:
        db.add(
            InvoiceRow(
                id=invoice_id, idempotency_key=f"{order_workflow}:invoice",
                workflow_id=order_workflow, backend="local", number=f"INV-{invoice_id[-8:]}",
                customer_name=company, customer_email=f"billing@{partner_id}.example",
                status="open", currency="usd", amount_due_cents=2_400_000,
                due_at=now + timedelta(days=30), description=f"Order {deal} for {customer}",
                lines_json=json.dumps([{"description": f"Mattermost Enterprise for {customer}",
                                        "quantity": 200, "unit_amount_cents": 12000,
                                        "amount_cents": 2_400_000}]),
                created_at=now, finalized_at=now,
            )
        )  # fmt: skip
        db.add(
            LicenseRow(
                license_id=license_id, idempotency_key=f"{order_workflow}:license",
                workflow_id=order_workflow, licensee=company, customer=customer,
                customer_email="it@example.com", sku="MM-ENT-1Y", users=200, starts_at=now,
                expires_at=now + timedelta(days=365), issued_at=now, filename="l.txt",
                sha256="0" * 64, content="license",
            )
        )  # fmt: skip


def seed_direct_order(settings: Settings, partner_id: str, order_id: str, invoice_id: str) -> None:
    """An order without a deal registration (the `order` form's), recorded with its
    reseller's partner id, and its paid invoice."""
    now = datetime.now(UTC)
    RecordActivities(settings).record_order(
        OrderRecord(
            order_id=order_id, workflow_id=f"order-{order_id}", channel="value_added_reseller",
            reseller_company="Nordlicht IT GmbH", reseller_partner_id=partner_id,
            end_customer_name="Werft Bremen GmbH", end_customer_country="DE",
            amount_cents=960_000, currency="usd", status="paid", at=now,
        )
    )  # fmt: skip
    with session_scope(settings.resolved_database_url) as db:
        db.add(
            InvoiceRow(
                id=invoice_id, idempotency_key=f"order-{order_id}:invoice",
                workflow_id=f"order-{order_id}", backend="local", number="INV-DIRECT-1",
                customer_name="Nordlicht IT GmbH", customer_email="billing@nordlicht.example",
                status="paid", currency="usd", amount_due_cents=960_000,
                amount_paid_cents=960_000, due_at=now, lines_json="[]", created_at=now,
                paid_at=now,
            )
        )  # fmt: skip


async def portal_session(client: httpx.AsyncClient, settings: Settings, email: str) -> None:
    await client.post("/portal", data={"email": email})
    link = [link for to, link in sent_links(settings) if to == email][-1]
    assert (await client.post(link.removeprefix(BASE))).status_code == 303


@pytest_asyncio.fixture
async def sales(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """Three signed-in portal clients (mine, theirs, the same slug in Rocket.Chat) over
    seeded sales records; Temporal is not reachable (the pages are the records')."""
    settings = settings_for(tmp_path, TEMPORAL_ADDRESS="127.0.0.1:9")
    add_var(settings, "mattermost", MINE["partner_id"], MINE["email"], "Nordlicht IT GmbH")
    add_var(settings, "mattermost", THEIRS["partner_id"], THEIRS["email"], "Hafenwerk AG")
    add_var(settings, "rocketchat", RC_SAME_SLUG["partner_id"], RC_SAME_SLUG["email"], "NL Chat")
    seed_sales(settings, MINE["partner_id"], "Nordlicht IT GmbH", "Hanse Logistik AG", MY_DEAL,
               MY_INVOICE, "LIC-MINE-1", fee_deal=MY_FEE_DEAL,
               recorded_reseller=False)  # fmt: skip
    seed_direct_order(settings, MINE["partner_id"], MY_DIRECT_ORDER, MY_DIRECT_INVOICE)
    seed_sales(settings, THEIRS["partner_id"], "Hafenwerk AG", "Elbe Reederei KG", THEIR_DEAL,
               THEIR_INVOICE, "LIC-THEIRS-1")  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    clients = {}
    for name, who in (("mine", MINE), ("theirs", THEIRS), ("rc", RC_SAME_SLUG)):
        clients[name] = httpx.AsyncClient(transport=transport, base_url=BASE)
        await portal_session(clients[name], settings, who["email"])
    try:
        yield {"settings": settings, **clients}
    finally:
        for client in clients.values():
            await client.aclose()


OWN_LISTS = ("/portal/deals", "/portal/deals/new", "/portal/orders")
MY_ROUTES = (
    "/portal/deals",
    f"/portal/deals/{MY_DEAL}",
    f"/portal/deals/{MY_FEE_DEAL}",
    "/portal/deals/new",
    "/portal/orders",
    f"/portal/invoices/{MY_INVOICE}",
    f"/portal/invoices/{MY_DIRECT_INVOICE}",
)


async def test_deals_page_shows_status_protection_and_referral_fees(sales: Any) -> None:
    page = await sales["mine"].get("/portal/deals")
    assert page.status_code == 200, page.text
    text = page.text
    assert MY_DEAL in text and MY_FEE_DEAL in text and "Hanse Logistik AG" in text
    assert "Purchase order received" in text  # the status, explained
    assert re.search(r"until \d{4}-\d{2}-\d{2} \(\d+ days left\)", text)  # protection
    assert f"Referral fee for deal registration {MY_FEE_DEAL}" in text  # the exact note
    assert "USD 2,400.00" in text and "WIRE-RF-77" in text and "Paid" in text
    assert 'aria-current="page"' in text and "<caption>" in text
    assert THEIR_DEAL not in text and "Elbe" not in text


async def test_one_deal_from_the_records_when_its_workflow_is_not_reachable(sales: Any) -> None:
    page = await sales["mine"].get(f"/portal/deals/{MY_FEE_DEAL}")
    assert page.status_code == 200, page.text
    assert "Approved: the opportunity is protected" in page.text
    assert f"Referral fee for deal registration {MY_FEE_DEAL}" in page.text


async def test_orders_and_the_printable_invoice(sales: Any) -> None:
    orders = await sales["mine"].get("/portal/orders")
    assert orders.status_code == 200, orders.text
    text = orders.text
    assert f"Order {MY_DEAL}" in text and "awaiting payment" in text
    assert "LIC-MINE-1: 200 users of MM-ENT-1Y, valid until" in text
    assert "Open (awaiting payment)" in text and "USD 24,000.00" in text
    assert f"/portal/invoices/{MY_INVOICE}" in text and THEIR_INVOICE not in text
    # an order without a deal, recorded with the partner as its reseller
    assert f"Order {MY_DIRECT_ORDER}" in text and "Werft Bremen GmbH" in text
    assert f"/portal/invoices/{MY_DIRECT_INVOICE}" in text and "INV-DIRECT-1" in text
    theirs = (await sales["theirs"].get("/portal/orders")).text
    assert f"Order {THEIR_DEAL}" in theirs  # theirs, found by its recorded reseller

    invoice = await sales["mine"].get(f"/portal/invoices/{MY_INVOICE}")
    assert invoice.status_code == 200, invoice.text
    assert "Mattermost Enterprise for Hanse Logistik AG" in invoice.text
    assert "Amount due" in invoice.text and "USD 24,000.00" in invoice.text
    assert "@media print" in invoice.text and ".portal-nav" in invoice.text
    direct = await sales["mine"].get(f"/portal/invoices/{MY_DIRECT_INVOICE}")
    assert direct.status_code == 200 and "Paid" in direct.text and MY_DIRECT_ORDER in direct.text


async def test_another_partner_and_the_same_slug_in_rocketchat_get_404(sales: Any) -> None:
    checked = 0
    for who in ("theirs", "rc"):
        for route in MY_ROUTES:
            answer = await sales[who].get(route)
            if who == "theirs" and route in OWN_LISTS:
                assert answer.status_code == 200  # their own list, without any of mine
            else:
                assert answer.status_code == 404, (who, route, answer.status_code)
                assert "Not found" in answer.text
            for trace in MY_TRACES:
                assert trace not in answer.text, (who, route, trace)
            checked += 1
        posted = await sales[who].post("/portal/deals/new", data={"_csrf": "x"})
        assert posted.status_code in (403, 404) and "Hanse" not in posted.text
    assert checked == 14
    # unknown and malformed numbers are the same 404
    for route in ("/portal/deals/DR-2026-999999", "/portal/deals/nonsense",
                  "/portal/invoices/" + "x" * 65, "/portal/invoices/nope"):  # fmt: skip
        assert (await sales["mine"].get(route)).status_code == 404
    # signed out: back to sign-in
    anonymous = httpx.AsyncClient(transport=sales["mine"]._transport, base_url=BASE)
    assert (await anonymous.get("/portal/deals")).headers["location"] == "/portal"
    await anonymous.aclose()


async def test_the_registration_form_refuses_a_forged_or_foreign_post(sales: Any) -> None:
    form = await sales["mine"].get("/portal/deals/new")
    assert form.status_code == 200
    assert 'name="partner_id"' not in form.text  # the session's partner, never an input
    assert 'value="lena@nordlicht.example"' in form.text
    forged = await sales["mine"].post("/portal/deals/new", data={"_csrf": "forged"})
    assert forged.status_code == 403
    other_site = await sales["mine"].post(
        "/portal/deals/new",
        data={"_csrf": csrf_of(form.text)},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403


def test_the_payload_is_the_webhook_forms_with_the_sessions_partner() -> None:
    values = {
        "registered_by.name": "Lena", "registered_by.email": "lena@nordlicht.example",
        "end_customer.address.line2": "", "notes": "", "seats": "250",
        "partner_id": "someone-else",
    }  # fmt: skip
    payload = deal_payload("nordlicht", values)
    assert payload == {
        "partner_id": "nordlicht",
        "registered_by": {"name": "Lena", "email": "lena@nordlicht.example"},
        "seats": "250",
    }
    errors, general = errors_by_field(
        [
            {"field": "seats", "message": "Input should be greater than 0"},
            {"field": "end_customer.contact", "message": "Field required"},
            {"field": "partner_id", "message": "no active Mattermost partner"},
        ]
    )
    assert errors == {
        "seats": "Input should be greater than 0",
        "end_customer.contact.name": "Field required",
    }
    assert general == ["no active Mattermost partner"]


def csrf_of(page: str) -> str:
    match = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


async def test_hostile_deal_forms_are_refused_by_field_never_a_crash(sales: Any) -> None:
    """Odd values are the form's 422 (before Temporal is needed), oversized posts a 413:
    nothing is registered and nothing answers 5xx."""
    me = sales["mine"]
    csrf = csrf_of((await me.get("/portal/deals/new")).text)
    for field, value in (
        ("seats", "1e309"),
        ("seats", "-3"),
        ("list_unit_price_cents", "twelve"),
        ("expected_close_date", "2027-02-30"),
        ("end_customer.address.country", "ÄÄ"),
        ("end_customer.contact.email", "\x00@x"),
        ("notes", "n" * 2001),
        ("end_customer.legal_name", ""),
    ):
        answer = await me.post("/portal/deals/new", data={"_csrf": csrf, field: value})
        assert answer.status_code == 422, (field, answer.status_code)
        html_id = "f-" + field.replace(".", "-").replace("_", "-")
        assert f'id="{html_id}-error"' in answer.text, field
        assert "Nothing was registered" in answer.text
    too_big = await me.post("/portal/deals/new", data={"_csrf": csrf, "notes": "x" * 20_000})
    assert too_big.status_code == 413
    listed = set(re.findall(r"DR-\d{4}-\d{6}", (await me.get("/portal/deals")).text))
    assert listed == {MY_DEAL, MY_FEE_DEAL}  # only the seeded ones


def test_the_deal_workflows_status_told_to_the_partner() -> None:
    """Quotation, signature, purchase order, order and the partner's own tasks from the
    `status` query; conflicts without the other partner's name or registration."""
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    status = WorkflowStatus(
        workflow_id="deal-DR-2026-000311",
        workflow_type="DealRegistration",
        stage="order_fulfillment",
        facts={
            "partner_id": "nordlicht",
            "channel_conflicts": [
                {
                    "deal_number": "DR-2026-000900",
                    "partner_id": "hafenwerk",
                    "partner_company": "Hafenwerk AG",
                    "status": "in_review",
                    "matched_on": "customer name",
                }
            ],
            "agreement": {
                "territory": ["DE", "AT"],
                "industries": [],
                "country": "CH",
                "outside_territory": True,
                "outside_industries": False,
            },
            "quotation": {
                "quote_number": "Q-2026-000311",
                "seats": 200,
                "net_price_cents": 1_920_000,
                "license_contact_email": "it@hanse.example",
            },
            "sign_quotation_agreement": {"signed_at": "2026-12-01T10:00:00+00:00"},
            "order": {
                "workflow_id": "order-DR-2026-000311",
                "stage": "awaiting_payment",
                "invoice_number": "INV-0001",
            },
            "invoice_stage": "open",
        },  # fmt: skip
        history=[
            HistoryEntry(
                at=at,
                step="submit_purchase_order",
                actor="lena",
                event="accepted",
                detail={"number": "PO-77", "amount_cents": 1_920_000},
            )
        ],  # fmt: skip
        pending_tasks=[
            PendingTask(
                task="confirm_delivery",
                handler="confirm_delivery",
                description="Confirm",
                assignee="partner",
                due_at=at,
            ),
            PendingTask(
                task="record_payment",
                handler="record_payment",
                description="Finance",
                assignee="finance",
            ),
        ],  # fmt: skip
    )
    view = workflow_view(status)
    assert view["quotation"]["number"] == "Q-2026-000311"
    assert view["quotation"]["net"] == "USD 19,200.00"
    assert view["signature"] == "signed on 2026-12-01"
    assert view["purchase_order"] == {"number": "PO-77", "amount": "USD 19,200.00",
                                      "at": "2026-12-01"}  # fmt: skip
    assert (
        view["order"]["invoice_number"] == "INV-0001" and view["order"]["invoice_stage"] == "open"
    )
    assert [t["task"] for t in view["tasks"]] == ["Confirm delivery"]  # the partner's only
    told = " ".join(view["conflicts"])
    assert "same customer name" in told and "in review" in told and "CH" in told
    assert "Hafenwerk" not in told and "DR-2026-000900" not in told and "hafenwerk" not in told


def test_empty_inputs_are_left_to_the_forms_defaults_and_required_is_said_plainly() -> None:
    payload = deal_payload("nordlicht", {"sku": "", "product": "", "seats": ""})
    assert payload == {"partner_id": "nordlicht", "seats": ""}  # the form's sku and product
    errors, _ = errors_by_field(
        [
            {"field": "end_customer.legal_name", "message": "String should have at least 1 "
             "character", "type": "string_too_short"},
            {"field": "registered_by", "message": "Field required", "type": "missing"},
        ]
    )  # fmt: skip
    assert errors == {
        "end_customer.legal_name": "This field is required.",
        "registered_by.name": "This field is required.",
    }
