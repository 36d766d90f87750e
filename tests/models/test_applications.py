"""Pure rules of partner applications and the directory: the VAR pre-screen criteria with
their evidence, the forms' validation, the listing rules (words, logo with Pillow), and the
email wording."""

from __future__ import annotations

import base64
import io
from datetime import date

import pytest
from PIL import Image
from pydantic import ValidationError

from activities.directory import official_languages
from models.applications import (
    EVALUATION_EXAMPLE,
    SI_APPLICATION_EXAMPLE,
    VAR_APPLICATION_EXAMPLE,
    ApplicationReview,
    EvaluationLicenseForm,
    PartnerLeft,
    SiApplicationForm,
    VarApplicationForm,
    check_local_language,
    check_operating_history,
    evaluation_refusal,
    prescreen,
    slug,
    years_between,
)
from models.contracts import PartnerRecord, ScreeningResult
from models.directory import (
    EXAMPLE_LOGO_BASE64,
    LISTING_EXAMPLE,
    ListingForm,
    LogoError,
    check_logo,
    count_words,
)
from models.notices import KINDS, notice

ALLOWED = ScreeningResult(allowed=True, data_version="test")
REVIEW_DAY = date(2026, 11, 23)


def var(**changes: object) -> VarApplicationForm:
    return VarApplicationForm.model_validate({**VAR_APPLICATION_EXAMPLE, **changes})


def image(width: int, height: int = 50, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, fmt)
    return buffer.getvalue()


def test_all_criteria_pass_for_the_example_with_evidence() -> None:
    criteria = prescreen(var(), REVIEW_DAY, ("de",), ALLOWED)
    assert [(c.name, c.passed) for c in criteria] == [
        ("existing_customer", True),
        ("operating_history", True),
        ("local_language_support", True),
        ("embargo", True),
    ]
    assert "Hanse Logistik AG" in criteria[0].evidence and "11 full year(s)" in criteria[1].evidence


@pytest.mark.parametrize(
    ("founded", "passed"), [("2024-11-23", True), ("2024-11-24", False), ("2026-12-01", False)]
)
def test_two_years_of_operating_history_at_the_review_date(founded: str, passed: bool) -> None:
    assert check_operating_history(var(founded_on=founded), REVIEW_DAY).passed is passed


def test_leap_day_founding_counts_whole_years() -> None:
    assert years_between(date(2024, 2, 29), date(2026, 2, 28)) == 1
    assert years_between(date(2024, 2, 29), date(2026, 3, 1)) == 2


def test_local_language_rule_uses_cldr_official_languages() -> None:
    assert official_languages("DE") == ("de",)
    assert (
        "en" in official_languages("IE")
        and "en" in official_languages("US")
        and "en" in official_languages("IN")
    )
    assert "en" not in official_languages("FR") and "en" not in official_languages("JP")
    french = var(
        country="FR", first_tier_support_languages=["fr"], second_tier_support_languages=["en"]
    )
    result = check_local_language(french, official_languages("FR"))
    assert (
        not result.passed
        and "second-tier" in result.evidence
        and "first-tier" not in result.evidence
    )
    swiss = var(
        country="CH", first_tier_support_languages=["it"], second_tier_support_languages=["fr"]
    )
    assert check_local_language(swiss, official_languages("CH")).passed
    assert check_local_language(
        var(
            country="SG", first_tier_support_languages=["en"], second_tier_support_languages=["en"]
        ),
        official_languages("SG"),
    ).passed


def test_missing_customer_and_embargo_fail_with_evidence() -> None:
    embargoed = ScreeningResult(
        allowed=False,
        reason="Cuba is under a comprehensive US embargo",
        program="CACR",
        data_version="v1",
    )
    criteria = {
        c.name: c for c in prescreen(var(existing_customer="  "), REVIEW_DAY, ("de",), embargoed)
    }
    assert not criteria["existing_customer"].passed and not criteria["embargo"].passed
    assert "Cuba" in criteria["embargo"].evidence


def test_var_form_validation_names_the_fields() -> None:
    with pytest.raises(ValidationError) as exc:
        var(
            country="XX",
            territory=["DE", "ZZ"],
            first_tier_support_languages=["klingon"],
            website="nordlicht",
        )
    fields = {str(e["loc"][0]) for e in exc.value.errors()}
    assert fields == {"country", "territory", "first_tier_support_languages", "website"}
    assert (
        var(partner_id=None).resolved_partner_id
        == slug("Nordlicht IT-Systemhaus GmbH")
        == "nordlicht-it-systemhaus-gmbh"
    )
    assert (
        SiApplicationForm.model_validate(SI_APPLICATION_EXAMPLE).resolved_partner_id
        == "fjord-integrations"
    )


