"""The program summary's steps in Rocket.Chat onboarding (seed 002, "Program summary"), for
runs that started with the patch `rc-summary-steps`:

- before the contract: the **statement of work** (account manager, `agree_statement_of_work`);
- at signature: the partner's folder of **program documents** (a link on the partner record,
  in the welcome email and in `status`);
- after signature, alongside steps 5-7: **opportunities-portal access** (automatic, an
  activity keyed by the workflow id), **test sessions** (scheduled, then held or scheduled
  again: `schedule_test_sessions`, `record_test_sessions`), the partner's **market strategy**
  (`submit_market_strategy`, reminders to the partner) and the **discount and prices**
  (account manager, `record_discount_and_prices`);
- once onboarding completes: **inclusion on Rocket.Chat's partner page** (`/rocketchat/partners`).

`status.facts.program_summary` shows each of the summary's steps with its state
(`not_started`, `waiting`, `done`). `RocketChatSummarySteps` is a base of
`RocketChatOnboarding`: its handlers are signals and, through `human_tasks`, Workflow Updates
with validators.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.rocketchat import CALENDAR, PARTNER_TYPE_LABELS, SERVICES, RocketChatApplication
    from models.rocketchat_summary import (
        SUMMARY_STEPS,
        DiscountAndPrices,
        MarketStrategy,
        PortalAccess,
        PortalAccessRequest,
        PortalRevocation,
        SiteDelisting,
        SiteListing,
        StatementOfWork,
        TestSessionsHeld,
        TestSessionsScheduled,
        discount_problem,
        standard_discount,
    )

from workflows.calls import RECORD, call
from workflows.deadlines import Deadline, business_deadline
from workflows.human_tasks import HumanTask
from workflows.process import ProcessWorkflow

# Runs that started before it have none of these steps.
SUMMARY_PATCH = "rc-summary-steps"
# The partnership's removal also takes the partner off Rocket.Chat's partner page.
DELIST_PATCH = "rc-summary-delist"

AGREE_STATEMENT_OF_WORK = HumanTask(
    "agree_statement_of_work",
    "agree_statement_of_work",
    "account_manager",
    "Agree the statement of work with the partner (what it delivers, for which of its services) "
    "and record it",
    StatementOfWork,
    {
        "agreed_by": "sales@rocket.chat",
        "scope": "Installation and brand theming of Rocket.Chat for the partner's customers.",
        "services": ["installation"],
        "document_url": "https://drive.example.com/sow/partner.pdf",
    },
)
SCHEDULE_TEST_SESSIONS = HumanTask(
    "schedule_test_sessions",
    "schedule_test_sessions",
    "partner_manager",
    "Schedule the partner's test sessions (each session's time and topic, in the future)",
    TestSessionsScheduled,
    {
        "recorded_by": "partners@rocket.chat",
        "sessions": [{"at": "2027-01-11T15:00:00Z", "topic": "Test session: installation"}],
    },
)
RECORD_TEST_SESSIONS = HumanTask(
    "record_test_sessions",
    "record_test_sessions",
    "partner_manager",
    "Record that the test sessions were held (who attended), or that they must be scheduled "
    "again (why)",
    TestSessionsHeld,
    {"recorded_by": "partners@rocket.chat", "outcome": "held", "attendees": ["Jane Doe"]},
)
SUBMIT_MARKET_STRATEGY = HumanTask(
    "submit_market_strategy",
    "submit_market_strategy",
    "partner",
    "The partner submits its market strategy: target segments, the countries it sells in and "
    "its plan",
    MarketStrategy,
    {
        "submitted_by": "contact@partner.example",
        "target_segments": ["healthcare", "public sector"],
        "regions": ["PT", "ES"],
        "plan": "Direct sales to hospitals and municipalities, two webinars per quarter.",
    },
    partner_task=(
        "Please send us your market strategy for Rocket.Chat: the segments you target, the "
        "countries you sell in and how you plan to reach them."
    ),
    partner_action="send it to your account manager, who records it with you",
)
RECORD_DISCOUNT_AND_PRICES = HumanTask(
    "record_discount_and_prices",
    "record_discount_and_prices",
    "account_manager",
    "Record the discount agreed on Rocket.Chat's premium offers and the partner's price list "
    "(another discount than the program's needs a reason)",
    DiscountAndPrices,
    {
        "recorded_by": "sales@rocket.chat",
        "premium_discount_percent": 20,
        "price_list_url": "https://partner.example/rocket-chat/prices",
        "currency": "USD",
    },
)
SUMMARY_TASKS = (
    AGREE_STATEMENT_OF_WORK,
    SCHEDULE_TEST_SESSIONS,
    RECORD_TEST_SESSIONS,
    SUBMIT_MARKET_STRATEGY,
    RECORD_DISCOUNT_AND_PRICES,
)
# Where each summary step's state is read: the fact that says it is done, and the tasks
# that mean it is waiting.
_STEP_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "statement_of_work": ("statement_of_work", ("agree_statement_of_work",)),
    "training": ("training_completed_at", ("basic_training",)),
    "test_sessions": ("test_sessions_held", ("schedule_test_sessions", "record_test_sessions")),
    "certification": ("training_completed_at", ("basic_training",)),
    "contract": ("signed_at", ("set_contract_terms", "sign_partner_agreement")),
    "opportunities_portal": ("opportunities_portal", ()),
    "partner_page": ("partner_page", ()),
    "goals": ("goals", ("set_goals",)),
    "market_strategy": ("market_strategy", ("submit_market_strategy",)),
    "discount_and_prices": ("discount_and_prices", ("record_discount_and_prices",)),
}


class RocketChatSummarySteps(ProcessWorkflow):
    """The program summary's steps, as a base of `RocketChatOnboarding`."""

    human_tasks = (*ProcessWorkflow.human_tasks, *SUMMARY_TASKS)

    def __init__(self) -> None:
        super().__init__()
        self._summary_on = False
        self._sow: StatementOfWork | None = None
        self._sessions: TestSessionsScheduled | None = None
        self._sessions_held: TestSessionsHeld | None = None
        self._strategy: MarketStrategy | None = None
        self._discount: DiscountAndPrices | None = None

    # what the onboarding provides: the application, the partner's notice email
    _notify: Callable[..., Awaitable[None]]

    def _require_app(self) -> RocketChatApplication:
        raise NotImplementedError

    # --- human handlers -------------------------------------------------------------------

    @workflow.signal
    def agree_statement_of_work(self, payload: Any) -> None:
        """Account manager: `{"agreed_by": "sales@rocket.chat", "scope": "Installation and
        brand theming ...", "services": ["installation"],
        "document_url": "https://drive.example.com/sow/partner.pdf"}` (services: the
        partner's registered ones; `document_url` optional)."""
        sow = self.accept(AGREE_STATEMENT_OF_WORK, payload, StatementOfWork)
        if sow is None or self._sow is not None:
            return
        services = self._require_app().services
        if unknown := [s for s in sow.services if s not in services]:
            self.note(
                AGREE_STATEMENT_OF_WORK.task,
                sow.agreed_by,
                "rejected",
                field="services",
                reason=f"{unknown} are not services of this partner ({', '.join(services)})",
            )
            return
        self._sow = sow

    @workflow.signal
    def schedule_test_sessions(self, payload: Any) -> None:
        """Partner manager: `{"recorded_by": "partners@rocket.chat",
        "sessions": [{"at": "2027-01-11T15:00:00Z", "topic": "Test session: installation"}]}`
        (1-10 sessions, each in the future)."""
        plan = self.accept(SCHEDULE_TEST_SESSIONS, payload, TestSessionsScheduled)
        if plan is None or self._sessions is not None:
            return
        now = workflow.now()
        if past := [i for i, s in enumerate(plan.sessions) if s.at <= now]:
            self.note(
                SCHEDULE_TEST_SESSIONS.task,
                plan.recorded_by,
                "rejected",
                field=f"sessions.{past[0]}.at",
                reason=f"a test session must be in the future (now {now.isoformat()})",
            )
            return
        self._sessions = plan

    @workflow.signal
    def record_test_sessions(self, payload: Any) -> None:
        """Partner manager: `{"recorded_by": "partners@rocket.chat", "outcome": "held",
        "attendees": ["Jane Doe"]}` or `{"recorded_by": "...", "outcome": "reschedule",
        "notes": "why"}`."""
        held = self.accept(RECORD_TEST_SESSIONS, payload, TestSessionsHeld)
        if held is not None and self._sessions_held is None:
            self._sessions_held = held

    @workflow.signal
    def submit_market_strategy(self, payload: Any) -> None:
        """Partner (or its account manager for it): `{"submitted_by": "contact@partner.example",
        "target_segments": ["healthcare"], "regions": ["PT", "ES"],
        "plan": "Direct sales to hospitals ..."}` (regions: ISO country codes)."""
        strategy = self.accept(SUBMIT_MARKET_STRATEGY, payload, MarketStrategy)
        if strategy is not None and self._strategy is None:
            self._strategy = strategy

    @workflow.signal
    def record_discount_and_prices(self, payload: Any) -> None:
        """Account manager: `{"recorded_by": "sales@rocket.chat", "premium_discount_percent": 20,
        "price_list_url": "https://partner.example/rocket-chat/prices", "currency": "USD"}`
        (the program's discount: 20% for Technology Providers and Value Added Partners, 0 for
        Hosting Partners; another one needs `reason`)."""
        entry = self.accept(RECORD_DISCOUNT_AND_PRICES, payload, DiscountAndPrices)
        if entry is None or self._discount is not None:
            return
        if problem := discount_problem(self._require_app().partner_type, entry):
            self.note(
                RECORD_DISCOUNT_AND_PRICES.task,
                entry.recorded_by,
                "rejected",
                field="premium_discount_percent",
                reason=problem,
            )
            return
        self._discount = entry

    # --- the steps --------------------------------------------------------------------------

    def summary_start(self) -> None:
        """Asked first in `run`, before any local activity (docs/determinism.md)."""
        self._summary_on = workflow.patched(SUMMARY_PATCH)

    async def summary_statement_of_work(self) -> None:
        """Before the contract terms: the statement of work agreed with the partner."""
        if not self._summary_on:
            return
        app = self._require_app()
        example = {
            **AGREE_STATEMENT_OF_WORK.example,
            "scope": f"{app.company} delivers "
            + ", ".join(SERVICES[app.partner_type][s] for s in app.services)
            + " to Rocket.Chat customers.",
            "services": app.services,
        }
        await self._summary_task(
            AGREE_STATEMENT_OF_WORK, lambda: self._sow is not None, 5, example=example
        )
        sow = self._sow
        assert sow is not None
        self._facts["statement_of_work"] = {
            "agreed_by": sow.agreed_by,
            "services": sow.services,
            "scope": sow.scope,
            "document_url": str(sow.document_url) if sow.document_url else None,
        }
        self._summary_refresh()
        await self.decide(
            "statement_of_work",
            sow.agreed_by,
            "agreed",
            services=sow.services,
            document_url=self._facts["statement_of_work"]["document_url"],
        )

    async def summary_documents_folder(self) -> list[list[str]]:
        """At signature: the partner's folder of program documents (the welcome email's row)."""
        if not self._summary_on:
            return []
        link = await call(
            "program_documents_folder",
            self._require_app().partner_id,
            options=RECORD,
            result_type=str | None,
            summary="the partner's folder of program documents",
        )
        self._facts["documents_folder"] = link
        return [["Program documents", link]] if link else []

    async def summary_after_signature(self) -> None:
        """Alongside steps 5-7: portal access, test sessions, market strategy, discount."""
        if not self._summary_on:
            return
        await asyncio.gather(
            self._portal_step(),
            self._test_sessions_step(),
            self._market_strategy_step(),
            self._discount_step(),
        )

    async def summary_list_on_site(self, website: str | None) -> None:
        """Once onboarding completes: the partner on Rocket.Chat's partner page."""
        if not self._summary_on:
            return
        app = self._require_app()
        listing = SiteListing(
            partner_id=app.partner_id,
            workflow_id=workflow.info().workflow_id,
            company=app.company,
            partner_type=app.partner_type,
            services=app.services,
            country=app.country,
            website=website or str(app.website),
            at=workflow.now(),
        )
        await call(
            "list_on_rocketchat_site",
            listing,
            options=RECORD,
            summary=f"list {app.company} on Rocket.Chat's partner page",
        )
        self._facts["partner_page"] = {"listed_at": listing.at.isoformat(), "link": listing.website}
        self._summary_refresh()
        await self.decide("partner_page", "system", "listed", link=listing.website)

    def summary_attributes(self) -> dict[str, Any]:
        """What the summary adds to the partner record's attributes."""
        if not self._summary_on:
            return {}
        discount = self._facts.get("discount_and_prices") or {}
        return {
            "documents_folder": self._facts.get("documents_folder"),
            "premium_discount_percent": discount.get("premium_discount_percent"),
            "price_list_url": discount.get("price_list_url"),
            "market_regions": (self._facts.get("market_strategy") or {}).get("regions"),
        }

    async def _portal_step(self) -> None:
        app = self._require_app()
        workflow_id = workflow.info().workflow_id
        access = await call(
            "grant_portal_access",
            PortalAccessRequest(
                idempotency_key=f"{workflow_id}:opportunities-portal",
                workflow_id=workflow_id,
                partner_id=app.partner_id,
                company=app.company,
                contact_email=str(app.contact.email),
            ),
            options=RECORD,
            result_type=PortalAccess,
            summary=f"opportunities portal access for {app.company}",
        )
        self._facts["opportunities_portal"] = {
            "account_id": access.account_id,
            "url": access.url,
            "backend": access.backend,
            "granted_at": access.granted_at.isoformat(),
        }
        self._summary_refresh()
        await self.decide("opportunities_portal", "system", "granted", account_id=access.account_id)
        await self._notify(
            "portal",
            "Your access to the Rocket.Chat opportunities portal",
            [
                "You now have access to the Rocket.Chat opportunities portal, where we share "
                "the opportunities that match your expertise. Sign in with your contact email."
            ],
            facts=[["Portal", access.url], ["Account", access.account_id]],
        )

    async def _test_sessions_step(self) -> None:
        app = self._require_app()
        labels = SERVICES[app.partner_type]
        round_ = 0
        while True:
            round_ += 1
            self._sessions = None
            self._sessions_held = None
            first = (workflow.now() + timedelta(days=14)).replace(
                hour=15, minute=0, second=0, microsecond=0
            )
            example = {
                **SCHEDULE_TEST_SESSIONS.example,
                "sessions": [
                    {
                        "at": (first + timedelta(days=i)).isoformat(),
                        "topic": f"Test session: {labels[s]}",
                    }
                    for i, s in enumerate(app.services)
                ],
            }
            await self._summary_task(
                SCHEDULE_TEST_SESSIONS, lambda: self._sessions is not None, 10, example=example
            )
            plan = self._sessions
            assert plan is not None
            sessions = [{"at": s.at.isoformat(), "topic": s.topic} for s in plan.sessions]
            self._facts["test_sessions"] = sessions
            await self.decide(
                f"test_sessions:{round_}", plan.recorded_by, "scheduled", sessions=sessions
            )
            last = plan.sessions[-1].at
            due_at = await business_deadline(max(last, workflow.now()), 2, CALENDAR)
            await self._summary_task(
                RECORD_TEST_SESSIONS,
                lambda: self._sessions_held is not None,
                None,
                due_at=due_at,
                example={**RECORD_TEST_SESSIONS.example, "attendees": [app.contact.name]},
            )
            held = self._sessions_held
            assert held is not None
            if held.outcome == "held":
                self._facts["test_sessions_held"] = {
                    "attendees": held.attendees,
                    "recorded_by": held.recorded_by,
                    "at": workflow.now().isoformat(),
                }
                self._summary_refresh()
            await self.decide(
                f"test_sessions:{round_}",
                held.recorded_by,
                held.outcome,
                attendees=held.attendees,
                notes=held.notes,
            )
            if held.outcome == "held":
                return

    async def _market_strategy_step(self) -> None:
        app = self._require_app()
        example = {
            **SUBMIT_MARKET_STRATEGY.example,
            "submitted_by": str(app.contact.email),
            "regions": [app.country],
        }
        await self._summary_task(
            SUBMIT_MARKET_STRATEGY, lambda: self._strategy is not None, 15, example=example
        )
        strategy = self._strategy
        assert strategy is not None
        self._facts["market_strategy"] = strategy.model_dump(mode="json")
        self._summary_refresh()
        await self.decide(
            "market_strategy",
            strategy.submitted_by,
            "submitted",
            target_segments=strategy.target_segments,
            regions=strategy.regions,
        )

    async def _discount_step(self) -> None:
        app = self._require_app()
        example = {
            **RECORD_DISCOUNT_AND_PRICES.example,
            "premium_discount_percent": standard_discount(app.partner_type),
            "price_list_url": str(app.website).rstrip("/") + "/rocket-chat/prices",
        }
        description = (
            f"{RECORD_DISCOUNT_AND_PRICES.description}. The program's discount for a "
            f"{PARTNER_TYPE_LABELS[app.partner_type]} is {standard_discount(app.partner_type)}%"
        )
        await self._summary_task(
            RECORD_DISCOUNT_AND_PRICES,
            lambda: self._discount is not None,
            5,
            example=example,
            description=description,
        )
        entry = self._discount
        assert entry is not None
        self._facts["discount_and_prices"] = entry.model_dump(mode="json")
        self._summary_refresh()
        await self.decide(
            "discount_and_prices",
            entry.recorded_by,
            "recorded",
            premium_discount_percent=entry.premium_discount_percent,
            price_list_url=str(entry.price_list_url),
            reason=entry.reason,
        )

    async def _summary_task(
        self,
        spec: HumanTask,
        done: Callable[[], bool],
        business_days: int | None,
        *,
        due_at: datetime | None = None,
        example: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        """Open the task with a business-day deadline and a reminder half-way (the partner's
        by email to the partner, escalated to the account manager too); wait until done."""
        now = workflow.now()
        if due_at is None:
            assert business_days is not None
            due_at = await business_deadline(now, business_days, CALENDAR)
        reminders = [now + (due_at - now) / 2]
        self.open_task(spec, due_at, example=example, description=description)
        deadline = Deadline(reminders=reminders, due_at=due_at)
        if spec.partner_facing:
            partner = [str(self._require_app().contact.email)]
            deadline = Deadline(
                reminders=reminders,
                due_at=due_at,
                remind=self.clock.reminder_email(spec, to=partner),
                escalate=self.clock.escalation_email(
                    spec, to=[*partner, "role:account_manager"], cc=["role:operations"]
                ),
            )
        await self.wait_for(spec, done, deadline)
        self.close_task(spec.task)

    # --- the summary in `status` -------------------------------------------------------------

    def _summary_refresh(self) -> None:
        """`facts.program_summary`: each summary step, its kind and state."""
        if not self._summary_on or self._checking:
            return
        summary = []
        for step, kind in SUMMARY_STEPS:
            fact, tasks = _STEP_SOURCES[step]
            if self._facts.get(fact):
                state = "done"
            elif any(t in self._tasks for t in tasks):
                state = "waiting"
            else:
                state = "not_started"
            summary.append({"step": step, "kind": kind, "state": state})
        self._facts["program_summary"] = summary

    def _publish(self) -> None:
        self._summary_refresh()
        super()._publish()


async def revoke_portal(partner_id: str, reason: str) -> bool:
    """The partnership ended: the partner's opportunities-portal access is revoked (True when
    it had access). Called behind `PORTAL_REVOKE_PATCH`."""
    revoked: bool = await call(
        "revoke_portal_access",
        PortalRevocation(
            partner_id=partner_id,
            workflow_id=workflow.info().workflow_id,
            reason=reason,
            at=workflow.now(),
        ),
        options=RECORD,
        result_type=bool,
        summary=f"revoke {partner_id}'s opportunities-portal access",
    )
    return revoked


async def delist_from_site(partner_id: str, reason: str) -> bool:
    """The partnership's removal: the partner off Rocket.Chat's partner page (True when it
    was on it). Called behind `DELIST_PATCH`."""
    delisted: bool = await call(
        "delist_from_rocketchat_site",
        SiteDelisting(
            partner_id=partner_id,
            workflow_id=workflow.info().workflow_id,
            reason=reason,
            at=workflow.now(),
        ),
        options=RECORD,
        result_type=bool,
        summary=f"remove {partner_id} from Rocket.Chat's partner page",
    )
    return delisted
