"""`screen_party`: the embargo check before intake, licenses and invoices (local activity)."""

from __future__ import annotations

from temporalio import activity

from activities.errors import InvalidScreeningInput
from models.contracts import ScreeningRequest, ScreeningResult
from models.screening import screen


@activity.defn(name="screen_party")
def screen_party(req: ScreeningRequest) -> ScreeningResult:
    """Screen `req.party` at `req.country`/`req.subdivision` on the UTC date of `req.on`.

    An unknown country or subdivision code is a permanent error (non-retryable
    `InvalidScreeningInput`): the workflow must not treat it as allowed."""
    try:
        result = screen(req.country, req.subdivision, req.on)
    except ValueError as exc:
        raise InvalidScreeningInput(str(exc)) from exc
    if not result.allowed:
        activity.logger.info("screening refused %s: %s", req.party or "party", result.reason)
    return result