def test_review_decisions_need_their_text() -> None:
    with pytest.raises(ValidationError, match="rejection needs a reason"):
        ApplicationReview(reviewer="a", decision="reject")
    with pytest.raises(ValidationError, match="needs the questions"):
        ApplicationReview(reviewer="a", decision="request_information")
    with pytest.raises(ValidationError):
        PartnerLeft.model_validate({"reason": "x"})


def test_evaluation_form_suffix_and_other() -> None:
    form = EvaluationLicenseForm.model_validate(EVALUATION_EXAMPLE)
    assert form.company == "Nordlicht IT-Systemhaus GmbH"
    for changes, field in [
        ({"organization_name": "Nordlicht GmbH"}, "organization_name"),
        ({"organization_name": "[RESELLER]"}, "organization_name"),
        ({"where_are_you_with_mattermost": "Evaluating"}, "where_are_you_with_mattermost"),
    ]:
        with pytest.raises(ValidationError) as exc:
            EvaluationLicenseForm.model_validate({**EVALUATION_EXAMPLE, **changes})
        assert [e["loc"][0] for e in exc.value.errors()] == [field]


def test_only_active_var_and_si_partners_get_evaluation_licenses() -> None:
    def record(
        partner_type: str, status: str = "active", program: str = "mattermost"
    ) -> PartnerRecord:
        return PartnerRecord(
            partner_id="p",
            program=program,
            partner_type=partner_type,
            company="C",
            country="DE",
            contact_name="N",
            contact_email="n@example.com",
            status=status,
            at="2026-11-23T00:00:00Z",
        )  # type: ignore[arg-type]

    assert evaluation_refusal(record("value_added_reseller"), "p") is None
    assert evaluation_refusal(record("system_integrator"), "p") is None
    assert "not in the certified-reseller records" in (evaluation_refusal(None, "p") or "")
    assert "not an active partner" in (
        evaluation_refusal(record("value_added_reseller", "applicant"), "p") or ""
    )
    assert evaluation_refusal(record("authorized_reseller"), "p") and evaluation_refusal(
        record("hosting", program="rocketchat"), "p"
    )


def test_description_words_are_counted_with_a_clear_error() -> None:
    assert count_words("One two — three, four!") == 4
    ListingForm.model_validate(LISTING_EXAMPLE)
    for words in (29, 101):
        with pytest.raises(
            ValidationError, match=f"has {words} words; it must have 30 to 100 words"
        ):
            ListingForm.model_validate(
                {**LISTING_EXAMPLE, "description": " ".join(["word"] * words)}
            )
    for words in (30, 100):
        ListingForm.model_validate({**LISTING_EXAMPLE, "description": " ".join(["word"] * words)})


def test_logo_is_checked_with_pillow() -> None:
    assert check_logo(base64.b64decode(EXAMPLE_LOGO_BASE64)) == ("image/png", 240, 80)
    assert check_logo(image(200, fmt="JPEG")) == ("image/jpeg", 200, 50)
    with pytest.raises(LogoError, match="199 px wide; it must be at least 200 px wide"):
        check_logo(image(199))
    with pytest.raises(LogoError, match="not an image"):
        check_logo(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(LogoError, match="empty"):
        check_logo(b"")
    with pytest.raises(LogoError, match="BMP"):
        check_logo(image(300, fmt="BMP"))


def test_every_notice_kind_has_words() -> None:
    context = {
        "company": "C",
        "contact_name": "N",
        "program": "P",
        "application_id": "A",
        "reasons": ["r"],
        "questions": "q",
        "expires_at": "2026-12-01T00:00:00+00:00",
        "partner_type": "System Integrator",
        "benefits": ["b"],
        "partner_id": "p",
        "comments": "c",
        "name": "n",
        "reason": "r",
        "license_id": "l",
        "users": 50,
        "starts_at": "2026-11-23",
        "days": 30,
    }
    for kind in KINDS:
        rendered = notice(kind, context)
        assert rendered["headline"] and rendered["paragraphs"] and rendered["kind"] == kind
    with pytest.raises(KeyError):
        notice("nope", context)
