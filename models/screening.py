"""Embargo screening: no business with customers in US-embargoed countries and regions.

Rules are data: `models/data/embargoes.json` (dated, versioned, sources in
`models/data/README.md`). An entry is a country (ISO 3166-1 alpha-2, e.g. `CU`) or a region
(ISO 3166-2, e.g. `UA-43`) and applies on dates `since <= on < until`. `screen` is pure; the
`screen_party` activity wraps it so the outcome and the data version land in history.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import pycountry
from pydantic import BaseModel, ConfigDict

from models.contracts import ScreeningResult

DATA_PATH = Path(__file__).resolve().parent / "data" / "embargoes.json"


class Embargo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: str
    program: str
    since: date
    until: date | None = None
    source: str

    def applies_on(self, on: date) -> bool:
        """True when the program is in force on `on` (`until` is exclusive)."""
        return self.since <= on and (self.until is None or on < self.until)


class EmbargoData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    as_of: date
    scope: str = ""
    entries: tuple[Embargo, ...]


@lru_cache(maxsize=8)
def load_embargoes(path: Path = DATA_PATH) -> EmbargoData:
    """The embargo data file, parsed and validated (cached per path)."""
    return EmbargoData.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


def _country(code: str) -> str:
    code = (code or "").strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"unknown ISO 3166-1 alpha-2 country code {code!r}")
    return code


@lru_cache(maxsize=1)
def _subdivision_codes() -> frozenset[str]:
    return frozenset(subdivision.code for subdivision in pycountry.subdivisions)


def _subdivision(country: str, code: str | None) -> str | None:
    if not code or not code.strip():
        return None
    code = code.strip().upper()
    if "-" not in code:  # "43" given with country "UA"
        code = f"{country}-{code}"
    if code not in _subdivision_codes():
        raise ValueError(f"unknown ISO 3166-2 subdivision code {code!r}")
    return code


def screen(
    country: str, subdivision: str | None, on: date, data: EmbargoData | None = None
) -> ScreeningResult:
    """Screen a party located in `country` (and `subdivision`, ISO 3166-2) on day `on`.

    Refused when the country, or the region named by the subdivision, is under a
    comprehensive US embargo that day. Codes are case-insensitive; a bare subdivision
    ("43") is read within `country`, and a region code given as the country ("UA-43")
    is read as that region. A subdivision of another country (a Crimean address
    given as country RU, subdivision UA-43) is still screened as that region.
    Raises ValueError for an unknown country or subdivision code.
    """
    data = data or load_embargoes()
    if "-" in (country or "") and not subdivision:  # "UA-43" given as the country
        subdivision, country = country, country.split("-", 1)[0]
    cc = _country(country)
    sub = _subdivision(cc, subdivision)
    if isinstance(on, datetime):  # an aware datetime counts by its UTC date
        on = (on.astimezone(UTC) if on.tzinfo else on).date()
    for entry in data.entries:
        if entry.code.upper() in {cc, sub} and entry.applies_on(on):
            label = entry.name if "-" not in entry.code else f"{entry.name} ({entry.code})"
            return ScreeningResult(
                allowed=False,
                reason=f"{label} is under a comprehensive US embargo ({entry.program})",
                program=entry.program,
                data_version=data.version,
            )
    return ScreeningResult(allowed=True, data_version=data.version)
