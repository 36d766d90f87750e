"""Insights computed from seeded facts match hand-computed numbers exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime

from models.insights import (
    TABLES,
    TaskEvent,
    application_funnel,
    build_report,
    deal_funnel,
    percentile,
    sla_by_step,
    task_runs,
    weekly_trend,
)


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


REVIEW = "review"
SEED = [
    # w1: opened Fri 20 Nov, due Tue 24 Nov 10:00, decided Tue 24 09:00: on time, 2 business days
    TaskEvent("w1", REVIEW, "opened", at(20), at(24)),
    TaskEvent("w1", REVIEW, "decided", at(24, 9)),
    # w2: opened Wed 25 Nov, due Fri 27, escalated, decided Mon 30: late; Thanksgiving (Thu 26)
    # is not a business day: Wed 25 + Fri 27 = 2 business days
    TaskEvent("w2", REVIEW, "opened", at(25), at(27)),
    TaskEvent("w2", REVIEW, "reminded", at(26)),
    TaskEvent("w2", REVIEW, "escalated", at(27), at(27)),
    TaskEvent("w2", REVIEW, "decided", at(30)),
    # w3: opened Mon 16 Nov, due Wed 18, decided Fri 27: late, 8 business days (16-26, minus 26)
    TaskEvent("w3", REVIEW, "opened", at(16), at(18)),
    TaskEvent("w3", REVIEW, "decided", at(27)),
    # w4: opened Mon 23 Nov, due Tue 24, never decided: open past due on 1 Dec
    TaskEvent("w4", REVIEW, "opened", at(23), at(24)),
    # w5: another step, opened 30 Nov, due 4 Dec: open
    TaskEvent("w5", "quote", "opened", at(30), at(4, month=12)),
    # opened before the period: not counted
    TaskEvent("w6", REVIEW, "opened", at(2), at(4)),
    TaskEvent("w6", REVIEW, "decided", at(3)),
]
NOW = at(1, 12, month=12)


def test_sla_by_step_matches_hand_computed_numbers() -> None:
    steps = sla_by_step(task_runs(SEED), NOW, date(2026, 11, 9), date(2026, 12, 6))
    assert [s.row() for s in steps] == [
        {
            "task": "quote", "on_time": 0, "late": 0, "open_past_due": 0, "open": 1, "expired": 0,
            "escalations": 0, "median_business_days": None, "p90_business_days": None,
        },
        {
            "task": "review", "on_time": 1, "late": 2, "open_past_due": 1, "open": 0, "expired": 0,
            "escalations": 1, "median_business_days": 2.0, "p90_business_days": 8,
        },
    ]  # fmt: skip


def test_friday_to_tuesday_is_two_business_days_and_a_holiday_is_not_one() -> None:
    steps = sla_by_step(task_runs(SEED[:6]), NOW, date(2026, 11, 1), date(2026, 11, 30))
    assert steps[0].durations == [2, 2]


def test_weekly_trend_counts_decisions_by_monday() -> None:
    trend = weekly_trend(task_runs(SEED), date(2026, 11, 9), date(2026, 12, 6))
    assert trend == [
        {"week": "2026-11-23", "on_time": 1, "late": 1},
        {"week": "2026-11-30", "on_time": 0, "late": 1},
    ]


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([5], 90) == 5
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile(list(range(1, 12)), 90) == 10


def test_a_reopened_task_is_a_new_occurrence() -> None:
    events = [
        TaskEvent("w", REVIEW, "opened", at(2), at(3)),
        TaskEvent("w", REVIEW, "decided", at(2, 12)),
        TaskEvent("w", REVIEW, "opened", at(4), at(5)),
        TaskEvent("w", REVIEW, "decided", at(6)),
        TaskEvent("w", REVIEW, "opened", at(9), at(10)),
        TaskEvent("w", REVIEW, "expired", at(11)),
    ]
    runs = task_runs(events)
    assert [r.outcome(NOW) for r in runs] == ["on_time", "late", "expired"]


def test_funnels_count_the_furthest_stage_reached() -> None:
    statuses = ["in_review", "rejected", "approved", "quoted", "ordered", "closed_won", "paid"]
    assert deal_funnel(statuses) == [
        {"stage": "registered", "count": 7},
        {"stage": "approved", "count": 5},
        {"stage": "quoted", "count": 4},
        {"stage": "signed", "count": 3},
        {"stage": "ordered", "count": 3},
        {"stage": "paid", "count": 2},
    ]
    assert application_funnel(["applicant", "active", "suspended"], applications=5) == [
        {"stage": "applied", "count": 5},
        {"stage": "approved", "count": 3},
        {"stage": "active", "count": 2},
    ]
    assert application_funnel(["active"])[0] == {"stage": "applied", "count": 1}


def test_report_has_every_table() -> None:
    report = build_report(
        [
            *SEED,
            TaskEvent("v1", "review_application", "opened", at(20), workflow_type="VarApplication"),
            TaskEvent("v2", "review_application", "opened", at(21), workflow_type="VarApplication"),
        ],
        ["approved"],
        [("value_added_reseller", "active"), ("system_integrator", "applicant")],
        NOW,
        date(2026, 11, 9),
        date(2026, 12, 6),
    )
    assert tuple(report) == TABLES
    assert report["var_funnel"] == [
        {"stage": "applied", "count": 2},
        {"stage": "approved", "count": 1},
        {"stage": "active", "count": 1},
    ]
    assert report["si_funnel"][:2] == [
        {"stage": "applied", "count": 1},
        {"stage": "approved", "count": 1},
    ]
    assert report["deal_funnel"][1] == {"stage": "approved", "count": 1}
    assert report["sla"][1]["late"] == 2


def test_rocketchat_onboarding_steps_with_the_training_deadline_met_or_missed() -> None:
    def fact(wf: str, event: str, when: datetime, task: str = "basic_training") -> TaskEvent:
        return TaskEvent(wf, task, event, when, at(27), workflow_type="RocketChatOnboarding")

    events = [
        fact("rc1", "opened", at(10)),
        fact("rc1", "decided", at(20)),  # met
        fact("rc2", "opened", at(10)),
        fact("rc2", "decided", at(30)),  # missed (late)
        fact("rc3", "opened", at(10)),  # missed (open past due on 1 Dec)
        fact("rc4", "opened", at(10), "sign_agreement"),
        TaskEvent("d1", "basic_training", "opened", at(10), at(27)),  # not an onboarding
    ]
    report = build_report(events, [], [], NOW, date(2026, 11, 1), date(2026, 11, 30))
    assert report["rc_onboarding"] == [
        {"step": "basic_training", "started": 3, "completed": 2, "deadline_met": 1,
         "deadline_missed": 2},
        {"step": "sign_agreement", "started": 1, "completed": 0, "deadline_met": 0,
         "deadline_missed": 1},
    ]  # fmt: skip
