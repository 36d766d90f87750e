"""`partnerflow`: run the stack, start processes, list and complete human tasks, follow
invoices, read the outbox, verify license files.

Each command imports what it needs when it runs, so `partnerflow --help` and the quick
commands do not load the worker, the web service or the records database."""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from models.settings import get_settings
from workers.process_exit import exit_now

if TYPE_CHECKING:
    from temporalio.client import Client

app = typer.Typer(no_args_is_help=True, help=__doc__)
license_app = typer.Typer(no_args_is_help=True, help="Enterprise license files.")
app.add_typer(license_app, name="license")
console = Console(soft_wrap=True)

INVOICE_STAGES = (
    "draft",
    "open",
    "overdue",
    "paid",
    "void",
    "uncollectible",
)  # = starters.finance.INVOICE_STAGES


@app.command()
def run() -> None:
    """Run Temporal's dev server, the worker and the web service (Ctrl-C stops all)."""
    from starters.devstack import main

    main(get_settings())


@app.command()
def worker() -> None:
    """Run a worker against the configured Temporal (production: one per replica)."""
    from workers.main import main

    main()


@app.command()
def web(
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's: warning hides access"),
) -> None:
    """Run the web service (webhooks and pages) against the configured Temporal."""
    import uvicorn

    from activities.database import migrate
    from starters.web.app import create_app

    settings = get_settings()
    migrate(settings.resolved_database_url)  # pages, sessions and intake read the records
    # "auto" takes uvloop and httptools (installed with the project) and falls back to
    # asyncio and h11 where they are not available.
    uvicorn.run(
        create_app(settings),
        host=settings.web_host,
        port=settings.web_port,
        loop="auto",
        http="auto",
        log_level=log_level,
    )


@app.command()
def forms() -> None:
    """List the forms that start processes."""
    from models.forms import FORMS

    for name, spec in FORMS.items():
        console.print(f"[bold]{name}[/bold] → {spec.workflow_type}: {spec.title}")


@app.command()
def start(
    form: str = typer.Argument(..., help="Form name, e.g. order"),
    file: Path | None = typer.Option(None, "--file", "-f", help="JSON submission"),
    example: bool = typer.Option(False, "--example", help="Use the form's example with fresh ids"),
    overrides: list[str] = typer.Option(
        [],
        "--set",
        help="Override a field: dotted.path=JSON or text, e.g. --set partner_id=acme-it",
    ),
) -> None:
    """Start a process from a form submission, exactly as the webhook would."""
    from models.forms import FORMS
    from starters.intake import submit_form

    if (file is None) == (not example):
        raise typer.BadParameter("give either --file or --example")
    if example:
        if form not in FORMS:
            _fail(f"unknown form {form!r}; forms: {', '.join(FORMS)}")
        payload = FORMS[form].fresh_example()
    else:
        payload = json.loads(file.read_text())  # type: ignore[union-attr]
    for override in overrides:
        try:
            apply_override(payload, override)
        except ValueError as exc:
            _fail(str(exc))

    async def go() -> Any:
        settings = get_settings()
        return await submit_form(await _client(), settings, form, payload)

    result = asyncio.run(go())
    console.print_json(data=result.body)
    if result.status_code >= 400:
        raise typer.Exit(1)
    workflow_id = result.body["workflow_id"]
    settings = get_settings()
    ui = f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}"
    console.print(f"Temporal UI: {ui}/workflows/{workflow_id}")


@app.command("seed-example")
def seed_example(
    form: str = typer.Argument("order", help="The form whose example to prepare"),
) -> None:
    """Record what a form's published example needs (for `order`: the active, trained VAR
    nordlicht-it with 20% agreed and its approved deal registration DR-2026-000123); records
    already there are kept. For a dev stack, never production."""
    if form != "order":
        _fail(f"only the order example needs records seeded, not {form!r}")
    from starters.order_prerequisites import seed_order_example

    done = seed_order_example(get_settings())
    console.print("recorded: " + "; ".join(done) if done else "already recorded")


def apply_override(payload: dict[str, Any], override: str) -> None:
    """Set `a.b.c=value` in a submission; the value is JSON when it parses, else text."""
    path, sep, raw = override.partition("=")
    if not sep or not path:
        raise ValueError(f"--set wants path=value, got {override!r}")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    *parents, last = path.split(".")
    target: Any = payload
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


