"""A stateful, in-process Stripe test double for the billing adapter (and later chaos tests).

`StripeDouble` is an HTTP server on 127.0.0.1 (port 0, own thread) that speaks the part of
Stripe's v1 API the billing adapter uses, with Stripe's semantics where they matter:

- form-encoded POSTs (`metadata[key]=value`, `expand[0]=...`), JSON answers;
- customers, invoices and invoice items built by deep-copying the canonical objects of
  Stripe's fixtures (`CANONICAL`, at the end of this module) and overriding fields;
- invoice status rules: draft -> open by finalize; send only an open `send_invoice`
  invoice; pay and void from open or uncollectible; mark_uncollectible from open; items
  only on drafts; totals computed from the items;
- idempotency: a repeated `Idempotency-Key` with the same method, path and parameters
  replays the stored answer (header `Idempotent-Replayed: true`), even a stored 500, as
  Stripe does; the same key with anything else answers 400 `idempotency_error`;
  parameter-validation errors and injected faults that happen before execution are not
  stored (so a retry really runs);
- errors in Stripe's JSON shape (`{"error": {"type", "code", "message", "param"}}`);
- fault injection counted in requests, never in seconds (so it holds on any machine load):
  `fail_next(count, statuses, path=..., after_effect=..., where=...)` answers the next
  `count` matching requests with `statuses` in turn (an outage of `count` calls): 500
  `api_error`, 429 rate limits, 4xx refusals (`invalid_request_error`) and "timeout" (the
  request is held `timeout_seconds`, then the connection closes without an answer). Faults
  queue up in the order they were added: a request takes the first one it matches.

Usage::

    with StripeDouble() as double:
        client = stripe.StripeClient(double.api_key, base_addresses={"api": double.url})
        ...
        assert double.created["invoice"] == 1
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk_test_partnerflow_double"
CURRENCIES = {"usd", "eur", "gbp", "cad", "aud", "jpy", "chf", "brl", "inr"}
DAY = 86_400


class StripeDoubleError(Exception):
    """An error answer in Stripe's shape. `stored=False` for errors raised before the
    endpoint starts executing (Stripe does not save those for idempotent replay)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        stored: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type, "code": code, "message": message, "param": param}}
        self.stored = stored


TIMEOUT = "timeout"  # a fault status: no answer, the connection closes after `timeout_seconds`
_DROP = 0  # the status `handle` returns for an answer that is never sent


@dataclass
class _Fault:
    remaining: int
    statuses: tuple[int | str, ...]
    method: str | None
    path: str | None
    after_effect: bool
    where: Callable[[dict[str, Any]], bool] | None = None
    served: int = 0

    def matches(self, method: str, path: str, params: dict[str, Any]) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method == method)
            and (self.path is None or re.fullmatch(self.path, path) is not None)
            and (self.where is None or bool(self.where(params)))
        )

    def take(self) -> int | str:
        self.remaining -= 1
        self.served += 1
        return self.statuses[(self.served - 1) % len(self.statuses)]


@dataclass
class _Stored:
    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: dict[str, Any]
    request_id: str


@dataclass
class RequestLog:
    method: str
    path: str
    idempotency_key: str | None
    status: int
    replayed: bool


