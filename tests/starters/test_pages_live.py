"""The operator pages on the real dev server with a real worker: sign-in, the task inbox
with a real order's `accept_terms` task, and the finance board with a real order's open
invoice (local billing); the proxy-header mode."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from starters.web.app import create_app
from starters.web.operators import SESSION_COOKIE, ensure_dev_operator
from tests.starters.conftest import (
    OPERATOR,
    PagesStack,
    login_form_fields,
    pages_settings_for,
    seed_finance_records,
    sign_in,
)


async def test_pages_need_a_login_and_a_wrong_password_is_refused(web: httpx.AsyncClient) -> None:
    for path in ("/tasks?assignee=finance", "/finance"):
        response = await web.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=%2F")
    assert (await web.get("/tasks?assignee=finance")).headers[
        "location"
    ] == "/login?next=%2Ftasks%3Fassignee%3Dfinance"
    for path in ("/finance.csv", "/tasks.json"):
        response = await web.get(path)
        assert response.status_code == 401 and response.json()["detail"] == "login required"

    page = await web.get("/login", params={"next": "/finance"})
    assert page.status_code == 200 and 'for="password"' in page.text and 'lang="en"' in page.text
    fields = login_form_fields(page.text)
    assert fields["next"] == "/finance" and fields["csrf"]

    wrong = await web.post(
        "/login", data={**fields, "name": OPERATOR, "password": "not-the-password"}
    )
    assert wrong.status_code == 400 and "The name or password is not correct." in wrong.text
    assert SESSION_COOKIE not in wrong.cookies
    unknown = await web.post("/login", data={**fields, "name": "nobody", "password": "x"})
    assert unknown.status_code == 400 and "not correct" in unknown.text
    forged = await web.post(
        "/login",
        data={**fields, "csrf": "forged", "name": OPERATOR, "password": "anna-correct-horse"},
    )
    assert forged.status_code == 403
    cross_site = await web.post(
        "/login",
        data={**fields, "name": OPERATOR, "password": "anna-correct-horse"},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403

    right = await web.post(
        "/login", data={**fields, "name": OPERATOR, "password": "anna-correct-horse"}
    )
    assert right.status_code == 303 and right.headers["location"] == "/finance"
    cookie = right.headers["set-cookie"]
    assert (
        f"{SESSION_COOKIE}=" in cookie
        and "HttpOnly" in cookie
        and "samesite=lax" in cookie.lower()
        and "Max-Age=43200" in cookie
    )
    assert "Secure" not in cookie  # http public_base_url
    assert (await web.get("/finance")).status_code == 200

    session = web.cookies[SESSION_COOKIE]
    # one hex digit of the signature changed, always to another digit (a fixed "00" ending
    # left the cookie intact whenever the signature already ended in 00: 1 run in 256)
    tampered = session[:-1] + ("1" if session[-1] == "0" else "0")
    assert tampered != session
    web.cookies.clear()
    web.cookies.set(SESSION_COOKIE, tampered)
    assert (await web.get("/finance")).status_code == 303
    assert (await sign_in(web)).status_code == 303
    assert (await web.post("/logout")).status_code == 303
    assert (await web.get("/tasks")).status_code == 303


async def test_failed_logins_are_limited(web: httpx.AsyncClient) -> None:
    page = await web.get("/login")
    fields = login_form_fields(page.text)
    statuses = [
        (
            await web.post("/login", data={**fields, "name": OPERATOR, "password": f"guess-{i}"})
        ).status_code
        for i in range(6)
    ]
    assert statuses == [400] * 5 + [429]
    blocked = await web.post(
        "/login", data={**fields, "name": OPERATOR, "password": "anna-correct-horse"}
    )
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


async def test_task_inbox_shows_a_real_orders_accept_terms_task_and_filters(
    web: httpx.AsyncClient, pages_stack: PagesStack
) -> None:
    workflow_id, payload = await pages_stack.start("order")
    task = await pages_stack.task(workflow_id, "accept_terms")
    await pages_stack.visible(f'WorkflowId = "{workflow_id}" AND PendingTask = "accept_terms"')
    assert (await sign_in(web)).status_code == 303

    page = await web.get("/tasks")
    assert page.status_code == 200, page.text
    assert workflow_id in page.text and "accept_terms" in page.text and "end_customer" in page.text
    assert f"http://127.0.0.1:8233/namespaces/default/workflows/{workflow_id}" in page.text
    assert "partnerflow act " + workflow_id + " accept_terms --input" in page.text
    assert "&#34;agreed&#34;: true" in page.text or '"agreed": true' in page.text
    assert 'scope="col"' in page.text and "Signed in as <strong>anna</strong>" in page.text

    mine = await web.get(
        "/tasks",
        params={
            "assignee": "end_customer",
            "process": "OrderFulfillment",
            "q": payload["order_id"],
        },
    )
    assert workflow_id in mine.text
    other = await web.get("/tasks", params={"assignee": "finance"})
    assert other.status_code == 200 and workflow_id not in other.text
    late = await web.get("/tasks", params={"overdue": "1", "q": payload["order_id"]})
    assert workflow_id not in late.text  # due in business days, not yet overdue

    data = (await web.get("/tasks.json", params={"q": workflow_id})).json()
    [row] = [t for t in data["tasks"] if t["workflow_id"] == workflow_id]
    assert (row["task"], row["handler"], row["assignee"], row["example"]) == (
        "accept_terms",
        task["handler"],
        "end_customer",
        task["example"],
    )


async def test_finance_board_shows_a_real_orders_open_invoice_with_totals_and_csv(
    web: httpx.AsyncClient, pages_stack: PagesStack
) -> None:
    workflow_id, payment = await pages_stack.order_with_open_invoice()
    seed_finance_records(pages_stack.settings)
    found = await pages_stack.visible(f'WorkflowId = "{workflow_id}"')
    from workflows.search_attributes import INVOICE_NUMBER

    number = found.typed_search_attributes.get(INVOICE_NUMBER)
    cents = payment["example"]["amount_cents"]
    amount = f"{cents // 100:,}.{cents % 100:02d} USD"
    assert (await sign_in(web, next_url="/finance")).status_code == 303

    page = await web.get("/finance")
    assert page.status_code == 200, page.text
    open_section = page.text.split('<h3 id="stage-open"', 1)[1].split("<h3", 1)[
        0
    ]  # the table of open invoices
    assert number in open_section and workflow_id in open_section and amount in open_section
    assert "Aging of unpaid invoices" in page.text
    fees = page.text.split('id="referral-fees"', 1)[1].split('id="revenue-share"', 1)[0]
    assert "Referral fee for deal registration DR-2026-000101" in fees and "WIRE-RF-1" in fees
    assert (
        'Total payable (1)</th><td class="num">2,400.00 USD' in fees
        and 'Total paid (1)</th><td class="num">1,234.56 USD' in fees
    )
    shares = page.text.split('id="revenue-share"', 1)[1]
    assert (
        "2026-02" in shares
        and "hostpartner" in shares
        and "30% of hosting revenue, 2026-02" in shares
    )
    assert (
        'Total owed to Rocket.Chat</th><td class="num">3,000.00 USD' in shares
    )  # 30% of 10,000.01, half-up

    response = await web.get("/finance.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    [row] = [r for r in rows if r["invoice_number"] == number and r["workflow_id"] == workflow_id]
    assert (row["stage"], row["workflow_id"], row["currency"], row["amount_due_cents"]) == (
        "open",
        workflow_id,
        "USD",
        str(cents),
    )
    assert (
        row["amount_due"] == f"{cents // 100}.{cents % 100:02d}"
        and row["aging_bucket"] == "current"
        and row["due_at"]
    )


async def test_proxy_header_mode_trusts_the_proxys_header(
    tmp_path: Path, local_env: WorkflowEnvironment
) -> None:
    settings = pages_settings_for(
        tmp_path,
        local_env,
        PARTNERFLOW_AUTH_MODE="proxy-header",
        PARTNERFLOW_AUTH_HEADER="X-Auth-Request-User",
        PARTNERFLOW_TRUSTED_PROXIES="10.0.0.0/8",
    )
    app = create_app(settings, local_env.client)
    async with httpx.AsyncClient(  # the requests come from the proxy's address
        transport=httpx.ASGITransport(app=app, client=("10.1.2.3", 40000)),
        base_url="http://testserver",
    ) as web:
        missing = await web.get("/tasks")
        assert missing.status_code == 401 and "sign-in proxy" in missing.text
        assert "X-Auth-Request-User" not in missing.text  # the header's name is not revealed
        assert (await web.get("/finance.csv")).status_code == 401
        page = await web.get("/tasks", headers={"X-Auth-Request-User": "finance.lead"})
        assert (
            page.status_code == 200
            and "Signed in as <strong>finance.lead</strong>" in page.text
            and "Sign out" not in page.text
        )
        assert (
            await web.get("/finance.csv", headers={"X-Auth-Request-User": "finance.lead"})
        ).status_code == 200
        login = await web.post("/login", data={"name": OPERATOR, "password": "anna-correct-horse"})
        assert login.status_code == 400 and SESSION_COOKIE not in login.cookies


async def test_dev_operator_is_accepted_when_no_operator_is_configured(
    tmp_path: Path, local_env: WorkflowEnvironment
) -> None:
    settings: Settings = pages_settings_for(tmp_path, local_env, PARTNERFLOW_OPERATORS="")
    app = create_app(settings, local_env.client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as web:
        page = await web.get("/login")
        assert "No operator is configured" in page.text
        name, _, password = ensure_dev_operator(settings)  # what `partnerflow run` does
        response = await sign_in(web, name=name, password=password)
        assert response.status_code == 303 and SESSION_COOKIE in response.cookies
        assert (await web.get("/finance.csv")).status_code == 200
