"""The failures activities raise, one class per failure type.

Each class is an `ApplicationError` whose `type` is the class name, so workflows, tests and
recorded histories see the same failure types as before. A `PermanentError` is raised
non-retryable: retrying cannot help (bad input, a refusal, a state that forbids the step).
A `TransientError` is an outage or a race; Temporal retries it under the activity's policy.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from temporalio.exceptions import ApplicationError


class PartnerflowError(ApplicationError):
    """An activity failure whose Temporal type is the class name."""

    retryable: ClassVar[bool] = True

    def __init__(
        self, message: str, *details: Any, next_retry_delay: timedelta | None = None
    ) -> None:
        super().__init__(
            message,
            *details,
            type=type(self).__name__,
            non_retryable=not self.retryable,
            next_retry_delay=next_retry_delay,
        )


class PermanentError(PartnerflowError):
    """Retrying cannot succeed: the step fails at once."""

    retryable = False


class TransientError(PartnerflowError):
    """An outage or a race: Temporal retries the activity."""

    retryable = True


# --- input and records -------------------------------------------------------------------------


class InvalidRecord(PermanentError):
    """A record the database cannot hold or that contradicts the stored one."""


class InvalidDeadlineRequest(PermanentError):
    """A deadline from a naive start or on an unknown country's calendar."""


class InvalidScreeningInput(PermanentError):
    """An unknown country or subdivision code to screen."""


class AgreementInvalid(PermanentError):
    """An unknown agreement or template, a missing field, or a signature of other text."""


class InvalidLicenseRequest(PermanentError):
    """License times that are naive or out of order."""


# --- Rocket.Chat -------------------------------------------------------------------------------


class RocketChatUnavailable(TransientError):
    """Rocket.Chat is unreachable, overloaded or answered 5xx."""


class RocketChatUnauthorized(PermanentError):
    """The bot's credentials are missing or refused."""


class RocketChatRefused(PermanentError):
    """Rocket.Chat refused the call; `error_type` is its own error code."""

    def __init__(self, endpoint: str, error_type: str, data: dict[str, Any]) -> None:
        super().__init__(f"Rocket.Chat {endpoint} refused: {error_type}", data)
        self.error_type = error_type


# --- billing -----------------------------------------------------------------------------------


class InvoiceStateError(PermanentError):
    """The invoice's status forbids the action (Stripe's rules)."""


class InvoiceNotFound(PermanentError):
    """No invoice with the id."""


class InvoiceBusy(TransientError):
    """The invoice kept changing under the action; try again."""


class BillingRateLimited(TransientError):
    """The billing system asked to slow down (`next_retry_delay` follows its Retry-After)."""


class BillingUnavailable(TransientError):
    """The billing system is unreachable or answered 5xx."""


class BillingRejected(PermanentError):
    """The billing system refused the request (4xx)."""


# --- email -------------------------------------------------------------------------------------


class EmailRequestInvalid(PermanentError):
    """An unknown template or role, or a context the template cannot render."""


class EmailSendFailed(TransientError):
    """The email provider is unreachable, rate-limited or answered 5xx; nothing was sent."""


class EmailRejected(PermanentError):
    """The email provider refused the message; it is never sent again."""
