"""The activity error classes keep the failure types and retry behaviour that workflows,
retry policies and recorded histories rely on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.errors import (
    BillingRateLimited,
    PartnerflowError,
    PermanentError,
    RocketChatRefused,
    TransientError,
)

# Every failure type activities raise, and whether Temporal may retry it.
RETRYABLE = {
    "AgreementInvalid": False,
    "InvalidDeadlineRequest": False,
    "InvalidRecord": False,
    "InvalidLicenseRequest": False,
    "InvalidScreeningInput": False,
    "RocketChatUnavailable": True,
    "RocketChatUnauthorized": False,
    "RocketChatRefused": False,
    "InvoiceStateError": False,
    "InvoiceNotFound": False,
    "InvoiceBusy": True,
    "BillingRateLimited": True,
    "BillingUnavailable": True,
    "BillingRejected": False,
    "EmailRequestInvalid": False,
    "EmailSendFailed": True,
    "EmailRejected": False,
}
BASES = {PartnerflowError, PermanentError, TransientError}


def _error_classes() -> dict[str, type[PartnerflowError]]:
    return {
        name: value
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, PartnerflowError) and value not in BASES
    }


def _raise(cls: type[PartnerflowError]) -> PartnerflowError:
    if cls is RocketChatRefused:
        return RocketChatRefused("groups.create", "error-invalid-room-name", {"success": False})
    return cls("something went wrong", {"detail": 1})


def test_one_class_per_failure_type() -> None:
    assert set(_error_classes()) == set(RETRYABLE)


@pytest.mark.parametrize("name", sorted(RETRYABLE))
def test_failure_type_and_retry_on_the_wire(name: str) -> None:
    error = _raise(_error_classes()[name])
    assert isinstance(error, ApplicationError)
    assert (error.type, error.non_retryable) == (name, not RETRYABLE[name])

    failure = Failure()
    DataConverter.default.failure_converter.to_failure(
        error, DataConverter.default.payload_converter, failure
    )
    info = failure.application_failure_info
    assert (info.type, info.non_retryable) == (name, not RETRYABLE[name])


def test_details_and_retry_delay_are_kept() -> None:
    error = BillingRateLimited(
        "Stripe: slow down", {"code": "rate_limit"}, next_retry_delay=timedelta(seconds=7)
    )
    assert error.details == ({"code": "rate_limit"},)
    assert error.next_retry_delay == timedelta(seconds=7)
    assert str(error) == "BillingRateLimited: Stripe: slow down"


def test_rocketchat_refusal_carries_its_error_code() -> None:
    error = RocketChatRefused("groups.create", "error-invalid-room-name", {"success": False})
    assert error.error_type == "error-invalid-room-name"
    assert error.message == "Rocket.Chat groups.create refused: error-invalid-room-name"
    assert error.details == ({"success": False},)
