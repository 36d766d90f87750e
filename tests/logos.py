"""Logo files for the tests: PNG and JPEG logos, a PNG of an exact size, other image formats,
a decompression bomb (a few hundred bytes whose header claims a huge image) and a truncated
PNG. A fresh `salt` (a private PNG chunk) makes a file no other test stored."""

from __future__ import annotations

import io
import os
import struct
import zlib

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def image(width: int = 240, height: int = 60, fmt: str = "PNG", color: str = "navy") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, fmt)
    return buffer.getvalue()


def png(width: int = 240, height: int = 60, *, salt: bytes | None = None) -> bytes:
    """A PNG logo; with a `salt` (default: random) no other test has the same file."""
    data = image(width, height)
    salt = os.urandom(8) if salt is None else salt
    return data[:33] + chunk(b"slTa", salt) + data[33:] if salt else data


def png_of_size(size: int, width: int = 240, height: int = 60) -> bytes:
    """A valid PNG logo of exactly `size` bytes (padded with a private ancillary chunk,
    which decoders skip), unique to the call."""
    base = png(width, height)
    padding = size - len(base) - 12
    assert padding >= 0, f"{size} bytes is smaller than a {width} x {height} PNG"
    return base[:33] + chunk(b"paDd", b"\0" * padding) + base[33:]


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A decompression bomb: a 1-bit grey PNG whose header claims `width` x `height` pixels,
    a few hundred bytes on disk (its one data chunk holds a few rows: never decoded)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + (width + 7) // 8) * 4, 9)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def truncated_png(width: int = 240, height: int = 60) -> bytes:
    """A PNG logo cut short in its image data (a partial upload)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, "PNG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]
