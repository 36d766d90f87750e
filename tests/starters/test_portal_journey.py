"""Issue 15's done-means on the dev server with a real worker: a VAR signs in from the
emailed link, registers a deal in the portal, sees it approved with its protection date,
submits the purchase order from the portal's task form, and sees its invoice's stage change
from open to paid. The vendor's own steps (review, quotation, the customer's signature and
terms, the license desk, finance) are completed with their published examples."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

from tests.eventually import eventually
from tests.starters.conftest import PagesStack
from tests.starters.test_portal_sales import add_var, csrf_of
from tests.starters.test_portal_sales_live import form_fields
from tests.starters.test_portal_tasks import signed_in
from tests.starters.test_sales_end_to_end import offset_deal_numbers
from tests.workflows.harness import uid


class _Form(HTMLParser):
    """The named inputs of a page's (first) task form with the values it shows."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "task-form" in a.get("class", ""):
            self._in_form = True
        if not self._in_form or "name" not in a:
            return
        if tag == "input" and a.get("type") != "checkbox":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "input" and "checked" in a:
            self.fields[a["name"]] = a.get("value", "true")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        if tag == "form":
            self._in_form = False


def task_form_fields(page: str) -> dict[str, str]:
    parser = _Form()
    parser.feed(page)
    return parser.fields


async def test_a_var_registers_a_deal_and_orders_it_from_the_portal(
    pages_stack: PagesStack, web: httpx.AsyncClient
) -> None:
    stack, settings = pages_stack, pages_stack.settings
    offset_deal_numbers(settings)
    mine = f"nordlicht-{uid()}"
    add_var(settings, "mattermost", mine, f"lena@{mine}.example", "Nordlicht IT GmbH")
    me = await signed_in(web._transport, stack, f"lena@{mine}.example")  # the emailed link

    # register a deal in the portal
    registered = await me.post(
        "/portal/deals/new", data=form_fields(csrf_of((await me.get("/portal/deals/new")).text))
    )
    assert registered.status_code == 303, registered.text
    number = re.search(r"DR-\d{4}-\d{6}", registered.headers["location"])
    assert number is not None
    deal, workflow_id = number.group(0), f"deal-{number.group(0)}"
    stack.started += [workflow_id, f"order-{deal}"]

    # the Sales Manager approves it: the portal shows it approved, with its protection date
    await stack.complete(workflow_id, "review_deal")

    async def approved() -> str | None:
        page = (await me.get(f"/portal/deals/{deal}")).text
        found = re.search(r"Protection</dt><dd>until (\d{4}-\d{2}-\d{2}) \(\d+ days left\)", page)
        return page if "Approved" in page and found else None

    await eventually(approved, timeout=30, what="the deal approved, protected until a date")

    # the quotation, signed by the customer; then the purchase order waits on the partner
    await stack.complete(workflow_id, "submit_quotation")
    await stack.complete(workflow_id, "sign_quotation")
    await stack.task(workflow_id, "submit_purchase_order")

    async def waiting() -> str | None:
        home = (await me.get("/portal/home")).text
        return home if "Submit purchase order" in home else None

    await eventually(waiting, timeout=30, what="the purchase order waiting on the partner")
    task_url = f"/portal/tasks/{workflow_id}/submit_purchase_order"
    form = await me.get(task_url)
    assert form.status_code == 200, form.text
    fields = task_form_fields(form.text)
    assert fields["_csrf"] and fields["_task"] == "submit_purchase_order"
    submitted = await me.post(task_url, data=fields)
    assert submitted.status_code == 200 and "Done:" in submitted.text, submitted.text

    # the order: the customer accepts the terms, the license desk issues the license; the
    # partner sees the invoice open, then paid once finance records the payment
    order = f"order-{deal}"
    await stack.complete(order, "accept_terms")
    await stack.complete(order, "review_license")
    await stack.task(order, "record_payment")

    async def stage(expected: str) -> Any:
        orders = (await me.get("/portal/orders")).text
        stages = re.findall(r"<td>(Open \(awaiting payment\)|Paid|Draft)</td>", orders)
        return orders if deal in orders and stages == [expected] else None

    await eventually(
        lambda: stage("Open (awaiting payment)"), timeout=30, what="the invoice open in the portal"
    )
    await stack.complete(order, "record_payment")
    await eventually(lambda: stage("Paid"), timeout=30, what="the invoice paid in the portal")
    await me.aclose()