@app.command()
def tasks(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    assignee: str | None = typer.Option(None, help="Only tasks for this role or person's address"),
) -> None:
    """Every pending human task across all running workflows."""
    rows = asyncio.run(_collect_tasks(assignee))
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        console.print("No pending tasks.")
    for row in rows:
        due = f", due {_short_time(row['due_at'])} UTC" if row["due_at"] else ""
        flag = " [red]escalated[/red]" if row.get("escalated") else ""
        person = f" {row['assigned_to']}" if row.get("assigned_to") else ""
        console.print(
            f"[bold]{row['workflow_id']}[/bold]  {row['task']}  "
            f"({row['assignee']}{person}{due}){flag}"
        )
        console.print(f"  {row['description']}", highlight=False)
        if row["command"]:
            console.print(f"  {row['command']}", style="cyan", highlight=False, markup=False)
        else:
            console.print(
                "  (the workflow did not answer its pending_tasks query; "
                "listed from search attributes)"
            )


async def _collect_tasks(assignee: str | None) -> list[dict[str, Any]]:
    """The task inbox's rows (the same as `/tasks`), for one role or all."""
    from starters.task_inbox import collect_tasks

    inbox = await collect_tasks(await _client())
    return [
        row.to_json()
        for row in inbox.rows
        if not assignee or assignee in (row.assignee, row.assigned_to)
    ]


@app.command()
def act(
    workflow_id: str = typer.Argument(..., help="e.g. order-PO-1001"),
    handler: str = typer.Argument(..., help="The update named by the task (pending_tasks)"),
    input: str = typer.Option("{}", "--input", "-i", help="JSON input (the task's example)"),
    wait: float = typer.Option(
        5.0,
        "--wait",
        envvar="PARTNERFLOW_ACT_WAIT",
        help="Seconds to wait for a worker to take the update",
    ),
) -> None:
    """Complete a human task: execute the update HANDLER with JSON input and print the
    answer (the decision, the new stage, the next task). Exit 0 accepted, 2 rejected (the
    reason is printed, nothing was recorded), 1 no worker answered within --wait seconds."""
    try:
        payload = json.loads(input)
    except json.JSONDecodeError as exc:
        _fail(f"--input is not JSON: {exc}")
    code, answer = asyncio.run(_act(workflow_id, handler, payload, wait))
    if isinstance(answer, dict):
        console.print_json(data=answer)
    else:
        console.print(answer, highlight=False, markup=False)
    if code:
        raise typer.Exit(code)


async def _act(
    workflow_id: str, handler: str, payload: Any, wait: float
) -> tuple[int, dict[str, Any] | str]:
    """Execute the update: (0, the answer), (2, the rejection) or (1, why there is none)."""
    from datetime import timedelta

    from starters.task_updates import complete_task

    outcome = await complete_task(
        await _client(), workflow_id, handler, payload, wait=timedelta(seconds=wait)
    )
    if outcome.result is not None:
        return 0, outcome.result.model_dump(mode="json")
    if outcome.status == "rejected":
        return 2, f"rejected: {outcome.message}"
    if outcome.status == "unanswered":
        return 1, (
            f"{outcome.message}. Is the worker running (`make run`, `partnerflow worker`)? "
            "Try again, or give it longer with --wait."
        )
    return 1, outcome.message


