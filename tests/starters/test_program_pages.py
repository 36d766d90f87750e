"""Pages in their program's brand: a Rocket.Chat partner's sign page is Rocket.Chat's; pages
that belong to no Rocket.Chat workflow stay Mattermost's."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from models.settings import Settings
from starters.web.pages import page_brand, templates


def _request(settings: Settings) -> Any:
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(settings=settings)))


def _render(**context: Any) -> str:
    page = templates.env.get_template("message.html")
    return page.render(title="Thank you", message="Received.", **context)


def test_a_rocketchat_workflows_page_is_rocketchats(settings: Settings) -> None:
    brand = page_brand(_request(settings), "rc-onboarding-porto-chat")
    html = _render(brand=brand)
    assert brand.key == "rocketchat"
    assert "Thank you · Rocket.Chat</title>" in html and "--navy: #f5455c" in html
    assert "Rocket.Chat Partner Program · Questions? Write to sales@rocket.chat." in html
    assert "Mattermost" not in html


def test_other_pages_stay_mattermosts(settings: Settings) -> None:
    assert page_brand(_request(settings), "var-nordlicht-it").key == "mattermost"
    html = _render()
    assert "Thank you · Mattermost</title>" in html and "Rocket.Chat" not in html


def test_a_configured_logo_shows_in_the_header(settings: Settings) -> None:
    logo = settings.model_copy(update={"rc_logo_url": "https://rocket.chat/logo.svg"})
    html = _render(brand=page_brand(_request(logo), "rc-partnership-porto-chat"))
    assert '<img src="https://rocket.chat/logo.svg" alt="Rocket.Chat"' in html
