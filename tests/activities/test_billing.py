"""Billing activities: the local ledger, the Stripe adapter against the Stripe test double,
and (only with STRIPE_TEST_API_KEY) real Stripe test mode."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import stripe
from pydantic import SecretStr
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.billing import BillingActivities
from activities.billing.local import LocalBilling, local_invoice_id
from activities.billing.records import list_invoices
from activities.billing.stripe import StripeBilling
from activities.database import session_scope
from models.contracts import InvoiceAction, InvoiceInfo, InvoiceLine, InvoiceRequest
from models.settings import Settings
from models.tables import InvoiceRow
from tests.activities.stripe_double import StripeDouble

ISSUED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DOUBLE_NOW = int(datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp())
LINES = [
    InvoiceLine(description="Mattermost Enterprise, 1 year", quantity=50, unit_amount_cents=10_000),
    InvoiceLine(description="Premier support", quantity=1, unit_amount_cents=250_000),
]
TOTAL = 50 * 10_000 + 250_000


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL, with the same results."""
    return db_settings


def invoice_request(name: str = "order-T1", **overrides: Any) -> InvoiceRequest:
    data: dict[str, Any] = {
        "idempotency_key": f"{name}:invoice",
        "workflow_id": name,
        "customer_name": "Nordlicht IT GmbH",
        "customer_email": "billing@nordlicht-it.de",
        "customer_country": "DE",
        "lines": LINES,
        "days_until_due": 30,
        "description": f"Order {name}",
        "metadata": {"order_id": name},
        "issued_at": ISSUED,
    }
    return InvoiceRequest(**{**data, **overrides})


def action(info: InvoiceInfo, verb: str, reason: str | None = None) -> InvoiceAction:
    return InvoiceAction.model_validate(
        {
            "invoice_id": info.id,
            "idempotency_key": f"{info.id}:{verb}",
            "action": verb,
            "reason": reason,
        }
    )


def rows(settings: Settings) -> list[InvoiceRow]:
    with session_scope(settings.resolved_database_url) as session:
        return list(session.exec(select(InvoiceRow)))


def error_of(call: Callable[[], Any]) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value


def until_done(call: Callable[[], InvoiceInfo], attempts: int = 10) -> tuple[InvoiceInfo, int]:
    """Run an activity the way Temporal would: again after each retryable error."""
    for attempt in range(1, attempts + 1):
        try:
            return call(), attempt
        except ApplicationError as exc:
            if exc.non_retryable:
                raise
    raise AssertionError(f"still failing after {attempts} attempts")


@pytest.fixture
def local(settings: Settings) -> BillingActivities:
    return BillingActivities(settings)


# --- local ledger ----------------------------------------------------------------------------


def test_backend_comes_from_settings(settings: Settings) -> None:
    assert isinstance(BillingActivities(settings).backend, LocalBilling)
    with pytest.raises(ValueError, match="STRIPE_API_KEY"):
        BillingActivities(settings.model_copy(update={"billing_backend": "stripe"}))


def test_local_create_opens_a_numbered_invoice_due_in_30_days(
    local: BillingActivities, settings: Settings
) -> None:
    info = ActivityEnvironment().run(local.create_invoice, invoice_request())

    assert info.id == local_invoice_id("order-T1:invoice")
    assert info.id.startswith("in_local_")
    assert (info.status, info.number, info.backend) == ("open", "PF-2026-0001", "local")
    assert info.amount_due_cents == TOTAL
    assert info.due_at == ISSUED + timedelta(days=30)
    [row] = rows(settings)
    assert (row.status, row.workflow_id, row.customer_email) == (
        "open",
        "order-T1",
        "billing@nordlicht-it.de",
    )
    assert row.finalized_at == ISSUED
    assert [line["amount_cents"] for line in json.loads(row.lines_json)] == [500_000, 250_000]
    assert json.loads(row.metadata_json) == {"order_id": "order-T1"}


def test_local_repeated_create_returns_the_same_invoice(
    local: BillingActivities, settings: Settings
) -> None:
    first = local.create_invoice(invoice_request())
    again = local.create_invoice(invoice_request())

    assert again == first
    assert len(rows(settings)) == 1