@app.command()
def invoices(
    stage: str | None = typer.Option(None, help="/".join(INVOICE_STAGES)),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Invoices by stage, from the InvoiceStage search attribute."""
    if stage and stage not in INVOICE_STAGES:
        _fail(f"unknown stage {stage!r}; one of {', '.join(INVOICE_STAGES)}")
    rows = asyncio.run(_list_invoices(stage))
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table("workflow", "invoice", "stage", "amount due", "due")
    for row in rows:
        table.add_row(
            row["workflow_id"],
            row["invoice_number"] or "",
            row["stage"],
            f"{row['amount_due_cents'] / 100:,.2f}",
            _short_time(row["due_at"]),
        )
    console.print(table if rows else "No invoices.")


async def _list_invoices(stage: str | None) -> list[dict[str, Any]]:
    # A deal or resale mirrors its child order's invoice: starters.finance lists it once,
    # under the workflow that owns it (the same list as the finance board).
    from starters.finance import list_invoices

    return [invoice.to_json() for invoice in await list_invoices(await _client(), stage)]


@app.command()
def outbox(
    as_json: bool = typer.Option(False, "--json"),
    workflow_id: str | None = typer.Option(None, "--workflow", help="Only this workflow's emails"),
    limit: int = typer.Option(50),
) -> None:
    """Emails sent by the local outbox (and the SendGrid send log), newest first."""
    from activities.database import migrate
    from activities.email.records import list_outbox

    settings = get_settings()
    migrate(settings.resolved_database_url)
    rows = list_outbox(settings, limit=limit, workflow_id=workflow_id)
    if as_json:
        typer.echo(
            json.dumps([r.model_dump(exclude={"html_body"}) for r in rows], indent=2, default=str)
        )
        return
    if not rows:
        console.print("The outbox is empty.")
    for r in rows:
        when = _short_time(r.sent_at or r.created_at)
        console.print(f"{when}  [bold]{r.workflow_id}[/bold]  {r.step}  [{r.status}]")
        console.print(f"  to {r.to_addrs}: {r.subject}", highlight=False, markup=False)
        if r.eml_path:
            console.print(f"  {r.eml_path}", style="dim", highlight=False)


@license_app.command("verify")
def license_verify(
    file: Path = typer.Argument(..., exists=True, readable=True),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="PEM; default: the dev key in .data/"
    ),
) -> None:
    """Check a license file's Ed25519 signature and its dates, offline."""
    from activities.licenses import load_public_key, verify_license

    settings = get_settings()
    key_path = public_key or settings.resolved_license_key_path.with_suffix(".pub")
    result = verify_license(file.read_text(), load_public_key(key_path))
    console.print_json(data=result.model_dump(mode="json"))
    if not result.valid:
        raise typer.Exit(1)


@app.command()
def schedules(as_json: bool = typer.Option(False, "--json")) -> None:
    """Set up the Temporal Schedules of the Rocket.Chat quarterly reviews (one per active
    partner)."""
    from starters.schedules import sync_from_records

    async def _sync() -> list[Any]:
        return await sync_from_records(await _client(), get_settings())

    results = asyncio.run(_sync())
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results], indent=2))
        return
    table = Table("schedule", "partner", "action", "months", "day", "note")
    for r in results:
        table.add_row(
            r.schedule_id,
            r.partner_id,
            r.action,
            ",".join(map(str, r.months)),
            str(r.day_of_month or ""),
            r.note or "",
        )
    console.print(table if results else "No Rocket.Chat partners.")


async def _client() -> Client:
    from workers.client import connect

    settings = get_settings()
    try:
        return await connect(settings)
    except Exception as exc:
        _fail(
            f"cannot reach Temporal at {settings.temporal_address}: {exc} (is `make run` running?)"
        )


def _short_time(value: Any) -> str:
    if value is None:
        return ""
    when: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


# --- payload encryption --------------------------------------------------------------------

codec_app = typer.Typer(no_args_is_help=True, help="Payload encryption and the codec server.")
app.add_typer(codec_app, name="codec")


@codec_app.command("keygen")
def codec_keygen() -> None:
    """Print a fresh payload key for PARTNERFLOW_PAYLOAD_KEY (base64 of 32 random bytes)."""
    from models.settings import new_payload_key

    typer.echo(new_payload_key())


@codec_app.command("token")
def codec_token(
    days: int | None = typer.Option(
        None, min=1, max=365, help="Valid this many days (default PARTNERFLOW_CODEC_TOKEN_DAYS)"
    ),
) -> None:
    """Print a codec server bearer token (secret; it expires), e.g. for
    `temporal ... --codec-endpoint URL/codec --codec-auth "Bearer $(partnerflow codec token)"`."""
    from starters.web.codec import CodecTokensOff
    from starters.web.codec import codec_token as token_of

    try:
        typer.echo(token_of(get_settings(), days=days))
    except CodecTokensOff as exc:
        _fail(str(exc))


