"""Process email: one `send_email` activity over a delivery port with two adapters.

`EmailActivities.send_email` renders the request (`activities.email.render`: template,
recipients, signed links) and hands the message to a `Mailer`, chosen by
`settings.email_backend`:

- `OutboxMailer` (`activities.email.local`, the default) writes an `.eml` file and a row,
  once per idempotency key, in one transaction.
- `SendGridMailer` (`activities.email.sendgrid`) claims the key in the `emails` table before
  calling SendGrid, so an email is never sent twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from temporalio import activity

from activities.email.local import OutboxMailer
from activities.email.render import RenderedEmail, render_email
from activities.email.sendgrid import SendGridMailer
from models.contracts import EmailReceipt, EmailRequest
from models.settings import Settings

log = logging.getLogger(__name__)


class Mailer(Protocol):
    """A delivery adapter. `render` is called only when the key has not been sent yet."""

    name: str

    def send(self, request: EmailRequest, render: Callable[[], RenderedEmail]) -> EmailReceipt: ...


class EmailActivities:
    """The `send_email` activity; the mailer follows `settings.email_backend` unless given."""

    def __init__(self, settings: Settings, mailer: Mailer | None = None):
        self.settings = settings
        if mailer is None:
            mailer = (
                SendGridMailer(settings)
                if settings.email_backend == "sendgrid"
                else OutboxMailer(settings)
            )
        self.mailer = mailer

    @activity.defn(name="send_email")
    def send_email(self, request: EmailRequest) -> EmailReceipt:
        """Send one process email at most once per idempotency key (sync: runs in a thread)."""
        receipt = self.mailer.send(request, lambda: render_email(self.settings, request))
        log.info("email %s: %s via %s", request.idempotency_key, receipt.status, receipt.backend)
        return receipt