def test_local_resumes_a_draft_left_by_a_crash(
    local: BillingActivities, settings: Settings
) -> None:
    backend = local.backend
    assert isinstance(backend, LocalBilling)
    backend._insert_draft(invoice_request())  # the attempt crashed before finalizing
    assert [r.status for r in rows(settings)] == ["draft"]

    info = local.create_invoice(invoice_request())

    assert (info.status, info.number) == ("open", "PF-2026-0001")
    assert len(rows(settings)) == 1


def test_local_numbers_are_sequential_and_unique_under_concurrency(
    local: BillingActivities, settings: Settings
) -> None:
    # 24 orders, each created twice at once (a retried activity racing its first attempt).
    names = [f"order-C{i}" for i in range(24)] * 2
    with ThreadPoolExecutor(max_workers=16) as pool:
        infos = list(pool.map(lambda n: local.create_invoice(invoice_request(n)), names))

    by_name: dict[str, InvoiceInfo] = {}
    for name, info in zip(names, infos, strict=True):
        assert by_name.setdefault(name, info) == info
    numbers = sorted(info.number or "" for info in by_name.values())
    assert numbers == [f"PF-2026-{n:04d}" for n in range(1, 25)]
    assert len(rows(settings)) == 24


def test_local_numbering_follows_the_issue_year(local: BillingActivities) -> None:
    a = local.create_invoice(invoice_request("order-Y1"))
    b = local.create_invoice(
        invoice_request("order-Y2", issued_at=datetime(2027, 1, 4, tzinfo=UTC))
    )
    c = local.create_invoice(invoice_request("order-Y3"))

    assert [a.number, b.number, c.number] == ["PF-2026-0001", "PF-2027-0001", "PF-2026-0002"]


def test_local_due_date_counts_from_now_without_issue_date(local: BillingActivities) -> None:
    before = datetime.now(UTC)
    info = local.create_invoice(invoice_request(issued_at=None, days_until_due=14))

    assert info.due_at is not None
    assert before + timedelta(days=14) <= info.due_at <= datetime.now(UTC) + timedelta(days=14)


@pytest.mark.parametrize(
    ("steps", "final"),
    [
        (["pay"], "paid"),
        (["void"], "void"),
        (["mark_uncollectible"], "uncollectible"),
        (["mark_uncollectible", "pay"], "paid"),
        (["mark_uncollectible", "void"], "void"),
    ],
)
def test_local_allowed_transitions(local: BillingActivities, steps: list[str], final: str) -> None:
    info = local.create_invoice(invoice_request())
    for verb in steps:
        info = local.apply_invoice_action(action(info, verb))

    assert info.status == final
    assert info.amount_paid_cents == (TOTAL if final == "paid" else 0)


@pytest.mark.parametrize(
    ("done", "illegal"),
    [
        ("pay", "void"),
        ("pay", "mark_uncollectible"),
        ("void", "pay"),
        ("void", "mark_uncollectible"),
        ("mark_uncollectible", None),  # uncollectible -> uncollectible is "already there"
    ],
)
def test_local_illegal_transitions_are_permanent_errors(
    local: BillingActivities, done: str, illegal: str | None
) -> None:
    info = local.apply_invoice_action(action(local.create_invoice(invoice_request()), done))
    if illegal is None:
        assert local.apply_invoice_action(action(info, done)) == info
        return

    error = error_of(lambda: local.apply_invoice_action(action(info, illegal)))

    assert (error.type, error.non_retryable) == ("InvoiceStateError", True)
    assert local.get_invoice(info.id) == info


def test_local_repeated_action_returns_the_invoice_unchanged(
    local: BillingActivities, settings: Settings
) -> None:
    info = local.create_invoice(invoice_request())
    paid = local.apply_invoice_action(action(info, "pay", reason="wire WIRE-1"))
    [row] = rows(settings)

    assert local.apply_invoice_action(action(info, "pay", reason="again")) == paid
    [same] = rows(settings)
    assert same.paid_at == row.paid_at
    assert json.loads(same.metadata_json)["pay_reason"] == "wire WIRE-1"


def test_local_void_records_the_reason(local: BillingActivities, settings: Settings) -> None:
    info = local.create_invoice(invoice_request())
    local.apply_invoice_action(action(info, "void", reason="issued in error"))

    [row] = rows(settings)
    assert (row.status, json.loads(row.metadata_json)["void_reason"]) == ("void", "issued in error")
    assert row.voided_at is not None


