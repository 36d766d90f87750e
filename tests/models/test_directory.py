"""The logo check (`check_logo`): only PNG and JPEG reach Pillow, each with its one decoder; a
file whose header claims too many pixels (a decompression bomb) and a damaged or truncated
file are a `LogoError` naming the reason; the byte limit is the same in bytes and in the
webhook form's base64."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from models.directory import (
    LISTING_EXAMPLE,
    MAX_LOGO_BASE64_CHARS,
    MAX_LOGO_BYTES,
    ListingForm,
    LogoError,
    check_logo,
)
from tests.logos import bomb_png, image, png, png_of_size, truncated_png


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The `formats` of every `Image.open` call."""
    calls: list[Any] = []
    real_open = Image.open

    def spy(fp: Any, mode: str = "r", formats: Any = None) -> Any:
        calls.append(formats)
        return real_open(fp, mode, formats)

    monkeypatch.setattr(Image, "open", spy)
    return calls


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_other_image_formats_are_refused_by_name_before_pillow_reads_them(
    fmt: str, opened: list[Any]
) -> None:
    name = {"WEBP": "WebP"}.get(fmt, fmt)
    with pytest.raises(LogoError, match=f"is a {name} image; only PNG or JPEG logos"):
        check_logo(image(300, fmt=fmt))
    assert opened == []


def test_png_and_jpeg_are_opened_with_their_own_decoder_only(opened: list[Any]) -> None:
    assert check_logo(png(240, 60)) == ("image/png", 240, 60)
    assert check_logo(image(200, 50, fmt="JPEG")) == ("image/jpeg", 200, 50)
    assert opened and {tuple(formats) for formats in opened} == {("PNG",), ("JPEG",)}


@pytest.mark.parametrize(
    ("width", "height", "reason"),
    [
        (20_000, 20_000, "refused as a decompression bomb"),  # Pillow's bomb error
        (10_000, 10_000, "refused as a decompression bomb"),  # Pillow's bomb warning
        (5_000, 4_000, r"5,000 x 4,000 pixels \(20.0 megapixels\)"),  # under Pillow's limits
    ],
)
def test_a_header_claiming_too_many_pixels_is_refused_unread(
    width: int, height: int, reason: str
) -> None:
    bomb = bomb_png(width, height)
    assert len(bomb) < 1024
    with pytest.raises(LogoError, match=reason) as refused:
        check_logo(bomb)
    assert "a logo may have at most 16 megapixels" in str(refused.value)


def test_a_damaged_or_truncated_logo_is_refused() -> None:
    with pytest.raises(LogoError, match="not a PNG image we can read: it is damaged or truncated"):
        check_logo(truncated_png())
    jpeg = image(300, 100, fmt="JPEG")
    with pytest.raises(LogoError, match="not a JPEG image we can read: it is damaged"):
        check_logo(jpeg[: len(jpeg) // 2])
    with pytest.raises(LogoError, match="not an image we can read: only PNG or JPEG"):
        check_logo(b"<svg xmlns='http://www.w3.org/2000/svg'/>")


def test_the_logo_limit_is_the_same_in_bytes_and_in_base64() -> None:
    assert check_logo(png_of_size(MAX_LOGO_BYTES))[0] == "image/png"
    with pytest.raises(LogoError, match="2,097,153 bytes; the limit is 2,097,152 bytes"):
        check_logo(png_of_size(MAX_LOGO_BYTES + 1))
    largest = base64.b64encode(b"\0" * MAX_LOGO_BYTES).decode()
    assert len(largest) == MAX_LOGO_BASE64_CHARS
    ListingForm.model_validate({**LISTING_EXAMPLE, "logo_base64": largest})
    with pytest.raises(ValidationError, match="larger than 2,097,152 bytes") as refused:
        ListingForm.model_validate({**LISTING_EXAMPLE, "logo_base64": largest + "AAAA"})
    assert refused.value.errors()[0]["loc"] == ("logo_base64",)
    schema = ListingForm.model_json_schema()["properties"]["logo_base64"]
    assert (
        schema["maxLength"] == MAX_LOGO_BASE64_CHARS
        and "2,097,152 bytes" in (schema["description"])
    )
