"""The public partner directory: published listings and their logos (records), and the VAR
application pre-screen (CLDR language data + embargo screening, recorded in history).

Writes are idempotent: a listing is upserted by (program, partner id), the same slug in
two programs being two partners, and only a newer `version` replaces it; a logo is
content-addressed (its id is a SHA-256 prefix of the file). A logo is kept once its listing
passed the page's or the webhook's checks, and served only while a published listing shows
it (`get_published_logo`).
"""

from __future__ import annotations

import json
from datetime import UTC

from sqlalchemy import Table, delete, exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio import activity

from activities.database import (
    execute_write,
    get_engine,
    require_aware,
    session_scope,
    upsert_statement,
)
from activities.errors import InvalidScreeningInput
from models.applications import PrescreenRequest, PrescreenResult, prescreen
from models.directory import (
    LogoError,
    LogoRef,
    PublishedListing,
    UnpublishRequest,
    logo_id_of,
    read_logo,
    unpublish_program,
)
from models.pricing import DiscountBounds
from models.programs import ProgramKey
from models.screening import screen
from models.settings import Settings
from models.tables import DirectoryListingRow, DirectoryLogoRow

KEY = ("program", "partner_id")  # a listing's primary key: listings are per program
LANGUAGE_SOURCE = (
    "Unicode CLDR territory languages (official and de-facto official), babel {version}"
)


def official_languages(country: str) -> tuple[str, ...]:
    """The country's official and de-facto official languages (CLDR, via babel)."""
    from babel.languages import get_official_languages

    return tuple(get_official_languages(country, de_facto=True))


class DirectoryActivities:
    """Directory listings and the VAR pre-screen, bound to one records database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url

    @activity.defn(name="publish_listing")
    def publish_listing(self, listing: PublishedListing) -> None:
        """Publish (or update) the partner's directory entry; an older version is ignored."""
        at = require_aware(listing.at, "PublishedListing.at")
        engine = get_engine(self.url)
        table: Table = DirectoryListingRow.__table__  # type: ignore[attr-defined]
        values = listing.model_dump(exclude={"territory", "industries", "at"}) | {
            "territory_json": json.dumps(listing.territory),
            "industries_json": json.dumps(listing.industries),
            "published_at": at,
            "updated_at": at,
        }
        stmt = upsert_statement(engine, table).values(**values)
        changed = [name for name in values if name not in KEY + ("published_at",)]
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[name] for name in KEY],
            set_={name: stmt.excluded[name] for name in changed},
            where=table.c.version <= stmt.excluded.version,
        )
        execute_write(engine, stmt)

    @activity.defn(name="unpublish_listing")
    def unpublish_listing(self, request: UnpublishRequest) -> bool:
        """Remove the partner's entry of its program from the public directory (idempotent);
        a listing of another program's partner with the same id stays."""
        engine = get_engine(self.url)
        table: Table = DirectoryListingRow.__table__  # type: ignore[attr-defined]
        mine = (table.c.program == unpublish_program(request)) & (
            table.c.partner_id == request.partner_id
        )
        with engine.begin() as conn:
            result = conn.execute(delete(table).where(mine))
        return bool(result.rowcount)

    @activity.defn(name="prescreen_application")
    def prescreen_application(self, request: PrescreenRequest) -> PrescreenResult:
        """Check a VAR application against the seed's criteria, each with its evidence; with
        the program's bounds of the reseller discount its approval agrees."""
        import babel

        application = request.application
        try:
            screening = screen(application.country, application.subdivision, request.review_date)
        except ValueError as exc:
            raise InvalidScreeningInput(str(exc)) from exc
        languages = official_languages(application.country)
        criteria = prescreen(application, request.review_date, languages, screening)
        return PrescreenResult(
            criteria=criteria,
            official_languages=list(languages),
            data_source=LANGUAGE_SOURCE.format(version=babel.__version__),
            discount_bounds=DiscountBounds(
                min_percent=self.settings.mattermost_discount_min_percent,
                max_percent=self.settings.mattermost_discount_max_percent,
            ),
        )


# --- used by the web pages -----------------------------------------------------------------------


def store_logo(settings: Settings, data: bytes) -> LogoRef:
    """Check the upload with Pillow (`read_logo`: `LogoError` says what is wrong) and keep
    it. Only for a listing whose other fields passed their checks."""
    return save_logo(settings, data, read_logo(data))


def save_logo(settings: Settings, data: bytes, logo: LogoRef) -> LogoRef:
    """Keep a logo `read_logo` accepted (`logo` is what it answered for `data`), once the
    listing it belongs to passed its checks; storing the same file again is a no-op."""
    if logo.logo_id != logo_id_of(data):
        raise ValueError(f"logo {logo.logo_id} is not the file given")
    row = DirectoryLogoRow(
        logo_id=logo.logo_id,
        content_type=logo.content_type,
        width=logo.width,
        height=logo.height,
        size_bytes=len(data),
        content=data,
    )
    try:
        with session_scope(settings.resolved_database_url) as session:
            if session.get(DirectoryLogoRow, logo.logo_id) is None:
                session.add(row)
    except IntegrityError:  # stored concurrently: the same file
        pass
    return logo


def get_logo(settings: Settings, logo_id: str) -> DirectoryLogoRow | None:
    """The stored logo (bytes and type), published or not, or None."""
    with session_scope(settings.resolved_database_url) as session:
        return session.get(DirectoryLogoRow, logo_id)


def get_published_logo(settings: Settings, logo_id: str) -> DirectoryLogoRow | None:
    """The stored logo while a published listing shows it, else None: a logo only uploaded,
    under review, refused, replaced by a newer version or removed with its listing is not
    public."""
    shown = exists().where(col(DirectoryListingRow.logo_id) == col(DirectoryLogoRow.logo_id))
    with session_scope(settings.resolved_database_url) as session:
        query = select(DirectoryLogoRow).where(DirectoryLogoRow.logo_id == logo_id, shown)
        return session.exec(query).first()


def list_listings(
    settings: Settings,
    country: str | None = None,
    partner_type: str | None = None,
    program: ProgramKey | None = None,
) -> list[PublishedListing]:
    """The public directory, by name; filtered by country, partner type (the page's
    "program": VAR, SI) and the vendor's program (`mattermost`, `rocketchat`)."""
    with session_scope(settings.resolved_database_url) as session:
        query = select(DirectoryListingRow)
        if program:
            query = query.where(DirectoryListingRow.program == program)
        if country:
            query = query.where(DirectoryListingRow.country == country.upper())
        if partner_type:
            query = query.where(DirectoryListingRow.partner_type == partner_type)
        return [_listing(row) for row in session.exec(query.order_by(DirectoryListingRow.name))]


def get_listing(
    settings: Settings, program: ProgramKey, partner_id: str
) -> PublishedListing | None:
    """The program's partner's published listing, or None when not in the directory."""
    with session_scope(settings.resolved_database_url) as session:
        row = session.get(DirectoryListingRow, {"program": program, "partner_id": partner_id})
        return _listing(row) if row else None


def _listing(row: DirectoryListingRow) -> PublishedListing:
    data = row.model_dump(
        exclude={"territory_json", "industries_json", "published_at", "updated_at"}
    )
    at = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return PublishedListing(
        **data,
        territory=json.loads(row.territory_json),
        industries=json.loads(row.industries_json),
        at=at,
    )


__all__ = [
    "DirectoryActivities",
    "LogoError",
    "get_listing",
    "get_logo",
    "get_published_logo",
    "list_listings",
    "official_languages",
    "save_logo",
    "store_logo",
]