def test_local_unknown_invoice_is_not_found(local: BillingActivities) -> None:
    error = error_of(lambda: local.get_invoice("in_local_missing"))
    assert (error.type, error.non_retryable) == ("InvoiceNotFound", True)


def test_list_invoices_by_stage(local: BillingActivities, settings: Settings) -> None:
    now = ISSUED + timedelta(days=40)
    overdue = local.create_invoice(invoice_request("order-L1"))
    fresh = local.create_invoice(invoice_request("order-L2", issued_at=ISSUED + timedelta(days=20)))
    paid = local.create_invoice(invoice_request("order-L3"))
    local.apply_invoice_action(action(paid, "pay"))
    bad = local.create_invoice(invoice_request("order-L4"))
    local.apply_invoice_action(action(bad, "mark_uncollectible"))

    def ids(stage: str | None) -> list[str]:
        return [row.id for row in list_invoices(settings, stage, now=now)]

    assert set(ids(None)) == {overdue.id, fresh.id, paid.id, bad.id}
    assert ids(None)[0] == fresh.id  # newest first
    assert ids("overdue") == [overdue.id]
    assert ids("open") == [fresh.id]
    assert ids("paid") == [paid.id]
    assert ids("uncollectible") == [bad.id]
    assert ids("void") == [] and ids("draft") == []
    with pytest.raises(ValueError, match="unknown invoice stage"):
        list_invoices(settings, "late")


# --- Stripe adapter against the test double --------------------------------------------------


@pytest.fixture
def double() -> Iterator[StripeDouble]:
    with StripeDouble(clock=lambda: DOUBLE_NOW) as server:
        yield server


def stripe_settings(
    settings: Settings, double: StripeDouble, api_key: str | None = None
) -> Settings:
    return settings.model_copy(
        update={
            "billing_backend": "stripe",
            "stripe_api_key": SecretStr(api_key or double.api_key),
            "stripe_api_base": double.url,
        }
    )


@pytest.fixture
def remote(settings: Settings, double: StripeDouble) -> BillingActivities:
    return BillingActivities(stripe_settings(settings, double))


def assert_one_invoice(double: StripeDouble) -> dict[str, Any]:
    assert double.created == {"customer": 1, "invoice": 1, "invoiceitem": len(LINES)}
    [invoice] = double.invoices.values()
    return invoice


def test_stripe_create_sends_an_open_invoice(
    remote: BillingActivities, double: StripeDouble, settings: Settings
) -> None:
    assert isinstance(remote.backend, StripeBilling)
    info = ActivityEnvironment().run(remote.create_invoice, invoice_request())

    invoice = assert_one_invoice(double)
    assert info.id == invoice["id"] and info.backend == "stripe"
    assert (info.status, info.amount_due_cents, info.amount_paid_cents) == ("open", TOTAL, 0)
    assert info.number == invoice["number"] and info.number
    assert info.hosted_url and info.hosted_url.startswith("https://invoice.stripe.com/i/")
    assert info.due_at == datetime.fromtimestamp(DOUBLE_NOW, UTC) + timedelta(days=30)
    assert invoice["collection_method"] == "send_invoice"
    assert invoice["metadata"] == {
        "workflow_id": "order-T1",
        "idempotency_key": "order-T1:invoice",
        "order_id": "order-T1",
    }
    assert [line["amount"] for line in invoice["lines"]["data"]] == [500_000, 250_000]
    assert double.sent[info.id] == 1
    [customer] = double.customers.values()
    assert (customer["name"], customer["email"], customer["address"]["country"]) == (
        "Nordlicht IT GmbH",
        "billing@nordlicht-it.de",
        "DE",
    )
    keys = {r.idempotency_key for r in double.requests if r.method == "POST"}
    assert keys == {
        "order-T1:invoice:customer",
        "order-T1:invoice:invoice",
        "order-T1:invoice:item:1",
        "order-T1:invoice:item:2",
        "order-T1:invoice:finalize",
        "order-T1:invoice:send",
    }


