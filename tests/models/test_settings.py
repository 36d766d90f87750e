"""Configuration comes from the environment; dev secrets are generated once, never in code."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.settings import Settings


def test_environment_configures_every_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
    monkeypatch.setenv("TEMPORAL_API_KEY", "key-123")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/partnerflow")
    monkeypatch.setenv("BILLING_BACKEND", "stripe")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:12111")
    monkeypatch.setenv("EMAIL_BACKEND", "sendgrid")
    monkeypatch.setenv("SENDGRID_HOST", "http://127.0.0.1:3030")
    monkeypatch.setenv("PARTNERFLOW_WEBHOOK_SECRET", "from-env")
    settings = Settings(_env_file=None)
    assert settings.temporal_address == "temporal.example:7233"
    assert (
        settings.temporal_api_key is not None
        and settings.temporal_api_key.get_secret_value() == "key-123"
    )
    assert "key-123" not in repr(settings)  # secrets are not printed
    assert settings.resolved_database_url == "postgresql://u@db/partnerflow"
    assert (settings.billing_backend, settings.stripe_api_base) == (
        "stripe",
        "http://127.0.0.1:12111",
    )
    assert (settings.email_backend, settings.sendgrid_host) == ("sendgrid", "http://127.0.0.1:3030")
    assert settings.secret("webhook_secret") == "from-env"


def test_dev_secrets_are_generated_once_into_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PARTNERFLOW_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("PARTNERFLOW_LINK_SECRET", raising=False)
    settings = Settings(PARTNERFLOW_DATA_DIR=tmp_path, _env_file=None)
    first = settings.secret("webhook_secret")
    assert len(first) == 64 and first == Settings(
        PARTNERFLOW_DATA_DIR=tmp_path, _env_file=None
    ).secret("webhook_secret")
    assert settings.secret("link_secret") != first
    assert (tmp_path / "dev-webhook-secret").stat().st_mode & 0o777 == 0o600
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'partnerflow.db'}"


def test_env_example_documents_every_setting() -> None:
    documented = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    for field in Settings.model_fields.values():
        assert field.alias and field.alias in documented, (
            f"{field.alias} is missing from .env.example"
        )
