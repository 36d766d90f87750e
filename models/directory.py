"""The partner directory listing (seed: "Partner Directory"): name (may be abbreviated),
a 30–100-word description, city, state/province, country, website URL and a logo at least
200 px wide. VAR listings show their reseller territory.

`check_logo` reads the image with Pillow (pure: bytes in, facts or a clear error out): PNG or
JPEG only, recognised by their signature before Pillow sees the file and opened with that one
decoder; at most `MAX_LOGO_BYTES` and `MAX_LOGO_PIXELS` (from the header, before anything is
decoded); then decoded in full, so a damaged or truncated file is refused too.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import uuid
import warnings
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, HttpUrl, field_validator

from models.contracts import COUNTRY_CODES, Contact, Contract
from models.programs import ProgramKey, program_of_workflow_id

MIN_WORDS, MAX_WORDS = 30, 100
MIN_LOGO_WIDTH = 200
# One limit on every path: the listing page's upload, and the `directory-listing` webhook's
# base64, whose request body limit (`LISTING_FORM_MAX_BYTES`) is sized to carry it.
MAX_LOGO_BYTES = 2 * 1024 * 1024
MAX_LOGO_BASE64_CHARS = 4 * -(-MAX_LOGO_BYTES // 3)  # 2,796,204: that limit in base64
LISTING_FORM_MAX_BYTES = MAX_LOGO_BASE64_CHARS + 64 * 1024  # the logo and the listing's fields
# The pixels a logo may have, read from its header before anything is decoded. A directory
# logo needs far fewer; decoding 16 megapixels takes at most 64 MB (4 bytes a pixel), and the
# cap is well below Pillow's own decompression-bomb limits (`Image.MAX_IMAGE_PIXELS`).
MAX_LOGO_PIXELS = 16_000_000
# The formats decoded, recognised by their signature: no other Pillow decoder sees a logo.
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
ALLOWED_LOGOS = "PNG or JPEG"
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"))
# Image formats refused by name (never given to Pillow).
_REFUSED_SIGNATURES = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
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
    """The upload is not a logo we take: its size, format, pixels, content or width."""


class LogoRef(Contract):
    """A stored logo, as checked with Pillow."""

    logo_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="SHA-256 prefix of the file")
    content_type: str
    width: int = Field(ge=MIN_LOGO_WIDTH, description=f"pixels; at least {MIN_LOGO_WIDTH}")
    height: int = Field(gt=0)


def logo_format(data: bytes) -> str:
    """`PNG` or `JPEG`, from the file's signature; `LogoError` otherwise, naming the format
    when it is another image format. Nothing is decoded."""
    for signature, fmt in _SIGNATURES:
        if data.startswith(signature):
            return fmt
    refused = next((fmt for sig, fmt in _REFUSED_SIGNATURES if data.startswith(sig)), None)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        refused = "WebP"
    if refused:
        raise LogoError(f"the logo is a {refused} image; only {ALLOWED_LOGOS} logos are accepted")
    raise LogoError(
        f"the logo is not an image we can read: only {ALLOWED_LOGOS} logos are accepted"
    )


def check_logo(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of an acceptable logo, else `LogoError` saying why:
    empty or over `MAX_LOGO_BYTES`; not PNG or JPEG by its signature; more than
    `MAX_LOGO_PIXELS` or narrower than `MIN_LOGO_WIDTH` by its header (nothing decoded yet:
    Pillow's decompression-bomb error and warning are the same refusal); damaged or truncated
    (the image is then decoded in full, with that one decoder)."""
    from PIL import Image

    if not data:
        raise LogoError("the logo file is empty")
    if len(data) > MAX_LOGO_BYTES:
        raise LogoError(
            f"the logo file is {len(data):,} bytes; the limit is {MAX_LOGO_BYTES:,} bytes (2 MiB)"
        )
    fmt = logo_format(data)
    try:
        # The warning as an error too. `warnings` is process-wide, so a check in another
        # thread may restore the filters meanwhile: the pixel cap, far below Pillow's
        # warning limit, refuses those images all the same.
        with warnings.catch_warnings(action="error", category=Image.DecompressionBombWarning):
            width, height = _read_image(data, fmt)
    except LogoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LogoError(
            f"the logo's header claims too many pixels, refused as a decompression bomb "
            f"({exc}); a logo may have at most {MAX_LOGO_PIXELS / 1e6:g} megapixels"
        ) from exc
    except Exception as exc:  # any decoder's failure: truncated, damaged, not what it claims
        reason = str(exc)[:200] or type(exc).__name__
        raise LogoError(
            f"the logo is not a {fmt} image we can read: it is damaged or truncated ({reason})"
        ) from exc
    return LOGO_FORMATS[fmt], width, height