def test_stripe_mirrors_the_invoice(
    remote: BillingActivities, double: StripeDouble, settings: Settings
) -> None:
    info = remote.create_invoice(invoice_request())

    [row] = rows(settings)
    assert (row.id, row.idempotency_key, row.workflow_id, row.backend) == (
        info.id,
        "order-T1:invoice",
        "order-T1",
        "stripe",
    )
    assert (row.status, row.number, row.amount_due_cents, row.due_at) == (
        "open",
        info.number,
        TOTAL,
        info.due_at,
    )
    assert row.hosted_url == info.hosted_url
    assert row.finalized_at == datetime.fromtimestamp(DOUBLE_NOW, UTC)
    assert len(json.loads(row.lines_json)) == len(LINES)
    assert [r.id for r in list_invoices(settings, "open", now=ISSUED)] == [info.id]


def test_stripe_retry_after_a_crash_mid_way_makes_nothing_twice(
    remote: BillingActivities, double: StripeDouble
) -> None:
    # The invoice is created, then Stripe fails on the first item: the activity fails and
    # Temporal runs it again.
    double.fail_next(1, 500, method="POST", path="/v1/invoiceitems")
    error = error_of(lambda: remote.create_invoice(invoice_request()))
    assert (error.type, error.non_retryable) == ("BillingUnavailable", False)
    assert double.created == {"customer": 1, "invoice": 1}

    info = remote.create_invoice(invoice_request())

    assert assert_one_invoice(double)["id"] == info.id
    assert info.status == "open"


@pytest.mark.parametrize(
    ("method", "path", "after_effect"),
    [
        ("GET", "/v1/customers", False),
        ("POST", "/v1/customers", False),
        ("POST", "/v1/customers", True),
        ("POST", "/v1/invoices", False),
        ("POST", "/v1/invoices", True),
        ("GET", "/v1/invoiceitems", False),
        ("POST", "/v1/invoiceitems", True),
        ("POST", r"/v1/invoices/\w+/finalize", False),
        ("POST", r"/v1/invoices/\w+/finalize", True),
        ("POST", r"/v1/invoices/\w+/send", False),
    ],
)
def test_stripe_survives_a_failure_at_any_step(
    remote: BillingActivities,
    double: StripeDouble,
    settings: Settings,
    method: str,
    path: str,
    after_effect: bool,
) -> None:
    """`after_effect`: Stripe acted, then the answer was lost; Stripe stores that 500 for
    the idempotency key, so the retry must find the object instead of asking again."""
    failures = 1 if after_effect else 2
    double.fail_next(failures, 500, method=method, path=path, after_effect=after_effect)

    info, attempts = until_done(lambda: remote.create_invoice(invoice_request()))

    assert attempts == failures + 1
    assert assert_one_invoice(double)["id"] == info.id
    assert (info.status, info.amount_due_cents) == ("open", TOTAL)
    assert double.sent[info.id] >= 1
    assert [r.id for r in rows(settings)] == [info.id]


def test_stripe_retry_after_idempotency_keys_expired(
    remote: BillingActivities, double: StripeDouble
) -> None:
    double.fail_next(1, 500, method="POST", path=r"/v1/invoices/\w+/finalize")
    error_of(lambda: remote.create_invoice(invoice_request()))
    double.forget_idempotency_keys()  # the retry comes more than 24 hours later

    info = remote.create_invoice(invoice_request())

    assert assert_one_invoice(double)["id"] == info.id


def test_stripe_reuses_an_existing_customer_with_the_email(
    remote: BillingActivities, double: StripeDouble
) -> None:
    first = remote.create_invoice(invoice_request("order-R1"))
    second = remote.create_invoice(invoice_request("order-R2"))

    assert first.id != second.id
    assert double.created == {"customer": 1, "invoice": 2, "invoiceitem": 2 * len(LINES)}


@pytest.mark.parametrize(
    ("status", "error_type"), [(500, "BillingUnavailable"), (429, "BillingRateLimited")]
)
def test_stripe_outages_are_retryable(
    remote: BillingActivities, double: StripeDouble, status: int, error_type: str
) -> None:
    double.fail_next(1, status)

    error = error_of(lambda: remote.create_invoice(invoice_request()))

    assert (error.type, error.non_retryable) == (error_type, False)
    assert remote.create_invoice(invoice_request()).status == "open"


def test_stripe_connection_failure_is_retryable(settings: Settings) -> None:
    with StripeDouble() as gone:
        acts = BillingActivities(stripe_settings(settings, gone))
    error = error_of(lambda: acts.get_invoice("in_123"))
    assert (error.type, error.non_retryable) == ("BillingUnavailable", False)


