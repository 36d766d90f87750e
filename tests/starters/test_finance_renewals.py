"""The finance board's renewals section: subscriptions expiring in the next 90 days with
their value and reseller, and lapsed ones (records written by the real activity)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from activities.subscriptions import SubscriptionActivities
from tests.activities.test_subscriptions import record
from tests.starters.conftest import PagesStack, sign_in


async def test_finance_shows_upcoming_renewals_and_lapsed_subscriptions(
    pages_stack: PagesStack, web: httpx.AsyncClient
) -> None:
    acts = SubscriptionActivities(pages_stack.settings)
    now = datetime.now(UTC)
    soon = record("ORD-RENEW-SOON", 45, end_customer_name="Stadtwerke Kiel AG")
    acts.record_subscription(soon.model_copy(update={"expires_at": now + timedelta(days=45)}))
    later = record("ORD-RENEW-LATER", 0, end_customer_name="Later Customer")
    acts.record_subscription(later.model_copy(update={"expires_at": now + timedelta(days=200)}))
    gone = record("ORD-LAPSED", 0, end_customer_name="Lapsed Customer", status="lapsed")
    acts.record_subscription(gone.model_copy(update={"expires_at": now - timedelta(days=40)}))

    assert (await sign_in(web, next_url="/finance")).status_code == 303
    page = await web.get("/finance")
    assert page.status_code == 200
    section = page.text[page.text.index('id="renewals"') :]
    upcoming, lapsed = section.split('id="lapsed"', 1)
    assert "Stadtwerke Kiel AG" in upcoming and "5,000.00 USD" in upcoming
    assert "Nordlicht IT GmbH" in upcoming and "ORD-RENEW-SOON" in upcoming
    assert "Later Customer" not in section  # beyond 90 days
    assert "Lapsed Customer" in lapsed and "Lapsed Customer" not in upcoming
