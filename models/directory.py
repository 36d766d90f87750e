"""The partner directory listing (seed: "Partner Directory"): name (may be abbreviated),
a 30–100-word description, city, state/province, country, website URL and a logo at least
200 px wide. VAR listings show their reseller territory.

`check_logo` reads the image with Pillow (pure: bytes in, facts or a clear error out).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, HttpUrl, field_validator

from models.contracts import COUNTRY_CODES, Contact, Contract

MIN_WORDS, MAX_WORDS = 30, 100
MIN_LOGO_WIDTH = 200
MAX_LOGO_BYTES = 2 * 1024 * 1024
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
_WORD = re.compile(r"\S+")


def count_words(text: str) -> int:
    """Words as a reader counts them: runs of non-space characters with a letter or digit."""
    return sum(1 for token in _WORD.findall(text) if any(ch.isalnum() for ch in token))


def _description(value: str) -> str:
    words = count_words(value)
    if words < MIN_WORDS or words > MAX_WORDS:
        raise ValueError(
            f"the description has {words} words; it must have {MIN_WORDS} to {MAX_WORDS} words"
        )
    return value


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in COUNTRY_CODES:
        raise ValueError(f"unknown ISO 3166-1 alpha-2 country code {value!r}")
    return code


class LogoError(ValueError):
    """The upload is not an image, or the image is too narrow."""


class LogoRef(Contract):
    """A stored logo, as checked with Pillow."""

    logo_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="SHA-256 prefix of the file")
    content_type: str
    width: int = Field(ge=MIN_LOGO_WIDTH, description=f"pixels; at least {MIN_LOGO_WIDTH}")
    height: int = Field(gt=0)


def check_logo(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of an acceptable logo, else `LogoError` saying why."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise LogoError("the logo file is empty")
    if len(data) > MAX_LOGO_BYTES:
        raise LogoError(
            f"the logo file is {len(data):,} bytes; the limit is {MAX_LOGO_BYTES:,} bytes"
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height) = image.format or "", image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise LogoError("the logo is not an image we can read (PNG, JPEG, GIF or WebP)") from exc
    if fmt not in LOGO_FORMATS:
        raise LogoError(
            f"the logo is a {fmt or 'unknown'} image; please upload PNG, JPEG, GIF or WebP"
        )
    if width < MIN_LOGO_WIDTH:
        raise LogoError(
            f"the logo is {width} px wide; it must be at least {MIN_LOGO_WIDTH} px wide"
        )
    return LOGO_FORMATS[fmt], width, height


class ListingFields(Contract):
    """What the partner writes for the directory."""

    name: str = Field(
        min_length=1, max_length=120, description="Partner name; the legal name may be abbreviated"
    )
    description: str = Field(
        min_length=1,
        max_length=2000,
        description=f"{MIN_WORDS}–{MAX_WORDS} words about the business",
    )
    city: str = Field(min_length=1, max_length=100)
    state: str | None = Field(default=None, max_length=100, description="State or province")
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    website: HttpUrl

    _description = field_validator("description")(_description)
    _country = field_validator("country")(_country)


class ListingSubmission(ListingFields):
    """`submit_listing`: the listing with its stored logo (sent by the listing page or the
    `directory-listing` webhook form after the logo is checked and stored)."""

    partner_id: str = Field(min_length=1, max_length=64)
    logo: LogoRef


LISTING_DESCRIPTION = (
    "Nordlicht IT-Systemhaus GmbH deploys, hosts and supports Mattermost Enterprise for "
    "public-sector and manufacturing customers in Germany, Austria and Switzerland. Our "
    "certified team provides first- and second-tier support in German and English, "
    "migrations from legacy chat tools, and integrations with GitLab and Jira."
)

# A 240 x 80 white PNG (base64), so the published example passes the logo check.
EXAMPLE_LOGO_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAPAAAABQCAIAAACoK28rAAAArUlEQVR42u3SAQ0AAAjDMMC/5+PjaSUs2yQDLU4C"
    "DA2GBkODoTE0GBoMDYYGQ2NoMDQYGgwNhsbQYGgwNBgaDI2hwdBgaDA0GBpDg6HB0GBoMDSGBkODocHQYGgMDYYG"
    "Q4OhMTQYGgwNhgZDY2gwNBgaDA2GxtBgaDA0GBoMjaHB0GBoMDQYGkODocHQYGgwNIYGQ4OhwdBgaAwNhgZDg6HB"
    "0BgaDA2GBkNjaOjwu/4Dndp7VhYAAAAASUVORK5CYII="
)

EXAMPLE_LOGO_BYTES = base64.b64decode(EXAMPLE_LOGO_BASE64)
EXAMPLE_LOGO_ID = hashlib.sha256(EXAMPLE_LOGO_BYTES).hexdigest()[:32]
EXAMPLE_LOGO = {"logo_id": EXAMPLE_LOGO_ID, "content_type": "image/png", "width": 240, "height": 80}

LISTING_EXAMPLE: dict[str, Any] = {
    "partner_id": "nordlicht-it",
    "name": "Nordlicht IT",
    "description": LISTING_DESCRIPTION,
    "city": "Berlin",
    "state": "Berlin",
    "country": "DE",
    "website": "https://nordlicht-it.example.com",
    "logo_filename": "nordlicht.png",
    "logo_base64": EXAMPLE_LOGO_BASE64,
}


class ListingForm(ListingFields):
    """The `directory-listing` webhook form: the listing with the logo file in base64."""

    model_config = ConfigDict(
        title="ListingForm", json_schema_extra={"examples": [LISTING_EXAMPLE]}
    )

    partner_id: str = Field(
        min_length=1,
        max_length=64,
        description="The partner: the listing process is `directory-{partner_id}`",
    )
    logo_filename: str | None = Field(default=None, max_length=200)
    logo_base64: str = Field(
        min_length=1,
        max_length=3 * 1024 * 1024,
        description=(
            f"The logo file (PNG, JPEG, GIF or WebP, at least {MIN_LOGO_WIDTH} px wide), base64"
        ),
    )


class ListingReview(Contract):
    """`review_listing`: the reviewer approves the listing or asks for changes."""

    reviewer: str = Field(min_length=1, max_length=200)
    decision: Literal["approve", "request_changes"]
    comments: str | None = Field(
        default=None, max_length=4000, description="Required when asking for changes"
    )


class DirectoryListingInput(Contract):
    """Started for every partner with a signed agreement (by VarApplication and
    SystemIntegratorApplication) under the id `directory-{partner_id}`."""

    partner_id: str = Field(min_length=1, max_length=64)
    program: Literal["mattermost"] = "mattermost"
    partner_type: Literal["value_added_reseller", "system_integrator", "authorized_reseller"]
    company: str
    contact: Contact
    territory: list[str] = Field(
        default_factory=list, description="VAR territory (ISO countries), shown in the listing"
    )
    industries: list[str] = Field(default_factory=list)
    city: str | None = None
    country: str | None = None
    website: str | None = None
    # Carried over by continue-as-new: the listing as published, and its version.
    published: ListingSubmission | None = None
    published_version: int = 0
    max_reviews_per_run: int = Field(
        default=25,
        gt=0,
        description=(
            "Continue as new (carrying the published listing) after this many reviews, "
            "so the history stays bounded"
        ),
    )


class DirectoryListingResult(Contract):
    partner_id: str
    outcome: Literal["removed"]
    reason: str
    versions_published: int = 0


class PublishedListing(Contract):
    """One entry of the public directory (the records' published listing)."""

    partner_id: str
    workflow_id: str
    program: str
    partner_type: str
    name: str
    description: str
    city: str
    state: str | None = None
    country: str
    website: str
    logo_id: str
    logo_content_type: str
    territory: list[str] = Field(default_factory=list)
    industries: list[str] = Field(default_factory=list)
    version: int = 1
    at: datetime


class UnpublishRequest(Contract):
    partner_id: str
    workflow_id: str
    reason: str
    at: datetime


def fresh_listing(example: dict[str, Any]) -> dict[str, Any]:
    example["partner_id"] = f"{example['partner_id']}-{uuid.uuid4().hex[:8]}"
    return example
