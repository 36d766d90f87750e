"""DirectoryListing (`directory-{partner_id}`): the partner's entry in the public partner
directory, for every partner with a signed agreement (started by VarApplication and
SystemIntegratorApplication).

The partner submits the listing (listing page or `directory-listing` webhook: name,
30–100-word description, city, state/province, country, website, logo ≥ 200 px wide) → a
reviewer approves or asks for changes (loop) → published on `/partners` and
`/partners.json` (VAR listings show their territory) → updated on change (re-reviewed) →
removed when the partner leaves the program (`partner_left`). Long-lived: it continues as
new when its history grows, carrying the published listing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.applications import PartnerLeft
    from models.directory import (
        EXAMPLE_LOGO,
        LISTING_DESCRIPTION,
        DirectoryListingInput,
        DirectoryListingResult,
        ListingReview,
        ListingSubmission,
        PublishedListing,
        UnpublishRequest,
    )
    from models.tasks import LinkSpec

from workflows.calls import RECORD, call
from workflows.deadlines import Deadline, business_deadline
from workflows.human_tasks import HumanTask
from workflows.process import ProcessWorkflow
from workflows.search_attributes import PARTNER_ID, PROGRAM

CALENDAR = "US"
LINK_VALID = timedelta(days=90)
SUBMIT_REMINDER_BUSINESS_DAYS = (10, 20)
REVIEW_BUSINESS_DAYS = 5
REVIEW_REMINDER_BUSINESS_DAYS = 3

SUBMIT_LISTING = HumanTask(
    task="submit_listing",
    handler="submit_listing",
    assignee="partner",
    description=(
        "The partner submits its directory listing (name, 30–100-word description, city, "
        "state/province, country, website URL, logo at least 200 px wide) on the listing page"
    ),
    model=ListingSubmission,
    example={},
)
REVIEW_LISTING = HumanTask(
    task="review_listing",
    handler="review_listing",
    assignee="reviewer",
    description=(
        "Review the submitted directory listing: approve it for the public directory, or ask for "
        "changes"
    ),
    model=ListingReview,
    example={"reviewer": "partners@mattermost.com", "decision": "approve"},
)


@workflow.defn
class DirectoryListing(ProcessWorkflow):
    """A partner's directory listing: submit → review (loop) → published → removed."""

    process = "DirectoryListing"
    human_tasks = (*ProcessWorkflow.human_tasks, SUBMIT_LISTING, REVIEW_LISTING)

    def __init__(self) -> None:
        super().__init__()
        self._input: DirectoryListingInput | None = None
        self._submission: ListingSubmission | None = None
        self._review: ListingReview | None = None
        self._left: PartnerLeft | None = None
        self._published: ListingSubmission | None = None
        self._version = 0

    # --- handlers ---------------------------------------------------------------------------

    @workflow.signal
    def submit_listing(self, payload: Any) -> None:
        """The partner's listing, with the logo already checked and stored (sent by the listing
        page or the `directory-listing` webhook form). While the listing is published, a new
        submission updates it (after review). The pending task's example:
        `{"partner_id": "nordlicht-it", "name": "Nordlicht IT", "description": "<30–100 words>",
        "city": "Berlin", "state": "Berlin", "country": "DE", "website": "https://…",
        "logo": {"logo_id": "<32 hex>", "content_type": "image/png", "width": 240,
        "height": 80}}`"""
        if (
            self._published is not None
            and not self.is_pending(REVIEW_LISTING.task)
            and self._submission is None
        ):
            submission = self._validate_update(payload)  # an update of the published listing
        else:
            submission = self.accept(SUBMIT_LISTING, payload, ListingSubmission)
        if submission is None or self._submission is not None:
            return
        partner_id = self._require_input().partner_id
        if submission.partner_id != partner_id:
            self.note(
                SUBMIT_LISTING.task,
                "system",
                "rejected",
                field="partner_id",
                reason=f"the listing is for {submission.partner_id}, not {partner_id}",
            )
            return
        self._submission = submission
        self.note(
            SUBMIT_LISTING.task,
            "partner",
            "submitted",
            name=submission.name,
            logo_id=submission.logo.logo_id,
            logo_width=submission.logo.width,
        )

    def _validate_update(self, payload: Any) -> ListingSubmission | None:
        return self.parse(SUBMIT_LISTING.task, payload, ListingSubmission)

    @workflow.signal
    def review_listing(self, payload: Any) -> None:
        """Reviewer's decision: `{"reviewer": "partners@mattermost.com", "decision": "approve"}`
        or `{"reviewer": "…", "decision": "request_changes", "comments": "Please shorten …"}`."""
        review = self.accept(REVIEW_LISTING, payload, ListingReview)
        if review is None or self._review is not None:
            return
        if review.decision == "request_changes" and not review.comments:
            self.note(
                REVIEW_LISTING.task,
                review.reviewer,
                "rejected",
                field="comments",
                reason="asking for changes needs comments",
            )
            return
        self._review = review

    @workflow.signal
    def partner_left(self, payload: Any) -> None:
        """The partner left the program: the listing is removed from the directory.
        `{"reason": "Agreement terminated", "decided_by": "partners@mattermost.com"}`"""
        left = self.parse("partner_left", payload, PartnerLeft)
        if left is not None and self._left is None:
            self._left = left

    # --- the process --------------------------------------------------------------------------

    @workflow.run
    async def run(self, data: DirectoryListingInput) -> DirectoryListingResult:
        self._input = data
        self._published, self._version = data.published, data.published_version
        workflow.upsert_search_attributes(
            [PROGRAM.value_set(data.program), PARTNER_ID.value_set(data.partner_id)]
        )
        self._facts.update(
            partner_id=data.partner_id,
            company=data.company,
            partner_type=data.partner_type,
            territory=data.territory,
            contact=data.contact.model_dump(),
        )
        if self._published is not None:
            self._facts.update(
                published_version=self._version, listing=self._published.model_dump(mode="json")
            )
        round_number = 0
        while self._left is None:
            if self._published is not None and self._submission is None:
                self.set_stage("published")
                if round_number < data.max_reviews_per_run:
                    with self.waiting(
                        lambda: self._left is not None or self._submission is not None
                    ):
                        await workflow.wait_condition(
                            lambda: (
                                self._left is not None
                                or self._submission is not None
                                or workflow.info().is_continue_as_new_suggested()
                            )
                        )
                if self._left is None and self._submission is None:
                    await self.finish_handlers()
                    workflow.continue_as_new(
                        data.model_copy(
                            update={
                                "published": self._published,
                                "published_version": self._version,
                            }
                        )
                    )
                continue
            round_number += 1
            if self._submission is None and not await self._collect(round_number):
                break
            if not await self._review_round(round_number):
                continue
        return await self._remove()

    async def _collect(self, round_number: int) -> bool:
        data = self._require_input()
        example = {
            "partner_id": data.partner_id,
            "name": data.company[:120],
            "description": LISTING_DESCRIPTION,
            "city": data.city or "Berlin",
            "state": None,
            "country": data.country or "DE",
            "website": data.website or "https://www.example.com",
            "logo": dict(EXAMPLE_LOGO),
        }
        now = workflow.now()
        self.open_task(SUBMIT_LISTING, None, example=example)
        self.set_stage("awaiting_listing")
        links = {"action_url": LinkSpec(purpose="directory_listing", expires_at=now + LINK_VALID)}
        if round_number == 1:
            await self.notify(
                "listing:request",
                [data.contact.email],
                "listing_request",
                self._mail(),
                links=links,
            )
        reminders = [
            await business_deadline(now, d, CALENDAR) for d in SUBMIT_REMINDER_BUSINESS_DAYS
        ]

        async def remind(number: int) -> None:
            await self.notify(
                f"listing:{round_number}:reminder:{number}",
                [data.contact.email],
                "listing_request",
                self._mail(reminder_number=number),
                links=links,
            )

        await self.wait_for(
            SUBMIT_LISTING,
            lambda: self._submission is not None or self._left is not None,
            Deadline(reminders=reminders, remind=remind),
        )
        self.close_task(SUBMIT_LISTING.task)
        return self._left is None

    async def _review_round(self, round_number: int) -> bool:
        """Review the current submission; True when it was published."""
        data = self._require_input()
        submission = self._submission
        assert submission is not None
        now = workflow.now()
        due_at = await business_deadline(now, REVIEW_BUSINESS_DAYS, CALENDAR)
        reminder = await business_deadline(now, REVIEW_REMINDER_BUSINESS_DAYS, CALENDAR)
        self._review = None
        self._facts["submitted_listing"] = submission.model_dump(mode="json")
        self.open_task(
            REVIEW_LISTING,
            due_at,
            description=(
                f"Review the directory listing of {data.company} (submission {round_number}): "
                "approve it, or ask for changes"
            ),
        )
        self.set_stage("listing_review")
        await self.wait_for(
            REVIEW_LISTING,
            lambda: self._review is not None or self._left is not None,
            Deadline(reminders=[reminder], due_at=due_at),
        )
        self.close_task(REVIEW_LISTING.task)
        self._submission = None
        review = self._review
        if review is None:  # the partner left during the review
            return False
        await self.decide(
            f"review_listing:{round_number}",
            review.reviewer,
            review.decision,
            comments=review.comments,
        )
        if review.decision == "request_changes":
            links = {
                "action_url": LinkSpec(
                    purpose="directory_listing", expires_at=workflow.now() + LINK_VALID
                )
            }
            await self.notify(
                f"listing:{round_number}:changes",
                [data.contact.email],
                "listing_changes_requested",
                self._mail(comments=review.comments),
                links=links,
            )
            return False
        self._version += 1
        await call(
            "publish_listing",
            PublishedListing(
                partner_id=data.partner_id,
                workflow_id=workflow.info().workflow_id,
                program=data.program,
                partner_type=data.partner_type,
                name=submission.name,
                description=submission.description,
                city=submission.city,
                state=submission.state,
                country=submission.country,
                website=str(submission.website),
                logo_id=submission.logo.logo_id,
                logo_content_type=submission.logo.content_type,
                territory=data.territory if data.partner_type == "value_added_reseller" else [],
                industries=data.industries,
                version=self._version,
                at=workflow.now(),
            ),
            options=RECORD,
            summary=f"publish directory listing {data.partner_id} v{self._version}",
        )
        self._published = submission
        self._facts.update(
            published_version=self._version, listing=submission.model_dump(mode="json")
        )
        self._facts.pop("submitted_listing", None)
        first = self._version == 1
        links = {
            "action_url": LinkSpec(
                purpose="directory_listing", expires_at=workflow.now() + LINK_VALID
            )
        }
        await self.notify(
            f"listing:published:{self._version}",
            [data.contact.email],
            "listing_published",
            self._mail(name=submission.name, updated=not first),
            links=links,
        )
        return True

    async def _remove(self) -> DirectoryListingResult:
        data = self._require_input()
        left = self._left
        assert left is not None
        self.close_all_tasks()
        removed = await call(
            "unpublish_listing",
            UnpublishRequest(
                partner_id=data.partner_id,
                workflow_id=workflow.info().workflow_id,
                program=data.program,
                reason=left.reason,
                at=workflow.now(),
            ),
            options=RECORD,
            result_type=bool,
            summary=f"remove directory listing {data.partner_id}",
        )
        await self.decide(
            "partner_left", left.decided_by, "removed", reason=left.reason, was_published=removed
        )
        self._facts.update(removed_reason=left.reason)
        self.set_stage("removed")
        return DirectoryListingResult(
            partner_id=data.partner_id,
            outcome="removed",
            reason=left.reason,
            versions_published=self._version,
        )

    def _mail(self, **extra: Any) -> dict[str, Any]:
        data = self._require_input()
        return {
            "company": data.company,
            "contact_name": data.contact.name,
            "partner_id": data.partner_id,
            **extra,
        }

    def _require_input(self) -> DirectoryListingInput:
        assert self._input is not None
        return self._input
