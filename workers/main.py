"""The worker: every workflow and activity of Partnerflow on one task queue.

Activities are synchronous (database, Stripe and SendGrid clients block) and run in a
thread pool; workflows run in the sandbox.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.agreements import AgreementActivities
from activities.billing import BillingActivities
from activities.calendar import business_deadline
from activities.database import migrate
from activities.deals import DealActivities
from activities.directory import DirectoryActivities
from activities.email import EmailActivities
from activities.insights import InsightActivities
from activities.licenses import LicenseActivities
from activities.partner_entity import signal_workflow, start_partner_entity
from activities.partners import PartnerActivities
from activities.records import RecordActivities
from activities.screening import screen_party
from models.settings import Settings, get_settings
from workers.client import connect
from workers.process_exit import exit_now
from workers.search_attributes import register_search_attributes
from workflows.authorized_resale import AuthorizedResale
from workflows.deal_registration import DealRegistration
from workflows.directory_listing import DirectoryListing
from workflows.evaluation_license import EvaluationLicense
from workflows.order_fulfillment import OrderFulfillment
from workflows.partner import Partner
from workflows.rocketchat_onboarding import RocketChatOnboarding
from workflows.rocketchat_partnership import RocketChatPartnership, RocketChatReviewTrigger
from workflows.rocketchat_revenue_share import RocketChatRevenueShare
from workflows.subscription_renewal import SubscriptionRenewal
from workflows.system_integrator_application import SystemIntegratorApplication
from workflows.var_application import VarApplication

WORKFLOWS = [
    OrderFulfillment,
    VarApplication,
    SystemIntegratorApplication,
    DirectoryListing,
    EvaluationLicense,
    DealRegistration,
    AuthorizedResale,
    RocketChatOnboarding,
    RocketChatPartnership,
    RocketChatReviewTrigger,
    RocketChatRevenueShare,
    SubscriptionRenewal,
    Partner,
]


def activities_for(settings: Settings) -> list[Callable[..., Any]]:
    """All activities, bound to the adapters the settings choose."""
    email = EmailActivities(settings)
    billing = BillingActivities(settings)
    licenses = LicenseActivities(settings)
    records = RecordActivities(settings)
    partners = PartnerActivities(settings)
    agreements = AgreementActivities(settings)
    return [
        business_deadline,
        screen_party,
        email.send_email,
        billing.create_invoice,
        billing.get_invoice,
        billing.apply_invoice_action,
        licenses.issue_license,
        records.record_order,
        records.record_decision,
        InsightActivities(settings).record_task_event,
        partners.upsert_partner,
        partners.get_partner,
        partners.check_evaluation_request,
        start_partner_entity,
        signal_workflow,
        agreements.prepare_agreement,
        agreements.record_signature,
        *_lifecycle_activities(settings),
        *_sales_activities(settings),
        *_rocketchat_activities(settings),
        *_renewal_activities(settings),
    ]


def _renewal_activities(settings: Settings) -> list[Callable[..., Any]]:
    from activities.subscriptions import SubscriptionActivities

    subscriptions = SubscriptionActivities(settings)
    return [subscriptions.record_subscription, subscriptions.renewal_policy]


def _rocketchat_activities(settings: Settings) -> list[Callable[..., Any]]:
    from activities.community import CommunityActivities
    from activities.followers import start_revenue_share_follower
    from activities.rocketchat_records import RocketChatRecordActivities
    from activities.rocketchat_summary import RocketChatSummaryActivities
    from activities.web_checks import WebCheckActivities

    summary = RocketChatSummaryActivities(settings)
    return [
        WebCheckActivities(settings).check_partner_website,
        CommunityActivities(settings).create_workgroup,
        RocketChatRecordActivities(settings).record_sales_report,
        summary.grant_portal_access,
        summary.revoke_portal_access,
        summary.program_documents_folder,
        summary.list_on_rocketchat_site,
        summary.delist_from_rocketchat_site,
        start_revenue_share_follower,
    ]


def _sales_activities(settings: Settings) -> list[Callable[..., Any]]:
    deals = DealActivities(settings)
    return [
        deals.record_deal,
        deals.find_deal_conflicts,
        deals.claim_deal_approval,
        deals.release_deal_claims,
        deals.record_referral_fee,
    ]


def _lifecycle_activities(settings: Settings) -> list[Callable[..., Any]]:
    directory = DirectoryActivities(settings)
    return [directory.publish_listing, directory.unpublish_listing, directory.prescreen_application]


# Deterministic libraries the contracts use; loaded once, shared with the sandbox.
# Shared with the sandbox instead of imported again for every workflow run: the contract
# libraries, and the stateless helpers every process uses (task declarations, activity-call
# presets, search-attribute keys, deadlines). They read the clock only through
# `workflow.now()`/`workflow.sleep()`; the sandbox does not check a passed-through module.
PASSTHROUGH = (
    "pydantic",
    "pydantic_core",
    "email_validator",
    "idna",
    "pycountry",
    "models",
    "workflows.human_tasks",
    "workflows.calls",
    "workflows.search_attributes",
    "workflows.deadlines",
)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox, sharing the deterministic contract libraries."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


class HeartbeatWhileRunning(Interceptor):
    """Every activity with a heartbeat timeout heartbeats while it runs, so a worker that
    dies (kill -9, OOM, lost host) is noticed within the heartbeat timeout and its activities
    are retried elsewhere, instead of after their whole start-to-close timeout."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _HeartbeatingActivity(next)


