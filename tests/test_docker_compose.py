"""`docker-compose.yml` agrees with the settings, the Dockerfile and itself.

Parsed, not run (CI has no Docker daemon): every variable handed to Partnerflow is a setting
it reads, secrets are never written into the file, and the addresses, ports, users and
database names wire the services to each other.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from pydantic import SecretStr

from models.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
APP_SERVICES = [name for name, svc in SERVICES.items() if "build" in svc]
ALIASES = {field.alias: field for field in Settings.model_fields.values() if field.alias}
SECRET_SETTINGS = {
    alias
    for alias, field in ALIASES.items()
    if SecretStr in getattr(field.annotation, "__args__", ())
}
REFERENCE = re.compile(r"^\$\{(?P<var>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}(?P<rest>.*)$")


def env(service: str) -> dict[str, str]:
    return {key: str(value) for key, value in SERVICES[service].get("environment", {}).items()}


def default_of(value: str) -> str:
    """`${VAR:-default}rest` -> `defaultrest`, `${VAR:?message}rest` -> `rest`; a plain
    value is itself."""
    match = REFERENCE.match(value)
    if not match:
        return value
    default = match["arg"] if (match["op"] or "").endswith("-") else ""
    return (default or "") + match["rest"]


OPERATOR: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.operator.yml").read_text())


def published(service: str, compose: dict[str, Any] = COMPOSE) -> dict[int, tuple[str, int]]:
    """container port -> (host address, host port); the address is "" for all interfaces."""
    ports = {}
    for entry in compose["services"].get(service, {}).get("ports", []):
        parts = str(entry).split(":")
        address = parts[0] if len(parts) == 3 else ""
        host, container = (parts[-2], parts[-1]) if len(parts) > 1 else (parts[0], parts[0])
        ports[int(container)] = (address, int(host))
    return ports


def internal_ports(service: str) -> set[int]:
    return {int(port) for port in SERVICES[service].get("expose", [])}


def test_only_the_web_service_is_published() -> None:
    """Temporal's frontend and UI bypass every check of the web service: never on the host's
    interfaces by default."""
    assert {name for name in SERVICES if published(name)} == {"web"}


def test_the_operator_override_publishes_temporal_on_loopback_only() -> None:
    assert set(OPERATOR["services"]) == {"temporal", "temporal-ui"}
    for name in OPERATOR["services"]:
        ports = published(name, OPERATOR)
        assert ports and all(address == "127.0.0.1" for address, _ in ports.values()), name
        assert set(ports) <= internal_ports(name), name


def test_app_services_run_the_partnerflow_commands() -> None:
    assert sorted(APP_SERVICES) == ["web", "worker"]
    assert SERVICES["worker"]["command"] == ["partnerflow", "worker"]
    assert SERVICES["web"]["command"] == ["partnerflow", "web"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_variable_is_a_setting(service: str) -> None:
    unknown = set(env(service)) - set(ALIASES)
    assert unknown == set(), f"{service} passes variables Partnerflow never reads"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_secrets_come_from_the_environment_never_from_the_file(service: str) -> None:
    variables = env(service)
    for name in SECRET_SETTINGS & set(variables):
        match = REFERENCE.match(variables[name])
        assert match and match["var"] == name and not default_of(variables[name]), (
            f"{name} must be ${{{name}:?...}} or ${{{name}:-}}: no value in the file"
        )
    assert "PARTNERFLOW_WEBHOOK_SECRET" in variables and "PARTNERFLOW_LINK_SECRET" in variables
    assert "PARTNERFLOW_SESSION_SECRET" in variables, (
        "without it each replica signs its own sessions"
    )
    assert variables["LICENSE_SIGNING_KEY_PATH"].startswith("/run/secrets/")
    assert "license_signing_key" in SERVICES[service]["secrets"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_values_parse_as_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env(service).items():
        if default_of(value) or name in SECRET_SETTINGS:  # an unset secret: any value
            monkeypatch.setenv(name, default_of(value) or "x")
    Settings(_env_file=None)  # raises on a value of the wrong type or choice


def test_temporal_address_reaches_the_temporal_service() -> None:
    for service in [*APP_SERVICES, "temporal-ui"]:
        host, port = env(service)["TEMPORAL_ADDRESS"].rsplit(":", 1)
        assert host == "temporal" and int(port) in internal_ports("temporal"), service
    assert all(
        service in SERVICES[app]["depends_on"]
        for app in APP_SERVICES
        for service in ("temporal", "postgres")
    )


def test_records_database_is_the_postgres_service() -> None:
    url = urlparse(
        env("worker")["DATABASE_URL"].replace("${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}", "pw")
    )
    postgres = env("postgres")
    assert (url.scheme, url.hostname, url.port) == ("postgresql", "postgres", 5432)
    assert url.username == postgres["POSTGRES_USER"] and url.path == f"/{postgres['POSTGRES_DB']}"
    assert env("temporal")["POSTGRES_SEEDS"] == "postgres"
    assert SERVICES["postgres"]["image"].startswith("postgres:15")


def test_web_port_and_public_urls() -> None:
    web = env("web")
    assert web["PARTNERFLOW_WEB_HOST"] == "0.0.0.0"
    port = int(web["PARTNERFLOW_WEB_PORT"])
    assert published("web") == {port: ("", port)}
    ui = urlparse(default_of(web["TEMPORAL_UI_URL"]))  # the UI as the operator override serves it
    assert ("127.0.0.1" if ui.hostname == "localhost" else ui.hostname, ui.port) in published(
        "temporal-ui", OPERATOR
    ).values()
    assert default_of(web["PARTNERFLOW_CODEC_CORS_ORIGIN"]) == default_of(web["TEMPORAL_UI_URL"])
    codec = env("temporal-ui")["TEMPORAL_CODEC_ENDPOINT"]
    assert codec.endswith("/codec") and default_of(codec).startswith(
        default_of(web["PUBLIC_BASE_URL"])
    )


def test_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        if "image" in service:
            image, _, tag = service["image"].partition(":")
            assert tag and tag != "latest", f"{name}: pin {image} to a version"


def test_dockerfile_ships_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile, f"the image lacks {package}/"