def test_stripe_bad_api_key_is_rejected(settings: Settings, double: StripeDouble) -> None:
    acts = BillingActivities(stripe_settings(settings, double, api_key="sk_test_wrong"))

    error = error_of(lambda: acts.create_invoice(invoice_request()))

    assert (error.type, error.non_retryable) == ("BillingRejected", True)
    assert "Invalid API Key" in error.message
    assert error.details[0]["http_status"] == 401


def test_stripe_invalid_request_is_rejected(
    remote: BillingActivities, double: StripeDouble
) -> None:
    error = error_of(lambda: remote.create_invoice(invoice_request(currency="xyz")))

    assert (error.type, error.non_retryable) == ("BillingRejected", True)
    assert "Invalid currency" in error.message
    assert double.created["invoice"] == 0


def test_stripe_reused_key_with_other_parameters_is_rejected(
    remote: BillingActivities, double: StripeDouble
) -> None:
    remote.create_invoice(invoice_request())
    changed = invoice_request(customer_email="someone-else@nordlicht-it.de")

    error = error_of(lambda: remote.create_invoice(changed))

    assert (error.type, error.non_retryable) == ("BillingRejected", True)
    assert error.details[0]["error"] == "IdempotencyError"


def test_stripe_unknown_invoice_is_rejected(remote: BillingActivities) -> None:
    error = error_of(lambda: remote.get_invoice("in_missing"))
    assert (error.type, error.non_retryable) == ("BillingRejected", True)


@pytest.mark.parametrize(
    ("steps", "final"),
    [
        (["pay"], "paid"),
        (["void"], "void"),
        (["mark_uncollectible"], "uncollectible"),
        (["mark_uncollectible", "pay"], "paid"),
        (["mark_uncollectible", "void"], "void"),
    ],
)
def test_stripe_actions(
    remote: BillingActivities,
    double: StripeDouble,
    settings: Settings,
    steps: list[str],
    final: str,
) -> None:
    info = remote.create_invoice(invoice_request())
    for verb in steps:
        info = remote.apply_invoice_action(action(info, verb, reason=f"{verb} by finance"))

    assert info.status == final == double.invoices[info.id]["status"]
    assert info.amount_paid_cents == (TOTAL if final == "paid" else 0)
    [row] = rows(settings)
    assert (row.status, row.amount_paid_cents) == (final, info.amount_paid_cents)
    assert json.loads(row.metadata_json)[f"{steps[-1]}_reason"] == f"{steps[-1]} by finance"


def test_stripe_repeated_action_makes_no_second_call(
    remote: BillingActivities, double: StripeDouble
) -> None:
    info = remote.create_invoice(invoice_request())
    paid = remote.apply_invoice_action(action(info, "pay"))

    assert remote.apply_invoice_action(action(info, "pay")) == paid
    assert double.count_requests("POST", r"/v1/invoices/\w+/pay") == 1


def test_stripe_action_answer_lost_then_retried(
    remote: BillingActivities, double: StripeDouble
) -> None:
    info = remote.create_invoice(invoice_request())
    double.fail_next(1, 500, path=r"/v1/invoices/\w+/void", after_effect=True)

    voided, attempts = until_done(lambda: remote.apply_invoice_action(action(info, "void")))

    assert (voided.status, attempts) == ("void", 2)


def test_stripe_illegal_transition_is_a_state_error(
    remote: BillingActivities, double: StripeDouble
) -> None:
    info = remote.apply_invoice_action(action(remote.create_invoice(invoice_request()), "pay"))

    error = error_of(lambda: remote.apply_invoice_action(action(info, "void")))

    assert (error.type, error.non_retryable) == ("InvoiceStateError", True)
    assert double.count_requests("POST", r"/v1/invoices/\w+/void") == 0


def test_stripe_get_invoice_refreshes_the_mirror(
    remote: BillingActivities, double: StripeDouble, settings: Settings
) -> None:
    info = remote.create_invoice(invoice_request())
    client = stripe.StripeClient(double.api_key, base_addresses={"api": double.url})
    client.v1.invoices.pay(info.id, params={"paid_out_of_band": True})  # paid in Stripe

    fresh = remote.get_invoice(info.id)

    assert (fresh.status, fresh.amount_paid_cents) == ("paid", TOTAL)
    [row] = rows(settings)
    assert row.status == "paid" and row.paid_at is not None