def _read_image(data: bytes, fmt: str) -> tuple[int, int]:
    """The size from the header, checked before decoding; then the file verified and
    decoded with the one decoder of `fmt`."""
    from PIL import Image

    with Image.open(io.BytesIO(data), formats=[fmt]) as image:
        width, height = image.size
        if width * height > MAX_LOGO_PIXELS:
            raise LogoError(
                f"the logo is {width:,} x {height:,} pixels ({width * height / 1e6:.1f} "
                f"megapixels); a logo may have at most {MAX_LOGO_PIXELS / 1e6:g} megapixels"
            )
        if width < MIN_LOGO_WIDTH:
            raise LogoError(
                f"the logo is {width} px wide; it must be at least {MIN_LOGO_WIDTH} px wide"
            )
        image.verify()
    with Image.open(io.BytesIO(data), formats=[fmt]) as image:
        image.load()
    return width, height


def logo_id_of(data: bytes) -> str:
    """The id of a logo file: a SHA-256 prefix of its bytes (content-addressed)."""
    return hashlib.sha256(data).hexdigest()[:32]


def read_logo(data: bytes) -> LogoRef:
    """The logo's facts (`check_logo`) and id; `LogoError` saying what is wrong."""
    content_type, width, height = check_logo(data)
    return LogoRef(logo_id=logo_id_of(data), content_type=content_type, width=width, height=height)


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
EXAMPLE_LOGO_ID = logo_id_of(EXAMPLE_LOGO_BYTES)
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
        max_length=MAX_LOGO_BASE64_CHARS,
        description=(
            f"The logo file, base64: {ALLOWED_LOGOS}, at least {MIN_LOGO_WIDTH} px wide, at "
            f"most {MAX_LOGO_PIXELS / 1e6:g} megapixels and {MAX_LOGO_BYTES:,} bytes (2 MiB, "
            f"{MAX_LOGO_BASE64_CHARS:,} characters in base64); the whole request body at most "
            f"{LISTING_FORM_MAX_BYTES:,} bytes"
        ),
    )

    @field_validator("logo_base64", mode="before")
    @classmethod
    def _logo_size(cls, value: Any) -> Any:
        """Past the limit, a refusal that says it in bytes (before pydantic's length error)."""
        if isinstance(value, str) and len(value) > MAX_LOGO_BASE64_CHARS:
            raise ValueError(
                f"the logo is larger than {MAX_LOGO_BYTES:,} bytes (2 MiB): {len(value):,} "
                f"base64 characters, the limit is {MAX_LOGO_BASE64_CHARS:,}"
            )
        return value


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
    """Remove one program's listing of the partner. `program` None (requests from before
    listings were per program): the program of the requesting workflow (`workflow_id`)."""

    partner_id: str
    workflow_id: str
    program: ProgramKey | None = None
    reason: str
    at: datetime


def unpublish_program(request: UnpublishRequest) -> ProgramKey:
    """The program whose listing `request` removes."""
    return request.program or program_of_workflow_id(request.workflow_id)


def fresh_listing(example: dict[str, Any]) -> dict[str, Any]:
    example["partner_id"] = f"{example['partner_id']}-{uuid.uuid4().hex[:8]}"
    return example
