"""Activity calls from workflows: by name (workflows never import adapter code), with one of a
few option presets, one place per kind of system.

    await call("record_deal", record, options=RECORD, summary=f"record deal {number}")
    draft = await call("prepare_agreement", request, options=RECORD, result_type=AgreementDraft)

Permanent errors are raised by the activities as non-retryable `ApplicationError`s; the
retry policies below only ever retry the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from types import UnionType
from typing import Any, TypeVar, overload

from temporalio import workflow
from temporalio.common import RetryPolicy

T = TypeVar("T")

# Outside systems and our database can be down for a while: back off up to 10 minutes, never
# give up on retryable errors (the workflow waits; operators see the pending activity).
RETRY_UNTIL_UP = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)
# The worker heartbeats every running activity (workers/main.py, HeartbeatWhileRunning): an
# attempt on a worker that died is retried after this, not after its start-to-close timeout.
HEARTBEAT = timedelta(seconds=10)


@dataclass(frozen=True)
class CallOptions:
    """How long one attempt may take and how failed attempts are retried."""

    timeout: timedelta
    retry: RetryPolicy
    local: bool = False  # a local activity: pure computation in the worker, no heartbeat

    def taking(self, seconds: int) -> CallOptions:
        """The same preset with another per-attempt timeout."""
        return CallOptions(timedelta(seconds=seconds), self.retry, self.local)


# Reads and writes of our own records.
RECORD = CallOptions(timedelta(seconds=30), RETRY_UNTIL_UP)
# Outside systems (email, Stripe, licenses, the community server): one attempt may be slow.
EXTERNAL = CallOptions(timedelta(seconds=60), RETRY_UNTIL_UP)
# Outside systems doing several things in one attempt (an invoice created, finalized and
# sent; a partner's website fetched and read).
SLOW = EXTERNAL.taking(120)
# Pure rules run in the worker (deadlines, screening, pre-screen): a few quick tries.
LOCAL = CallOptions(
    timedelta(seconds=10),
    RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5),
    local=True,
)


@overload
async def call(activity: str, arg: Any, *, options: CallOptions, summary: str) -> None: ...


@overload
async def call(
    activity: str, arg: Any, *, options: CallOptions, summary: str, result_type: type[T]
) -> T: ...


@overload
async def call(
    activity: str, arg: Any, *, options: CallOptions, summary: str, result_type: UnionType
) -> Any: ...


async def call(
    activity: str,
    arg: Any,
    *,
    options: CallOptions,
    summary: str,
    result_type: type[Any] | UnionType | None = None,
) -> Any:
    """Run the activity named `activity` with one argument; `summary` shows in the UI."""
    returns: Any = result_type
    if options.local:
        return await workflow.execute_local_activity(
            activity,
            arg,
            result_type=returns,
            start_to_close_timeout=options.timeout,
            retry_policy=options.retry,
            summary=summary,
        )
    return await workflow.execute_activity(
        activity,
        arg,
        result_type=returns,
        start_to_close_timeout=options.timeout,
        retry_policy=options.retry,
        heartbeat_timeout=HEARTBEAT,
        summary=summary,
    )
