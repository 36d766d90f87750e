"""Does a request come from the partner it names? Pure rules, no records: the caller passes
the partner's record.

- **Organisation name**: the same name once case, accents, whitespace, punctuation and the
  legal form at the end are set aside (`organization_key`): `Nordlicht IT-Systemhaus GmbH`,
  `nordlicht it systemhaus` and `Nordlicht IT Systemhaus G.m.b.H.` are one name;
  `Nordlicht IT` is another.
- **Contact email**: its domain is one of the partner's domains or a subdomain of one
  (`partner_domains`): the domain of the partner's registered contact email and the host of
  its website (without `www.`). A public mailbox service (gmail.com, outlook.com, ...) is
  nobody's own domain: a partner registered with such an address is matched by that very
  address only.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# Legal forms set aside at the end of a name, as tokens after `_tokens` (dots dropped, so
# `S.A.` is `sa` and `S. A.` is `s a`; `&` reads `and`). The longest match is taken first,
# repeatedly: `GmbH & Co. KG` goes entirely.
_LEGAL_FORMS = """
    gmbh, mbh, ag, kg, kgaa, ohg, gbr, ug, haftungsbeschrankt, ev, e v, eg, se,
    co, and co, co kg, and co kg,
    ltd, limited, inc, incorporated, llc, l l c, llp, lp, plc, corp, corporation, company,
    pty, pte, pvt, private,
    sa, s a, sas, sasu, sarl, eurl, srl, s r l, spa, s p a, sl, s l, slu, ltda, sc,
    bv, b v, nv, n v, vof, ab, as, asa, aps, oy, oyj, ou, sro, s r o, sp z oo, doo, kft, zrt,
    kk, bhd, sdn bhd
"""
LEGAL_FORMS: tuple[tuple[str, ...], ...] = tuple(
    sorted({tuple(form.split()) for form in _LEGAL_FORMS.split(",")}, key=lambda f: (-len(f), f))
)

# Mailbox services anyone can get an address at: never a partner's own domain.
PUBLIC_MAIL_DOMAINS = frozenset(
    """
    gmail.com googlemail.com outlook.com hotmail.com live.com msn.com yahoo.com ymail.com
    icloud.com me.com mac.com aol.com gmx.de gmx.net gmx.com web.de t-online.de proton.me
    protonmail.com mail.com yandex.ru mail.ru qq.com 163.com zoho.com
    """.split()
)


def _tokens(name: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    text = re.sub(r"[.'’`´]", "", text).replace("&", " and ").replace("+", " and ")
    return re.findall(r"[^\W_]+", text)


def organization_key(name: str) -> str:
    """The name as compared: casefolded, accents, punctuation and the legal form at the end
    set aside, words joined by one space (`Nordlicht IT-Systemhaus GmbH` →
    `nordlicht it systemhaus`). A name that is only a legal form keeps it."""
    words = _tokens(name)
    stripped = True
    while stripped:
        stripped = False
        for form in LEGAL_FORMS:
            if len(words) > len(form) and tuple(words[-len(form) :]) == form:
                words = words[: -len(form)]
                stripped = True
                break
    return " ".join(words)


def same_organization(a: str, b: str) -> bool:
    """Whether two spellings name the same organisation (`organization_key` equal)."""
    return organization_key(a) == organization_key(b)


def _domain(value: str) -> str:
    domain = value.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def email_domain(email: str) -> str:
    """`Lena@Nordlicht.DE` → `nordlicht.de` (internationalised domains in ASCII form)."""
    return _domain(email.rpartition("@")[2])


def website_domain(website: str | None) -> str | None:
    """The host of a website without `www.`: `https://www.nordlicht.de/en` → `nordlicht.de`."""
    if not website or not website.strip():
        return None
    url = website.strip()
    host = urlsplit(url if "://" in url else f"//{url}").hostname
    if not host:
        return None
    domain = _domain(host)
    return domain.removeprefix("www.") if domain.count(".") > 1 else domain


def partner_domains(contact_email: str, website: str | None) -> list[str]:
    """The partner's own domains: its contact email's (unless a public mailbox service) and
    its website's, in that order, without repeats."""
    found = [email_domain(contact_email), website_domain(website)]
    own = [d for d in found if d and d not in PUBLIC_MAIL_DOMAINS]
    return list(dict.fromkeys(own))


def within(domain: str, parent: str) -> bool:
    """`domain` is `parent` or a subdomain of it (`mail.nordlicht.de` within `nordlicht.de`;
    `nordlicht.de.example.org` and `evilnordlicht.de` are not)."""
    return domain == parent or domain.endswith(f".{parent}")


def organization_mismatch(organization: str, partner_company: str) -> str | None:
    """Why `organization` is not the partner's name on record (None: it is)."""
    if same_organization(organization, partner_company):
        return None
    return (
        f"{organization!r} is not the partner's organisation name on record "
        f"({partner_company}); case, punctuation and legal forms such as GmbH, Ltd, Inc, LLC "
        "or S.A. do not matter"
    )


def email_mismatch(email: str, partner_contact_email: str, website: str | None) -> str | None:
    """Why `email` is not an address of the partner (None: it is): its domain must be one of
    `partner_domains` or a subdomain of one; the registered contact address itself always is."""
    if email.strip().lower() == partner_contact_email.strip().lower():
        return None
    domain = email_domain(email)
    domains = partner_domains(partner_contact_email, website)
    if any(within(domain, own) for own in domains):
        return None
    if not domains:
        public = email_domain(partner_contact_email)
        return (
            f"the domain {domain} is not the partner's: its records name no domain of its own "
            f"(no website, and {public} is a public mail service), so only its registered "
            "contact address may ask"
        )
    return f"the domain {domain} is not one of the partner's domains ({', '.join(domains)})"
