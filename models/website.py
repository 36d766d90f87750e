"""What a partner's web page shows: the pure matcher behind the website check.

`page_text` keeps what a visitor sees (text outside script, style and template elements) and
what describes it (alt, title and aria-label attributes, links to rocket.chat); `match_page`
looks there for the terms a `WebCheckRequest` asks for. No I/O: the activity fetches the page
and calls these; tests call them directly.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from pydantic import Field

from models.contracts import Contract

HIDDEN = frozenset({"script", "style", "template"})
DESCRIBING = ("alt", "title", "aria-label")
BRAND_HOSTS = ("rocket.chat",)


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self.hidden += 1
            return
        values = dict(attrs)
        self.parts += [v for k in DESCRIBING if (v := values.get(k))]
        href = values.get("href")
        if tag == "a" and href:
            host = (urlsplit(href.strip()).hostname or "").lower().rstrip(".")
            if any(host == h or host.endswith("." + h) for h in BRAND_HOSTS):
                self.parts.append(href)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HIDDEN:  # `<script/>` opens nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def normalize(text: str) -> str:
    """Lower case, dashes as spaces, runs of whitespace as one space."""
    text = re.sub(r"[\u2010-\u2015\-]", " ", text.lower())
    return " ".join(text.split())


def page_text(markup: str) -> str:
    """The page's visible text and describing attributes, normalized (see `normalize`)."""
    parser = _Visible()
    parser.feed(markup)
    parser.close()
    return normalize(" ".join(parser.parts))


def _shows(text: str, term: str) -> bool:
    """`term` appears in normalized `text` as whole words ("VAR" is not in "various")."""
    needle = normalize(term)
    pattern = rf"(?<![a-z0-9]){re.escape(needle)}(?![a-z0-9])"
    return bool(needle) and re.search(pattern, text) is not None


class Requirement(Contract):
    """One thing the page must show: `label`, named by any of `terms`."""

    label: str
    terms: list[str] = Field(default_factory=list)


class PageMatch(Contract):
    found: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    ok: bool = False


def match_page(
    markup: str,
    brand: list[str],
    partnership_type: Requirement | None = None,
    services: list[Requirement] | None = None,
) -> PageMatch:
    """Does the page name Rocket.Chat (any of `brand`), the partnership type and at least one
    of `services`? `found` lists what it shows ("Rocket.Chat", "partnership type: …",
    "service: …"), `missing` what it lacks; a requirement not asked for (no type, no services)
    is not checked."""
    text = page_text(markup)
    found: list[str] = []
    missing: list[str] = []
    (found if any(_shows(text, t) for t in brand) else missing).append("Rocket.Chat")
    if partnership_type is not None:
        terms = partnership_type.terms or [partnership_type.label]
        item = f"partnership type: {partnership_type.label}"
        (found if any(_shows(text, t) for t in terms) else missing).append(item)
    if services:
        shown = [s for s in services if any(_shows(text, t) for t in (s.terms or [s.label]))]
        found += [f"service: {s.label}" for s in shown]
        if not shown:
            missing.append("a service: " + " or ".join(s.label for s in services))
    return PageMatch(found=found, missing=missing, ok=not missing)