class _HeartbeatingActivity(ActivityInboundInterceptor):
    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        self._outbound = outbound
        super().init(outbound)

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        timeout = activity.info().heartbeat_timeout
        if not timeout:
            return await super().execute_activity(input)

        async def beat() -> None:  # the SDK throttles the calls to the server
            while True:
                await asyncio.sleep(min(timeout.total_seconds() / 4, 5.0))
                self._outbound.heartbeat()

        beating = asyncio.create_task(beat())
        try:
            return await super().execute_activity(input)
        finally:
            beating.cancel()


def build_worker(client: Client, settings: Settings, *, task_queue: str | None = None) -> Worker:
    """The worker of every workflow and activity, on the settings' task queue unless given."""
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities_for(settings),
        activity_executor=ThreadPoolExecutor(max_workers=16),
        max_cached_workflows=settings.max_cached_workflows,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.sticky_timeout_seconds),
        interceptors=[HeartbeatWhileRunning()],
    )


async def run_worker(settings: Settings | None = None) -> None:
    """Migrate the records, register search attributes, then run the worker until stopped."""
    settings = settings or get_settings()
    settings.require_production_secrets()  # links the worker renders must verify elsewhere
    migrate(settings.resolved_database_url)
    client = await connect(settings)
    log = logging.getLogger(__name__)
    try:
        added = await register_search_attributes(client, settings.temporal_namespace)
        if added:
            log.info("registered search attributes %s", ", ".join(added))
    except Exception as exc:  # e.g. Temporal Cloud: attributes are managed in its console
        log.warning(
            "could not register search attributes (%s); register them on the namespace", exc
        )
    worker = build_worker(client, settings)
    # SIGTERM (docker stop) and SIGINT stop polling and let running activities finish (within
    # the SDK's graceful shutdown), instead of a cancelled run waiting on open long polls.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        log.info("worker listening on task queue %s", settings.temporal_task_queue)
        await stop.wait()
        log.info("worker stopping")
    log.info("worker stopped")


def main() -> None:
    """`partnerflow worker`: run the worker with logging to stderr."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    code = 0
    try:
        asyncio.run(run_worker())
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        code = 130
    except BaseException:
        logging.getLogger(__name__).exception("worker failed")
        code = 1
    exit_now(code)


if __name__ == "__main__":
    main()
