"""Deal numbers and the customer/email-domain normalization behind channel conflicts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.deals import (
    DealPurchaseOrder,
    DealReview,
    PurchasedOnline,
    Quotation,
    email_domain,
    format_deal_number,
    license_contact_mismatch,
    normalize_company,
    opportunity_keys,
    parse_deal_number,
    referral_fee_note,
)


def test_deal_number_format() -> None:
    assert format_deal_number(2026, 123) == "DR-2026-000123"
    assert parse_deal_number("DR-2026-000123") == (2026, 123)
    for bad in ("DR-26-000123", "DR-2026-123", "dr-2026-000123", "DR-2026-0001234"):
        with pytest.raises(ValueError):
            parse_deal_number(bad)
    with pytest.raises(ValueError):
        format_deal_number(2026, 1_000_000)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Hanse Logistik AG", "HANSE-LOGISTIK"),
        ("Stadtwerke Köln GmbH", "stadtwerke koln"),
        ("Acme, Inc.", "ACME Incorporated"),
        ("Müller & Söhne KG", "Muller and Sohne"),
    ],
)
def test_same_customer_normalizes_alike(a: str, b: str) -> None:
    assert normalize_company(a) == normalize_company(b)


def test_different_customers_stay_different() -> None:
    assert normalize_company("Hanse Logistik AG") != normalize_company("Hanse Logistik Nord AG")
    assert normalize_company("AG") == "ag"  # a name of legal-form words only is kept


def test_email_domain_ignores_free_mail() -> None:
    assert email_domain("Jonas.Weber@Hanse-Logistik.example") == "hanse-logistik.example"
    assert email_domain("someone@gmail.com") is None


def test_opportunity_keys_by_name_and_domain_per_product() -> None:
    keys = opportunity_keys("Hanse Logistik AG", "it@hanse-logistik.example", "mm-ent-1y")
    assert keys == ["name:hanse logistik|MM-ENT-1Y", "domain:hanse-logistik.example|MM-ENT-1Y"]
    assert opportunity_keys("Hanse Logistik AG", "x@gmail.com", "MM-ENT-1Y") == [
        "name:hanse logistik|MM-ENT-1Y"
    ]


def test_referral_fee_note_is_exact() -> None:
    assert (
        referral_fee_note("DR-2026-000123") == "Referral fee for deal registration DR-2026-000123"
    )


def test_review_needs_reason_or_question() -> None:
    with pytest.raises(ValidationError, match="reason"):
        DealReview(reviewer="x", decision="reject")
    with pytest.raises(ValidationError, match="question"):
        DealReview(reviewer="x", decision="request_information")
    assert DealReview(reviewer="x", decision="approve").decision == "approve"


def test_the_purchase_order_names_the_quotations_license_contact() -> None:
    quotation = Quotation(
        quote_number="Q-1",
        prepared_by="sm@mattermost.com",
        seats=10,
        list_unit_price_cents=100,
        discount_percent=0,
        net_price_cents=1000,
        license_contact_email="licenses@hanse-logistik.example",
    )

    def po(email: str) -> DealPurchaseOrder:
        return DealPurchaseOrder.model_validate(
            {
                "number": "PO-1",
                "submitted_by": "lena@nordlicht.example",
                "amount_cents": 1000,
                "bill_to": "Nordlicht",
                "end_customer": {
                    "legal_name": "Hanse Logistik AG",
                    "address": {"line1": "Am Sandtorkai 50", "city": "Hamburg", "country": "DE"},
                    "contact": {"name": "Jonas Weber", "email": email},
                },
            }
        )

    assert license_contact_mismatch(po("Licenses@Hanse-Logistik.example"), quotation) is None
    reason = license_contact_mismatch(po("jonas@hanse-logistik.example"), quotation)
    assert reason is not None
    assert "jonas@hanse-logistik.example" in reason and "licenses@hanse-logistik.example" in reason


def test_purchased_online_reports_recorded_before_the_purchase_stay_valid() -> None:
    old = PurchasedOnline.model_validate(
        {"reported_by": "sales@mattermost.com", "online_order_reference": "WEB-1"}
    )
    assert not old.has_purchase and old.term_months == 12


@pytest.mark.parametrize(
    ("purchase", "field"),
    [
        ({"seats": 10}, "list_unit_price_cents"),
        ({"list_unit_price_cents": 12_000}, "list_unit_price_cents"),
        ({"seats": 10, "list_unit_price_cents": 12_000, "term_months": 18}, "term_months"),
        ({"seats": 10, "list_unit_price_cents": 12_000, "term_months": 6}, "term_months"),
        ({"seats": 0, "list_unit_price_cents": 12_000}, "seats"),
        (
            {"seats": 10, "list_unit_price_cents": 12_000, "amount_paid_cents": 1},
            "amount_paid_cents",
        ),
        ({"amount_paid_cents": 120_000}, "amount_paid_cents"),
    ],
)
def test_purchased_online_purchase_is_consistent(purchase: dict[str, int], field: str) -> None:
    with pytest.raises(ValidationError) as invalid:
        PurchasedOnline.model_validate(
            {"reported_by": "sales@mattermost.com", "online_order_reference": "WEB-1", **purchase}
        )
    assert [error["loc"] for error in invalid.value.errors()] == [(field,)]


def test_purchased_online_amount_paid_is_the_list_price_of_the_purchase() -> None:
    report = PurchasedOnline.model_validate(
        {
            "reported_by": "sales@mattermost.com",
            "online_order_reference": "WEB-1",
            "seats": 10,
            "list_unit_price_cents": 12_000,
            "term_months": 24,
            "amount_paid_cents": 240_000,
        }
    )
    assert report.has_purchase and report.amount_paid_cents == 240_000
