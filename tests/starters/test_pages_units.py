"""The operator pages' pure parts, without Temporal: password hashes, session cookies, the
operators setting, `next` checks, the failed-login limiter, task filters, and the finance
board's dedupe, aging, totals and CSV; plus `partnerflow operator hash`."""

from __future__ import annotations

import csv
import io
import stat
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from models.settings import Settings
from starters.cli import app as cli
from starters.finance import (
    Invoice,
    aging,
    aging_bucket,
    build_board,
    csv_rows,
    days_past_due,
    dedupe_invoices,
    money,
    to_csv,
)
from starters.task_inbox import (
    TaskFilters,
    TaskRow,
    act_command,
    counts_by_assignee,
    filter_tasks,
    sort_tasks,
    workflow_ui_url,
)
from starters.web.auth import FailureLimiter
from starters.web.operators import (
    DEV_OPERATOR,
    OperatorsError,
    ensure_dev_operator,
    hash_password,
    operators_for,
    parse_hash,
    parse_operators,
    read_session,
    safe_next,
    sign_session,
    verify_password,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
FAST = 1_000  # iterations: enough to test the format, quick in tests


# --- passwords -----------------------------------------------------------------------------


def test_password_hash_round_trip_and_format() -> None:
    encoded = hash_password("correct horse battery", iterations=FAST)
    scheme, iterations, salt, digest = encoded.split("$")
    assert (scheme, iterations) == ("pbkdf2_sha256", "1000") and salt and digest
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batterY", encoded)
    assert not verify_password("", encoded)
    assert hash_password("same", iterations=FAST) != hash_password(
        "same", iterations=FAST
    )  # random salt
    assert parse_hash(encoded)[0] == 1000


def test_default_hash_uses_600000_iterations() -> None:
    assert hash_password("x" * 12).startswith("pbkdf2_sha256$600000$")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "plain",
        "md5$1000$c2FsdA$aGFzaA",
        "pbkdf2_sha256$10$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        "pbkdf2_sha256$x$y$z",
        "pbkdf2_sha256$1000$!!$??",
    ],
)
def test_malformed_hashes_never_verify(bad: str) -> None:
    assert not verify_password("anything", bad)


def test_operators_setting_is_parsed_and_checked() -> None:
    a, b = (
        hash_password("alpha-password", iterations=FAST),
        hash_password("beta-password", iterations=FAST),
    )
    operators = parse_operators(f" ops:{a} ;\nfinance.desk:{b};")
    assert set(operators) == {"ops", "finance.desk"}
    assert operators["ops"].check("alpha-password") and not operators["ops"].check("beta-password")
    for bad in ("ops", f"o ps:{a}", "ops:not-a-hash", f"ops:{a};ops:{b}"):
        with pytest.raises(OperatorsError):
            parse_operators(bad)


def test_dev_operator_file_is_created_once_with_0600_and_accepted(settings: Settings) -> None:
    assert operators_for(settings) == {}
    name, path, password = ensure_dev_operator(settings)  # type: ignore[misc]
    assert name == DEV_OPERATOR == "ops" and path == settings.data_dir / "dev-operator-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(password) >= 20
    assert ensure_dev_operator(settings) == (name, path, password)  # reused, not replaced
    assert operators_for(settings)["ops"].check(password)
    assert not operators_for(settings)["ops"].check(password + "x")
    configured = settings.model_copy(
        update={"operators": SecretStr(f"anna:{hash_password('anna-password', iterations=FAST)}")}
    )
    assert ensure_dev_operator(configured) is None and set(operators_for(configured)) == {"anna"}
    proxy = settings.model_copy(update={"auth_mode": "proxy-header"})
    assert ensure_dev_operator(proxy) is None

    from starters.devstack import _operator_login  # the `partnerflow run` banner

    assert _operator_login(settings) == f"login ops / {password}, kept in {path}"
    assert _operator_login(configured) == "operators from PARTNERFLOW_OPERATORS"
    assert "X-Forwarded-User" in _operator_login(proxy)


# --- session cookie ------------------------------------------------------------------------


