"""SubscriptionRenewal (`renewal-{subscription_id}-{term}`): one term of a Mattermost
subscription, from its license to its renewal or lapse.

Started by the `OrderFulfillment` that licensed the term (`start_renewal`, an abandoned
child: it outlives the order). Reminders 90, 60 and 30 days before the term expires go to
the reseller, or to the end customer directly once the reseller has left the program (its
partner record is looked up as each reminder is due). The task `renew_subscription` (update
`renew`, opened at the first reminder) takes the decision; the renewal order then runs as a
child `OrderFulfillment` (terms acceptance, license from this term's expiry, net-30
invoice), and that order starts the next term's renewal as it issues the license. Nobody
renewed by the expiry plus the grace period (`PARTNERFLOW_RENEWAL_GRACE_DAYS`): the
subscription lapses. Every change is recorded in the `subscriptions` table.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from models.contracts import (
        IssuedLicense,
        OrderFulfillmentInput,
        OrderFulfillmentResult,
        OrderProgress,
    )
    from models.renewals import (
        RenewalDecision,
        RenewalPolicy,
        SubscriptionRecord,
        SubscriptionRenewalInput,
        SubscriptionRenewalResult,
        SubscriptionStatus,
        reminder_times,
        renewal_order,
        renewal_workflow_id,
        reseller_left,
        sold_directly,
    )

from workflows.calls import RECORD, call
from workflows.deadlines import wait_until
from workflows.human_tasks import HumanTask
from workflows.process import ProcessWorkflow
from workflows.search_attributes import PARTNER_ID, PROGRAM

RENEW = HumanTask(
    task="renew_subscription",
    handler="renew",
    assignee="account_manager",
    description="The partner (or, once the reseller has left, the customer) renews the "
    "subscription: record the users for the new term",
    model=RenewalDecision,
    example={"decided_by": "jonas.weber@nordlicht.example", "seats": 50},
)


async def start_renewal(order: OrderFulfillmentInput, issued: IssuedLicense) -> None:
    """Start the renewal of the term `order` licensed (called by `OrderFulfillment` once the
    license is issued; an abandoned child, so it outlives the order)."""
    term = order.subscription.term if order.subscription else 1
    subscription_id = order.subscription.subscription_id if order.subscription else order.order_id
    pairs: list[SearchAttributePair[Any]] = [SearchAttributePair(PROGRAM, "mattermost")]
    if order.reseller.partner_id:
        pairs.append(SearchAttributePair(PARTNER_ID, order.reseller.partner_id))
    try:
        await workflow.start_child_workflow(
            "SubscriptionRenewal",
            SubscriptionRenewalInput(
                subscription_id=subscription_id,
                term=term,
                order=order,
                license_id=issued.license_id,
                starts_at=issued.starts_at,
                expires_at=issued.expires_at,
            ),
            id=renewal_workflow_id(subscription_id, term),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(pairs),
            static_summary=(
                f"Renewal of {order.end_customer.legal_name}'s subscription {subscription_id}, "
                f"term {term} (expires {issued.expires_at:%Y-%m-%d})"
            ),
        )
    except WorkflowAlreadyStartedError:
        workflow.logger.info("renewal of %s term %s already started", subscription_id, term)


@workflow.defn
class SubscriptionRenewal(ProcessWorkflow):
    """One subscription term: reminders → renewal order (or lapse)."""

    process = "SubscriptionRenewal"
    human_tasks = (*ProcessWorkflow.human_tasks, RENEW)

    def __init__(self) -> None:
        super().__init__()
        self._input: SubscriptionRenewalInput | None = None
        self._decision: RenewalDecision | None = None
        self._reminders_sent = 0
        self._order_seq = 0

    @workflow.signal
    def renew(self, payload: Any) -> None:
        """Renew the subscription for another term (open from the first reminder until it
        lapses): `{"decided_by": "jonas.weber@nordlicht.example", "seats": 60,
        "purchase_order_number": "PO-2027-17"}` (`purchase_order_number`, `note` optional)."""
        decision = self.accept(RENEW, payload, RenewalDecision)
        if decision is None or self._decision is not None:
            return
        self._decision = decision
        self.note(
            RENEW.task,
            decision.decided_by,
            "renew",
            seats=decision.seats,
            purchase_order_number=decision.purchase_order_number,
            note=decision.note,
        )

    @workflow.signal
    def order_progress(self, payload: Any) -> None:
        """Sent by the renewal's child `OrderFulfillment` at every change: its stage and
        pending tasks, mirrored in the facts."""
        try:
            progress = OrderProgress.model_validate(payload)
        except ValueError:
            return
        order = self._facts.get("renewal_order")
        if order is None or progress.workflow_id != order.get("workflow_id"):
            return
        if progress.seq <= self._order_seq:
            return
        self._order_seq = progress.seq
        order.update(stage=progress.stage, pending_tasks=progress.pending_tasks)
        self._publish()

    @workflow.run
    async def run(self, sub: SubscriptionRenewalInput) -> SubscriptionRenewalResult:
        self._input = sub
        order = sub.order
        self._facts.update(
            subscription_id=sub.subscription_id,
            term=sub.term,
            order_id=order.order_id,
            license_id=sub.license_id,
            starts_at=sub.starts_at.isoformat(),
            expires_at=sub.expires_at.isoformat(),
            value_cents=order.total_cents,
            currency=order.currency,
            reseller_company=order.reseller.company,
            end_customer=order.end_customer.legal_name,
        )
        self.set_stage("active")
        grace_days = sub.grace_days
        if grace_days is None:
            policy = await call(
                "renewal_policy",
                sub.subscription_id,
                options=RECORD,
                result_type=RenewalPolicy,
                summary="renewal settings (grace period)",
            )
            grace_days = policy.grace_days
        lapses_at = sub.expires_at + timedelta(days=grace_days)
        self._facts.update(grace_days=grace_days, lapses_at=lapses_at.isoformat())
        await self._record("active")

        attempt = 0
        while True:
            if not await self._wait_for_decision(lapses_at, grace_days):
                return await self._lapse()
            attempt += 1
            result = await self._renewal_order(attempt)
            if result.license_id:
                return await self._renewed(result)
            # The renewal order ended without a license (refused, terms not accepted):
            # the subscription may still be renewed until it lapses.
            self._decision = None
            self._reminders_sent = 0

    async def _wait_for_decision(self, lapses_at: datetime, grace_days: int) -> bool:
        """Remind before the expiry, open `renew_subscription`, and wait for the decision
        until the subscription lapses; False when nobody renewed."""
        sub = self._require_input()
        decided = self._decided
        now = workflow.now()
        schedule = [(d, at) for d, at in reminder_times(sub.expires_at, sub.reminder_days)]
        opens_at = schedule[0][1] if schedule else sub.expires_at
        if opens_at > now:
            with self.waiting(lambda: False):  # at rest until the renewal window opens
                await wait_until(lambda: False, opens_at, "renewal: window opens")
        example = {
            **RENEW.example,
            "decided_by": sub.order.reseller.contact.email,
            "seats": sub.order.seats,
        }
        self.open_task(RENEW, sub.expires_at, example=example)
        self.set_stage("renewal_due")
        late = [(d, at) for d, at in schedule if at > workflow.now()]
        due = [p for p in schedule if p not in late][-1:] + late  # the latest one due now
        with self.waiting(decided):
            for days, at in due:
                if await wait_until(decided, at, f"renewal: reminder {days} days before expiry"):
                    break
                await self._remind(days, grace_days)
            else:
                if not await wait_until(decided, sub.expires_at, "renewal: expiry"):
                    self.set_stage("grace_period")
                    self.note("subscription", "system", "expired")
                    await wait_until(decided, lapses_at, "renewal: lapse after the grace period")
        self.close_task(RENEW.task)
        return decided()

    def _decided(self) -> bool:
        return self._decision is not None

    async def _remind(self, days: int, grace_days: int) -> None:
        """Reminder `days` before expiry: to the reseller, or to the end customer directly
        when the reseller has left (its partner record looked up now)."""
        sub = self._require_input()
        order = sub.order
        direct = await self._reseller_has_left()
        context = {
            "subscription_id": sub.subscription_id,
            "term": sub.term,
            "license_id": sub.license_id,
            "end_customer_name": order.end_customer.legal_name,
            "contact_name": order.end_customer.contact.name,
            "reseller_company": order.reseller.company,
            "expires_at": sub.expires_at.isoformat(),
            "days_before": days,
            "sold_directly": sold_directly(order),
            "grace_days": grace_days,
            "value_cents": order.total_cents,
            "currency": order.currency,
            "lines": [
                {"sku": line.sku, "description": line.description, "seats": line.seats}
                for line in order.lines
            ],
        }
        if direct:
            to, template = [order.end_customer.contact.email], "subscription_renewal_direct"
        else:
            to, template = [order.reseller.contact.email], "subscription_renewal_reminder"
        await self.email(
            f"renewal:reminder:{days}", to, template, context, cc=["role:account_manager"]
        )
        self._reminders_sent += 1
        self.bump_task(RENEW.task, reminders_sent=self._reminders_sent)
        self.note(
            RENEW.task,
            "system",
            "reminded",
            days_before=days,
            to="end_customer" if direct else "reseller",
        )

    async def _reseller_has_left(self) -> bool:
        """The reseller's partner record says it left; a term already sold directly (its
        order's invoiced party is the end customer) counts as left too."""
        order = self._require_input().order
        reseller = order.reseller
        if sold_directly(order):
            return True
        if not reseller.partner_id:
            return False
        record = await self.find_partner(reseller.partner_id)
        left = reseller_left(record)
        self._facts["reseller_left"] = left
        return left

    async def _renewal_order(self, attempt: int) -> OrderFulfillmentResult:
        """The new term's order as a child `OrderFulfillment`: terms acceptance, the license
        from this term's expiry, the net-30 invoice."""
        sub = self._require_input()
        decision = self._decision
        assert decision is not None
        direct = await self._reseller_has_left()
        order = renewal_order(
            sub.order,
            decision,
            subscription_id=sub.subscription_id,
            term=sub.term + 1,
            starts_at=sub.expires_at,
            direct=direct,
            attempt=attempt,
        )
        child_id = f"order-{order.order_id}"
        self._facts["renewal_order"] = {
            "workflow_id": child_id,
            "order_id": order.order_id,
            "direct": direct,
            "seats": order.seats,
            "total_cents": order.total_cents,
        }
        await self.decide(
            f"renew:{attempt}",
            decision.decided_by,
            "renew",
            order_id=order.order_id,
            seats=decision.seats,
            direct=direct,
        )
        self.set_stage("renewal_order")
        pairs: list[SearchAttributePair[Any]] = [SearchAttributePair(PROGRAM, "mattermost")]
        if order.reseller.partner_id:
            pairs.append(SearchAttributePair(PARTNER_ID, order.reseller.partner_id))
        with self.waiting(lambda: False):  # at rest: the order's tasks are the child's
            result: OrderFulfillmentResult = await workflow.execute_child_workflow(
                "OrderFulfillment",
                order,
                id=child_id,
                result_type=OrderFulfillmentResult,
                search_attributes=TypedSearchAttributes(pairs),
                static_summary=(
                    f"Renewal order {order.order_id} (term {sub.term + 1} of "
                    f"{sub.subscription_id}): {order.reseller.company} → "
                    f"{order.end_customer.legal_name}"
                ),
            )
        self._facts["renewal_order"].update(
            outcome=result.outcome, reason=result.reason, license_id=result.license_id
        )
        return result

    async def _renewed(self, result: OrderFulfillmentResult) -> SubscriptionRenewalResult:
        sub = self._require_input()
        await self._record("renewed", renewal_order_id=result.order_id)
        await self.decide("subscription", "system", "renewed", order_id=result.order_id)
        self.conclude("renewed", None)
        return SubscriptionRenewalResult(
            subscription_id=sub.subscription_id,
            term=sub.term,
            outcome="renewed",
            renewal_order_id=result.order_id,
            license_id=result.license_id,
        )

    async def _lapse(self) -> SubscriptionRenewalResult:
        sub = self._require_input()
        await self._record("lapsed")
        await self.decide(
            "subscription", "system", "lapsed", reason="not renewed by the end of the grace period"
        )
        self.conclude("lapsed", "not renewed by the end of the grace period")
        return SubscriptionRenewalResult(
            subscription_id=sub.subscription_id, term=sub.term, outcome="lapsed"
        )

    async def _record(
        self, status: SubscriptionStatus, *, renewal_order_id: str | None = None
    ) -> None:
        sub = self._require_input()
        order = sub.order
        await call(
            "record_subscription",
            SubscriptionRecord(
                subscription_id=sub.subscription_id,
                term=sub.term,
                workflow_id=workflow.info().workflow_id,
                order_id=order.order_id,
                license_id=sub.license_id,
                end_customer_name=order.end_customer.legal_name,
                end_customer_email=order.end_customer.contact.email,
                reseller_company=order.reseller.company,
                partner_id=order.reseller.partner_id,
                starts_at=sub.starts_at,
                expires_at=sub.expires_at,
                value_cents=order.total_cents,
                currency=order.currency,
                status=status,
                renewal_order_id=renewal_order_id,
                at=workflow.now(),
            ),
            options=RECORD,
            summary=f"record subscription term {sub.term} ({status})",
        )

    def _require_input(self) -> SubscriptionRenewalInput:
        assert self._input is not None
        return self._input
