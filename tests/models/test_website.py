"""The website matcher (`models.website.match_page`) on pages written here, no HTTP: what a
partner's page must show (Rocket.Chat, the partnership type, a service) and where it counts."""

from __future__ import annotations

from models.rocketchat import website_request
from models.website import match_page, page_text

TECH = website_request("https://p.example/", "technology_provider", ["installation", "bots"])


def match(markup: str, request=TECH):  # type: ignore[no-untyped-def]
    return match_page(markup, request.terms, request.partnership_type, request.services)


def test_everything_found() -> None:
    result = match(
        "<h1>Partners</h1><p>We are an official <b>Rocket.Chat</b>\n  TECHNOLOGY\tprovider: "
        "installation services and bots.</p>"
    )
    assert result.ok and result.missing == []
    assert result.found == [
        "Rocket.Chat",
        "partnership type: Technology Provider",
        "service: Installation services",
        "service: Bots",
    ]


def test_type_missing() -> None:
    result = match("<p>Rocket.Chat partner: we offer installation services.</p>")
    assert not result.ok
    assert result.missing == ["partnership type: Technology Provider"]
    assert result.found == ["Rocket.Chat", "service: Installation services"]


def test_no_service() -> None:
    result = match("<p>Rocket.Chat Technology Provider. We also sell sandwiches.</p>")
    assert not result.ok
    assert result.missing == ["a service: Installation services or Bots"]


def test_rocketchat_only_in_a_script_or_style_is_missing() -> None:
    result = match(
        "<script>var partner = 'Rocket.Chat';</script><style>.rocketchat{}</style>"
        "<p>Technology Provider: installation.</p>"
    )
    assert not result.ok and result.missing == ["Rocket.Chat"]


def test_found_in_an_image_alt_title_or_a_link_to_rocketchat() -> None:
    page = "<img src='/badge.svg' alt='Rocket.Chat partner badge'> Technology Provider, bots"
    assert match(page).ok
    link = "<a href='https://www.rocket.chat/partners'>our partner</a> Technology Provider, bots"
    assert match(link).ok
    assert match("<span title='Rocket.Chat'>RC</span> Technology Provider, bots").ok
    # a link elsewhere that only mentions rocket.chat in its query does not count
    assert (
        "Rocket.Chat"
        in match(
            "<a href='https://evil.example/?rocket.chat'>x</a> Technology Provider, bots"
        ).missing
    )


def test_synonyms_dashes_and_whole_words() -> None:
    var = website_request("https://p.example/", "value_added", ["premium_resale"])
    assert match("<p>Rocket.Chat Value-Added Reseller of Rocket.Chat Premium</p>", var).ok
    various = match("<p>Rocket.Chat: various Rocket.Chat Premium offers</p>", var)
    assert various.missing == ["partnership type: Value Added Partner"]
    hosting = website_request("https://p.example/", "hosting", ["private_cloud_hosting"])
    assert match("<p>Rocket.Chat hosting partner &ndash; private cloud</p>", hosting).ok


def test_a_request_without_type_or_services_checks_rocketchat_only() -> None:
    request = website_request("https://p.example/", "hosting", [])
    old = request.model_copy(update={"partnership_type": None})
    assert match("<p>Rocket.Chat</p>", old).ok


def test_page_text_keeps_visible_text_and_entities() -> None:
    assert page_text("<p>Rocket&#46;Chat&nbsp;&amp; friends</p><script>x</script>") == (
        "rocket.chat & friends"
    )
