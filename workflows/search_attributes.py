"""The custom search attributes of PRODUCT.md, typed.

Operators filter on them in the Temporal UI, e.g. `InvoiceStage = "overdue"` or
`PendingTask = "accept_terms" AND Assignee = "end_customer"`.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

PROGRAM = SearchAttributeKey.for_keyword("Program")
PARTNER_ID = SearchAttributeKey.for_keyword("PartnerId")
STAGE = SearchAttributeKey.for_keyword("Stage")
PENDING_TASK = SearchAttributeKey.for_keyword_list("PendingTask")
ASSIGNEE = SearchAttributeKey.for_keyword_list("Assignee")
TASK_DUE_AT = SearchAttributeKey.for_datetime("TaskDueAt")
DEAL_NUMBER = SearchAttributeKey.for_keyword("DealNumber")
INVOICE_STAGE = SearchAttributeKey.for_keyword("InvoiceStage")
INVOICE_NUMBER = SearchAttributeKey.for_keyword("InvoiceNumber")
AMOUNT_DUE_CENTS = SearchAttributeKey.for_int("AmountDueCents")
INVOICE_DUE_AT = SearchAttributeKey.for_datetime("InvoiceDueAt")

ALL_KEYS: list[SearchAttributeKey[Any]] = [
    PROGRAM,
    PARTNER_ID,
    STAGE,
    PENDING_TASK,
    ASSIGNEE,
    TASK_DUE_AT,
    DEAL_NUMBER,
    INVOICE_STAGE,
    INVOICE_NUMBER,
    AMOUNT_DUE_CENTS,
    INVOICE_DUE_AT,
]
