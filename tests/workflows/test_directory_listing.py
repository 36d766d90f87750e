"""DirectoryListing on the time-skipping server: invalid submissions rejected with the field
named, review with changes requested (loop), publication (VAR territory kept), an update
re-reviewed and republished, and removal when the partner leaves."""

from __future__ import annotations

from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.directory import get_listing, list_listings
from models.directory import DirectoryListingInput
from models.settings import Settings
from tests.eventually import eventually
from tests.workflows.harness import Harness, uid, workflow_harness


async def _stage_is(handle: Any, stage: str) -> bool:
    return bool((await handle.query("status"))["stage"] == stage)


def _version(settings: Settings, partner_id: str, version: int) -> bool:
    listing = get_listing(settings, "mattermost", partner_id)
    return listing is not None and listing.version == version


def listing_input(partner_type: str = "value_added_reseller") -> DirectoryListingInput:
    return DirectoryListingInput(
        partner_id=f"nordlicht-{uid()}",
        partner_type=partner_type,  # type: ignore[arg-type]
        company="Nordlicht IT-Systemhaus GmbH",
        contact={"name": "Lena Hoffmann", "email": "lena@example.com"},  # type: ignore[arg-type]
        territory=["DE", "AT"],
        industries=["public sector"],
        city="Berlin",
        country="DE",
        website="https://nordlicht.example.com",
    )


async def start(h: Harness, data: DirectoryListingInput) -> Any:
    return await h.start("DirectoryListing", data, f"directory-{data.partner_id}")


async def test_invalid_listing_is_rejected_with_the_field_named(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, listing_input())
        task = await h.task(handle, "submit_listing")
        example = task["example"]
        await handle.signal("submit_listing", {**example, "description": "Too short."})
        await handle.signal("submit_listing", {**example, "website": "not a url"})
        await handle.signal(
            "submit_listing", {**example, "logo": {**example["logo"], "width": 120}}
        )
        await handle.signal("submit_listing", {**example, "partner_id": "someone-else"})
        status = await handle.query("status")
        rejected = [e["detail"] for e in status["history"] if e["event"] == "rejected"]
        assert [r["errors"][0]["field"] for r in rejected[:3]] == [
            "description",
            "website",
            "logo.width",
        ]
        assert "has 2 words; it must have 30 to 100 words" in rejected[0]["errors"][0]["message"]
        assert "someone-else" in rejected[3]["reason"]
        assert status["stage"] == "awaiting_listing"


async def test_changes_requested_then_published_updated_and_removed(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        data = listing_input()
        handle = await start(h, data)
        await h.complete(handle, "submit_listing")
        review = await h.task(handle, "review_listing")
        assert review["assignee"] == "reviewer"
        await handle.signal(
            "review_listing",
            {
                "reviewer": "r@mattermost.com",
                "decision": "request_changes",
                "comments": "Please name your city",
            },
        )
        await h.complete(handle, "submit_listing", name="Nordlicht")
        await h.complete(handle, "review_listing")
        # The row is written by the publishing activity; the stage moves once it returns.
        await eventually(lambda: _stage_is(handle, "published"), what="the listing published")
        published = get_listing(settings, "mattermost", data.partner_id)
        assert (
            published is not None
            and published.name == "Nordlicht"
            and published.territory == ["DE", "AT"]
            and published.version == 1
        )
        assert [
            entry.partner_id
            for entry in list_listings(settings, country="DE", partner_type="value_added_reseller")
        ] == [data.partner_id]
        assert (await handle.query("status"))["stage"] == "published"

        # An update of the published listing is reviewed again, then republished.
        await handle.signal("submit_listing", {**review_example(data), "name": "Nordlicht IT"})
        await h.complete(handle, "review_listing")
        await eventually(lambda: _version(settings, data.partner_id, 2), what="version 2")
        assert get_listing(settings, "mattermost", data.partner_id).name == "Nordlicht IT"  # type: ignore[union-attr]

        await handle.signal(
            "partner_left",
            {"reason": "Agreement terminated", "decided_by": "partners@mattermost.com"},
        )
        result = await handle.result()
        assert result["outcome"] == "removed" and result["versions_published"] == 2
        assert get_listing(settings, "mattermost", data.partner_id) is None
        steps = h.email_steps(handle.id)
        assert {
            "listing:request",
            "listing:1:changes",
            "listing:published:1",
            "listing:published:2",
        } <= set(steps)


async def test_system_integrator_listing_shows_no_territory_and_leaving_before_submission(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        data = listing_input("system_integrator")
        handle = await start(h, data)
        await h.task(handle, "submit_listing")
        await handle.signal("partner_left", {"reason": ""})  # invalid: recorded, ignored
        await handle.signal(
            "partner_left", {"reason": "Left the program", "decided_by": "pm@mattermost.com"}
        )
        result = await handle.result()
        assert result["outcome"] == "removed" and result["versions_published"] == 0


def review_example(data: DirectoryListingInput) -> dict[str, Any]:
    from models.directory import EXAMPLE_LOGO, LISTING_DESCRIPTION

    return {
        "partner_id": data.partner_id,
        "name": "Nordlicht",
        "description": LISTING_DESCRIPTION,
        "city": "Berlin",
        "state": None,
        "country": "DE",
        "website": "https://nordlicht.example.com",
        "logo": EXAMPLE_LOGO,
    }


async def test_continues_as_new_carrying_the_published_listing(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    from temporalio.api.enums.v1 import EventType

    async with workflow_harness(time_skipping_env, settings) as h:
        data = listing_input().model_copy(update={"max_reviews_per_run": 1})
        handle = await start(h, data)
        await h.complete(handle, "submit_listing")
        await h.complete(handle, "review_listing")
        first_run = h.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)

        async def continued() -> bool:
            events = [e.event_type async for e in first_run.fetch_history_events()]
            return EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW in events

        await eventually(continued, what="the listing to continue as new")
        latest = h.handle(handle.id)
        status = await latest.query("status")
        assert (
            status["stage"] == "published"
            and status["facts"]["published_version"] == 1
            and status["facts"]["listing"]["name"] == data.company[:120]
        )
        await latest.signal("submit_listing", {**review_example(data), "name": "Renamed"})
        await h.complete(latest, "review_listing")
        await eventually(lambda: _version(settings, data.partner_id, 2), what="version 2")
        assert get_listing(settings, "mattermost", data.partner_id).name == "Renamed"  # type: ignore[union-attr]
        await h.handle(handle.id).signal(
            "partner_left", {"reason": "Left", "decided_by": "pm@mattermost.com"}
        )
        result = await h.handle(handle.id).result()
        assert result["outcome"] == "removed" and result["versions_published"] == 2
        assert get_listing(settings, "mattermost", data.partner_id) is None
