"""The partner entity's pure rules: what a partner may do, which offboarding requests are
refused, how records and deal events change its state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from models.partner_entity import (
    DealEvent,
    Offboarding,
    PartnerEntityState,
    PartnerEvent,
    apply_deal,
    apply_record,
    may,
    offboarding_problems,
)
from tests.factories import partner_record

TODAY = date(2026, 12, 2)


def state(status: str = "active", **attributes: object) -> PartnerEntityState:
    record = partner_record("nordlicht-it", status=status, attributes=attributes)
    return apply_record(
        PartnerEntityState(), PartnerEvent(source_workflow_id="var-application-1", record=record)
    )


def test_an_agreement_alone_allows_deals_but_not_var_orders() -> None:
    signed = state(agreement_id="agr-1", territory=["DE"])
    assert may(signed, "mattermost", "register_deal").allowed
    order = may(signed, "mattermost", "order_var")
    assert not order.allowed and "a Sales Manager" in order.reason
    assert "the online training" in order.reason


def test_nothing_is_allowed_unless_active() -> None:
    onboarding = state("applicant", agreement_id="agr-1")
    assert onboarding.status == "onboarding"
    answer = may(onboarding, "mattermost", "request_evaluation")
    assert not answer.allowed and answer.reason == "the partner is onboarding, not active"


def test_rocketchat_partners_register_no_mattermost_deals() -> None:
    rc = state(signed_at="2026-12-01")
    answer = may(rc, "rocketchat", "register_deal")
    assert not answer.allowed and "Mattermost Value-Added Resellers" in answer.reason


def test_offboarding_refusals() -> None:
    request = Offboarding(reason="r", effective_date=TODAY, decided_by="pm@mattermost.com")
    assert offboarding_problems(state(), request, TODAY) == []
    past = request.model_copy(update={"effective_date": TODAY - timedelta(days=31)})
    assert [p["field"] for p in offboarding_problems(state(), past, TODAY)] == ["effective_date"]
    leaving = state().model_copy(update={"status": "offboarding", "offboarding": request})
    (problem,) = offboarding_problems(leaving, request, TODAY)
    assert problem["message"] == "the partner is already offboarding (effective 2026-12-02)"


def test_deals_open_on_approval_and_close_on_their_end() -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    opened = apply_deal(
        state(), DealEvent(deal_number="DR-1", workflow_id="deal-DR-1", status="approved", at=at)
    )
    quoted = apply_deal(
        opened, DealEvent(deal_number="DR-1", workflow_id="deal-DR-1", status="quoted", at=at)
    )
    assert list(quoted.open_deals) == ["DR-1"] and quoted.open_deals["DR-1"].status == "quoted"
    ordered = apply_deal(
        quoted, DealEvent(deal_number="DR-1", workflow_id="deal-DR-1", status="ordered", at=at)
    )
    assert ordered.open_deals == {} and ordered.closed_deals == 1
