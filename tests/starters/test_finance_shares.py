"""The finance board shows each Rocket.Chat revenue share's stage as its follower
(`RocketChatRevenueShare`) has it: an open invoice past its due date is overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starters.finance import Invoice, RevenueShareReport, totals_by, with_share_stages

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _share(month: str, number: str | None, status: str | None) -> RevenueShareReport:
    return RevenueShareReport(
        partner_id="porto",
        workflow_id="rc-partnership-porto",
        month=month,
        partner_type="hosting",
        owed_to_rocketchat_cents=75_002,
        invoice_id=f"inv_{month}" if number else None,
        invoice_number=number,
        invoice_status=status,
        submitted_at=NOW,
    )


def _follower(number: str, stage: str) -> Invoice:
    return Invoice(
        workflow_id=f"rc-revenue-share-porto-{number}",
        workflow_type="RocketChatRevenueShare",
        invoice_number=number,
        stage=stage,
        amount_due_cents=75_002,
        due_at=NOW - timedelta(days=3),
    )


def test_each_share_has_its_followers_stage_else_the_invoice_status() -> None:
    shares = [
        _share("2026-10", "RC-1", "open"),  # open in the ledger, overdue by the follower
        _share("2026-09", "RC-2", "uncollectible"),
        _share("2026-08", "RC-3", "paid"),  # no follower lists it (an invoice from before)
        _share("2026-07", None, None),  # nothing owed: not invoiced
    ]
    found = with_share_stages(
        shares, [_follower("RC-1", "overdue"), _follower("RC-2", "uncollectible")]
    )
    assert [s.stage for s in found] == ["overdue", "uncollectible", "paid", None]
    totals = totals_by(found, "stage", "owed_to_rocketchat_cents")
    assert {k: v["USD"].count for k, v in totals.items()} == {
        "overdue": 1,
        "uncollectible": 1,
        "paid": 1,
        "not invoiced": 1,
    }


def test_the_board_prints_the_stage_of_each_share() -> None:
    from starters.finance import AGING_BUCKETS, INVOICE_STAGES, build_board, grand_total, money
    from starters.web.finance import STAGE_TITLES
    from starters.web.pages import templates

    invoices = [_follower("RC-1", "overdue")]
    shares = with_share_stages([_share("2026-10", "RC-1", "open")], invoices)
    board = build_board(invoices, NOW)
    html = templates.env.get_template("finance.html").render(
        title="Finance",
        operator="finance",
        internal=True,
        wide=True,
        nav="finance",
        board=board,
        stages=list(INVOICE_STAGES),
        stage_titles=STAGE_TITLES,
        aging_buckets=AGING_BUCKETS,
        fees=[],
        fee_totals={},
        shares=shares,
        share_totals=totals_by(shares, "stage", "owed_to_rocketchat_cents"),
        share_total=grand_total(shares, "owed_to_rocketchat_cents"),
        records_error=None,
        money=money,
        now=NOW,
        ui_url=lambda workflow_id: f"/ui/{workflow_id}",
    )
    section = html.split('id="revenue-share"', 1)[1]
    assert 'data-stage="overdue">Overdue</span>' in section and "RC-1" in section
    assert "Invoice overdue (1)" in section