class StripeDouble:
    """The server and its state. Use as a context manager; `url` and `api_key` configure a
    `stripe.StripeClient`. Inspect `created` (objects made, by kind), `requests` (every
    request with its answer), `customers`, `invoices`, `invoice_items`."""

    def __init__(self, api_key: str = API_KEY, clock: Callable[[], int] | None = None) -> None:
        self.api_key = api_key
        self.clock = clock or (lambda: int(time.time()))
        self.customers: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.invoice_items: dict[str, dict[str, Any]] = {}
        self.created: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()  # invoice id -> times sent
        self.requests: list[RequestLog] = []
        self._days_until_due: dict[str, int] = {}
        self._idempotent: dict[str, _Stored] = {}
        self._faults: list[_Fault] = []
        self.faults_served: Counter[str] = Counter()  # injected fault answers, by status
        self.timeout_seconds = 1.0  # how long a "timeout" fault holds the request
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> StripeDouble:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on 127.0.0.1 on a free port, serving from a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        """Base address for `StripeClient(base_addresses={"api": url})`."""
        assert self._server is not None, "the double is not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    # --- test controls ---------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        statuses: int | str | tuple[int | str, ...] = 500,
        *,
        method: str | None = None,
        path: str | None = None,
        after_effect: bool = False,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Answer the next `count` matching requests with `statuses` in turn (500
        `api_error`, 429 rate limit, another 4xx `invalid_request_error`, or `"timeout"`: no
        answer, the connection closes after `timeout_seconds`). `path` is a regex matched
        against the whole path, `method` "GET" or "POST", `where` a predicate on the
        request's parameters. With `after_effect=True` the request is executed first (the
        object is created or changed) and only the answer is lost: a crash after Stripe
        acted. Such a 500 is stored for idempotent replay, as Stripe does. Queued behind
        the faults added before: a request takes the first pending fault it matches."""
        cycle = statuses if isinstance(statuses, tuple) else (statuses,)
        with self._lock:
            self._faults.append(_Fault(count, cycle, method, path, after_effect, where))

    def heal(self) -> None:
        """Drop every pending fault: the double answers normally again."""
        with self._lock:
            self._faults.clear()

    def invoices_by_key(self) -> Counter[str]:
        """How many invoices exist per `metadata[idempotency_key]` (a duplicate shows as 2)."""
        with self._lock:
            return Counter(
                (i.get("metadata") or {}).get("idempotency_key", "") for i in self.invoices.values()
            )

    def forget_idempotency_keys(self) -> None:
        """Drop every stored idempotent answer, as Stripe does after 24 hours."""
        with self._lock:
            self._idempotent.clear()

    def count_requests(self, method: str, path_regex: str) -> int:
        """How many requests (replays included) matched `method` and `path_regex`."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if r.method == method and re.fullmatch(path_regex, r.path) is not None
            )

    # --- request processing ----------------------------------------------------------------

    def handle(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Process one request under the lock: auth, faults, idempotency, routing."""
        with self._lock:
            request_id = "req_" + secrets.token_hex(7)
            key = headers.get("idempotency-key") if method == "POST" else None
            status, body, extra = self._process(method, path, params, headers, key, request_id)
            self.requests.append(
                RequestLog(method, path, key, status, extra.get("Idempotent-Replayed") == "true")
            )
            return status, body, {"Request-Id": request_id, **extra}

    def _process(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        headers: dict[str, str],
        key: str | None,
        request_id: str,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        try:
            self._authenticate(headers)
            fault, fault_status = self._take_fault(method, path, params)
            if fault is not None and not fault.after_effect:
                if fault_status == TIMEOUT:
                    return _DROP, {}, {}
                raise _fault_error(fault_status, stored=False)  # type: ignore[arg-type]
            if key is not None and key in self._idempotent:
                return self._replay(key, method, path, params)
            status, body = self._execute(method, path, params)
            if fault is not None:
                if fault_status == TIMEOUT:  # Stripe acted; the answer never arrives
                    if key is not None:
                        self._store(key, method, path, params, status, body, request_id)
                    return _DROP, {}, {}
                error = _fault_error(fault_status, stored=int(fault_status) >= 500)
                status, body = error.status, error.body
        except StripeDoubleError as error:
            if key is not None and error.stored:
                self._store(key, method, path, params, error.status, error.body, request_id)
            return error.status, error.body, {}
        if key is not None:
            self._store(key, method, path, params, status, body, request_id)
        return status, body, {}

    def _authenticate(self, headers: dict[str, str]) -> None:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            raise StripeDoubleError(
                401,
                "Invalid API Key provided: " + headers.get("authorization", "")[-4:],
                stored=False,
            )

    def _take_fault(
        self, method: str, path: str, params: dict[str, Any]
    ) -> tuple[_Fault | None, int | str]:
        for fault in self._faults:
            if fault.matches(method, path, params):
                status = fault.take()
                self.faults_served[str(status)] += 1
                return fault, status
        return None, 0

    def _replay(
        self, key: str, method: str, path: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        stored = self._idempotent[key]
        if (stored.method, stored.path, stored.params) != (method, path, params):
            raise StripeDoubleError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type="idempotency_error",
                stored=False,
            )
        headers = {"Idempotent-Replayed": "true", "Original-Request": stored.request_id}
        return stored.status, copy.deepcopy(stored.body), headers

    def _store(
        self,
        key: str,
        method: str,
        path: str,
        params: dict[str, Any],
        status: int,
        body: dict[str, Any],
        request_id: str,
    ) -> None:
        self._idempotent[key] = _Stored(
            method, path, params, status, copy.deepcopy(body), request_id
        )

    def _execute(
        self, method: str, path: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        for route_method, pattern, name in _ROUTES:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                handler = getattr(self, name)
                return 200, handler(params, *match.groups())
        raise StripeDoubleError(404, f"Unrecognized request URL ({method}: {path}).", stored=False)

    # --- customers -------------------------------------------------------------------------

    def create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = _canonical("customer")
        customer.update(
            id=_new_id("cus"),
            created=self.clock(),
            discount=None,
            email=params.get("email"),
            name=params.get("name"),
            description=params.get("description"),
            metadata=dict(params.get("metadata") or {}),
            invoice_prefix=secrets.token_hex(4).upper(),
            next_invoice_sequence=1,
        )
        customer["address"].update(params.get("address") or {})
        return self._created("customer", self.customers, customer)

    def retrieve_customer(self, _params: dict[str, Any], customer_id: str) -> dict[str, Any]:
        return copy.deepcopy(self._get(self.customers, customer_id, "customer"))

    def list_customers(self, params: dict[str, Any]) -> dict[str, Any]:
        items = [c for c in self.customers.values() if _matches(c, params, ("email",))]
        return _page(items, params, "/v1/customers")

    # --- invoice items ---------------------------------------------------------------------

    def create_invoice_item(self, params: dict[str, Any]) -> dict[str, Any]:
        customer_id = _required(params, "customer")
        self._get(self.customers, customer_id, "customer", param="customer")
        currency = _currency(params)
        quantity = _int(params.get("quantity", "1"), "quantity")
        unit = _decimal(params, "unit_amount_decimal")
        invoice_id = params.get("invoice")
        if invoice_id is not None:
            self._draft_for_items(invoice_id, customer_id)
        now = self.clock()
        item = _canonical("invoiceitem")
        item.update(
            id=_new_id("ii"),
            amount=int(unit * quantity),
            currency=currency,
            customer=customer_id,
            date=now,
            description=params.get("description"),
            invoice=invoice_id,
            metadata=dict(params.get("metadata") or {}),
            net_amount=int(unit * quantity),
            parent=None,
            period={"start": now, "end": now},
            pricing={"price_details": None, "type": None, "unit_amount_decimal": str(unit)},
            quantity=quantity,
            quantity_decimal=str(quantity),
        )
        self._created("invoiceitem", self.invoice_items, item)
        if invoice_id is not None:
            self._recompute(self.invoices[invoice_id])
        return copy.deepcopy(item)

    def list_invoice_items(self, params: dict[str, Any]) -> dict[str, Any]:
        items = [
            i for i in self.invoice_items.values() if _matches(i, params, ("invoice", "customer"))
        ]
        return _page(items, params, "/v1/invoiceitems")

    def _draft_for_items(self, invoice_id: str, customer_id: str) -> None:
        invoice = self._get(self.invoices, invoice_id, "invoice", param="invoice")
        if invoice["customer"] != customer_id:
            raise StripeDoubleError(
                400, "The invoice belongs to a different customer.", param="invoice"
            )
        if invoice["status"] != "draft":
            raise StripeDoubleError(
                400,
                f"You can only add invoice items to draft invoices; {invoice_id} is "
                f"{invoice['status']}.",
                code="invoice_not_editable",
                param="invoice",
            )

    # --- invoices --------------------------------------------------------------------------

    def create_invoice(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = self._get(self.customers, _required(params, "customer"), "customer", "customer")
        method = params.get("collection_method", "charge_automatically")
        days = params.get("days_until_due")
        if method == "send_invoice" and days is None and params.get("due_date") is None:
            raise StripeDoubleError(
                400,
                "Invoices with `collection_method=send_invoice` must have `days_until_due` "
                "or `due_date`.",
                param="days_until_due",
                stored=False,
            )
        invoice = self._new_invoice(customer, params, method)
        if days is not None:
            self._days_until_due[invoice["id"]] = _int(days, "days_until_due")
            invoice["due_date"] = invoice["created"] + self._days_until_due[invoice["id"]] * DAY
        if params.get("pending_invoice_items_behavior", "exclude") == "include":
            for item in self.invoice_items.values():
                if item["customer"] == customer["id"] and item["invoice"] is None:
                    item["invoice"] = invoice["id"]
        self._created("invoice", self.invoices, invoice)
        self._recompute(invoice)
        return copy.deepcopy(invoice)

    def _new_invoice(
        self, customer: dict[str, Any], params: dict[str, Any], method: str
    ) -> dict[str, Any]:
        now = self.clock()
        invoice = _canonical("invoice")
        invoice.update(
            id=_new_id("in"),
            amount_overpaid=0,
            auto_advance=_bool(params.get("auto_advance", "false")),
            collection_method=method,
            created=now,
            currency=_currency(params),
            customer=customer["id"],
            customer_email=customer["email"],
            customer_name=customer["name"],
            description=params.get("description"),
            due_date=None,
            effective_at=None,
            from_invoice=None,
            last_finalization_error=None,
            metadata=dict(params.get("metadata") or {}),
            next_payment_attempt=None,
            parent=None,
            period_end=now,
            period_start=now,
            shipping_cost=None,
            webhooks_delivered_at=None,
        )
        invoice["customer_address"].update(customer["address"])
        invoice["lines"] = {
            "data": [],
            "has_more": False,
            "object": "list",
            "url": f"/v1/invoices/{invoice['id']}/lines",
        }
        return invoice

    def retrieve_invoice(self, _params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
        return copy.deepcopy(self._get(self.invoices, invoice_id, "invoice"))

    def list_invoices(self, params: dict[str, Any]) -> dict[str, Any]:
        items = [i for i in self.invoices.values() if _matches(i, params, ("customer", "status"))]
        return _page(items, params, "/v1/invoices")

    def finalize_invoice(self, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
        invoice = self._get(self.invoices, invoice_id, "invoice")
        if invoice["status"] != "draft":
            raise StripeDoubleError(
                400,
                "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
            )
        customer = self.customers[invoice["customer"]]
        now = self.clock()
        invoice["number"] = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
        customer["next_invoice_sequence"] += 1
        invoice.update(
            status="open",
            effective_at=now,
            customer_email=customer["email"],
            customer_name=customer["name"],
            hosted_invoice_url="https://invoice.stripe.com/i/acct_double/test_"
            + secrets.token_urlsafe(24),
            invoice_pdf="https://pay.stripe.com/invoice/acct_double/test_"
            + secrets.token_urlsafe(24)
            + "/pdf",
        )
        if "auto_advance" in params:
            invoice["auto_advance"] = _bool(params["auto_advance"])
        if invoice_id in self._days_until_due:
            invoice["due_date"] = now + self._days_until_due[invoice_id] * DAY
        invoice["status_transitions"]["finalized_at"] = now
        return copy.deepcopy(invoice)

    def send_invoice(self, _params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
        invoice = self._get(self.invoices, invoice_id, "invoice")
        if invoice["collection_method"] != "send_invoice":
            raise StripeDoubleError(
                400, "You can only send invoices with `collection_method=send_invoice`."
            )
        self._require_status(invoice, {"open"}, "send")
        self.sent[invoice_id] += 1
        return copy.deepcopy(invoice)

    def pay_invoice(self, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
        invoice = self._get(self.invoices, invoice_id, "invoice")
        self._require_status(invoice, {"open", "uncollectible"}, "pay")
        if not _bool(params.get("paid_out_of_band", "false")):
            raise StripeDoubleError(
                402,
                "This customer has no attached payment source or default payment method.",
                type="card_error",
                code="invoice_payment_intent_requires_action",
            )
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
        invoice["status_transitions"]["paid_at"] = self.clock()
        return copy.deepcopy(invoice)

    def void_invoice(self, _params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
        invoice = self._get(self.invoices, invoice_id, "invoice")
        self._require_status(invoice, {"open", "uncollectible"}, "void")
        invoice["status"] = "void"
        invoice["status_transitions"]["voided_at"] = self.clock()
        return copy.deepcopy(invoice)

    def mark_uncollectible(self, _params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
        invoice = self._get(self.invoices, invoice_id, "invoice")
        self._require_status(invoice, {"open"}, "mark uncollectible")
        invoice["status"] = "uncollectible"
        invoice["status_transitions"]["marked_uncollectible_at"] = self.clock()
        return copy.deepcopy(invoice)

    def _recompute(self, invoice: dict[str, Any]) -> None:
        """Lines and totals from the invoice's items (no tax, discounts or credit)."""
        items = [i for i in self.invoice_items.values() if i["invoice"] == invoice["id"]]
        invoice["lines"]["data"] = [_line_for(item) for item in items]
        total = sum(item["amount"] for item in items)
        invoice.update(
            subtotal=total,
            subtotal_excluding_tax=total,
            total=total,
            total_excluding_tax=total,
            amount_due=total,
            amount_remaining=total - invoice["amount_paid"],
        )

    # --- helpers ---------------------------------------------------------------------------

    def _created(
        self, kind: str, store: dict[str, dict[str, Any]], obj: dict[str, Any]
    ) -> dict[str, Any]:
        store[obj["id"]] = obj
        self.created[kind] += 1
        return copy.deepcopy(obj)

    @staticmethod
    def _get(
        store: dict[str, dict[str, Any]], object_id: str, kind: str, param: str = "id"
    ) -> dict[str, Any]:
        try:
            return store[object_id]
        except KeyError:
            raise StripeDoubleError(
                404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
            ) from None

    @staticmethod
    def _require_status(invoice: dict[str, Any], allowed: set[str], verb: str) -> None:
        if invoice["status"] not in allowed:
            raise StripeDoubleError(
                400,
                f"You can only {verb} an invoice that is {' or '.join(sorted(allowed))}; "
                f"invoice {invoice['id']} is {invoice['status']}.",
            )


_ID = r"([A-Za-z0-9_]+)"
_ROUTES: list[tuple[str, str, str]] = [
    ("POST", r"/v1/customers", "create_customer"),
    ("GET", r"/v1/customers", "list_customers"),
    ("GET", rf"/v1/customers/{_ID}", "retrieve_customer"),
    ("POST", r"/v1/invoiceitems", "create_invoice_item"),
    ("GET", r"/v1/invoiceitems", "list_invoice_items"),
    ("POST", r"/v1/invoices", "create_invoice"),
    ("GET", r"/v1/invoices", "list_invoices"),
    ("GET", rf"/v1/invoices/{_ID}", "retrieve_invoice"),
    ("POST", rf"/v1/invoices/{_ID}/finalize", "finalize_invoice"),
    ("POST", rf"/v1/invoices/{_ID}/send", "send_invoice"),
    ("POST", rf"/v1/invoices/{_ID}/pay", "pay_invoice"),
    ("POST", rf"/v1/invoices/{_ID}/void", "void_invoice"),
    ("POST", rf"/v1/invoices/{_ID}/mark_uncollectible", "mark_uncollectible"),
]


# --- HTTP --------------------------------------------------------------------------------


def _handler_for(double: StripeDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the Stripe client expects
        disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms stalls

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            parts = urlsplit(self.path)
            self._answer("GET", parts.path, parts.query)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8")
            self._answer("POST", urlsplit(self.path).path, body)

        def _answer(self, method: str, path: str, form: str) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            params = unflatten(parse_qsl(form, keep_blank_values=True))
            status, body, extra = double.handle(method, path, params, headers)
            if status == _DROP:  # an injected timeout: hold the request, then hang up
                time.sleep(double.timeout_seconds)
                self.close_connection = True
                return
            payload = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:  # keep test output quiet
            pass

    return Handler


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back to nested values: `a[b][0]=x` -> `{"a": {"b": ["x"]}}`."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {k: _lists(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


# --- object helpers ----------------------------------------------------------------------


def _canonical(kind: str) -> dict[str, Any]:
    return copy.deepcopy(CANONICAL[kind])


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(18).replace('-', 'A').replace('_', 'B')}"


def _line_for(item: dict[str, Any]) -> dict[str, Any]:
    line = _canonical("line_item")
    line.update(
        id=f"il_{item['id'][3:]}",
        amount=item["amount"],
        currency=item["currency"],
        description=item["description"],
        invoice=item["invoice"],
        metadata=dict(item["metadata"]),
        parent={
            "invoice_item_details": {
                "invoice_item": item["id"],
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": None,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        },
        period=dict(item["period"]),
        pricing=dict(item["pricing"]),
        quantity=item["quantity"],
        quantity_decimal=item["quantity_decimal"],
        subtotal=item["amount"],
    )
    return line


def _matches(obj: dict[str, Any], params: dict[str, Any], fields: tuple[str, ...]) -> bool:
    return all(params.get(f) in (None, obj.get(f)) for f in fields)


def _page(items: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    """A list page, newest first, honouring `limit` and `starting_after` like Stripe."""
    ordered = list(reversed(items))  # dicts keep insertion order: creation order
    if after := params.get("starting_after"):
        ids = [o["id"] for o in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    limit = _int(params.get("limit", "10"), "limit")
    return {
        "object": "list",
        "url": url,
        "has_more": len(ordered) > limit,
        "data": copy.deepcopy(ordered[:limit]),
    }


def _required(params: dict[str, Any], name: str) -> Any:
    if params.get(name) in (None, ""):
        raise StripeDoubleError(400, f"Missing required param: {name}.", param=name, stored=False)
    return params[name]


def _currency(params: dict[str, Any]) -> str:
    currency = str(params.get("currency", "usd")).lower()
    if currency not in CURRENCIES:
        raise StripeDoubleError(
            400, f"Invalid currency: {currency}.", param="currency", stored=False
        )
    return currency


def _int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise StripeDoubleError(400, f"Invalid integer: {value}", param=name, stored=False)
    return number


def _decimal(params: dict[str, Any], name: str) -> Decimal:
    try:
        return Decimal(_required(params, name))
    except InvalidOperation:
        raise StripeDoubleError(
            400, f"Invalid decimal: {params[name]}", param=name, stored=False
        ) from None


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


def _fault_error(status: int, *, stored: bool) -> StripeDoubleError:
    if status == 429:
        return StripeDoubleError(
            429,
            "Request rate limit exceeded. Learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
            code="rate_limit",
            stored=False,
        )
    if 400 <= status < 500:  # a refusal before execution: not stored, a retry really runs
        return StripeDoubleError(
            status,
            "Invalid request (injected by the Stripe test double).",
            code="parameter_invalid",
            stored=False,
        )
    return StripeDoubleError(
        status,
        "An unknown error occurred (injected by the Stripe test double).",
        type="api_error",
        stored=stored,
    )


# --- canonical objects -------------------------------------------------------------------
# Verbatim from Stripe's official fixtures (stripe-fixtures3.json, `resources.customer`,
# `.invoice`, `.invoiceitem`, `.line_item`), kept here so the tests need no outside file.
# Every object the double makes is a deep copy of one of these with fields overridden.

CANONICAL: dict[str, dict[str, Any]] = {
    "customer": {
        "address": {
            "city": None,
            "country": None,
            "line1": None,
            "line2": None,
            "postal_code": None,
            "state": None,
        },
        "balance": 0,
        "created": 1234567890,
        "currency": "usd",
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": {
            "checkout_session": None,
            "customer": None,
            "customer_account": None,
            "end": None,
            "id": "obj_123",
            "invoice": None,
            "invoice_item": None,
            "object": "discount",
            "promotion_code": None,
            "source": {"coupon": None, "type": "coupon"},
            "start": 109757538,
            "subscription": None,
            "subscription_item": None,
        },
        "email": None,
        "id": "cus_QXg1o8vcGmoR32",
        "invoice_prefix": "7FE1103",
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": {"amount_tax_display": None, "template": None},
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "object": "customer",
        "phone": None,
        "preferred_locales": [],
        "shipping": {},
        "tax_exempt": "none",
        "test_clock": None,
    },
    "invoice": {
        "account_country": "US",
        "account_name": None,
        "account_tax_ids": None,
        "amount_due": 1000,
        "amount_overpaid": 149300825,
        "amount_paid": 0,
        "amount_remaining": 1000,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": False,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": {"type": "account"},
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": "manual",
        "collection_method": "charge_automatically",
        "created": 1234567890,
        "currency": "usd",
        "custom_fields": None,
        "customer": "cus_QXg1o8vcGmoR32",
        "customer_account": None,
        "customer_address": {
            "city": None,
            "country": None,
            "line1": None,
            "line2": None,
            "postal_code": None,
            "state": None,
        },
        "customer_email": None,
        "customer_name": None,
        "customer_phone": None,
        "customer_shipping": {},
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": 1234567890,
        "effective_at": 1234567890,
        "ending_balance": None,
        "footer": None,
        "from_invoice": {"action": "action", "invoice": "invoice"},
        "hosted_invoice_url": None,
        "id": "in_1Pgc6tB7WZ01zgkWu9fdqL6I",
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": {"type": "idempotency_error"},
        "latest_revision": None,
        "lines": {
            "data": [
                {
                    "amount": 1000,
                    "currency": "usd",
                    "description": "My First Invoice Item (created for API docs)",
                    "discount_amounts": [],
                    "discountable": True,
                    "discounts": [],
                    "id": "il_1Pgc6sB7WZ01zgkWFnxLrLCq",
                    "invoice": "in_1Pgc6tB7WZ01zgkWu9fdqL6I",
                    "livemode": False,
                    "metadata": {},
                    "object": "line_item",
                    "parent": {
                        "invoice_item_details": {
                            "invoice_item": "invoice_item",
                            "proration": True,
                            "proration_details": {
                                "credited_items": {
                                    "invoice": "invoice",
                                    "invoice_line_items": ["invoice_line_items"],
                                }
                            },
                            "subscription": None,
                        },
                        "subscription_item_details": {
                            "invoice_item": None,
                            "proration": True,
                            "proration_details": {
                                "credited_items": {
                                    "invoice": "invoice",
                                    "invoice_line_items": ["invoice_line_items"],
                                }
                            },
                            "subscription": "subscription",
                            "subscription_item": "subscription_item",
                        },
                        "type": "invoice_item_details",
                    },
                    "period": {"end": 1721954054, "start": 1721954054},
                    "pretax_credit_amounts": None,
                    "pricing": {"type": "price_details", "unit_amount_decimal": None},
                    "quantity": 1,
                    "quantity_decimal": None,
                    "subscription": None,
                    "subtotal": 2060319484,
                    "taxes": None,
                }
            ],
            "has_more": False,
            "object": "list",
            "url": "/v1/invoices/in_1Pgc6tB7WZ01zgkWu9fdqL6I/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": 1234567890,
        "number": None,
        "object": "invoice",
        "on_behalf_of": None,
        "parent": {
            "quote_details": {"quote": "quote"},
            "subscription_details": {"metadata": None, "subscription": "subscription"},
            "type": "quote_details",
        },
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": {
                "acss_debit": {},
                "bancontact": {"preferred_language": "fr"},
                "card": {"request_three_d_secure": None},
                "customer_balance": {"funding_type": None},
                "konbini": {},
                "payto": {},
                "pix": {"amount_includes_iof": None},
                "sepa_debit": {},
                "upi": {},
                "us_bank_account": {},
            },
            "payment_method_types": None,
        },
        "period_end": 1234567890,
        "period_start": 1234567890,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": {
            "amount_tax_display": None,
            "pdf": {"page_size": None},
            "template": None,
            "template_version": None,
        },
        "shipping_cost": {
            "amount_subtotal": 1555417355,
            "amount_tax": 1424534716,
            "amount_total": 1117121693,
            "shipping_rate": None,
        },
        "shipping_details": {},
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subscription": None,
        "subtotal": 1000,
        "subtotal_excluding_tax": 1000,
        "test_clock": None,
        "total": 1000,
        "total_discount_amounts": [],
        "total_excluding_tax": 1000,
        "total_pretax_credit_amounts": None,
        "total_taxes": None,
        "webhooks_delivered_at": 1234567890,
    },
    "invoiceitem": {
        "amount": 1000,
        "currency": "usd",
        "customer": "cus_QXg1o8vcGmoR32",
        "customer_account": None,
        "date": 1234567890,
        "description": "My First Invoice Item (created for API docs)",
        "discountable": True,
        "discounts": [],
        "id": "ii_1Pgc6sB7WZ01zgkWrG16hkdl",
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "net_amount": 708769478,
        "object": "invoiceitem",
        "parent": {
            "subscription_details": {"subscription": "subscription"},
            "type": "subscription_details",
        },
        "period": {"end": 1721954054, "start": 1721954054},
        "pricing": {"type": "price_details", "unit_amount_decimal": None},
        "proration": False,
        "quantity": 1,
        "quantity_decimal": "174352450",
        "tax_rates": [],
        "test_clock": None,
    },
    "line_item": {
        "amount": 1000,
        "currency": "usd",
        "description": "My First Invoice Item (created for API docs)",
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "id": "il_tmp_1Pgc6sB7WZ01zgkWrG16hkdl",
        "invoice": "in_1Pgc6tB7WZ01zgkWu9fdqL6I",
        "livemode": False,
        "metadata": {},
        "object": "line_item",
        "parent": {
            "invoice_item_details": {
                "invoice_item": "invoice_item",
                "proration": True,
                "proration_details": {
                    "credited_items": {
                        "invoice": "invoice",
                        "invoice_line_items": ["invoice_line_items"],
                    }
                },
                "subscription": None,
            },
            "subscription_item_details": {
                "invoice_item": None,
                "proration": True,
                "proration_details": {
                    "credited_items": {
                        "invoice": "invoice",
                        "invoice_line_items": ["invoice_line_items"],
                    }
                },
                "subscription": "subscription",
                "subscription_item": "subscription_item",
            },
            "type": "invoice_item_details",
        },
        "period": {"end": 1721954054, "start": 1721954054},
        "pretax_credit_amounts": None,
        "pricing": {"type": "price_details", "unit_amount_decimal": None},
        "quantity": 1,
        "quantity_decimal": None,
        "subscription": None,
        "subtotal": 2060319484,
        "taxes": None,
    },
}