# --- operators (login of the internal pages) --------------------------------------------------
operator_app = typer.Typer(
    no_args_is_help=True, help="Operators of the internal pages (task inbox, finance board)."
)
app.add_typer(operator_app, name="operator")


@operator_app.command("hash")
def operator_hash(
    name: str | None = typer.Argument(None, help="Operator name, e.g. finance or anna.schmidt"),
) -> None:
    """Ask for a password twice and print the `name:pbkdf2_sha256$...` entry for
    PARTNERFLOW_OPERATORS (entries are separated by `;`)."""
    from starters.web.operators import MIN_PASSWORD_LENGTH, NAME_PATTERN, hash_password

    name = (name or typer.prompt("Operator name")).strip()
    if not NAME_PATTERN.match(name):
        _fail(f"{name!r} is not a valid operator name (letters, digits and . _ @ + -, at most 64)")
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD_LENGTH:
        _fail(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    typer.echo(f"{name}:{hash_password(password)}")
    typer.echo("Add it to PARTNERFLOW_OPERATORS (several entries: separated by ';').", err=True)


portal_app = typer.Typer(no_args_is_help=True, help="Partner portal contacts (who may sign in).")
app.add_typer(portal_app, name="portal")
PROGRAMS = ("mattermost", "rocketchat")


def _contact_args(program: str, email: str) -> str:
    from models.portal import normalize_email

    if program not in PROGRAMS:
        _fail(f"unknown program {program!r}: one of {', '.join(PROGRAMS)}")
    address = normalize_email(email)
    if address is None:
        _fail(f"{email!r} is not an email address")
    return address


@portal_app.command("add")
def portal_add(
    program: str = typer.Argument(..., help="mattermost or rocketchat"),
    partner_id: str = typer.Argument(...),
    email: str = typer.Argument(..., help="The contact's work address"),
    name: str = typer.Option("", "--name"),
    by: str = typer.Option(..., "--by", help="Who allows it (recorded)"),
) -> None:
    """Let a person sign in to the portal for a partner (besides the record's contact)."""
    from activities.database import migrate
    from activities.portal_access import add_contact, partner_row
    from models.portal import PortalIdentity

    settings = get_settings()
    migrate(settings.resolved_database_url)
    address = _contact_args(program, email)
    if partner_row(settings, PortalIdentity(program, partner_id, address)) is None:  # type: ignore[arg-type]
        _fail(f"no {program} partner {partner_id!r} on record")
    add_contact(settings, program, partner_id, address, name=name, by=by)
    console.print(f"{address} may sign in for {program} partner {partner_id}")


@portal_app.command("remove")
def portal_remove(
    program: str = typer.Argument(...),
    partner_id: str = typer.Argument(...),
    email: str = typer.Argument(...),
    by: str = typer.Option(..., "--by", help="Who removes it (recorded)"),
) -> None:
    """Stop a contact signing in for a partner; its open sessions end at once."""
    from activities.portal_access import remove_contact

    address = _contact_args(program, email)
    if not remove_contact(get_settings(), program, partner_id, address, by=by):
        _fail(f"{address} is not a contact added for {program} partner {partner_id}")
    console.print(f"{address} removed; its portal sessions are ended")


@portal_app.command("contacts")
def portal_contacts(
    program: str = typer.Argument(...),
    partner_id: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The contacts added for a partner (removed ones too, with who and when)."""
    from activities.portal_access import list_contacts

    _contact_args(program, "x@example.com")
    rows = [r.model_dump(mode="json") for r in list_contacts(get_settings(), program, partner_id)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        state = f"removed {r['removed_at']} by {r['removed_by']}" if r["removed_at"] else "active"
        console.print(f"{r['email']}  {r['name']}  added by {r['added_by']}  {state}")


# --- the console script ----------------------------------------------------------------------


def main() -> None:
    """The `partnerflow` console script: run the command, then end the process without the
    interpreter's teardown (`workers.process_exit`), so a finished command exits 0."""
    code = 0
    try:
        app()
    except SystemExit as exc:
        if isinstance(exc.code, int):
            code = exc.code
        elif exc.code is not None:
            print(exc.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    exit_now(code)
