"""Is a request the partner's own? The organisation name and the contact email's domain
against the partner record (`models.partner_identity`), and the evaluation license's check
built on them (`models.applications.evaluation_check`)."""

from __future__ import annotations

from typing import Any

import pytest

from models.applications import EVALUATION_EXAMPLE, EvaluationLicenseForm, evaluation_check
from models.contracts import PartnerRecord
from models.partner_identity import (
    email_mismatch,
    organization_key,
    organization_mismatch,
    partner_domains,
    same_organization,
    website_domain,
    within,
)
from tests.factories import partner_record


@pytest.mark.parametrize(
    "spelling",
    [
        "Nordlicht IT-Systemhaus GmbH",
        "nordlicht it systemhaus",
        "  NORDLICHT   IT Systemhaus, G.m.b.H. ",
        "Nordlicht IT-Systemhaus GmbH & Co. KG",
        "Nordlicht IT–Systemhaus Ltd.",
        "Nordlicht IT/Systemhaus Inc",
        "Nordlicht IT Systemhaus LLC",
        "Nordlicht IT Systemhaus S.A.",
        "Nordlicht IT Systemhaus S. A.",
        "Nordlicht IT Systemhaus UG (haftungsbeschränkt)",
    ],
)
def test_organisation_spellings_that_match(spelling: str) -> None:
    assert organization_key(spelling) == "nordlicht it systemhaus"
    assert same_organization(spelling, "Nordlicht IT-Systemhaus GmbH")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Nordlicht IT", "Nordlicht IT-Systemhaus GmbH"),
        ("Nordlicht Systemhaus GmbH", "Nordlicht IT-Systemhaus GmbH"),
        ("Südlicht IT-Systemhaus GmbH", "Nordlicht IT-Systemhaus GmbH"),
        ("GmbH", "AG"),  # a name that is only a legal form keeps it
    ],
)
def test_organisation_names_that_differ(a: str, b: str) -> None:
    assert not same_organization(a, b)


def test_accents_apostrophes_and_ampersands() -> None:
    assert same_organization("Société Générale S.A.", "societe generale")
    assert same_organization("O’Neil & Partners Ltd", "ONeil and Partners")
    assert organization_key("GmbH") == "gmbh"


def test_organisation_mismatch_names_the_record_and_what_does_not_matter() -> None:
    assert organization_mismatch("nordlicht it-systemhaus", "Nordlicht IT-Systemhaus GmbH") is None
    why = organization_mismatch("Example Ltd", "Nordlicht IT-Systemhaus GmbH")
    assert why is not None
    assert "'Example Ltd' is not the partner's organisation name on record" in why
    assert "(Nordlicht IT-Systemhaus GmbH)" in why and "GmbH, Ltd, Inc, LLC" in why


def test_domains_of_the_partner() -> None:
    assert website_domain("https://www.Nordlicht.DE/en/") == "nordlicht.de"
    assert website_domain("nordlicht.de") == "nordlicht.de"
    assert website_domain(None) is None and website_domain(" ") is None
    assert partner_domains("lena@nordlicht.de", "https://www.nordlicht.de") == ["nordlicht.de"]
    assert partner_domains("lena@nordlicht.de", "https://nordlicht-it.com") == [
        "nordlicht.de",
        "nordlicht-it.com",
    ]
    assert partner_domains("lena@gmail.com", None) == []  # a public mail service is no one's


@pytest.mark.parametrize(
    ("domain", "parent", "expected"),
    [
        ("nordlicht.de", "nordlicht.de", True),
        ("mail.nordlicht.de", "nordlicht.de", True),
        ("evilnordlicht.de", "nordlicht.de", False),
        ("nordlicht.de.example.org", "nordlicht.de", False),
        ("de", "nordlicht.de", False),
    ],
)
def test_subdomains(domain: str, parent: str, expected: bool) -> None:
    assert within(domain, parent) is expected


def test_contact_email_must_be_at_a_partner_domain() -> None:
    record = ("lena@nordlicht.de", "https://www.nordlicht-it.com")
    assert email_mismatch("jonas@nordlicht.de", *record) is None
    assert email_mismatch("Jonas@Sales.Nordlicht.DE", *record) is None
    assert email_mismatch("jonas@nordlicht-it.com", *record) is None
    assert email_mismatch("jonas@example.org", *record) == (
        "the domain example.org is not one of the partner's domains "
        "(nordlicht.de, nordlicht-it.com)"
    )


def test_a_public_mail_contact_matches_only_itself() -> None:
    assert email_mismatch("Lena@gmail.com", "lena@gmail.com", None) is None
    why = email_mismatch("mallory@gmail.com", "lena@gmail.com", None)
    assert why is not None and "no domain of its own" in why and "gmail.com" in why
    assert email_mismatch("mallory@gmail.com", "lena@gmail.com", "https://nordlicht.de") == (
        "the domain gmail.com is not one of the partner's domains (nordlicht.de)"
    )


def _partner(**changes: Any) -> PartnerRecord:
    # As the var-application example makes it: its contact is at example.com.
    return partner_record(
        "nordlicht-it", **{"contact_email": "lena.hoffmann@example.com", **changes}
    )


def _form(**changes: Any) -> EvaluationLicenseForm:
    return EvaluationLicenseForm.model_validate({**EVALUATION_EXAMPLE, **changes})


def test_the_published_example_matches_the_var_application_example_partner() -> None:
    check = evaluation_check(_form(), _partner())
    assert check.problems == [] and check.refusal is None
    assert check.partner_type == "value_added_reseller"


def test_evaluation_check_names_each_field_and_why() -> None:
    check = evaluation_check(
        _form(
            organization_name="Example Ltd [RESELLER]",
            contact={"name": "M", "email": "m@example.org"},
        ),
        _partner(contact_email="lena@nordlicht.de", website="https://nordlicht.de"),
    )
    assert [p.field for p in check.problems] == ["organization_name", "contact.email"]
    assert check.refusal is not None and check.refusal.startswith(
        "organization_name: 'Example Ltd' is not the partner's organisation name on record"
    )
    assert check.refusal.endswith(
        "contact.email: the domain example.org is not one of the partner's domains (nordlicht.de)"
    )
    unknown = evaluation_check(_form(), None)
    assert [p.field for p in unknown.problems] == ["partner_id"]
    assert "not in the certified-reseller records" in (unknown.refusal or "")