def test_session_cookie_signing_expiry_and_tampering() -> None:
    token = sign_session("secret", "anna", "fp", now=1_000_000)
    assert read_session("secret", token, now=1_000_000 + 60) == ("anna", "fp", "")
    assert read_session("secret", token, now=1_000_000 + 12 * 3600 - 1) == ("anna", "fp", "")
    assert read_session("secret", token, now=1_000_000 + 12 * 3600) is None  # expired after 12 h
    assert read_session("other-secret", token, now=1_000_000) is None
    payload, signature = token.rsplit(".", 1)
    forged = sign_session("secret", "mallory", "fp", now=1_000_000).split(".")[0]
    assert read_session("secret", f"{forged}.{signature}", now=1_000_000) is None
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert read_session("secret", f"{payload}.{flipped}", now=1_000_000) is None
    for junk in ("", ".", "abc", "a.b.c", "%%%.zz"):
        assert read_session("secret", junk, now=1_000_000) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/finance?stage=open", "/finance?stage=open"),
        ("/tasks", "/tasks"),
        (None, "/tasks"),
        ("", "/tasks"),
        ("https://evil.example/", "/tasks"),
        ("//evil.example/x", "/tasks"),
        ("/\\evil.example", "/tasks"),
        ("tasks", "/tasks"),
        ("/login?next=/x", "/tasks"),
        ("/x\r\nSet-Cookie: a=b", "/tasks"),
        ("javascript:alert(1)", "/tasks"),
    ],
)
def test_next_is_only_a_same_site_relative_path(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_failed_logins_are_limited_per_address() -> None:
    limiter = FailureLimiter(limit=3, window=60)
    for second in range(3):
        assert limiter.retry_after("10.0.0.1", now=100 + second) == 0
        limiter.failed("10.0.0.1", now=100 + second)
    assert limiter.retry_after("10.0.0.1", now=103) == 57
    assert limiter.retry_after("10.0.0.2", now=103) == 0  # another address is not affected
    assert limiter.retry_after("10.0.0.1", now=161) == 0  # the oldest failure aged out
    limiter.failed("10.0.0.1", now=161)
    limiter.succeeded("10.0.0.1")
    assert limiter.retry_after("10.0.0.1", now=162) == 0


# --- task inbox ----------------------------------------------------------------------------


def _task(
    workflow_id: str,
    task: str,
    assignee: str,
    due: datetime | None,
    workflow_type: str = "OrderFulfillment",
    **extra: object,
) -> TaskRow:
    return TaskRow(
        workflow_id=workflow_id,
        workflow_type=workflow_type,
        task=task,
        handler=task,
        assignee=assignee,
        description=f"Do {task}",
        due_at=due,
        example={"decision": "approve"},
        **extra,
    )  # type: ignore[arg-type]


ROWS = [
    _task("order-A", "accept_terms", "end_customer", NOW + timedelta(days=3)),
    _task("order-B", "review_license", "license_desk", NOW - timedelta(hours=1), escalated=True),
    _task("order-C", "record_payment", "finance", NOW - timedelta(days=2)),
    _task(
        "var-application-X",
        "review_application",
        "partner_manager",
        None,
        workflow_type="VarApplication",
    ),
]


def test_task_filters_by_assignee_process_overdue_and_text() -> None:
    ids = lambda rows: [r.workflow_id for r in rows]  # noqa: E731
    assert ids(filter_tasks(ROWS, TaskFilters(), NOW)) == ids(ROWS)
    assert ids(filter_tasks(ROWS, TaskFilters(assignee="finance"), NOW)) == ["order-C"]
    assert ids(filter_tasks(ROWS, TaskFilters(process="VarApplication"), NOW)) == [
        "var-application-X"
    ]
    assert ids(filter_tasks(ROWS, TaskFilters(overdue=True), NOW)) == ["order-B", "order-C"]
    assert ids(filter_tasks(ROWS, TaskFilters(text="LICENSE"), NOW)) == ["order-B"]
    assert ids(
        filter_tasks(ROWS, TaskFilters(assignee="finance", overdue=True, text="payment"), NOW)
    ) == ["order-C"]
    assert filter_tasks(ROWS, TaskFilters(assignee="finance", process="VarApplication"), NOW) == []
    assert TaskFilters().active is False and TaskFilters(overdue=True).active is True


def test_tasks_sorted_by_due_counted_by_assignee_with_commands_and_links() -> None:
    assert [r.workflow_id for r in sort_tasks(ROWS)] == [
        "order-C",
        "order-B",
        "order-A",
        "var-application-X",
    ]
    assert counts_by_assignee(ROWS + [_task("order-D", "record_payment", "finance", None)], NOW)[
        0
    ] == ("finance", 2, 1)
    assert (
        act_command("order-A", "accept_terms", {"name": "O'Brien"})
        == """partnerflow act order-A accept_terms --input '{"name": "O'"'"'Brien"}'"""
    )
    assert (
        workflow_ui_url("http://127.0.0.1:8233/", "default", "deal-DR 1/2")
        == "http://127.0.0.1:8233/namespaces/default/workflows/deal-DR%201%2F2"
    )
    assert (
        ROWS[1].to_json()["command"]
        == """partnerflow act order-B review_license --input '{"decision": "approve"}'"""
    )


# --- finance -------------------------------------------------------------------------------


def _invoice(
    number: str | None,
    stage: str,
    cents: int,
    due: datetime | None,
    workflow_type: str = "OrderFulfillment",
    workflow_id: str | None = None,
    currency: str = "USD",
) -> Invoice:
    return Invoice(
        workflow_id=workflow_id or f"order-{number}",
        workflow_type=workflow_type,
        invoice_number=number,
        stage=stage,
        amount_due_cents=cents,
        due_at=due,
        currency=currency,
    )


def test_money_is_exact() -> None:
    assert money(600000) == "6,000.00 USD"
    assert money(1, "eur") == "0.01 EUR"
    assert money(123456789012345678) == "1,234,567,890,123,456.78 USD"
    assert money(-5) == "-0.05 USD"


def test_a_deals_mirror_of_its_orders_invoice_is_listed_once_under_the_order() -> None:
    mirror = _invoice(
        "MM-1", "open", 100, NOW, workflow_type="DealRegistration", workflow_id="deal-DR-1"
    )
    own = _invoice("MM-1", "open", 100, NOW, workflow_id="order-1")
    other = _invoice("MM-2", "paid", 200, NOW)
    for listed in ([mirror, own, other], [own, mirror, other]):
        result = dedupe_invoices(listed)
        assert [(i.invoice_number, i.workflow_id) for i in result] == [
            ("MM-1", "order-1"),
            ("MM-2", "order-MM-2"),
        ]
    unnumbered = [
        _invoice(None, "draft", 1, None, workflow_id="order-x"),
        _invoice(None, "draft", 2, None, workflow_id="order-y"),
    ]
    assert len(dedupe_invoices(unnumbered)) == 2
    orphan_mirror = _invoice(
        "MM-9", "paid", 9, NOW, workflow_type="AuthorizedResale", workflow_id="resale-9"
    )
    assert dedupe_invoices([orphan_mirror, orphan_mirror]) == [
        orphan_mirror
    ]  # its order not listed: kept once
    twins = [
        _invoice("MM-1", "open", 1, NOW, workflow_id="order-1"),
        _invoice("MM-1", "open", 2, NOW, workflow_id="order-2"),
    ]
    assert dedupe_invoices(twins) == twins  # two orders are never merged


@pytest.mark.parametrize(
    ("due", "days", "bucket"),
    [
        (NOW + timedelta(days=5), 0, "current"),
        (NOW, 0, "current"),
        (None, 0, "current"),
        (NOW - timedelta(hours=2), 1, "1-30"),
        (NOW - timedelta(days=30), 30, "1-30"),
        (NOW - timedelta(days=30, seconds=1), 31, "31-60"),
        (NOW - timedelta(days=60), 60, "31-60"),
        (NOW - timedelta(days=61), 61, "61-90"),
        (NOW - timedelta(days=90), 90, "61-90"),
        (NOW - timedelta(days=91), 91, "90+"),
    ],
)
def test_aging_buckets(due: datetime | None, days: int, bucket: str) -> None:
    assert days_past_due(due, NOW) == days
    assert aging_bucket(due, NOW) == bucket


INVOICES = [
    _invoice("MM-1", "open", 600000, NOW + timedelta(days=10)),
    _invoice("MM-2", "overdue", 120000, NOW - timedelta(days=45)),
    _invoice("MM-3", "overdue", 1, NOW - timedelta(days=100)),
    _invoice("MM-4", "paid", 250050, NOW - timedelta(days=5)),
    _invoice("MM-5", "open", 99999, NOW + timedelta(days=1), currency="EUR"),
    _invoice("MM-6", "void", 700, None),
]


def test_totals_per_stage_and_currency_and_aging_of_unpaid_invoices() -> None:
    board = build_board(INVOICES, NOW)
    assert list(board.by_stage) == ["draft", "open", "overdue", "paid", "void", "uncollectible"]
    assert [i.invoice_number for i in board.by_stage["overdue"]] == [
        "MM-3",
        "MM-2",
    ]  # earliest due first
    assert (board.stage_totals["open"]["USD"].count, board.stage_totals["open"]["USD"].cents) == (
        1,
        600000,
    )
    assert board.stage_totals["open"]["EUR"].cents == 99999
    assert (
        board.stage_totals["overdue"]["USD"].cents == 120001 and board.stage_totals["draft"] == {}
    )
    assert {c: t.cents for c, t in board.unpaid.items()} == {"USD": 720001, "EUR": 99999}
    buckets = aging(INVOICES, NOW)
    flat = {
        key: {c: (t.count, t.cents) for c, t in totals.items()} for key, totals in buckets.items()
    }
    assert flat == {
        "current": {"USD": (1, 600000), "EUR": (1, 99999)},
        "1-30": {},
        "31-60": {"USD": (1, 120000)},
        "61-90": {},
        "90+": {"USD": (1, 1)},
    }
    assert sum(t.cents for totals in buckets.values() for t in totals.values()) == sum(
        t.cents for t in board.unpaid.values()
    )


def test_csv_rows_are_exact_and_safe_for_spreadsheets() -> None:
    rows = csv_rows(
        [
            *INVOICES,
            _invoice("=HYPERLINK(1)", "open", 5, NOW + timedelta(days=1), workflow_id="+order-x"),
        ],
        NOW,
    )
    header, *body = rows
    assert header[:4] == ["invoice_number", "stage", "currency", "amount_due"]
    by_number = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert (by_number["MM-2"]["amount_due"], by_number["MM-2"]["amount_due_cents"]) == (
        "1200.00",
        "120000",
    )
    assert (by_number["MM-2"]["days_past_due"], by_number["MM-2"]["aging_bucket"]) == (
        "45",
        "31-60",
    )
    assert by_number["MM-3"]["amount_due"] == "0.01" and Decimal(
        by_number["MM-4"]["amount_due"]
    ) == Decimal("2500.50")
    assert by_number["MM-4"]["aging_bucket"] == "" and by_number["MM-6"]["due_at"] == ""
    assert (
        "'=HYPERLINK(1)" in by_number and by_number["'=HYPERLINK(1)"]["workflow_id"] == "'+order-x"
    )
    parsed = list(csv.reader(io.StringIO(to_csv(INVOICES, NOW))))
    assert parsed[0] == header and len(parsed) == len(INVOICES) + 1


# --- CLI -----------------------------------------------------------------------------------


def test_operator_hash_prompts_twice_and_prints_a_verifiable_entry() -> None:
    result = CliRunner().invoke(
        cli, ["operator", "hash", "finance"], input="s3cret-passw0rd\ns3cret-passw0rd\n"
    )
    assert result.exit_code == 0, result.output
    entry = next(
        line
        for line in result.stdout.splitlines()
        if line.startswith("finance:pbkdf2_sha256$600000$")
    )
    assert "s3cret-passw0rd" not in entry
    operators = parse_operators(entry)
    assert operators["finance"].check("s3cret-passw0rd")
    mismatch = CliRunner().invoke(
        cli,
        ["operator", "hash", "finance"],
        input="s3cret-passw0rd\nother-password\ns3cret-passw0rd\ns3cret-passw0rd\n",
    )
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output.lower()
    short = CliRunner().invoke(cli, ["operator", "hash", "finance"], input="short\nshort\n")
    assert short.exit_code == 2 and "at least" in short.output
    bad_name = CliRunner().invoke(cli, ["operator", "hash", "no spaces"], input="")
    assert bad_name.exit_code == 2