# --- the double's own Stripe semantics -------------------------------------------------------


@pytest.fixture
def client(double: StripeDouble) -> stripe.StripeClient:
    return stripe.StripeClient(
        double.api_key, base_addresses={"api": double.url}, max_network_retries=0
    )


def test_double_replays_idempotent_requests(
    client: stripe.StripeClient, double: StripeDouble
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "k"}
    first = client.v1.customers.create(params={"name": "A"}, options=options)
    again = client.v1.customers.create(params={"name": "A"}, options=options)

    assert again.id == first.id and double.created["customer"] == 1
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={"name": "B"}, options={"idempotency_key": "k"})


def test_double_enforces_invoice_status_rules(
    client: stripe.StripeClient, double: StripeDouble
) -> None:
    customer = client.v1.customers.create(params={"email": "a@nordlicht-it.de"})
    invoice = client.v1.invoices.create(
        params={"customer": customer.id, "collection_method": "send_invoice", "days_until_due": 30}
    )
    with pytest.raises(stripe.InvalidRequestError, match="only send"):
        client.v1.invoices.send_invoice(invoice.id)
    with pytest.raises(stripe.InvalidRequestError, match="only mark uncollectible"):
        client.v1.invoices.mark_uncollectible(invoice.id)
    client.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "invoice": invoice.id,
            "unit_amount_decimal": Decimal(1250),
            "quantity": 2,
        }
    )
    opened = client.v1.invoices.finalize_invoice(invoice.id)

    assert (opened.status, opened.amount_due, opened.total) == ("open", 2500, 2500)
    assert opened.due_date == DOUBLE_NOW + 30 * 86_400
    with pytest.raises(stripe.InvalidRequestError, match="already finalized"):
        client.v1.invoices.finalize_invoice(invoice.id)
    with pytest.raises(stripe.InvalidRequestError, match="draft invoices"):
        client.v1.invoice_items.create(
            params={
                "customer": customer.id,
                "invoice": invoice.id,
                "unit_amount_decimal": Decimal(1),
            }
        )
    with pytest.raises(stripe.InvalidRequestError, match="send_invoice"):
        client.v1.invoices.create(
            params={"customer": customer.id, "collection_method": "send_invoice"}
        )
    client.v1.invoices.void_invoice(invoice.id)
    with pytest.raises(stripe.InvalidRequestError, match="only pay"):
        client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})


def test_double_objects_keep_stripe_shapes(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "a@nordlicht-it.de"})
    invoice = client.v1.invoices.create(params={"customer": customer.id})

    assert isinstance(customer, stripe.Customer) and isinstance(invoice, stripe.Invoice)
    assert invoice.object == "invoice" and invoice.status == "draft"
    assert invoice.status_transitions.finalized_at is None
    assert client.v1.invoices.retrieve(invoice.id).id == invoice.id
    assert client.v1.customers.retrieve(customer.id).email == "a@nordlicht-it.de"


# --- real Stripe test mode -------------------------------------------------------------------


def test_real_stripe_test_mode(settings: Settings) -> None:
    api_key = os.environ.get("STRIPE_TEST_API_KEY")
    if not api_key:
        pytest.skip("STRIPE_TEST_API_KEY is not set (a Stripe test-mode secret key, sk_test_...)")
    if "_live_" in api_key:
        pytest.fail("STRIPE_TEST_API_KEY must be a test-mode key, not a live one")
    acts = BillingActivities(
        settings.model_copy(
            update={
                "billing_backend": "stripe",
                "stripe_api_key": SecretStr(api_key),
                "stripe_api_base": "https://api.stripe.com",
            }
        )
    )
    name = f"pf-test-{uuid.uuid4().hex[:12]}"
    request = invoice_request(name, customer_email=f"{name}@example.com", metadata={"test": "1"})

    info = acts.create_invoice(request)
    try:
        assert (info.status, info.amount_due_cents, info.backend) == ("open", TOTAL, "stripe")
        assert info.number and info.hosted_url and info.due_at
        assert info.due_at - datetime.now(UTC) > timedelta(days=29)
        assert acts.create_invoice(request).id == info.id
    finally:
        voided = acts.apply_invoice_action(action(info, "void", reason="test cleanup"))
    assert voided.status == "void"
