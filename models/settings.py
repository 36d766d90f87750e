"""Runtime configuration, read from the environment (and `.env`) with pydantic-settings.

Every variable is documented in `.env.example`. Secrets have no value in code: in the
local default they are generated once into `.data/` (see `ensure_dev_secrets`).
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
# a program's colour and logo go into page and email markup: a hex colour, an https URL
_COLOR = r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6})?$"
_LOGO = r"^(https://[^\s\"'<>]+)?$"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- local state -------------------------------------------------------
    data_dir: Path = Field(default=REPO_ROOT / ".data", alias="PARTNERFLOW_DATA_DIR")

    # --- Temporal ----------------------------------------------------------
    temporal_address: str = Field(default="127.0.0.1:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    temporal_task_queue: str = Field(default="partnerflow", alias="TEMPORAL_TASK_QUEUE")
    temporal_ui_url: str = Field(default="http://127.0.0.1:8233", alias="TEMPORAL_UI_URL")
    temporal_tls: bool = Field(default=False, alias="TEMPORAL_TLS")
    temporal_tls_cert: Path | None = Field(default=None, alias="TEMPORAL_TLS_CERT")
    temporal_tls_key: Path | None = Field(default=None, alias="TEMPORAL_TLS_KEY")
    temporal_api_key: SecretStr | None = Field(default=None, alias="TEMPORAL_API_KEY")
    # workflows a worker keeps in memory (~0.35 MB each); others are replayed from history on
    # their next task. 250: worker RSS < 300 MB with 10,000 open partnerships (bench/scale.py)
    max_cached_workflows: int = Field(default=250, ge=0, alias="PARTNERFLOW_MAX_CACHED_WORKFLOWS")
    # How long a workflow task waits on the worker that has the workflow cached before any
    # worker takes it (replaying the history). The SDK's 10 s: after a crash, each workflow
    # the dead worker held stalls that long; lower recovers faster, costs more replays.
    sticky_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, alias="PARTNERFLOW_STICKY_TIMEOUT_SECONDS"
    )

    # --- records -----------------------------------------------------------
    database_url: str | None = Field(default=None, alias="DATABASE_URL")

    # --- billing -----------------------------------------------------------
    billing_backend: Literal["local", "stripe"] = Field(default="local", alias="BILLING_BACKEND")
    stripe_api_key: SecretStr | None = Field(default=None, alias="STRIPE_API_KEY")
    stripe_api_base: str = Field(default="https://api.stripe.com", alias="STRIPE_API_BASE")
    stripe_webhook_secret: SecretStr | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET")

    # --- email -------------------------------------------------------------
    email_backend: Literal["outbox", "sendgrid"] = Field(default="outbox", alias="EMAIL_BACKEND")
    sendgrid_api_key: SecretStr | None = Field(default=None, alias="SENDGRID_API_KEY")
    sendgrid_host: str = Field(default="https://api.sendgrid.com", alias="SENDGRID_HOST")
    email_from: str = Field(default="partners@mattermost.com", alias="EMAIL_FROM")
    finance_email: str = Field(default="finance@mattermost.com", alias="FINANCE_EMAIL")
    operations_email: str = Field(default="partners@mattermost.com", alias="OPERATIONS_EMAIL")

    # --- programs: each program's identity (models/programs.py) --------------
    # Empty: the program's default (models.programs.DEFAULTS, listed in .env.example).
    # Mattermost's sender, finance and partner team are EMAIL_FROM, FINANCE_EMAIL and
    # OPERATIONS_EMAIL above.
    mm_reply_to: str = Field(default="", alias="PARTNERFLOW_MM_REPLY_TO")
    mm_account_manager_email: str = Field(default="", alias="PARTNERFLOW_MM_ACCOUNT_MANAGER_EMAIL")
    mm_brand_color: str = Field(default="", pattern=_COLOR, alias="PARTNERFLOW_MM_BRAND_COLOR")
    mm_logo_url: str = Field(default="", pattern=_LOGO, alias="PARTNERFLOW_MM_LOGO_URL")
    rc_email_from: str = Field(default="", alias="PARTNERFLOW_RC_EMAIL_FROM")
    rc_reply_to: str = Field(default="", alias="PARTNERFLOW_RC_REPLY_TO")
    rc_account_manager_email: str = Field(default="", alias="PARTNERFLOW_RC_ACCOUNT_MANAGER_EMAIL")
    rc_finance_email: str = Field(default="", alias="PARTNERFLOW_RC_FINANCE_EMAIL")
    rc_partner_team_email: str = Field(default="", alias="PARTNERFLOW_RC_PARTNER_TEAM_EMAIL")
    rc_brand_color: str = Field(default="", pattern=_COLOR, alias="PARTNERFLOW_RC_BRAND_COLOR")
    rc_logo_url: str = Field(default="", pattern=_LOGO, alias="PARTNERFLOW_RC_LOGO_URL")

    # --- web ---------------------------------------------------------------
    web_host: str = Field(default="127.0.0.1", alias="PARTNERFLOW_WEB_HOST")
    web_port: int = Field(default=8000, alias="PARTNERFLOW_WEB_PORT")
    public_base_url: str = Field(default="http://127.0.0.1:8000", alias="PUBLIC_BASE_URL")
    # Other host names the web service answers to when public (internal health checks, say);
    # PUBLIC_BASE_URL's host and loopback names are always allowed. Comma-separated.
    allowed_hosts: str = Field(default="", alias="PARTNERFLOW_ALLOWED_HOSTS")
    webhook_secret: SecretStr | None = Field(default=None, alias="PARTNERFLOW_WEBHOOK_SECRET")
    link_secret: SecretStr | None = Field(default=None, alias="PARTNERFLOW_LINK_SECRET")
    # signs the proof tokens of forms only internal systems may send (deal-purchased-online)
    internal_secret: SecretStr | None = Field(default=None, alias="PARTNERFLOW_INTERNAL_SECRET")
    webhook_tolerance_seconds: int = Field(default=300, alias="PARTNERFLOW_WEBHOOK_TOLERANCE")
    # Form-webhook signatures without the form's name (v1=) are accepted through this day
    # (UTC), so senders can move to v2= (the name signed with the body); empty: never.
    webhook_v1_until: date | None = Field(
        default=date(2027, 3, 31), alias="PARTNERFLOW_WEBHOOK_V1_UNTIL"
    )
    # form webhooks accepted per source address per minute (0 = unlimited)
    rate_limit_per_minute: int = Field(default=120, alias="PARTNERFLOW_RATE_LIMIT_PER_MINUTE")
    # Partner portal sign-in: links emailed per address, and sign-in posts per source
    portal_links_per_address_per_minute: int = Field(
        default=1, alias="PARTNERFLOW_PORTAL_LINKS_PER_ADDRESS_PER_MINUTE"
    )
    portal_sign_ins_per_source_per_minute: int = Field(
        default=10, alias="PARTNERFLOW_PORTAL_SIGN_INS_PER_SOURCE_PER_MINUTE"
    )
    # SendGrid event webhook: the ECDSA public key (base64) from SendGrid's settings page
    sendgrid_webhook_public_key: str | None = Field(
        default=None, alias="SENDGRID_WEBHOOK_PUBLIC_KEY"
    )
    # how long the accept, sign and listing pages wait for a worker to take a person's answer
    # (its Workflow Update) before they send it as a signal, kept until a worker runs it
    page_wait_seconds: float = Field(default=4.0, gt=0, alias="PARTNERFLOW_PAGE_WAIT_SECONDS")

    # --- operators (login for internal pages and the codec server) ---------
    # "password": operators from PARTNERFLOW_OPERATORS ("name:pbkdf2_sha256$...;name2:..."),
    # "proxy-header": a trusted reverse proxy authenticates and sets PARTNERFLOW_AUTH_HEADER.
    auth_mode: Literal["password", "proxy-header"] = Field(
        default="password", alias="PARTNERFLOW_AUTH_MODE"
    )
    operators: SecretStr | None = Field(default=None, alias="PARTNERFLOW_OPERATORS")
    auth_header: str = Field(default="X-Forwarded-User", alias="PARTNERFLOW_AUTH_HEADER")
    # The reverse proxy whose headers are believed (the operator's name, X-Forwarded-For):
    # its addresses or networks, comma-separated, and/or a secret it sends in
    # X-Partnerflow-Proxy-Secret. proxy-header mode needs one of the two.
    trusted_proxies: str = Field(default="", alias="PARTNERFLOW_TRUSTED_PROXIES")
    proxy_secret: SecretStr | None = Field(default=None, alias="PARTNERFLOW_PROXY_SECRET")
    session_secret: SecretStr | None = Field(default=None, alias="PARTNERFLOW_SESSION_SECRET")

    # --- payload encryption ---------------------------------------------------
    # base64 of 32 random bytes; set = personal data is AES-GCM encrypted in Temporal payloads
    payload_key: SecretStr | None = Field(default=None, alias="PARTNERFLOW_PAYLOAD_KEY")
    # With a key, a payload that arrives unencrypted (sent around the codec, e.g. straight to
    # Temporal's frontend) is refused: handlers see a refusal, never its content. Set true only
    # while histories written before the key was set are still running or being replayed.
    accept_plaintext_payloads: bool = Field(
        default=False, alias="PARTNERFLOW_ACCEPT_PLAINTEXT_PAYLOADS"
    )
    # the Temporal UI's origin, allowed (CORS) to call the codec server
    codec_cors_origin: str = Field(
        default="http://127.0.0.1:8233", alias="PARTNERFLOW_CODEC_CORS_ORIGIN"
    )
    # Signs the codec server's tokens (the dev UI's capability URL, `partnerflow codec token`);
    # its own secret, so rotating it ends every token and nothing else. Unset: a dev value in
    # .data/ for a local stack; a public service then accepts signed-in operators only.
    codec_secret: SecretStr | None = Field(default=None, alias="PARTNERFLOW_CODEC_SECRET")
    codec_token_days: int = Field(default=7, ge=1, le=365, alias="PARTNERFLOW_CODEC_TOKEN_DAYS")

    # --- licenses ----------------------------------------------------------
    license_signing_key_path: Path | None = Field(default=None, alias="LICENSE_SIGNING_KEY_PATH")

    # --- business calendar -------------------------------------------------
    calendar_country: str = Field(default="US", alias="PARTNERFLOW_CALENDAR_COUNTRY")

    # --- Mattermost deal registration --------------------------------------
    # How long an approved registration protects the opportunity (a partner record's
    # `deal_protection_days` attribute wins); read at intake into DealRegistrationInput.
    deal_protection_days: int = Field(
        default=90, gt=0, le=365, alias="PARTNERFLOW_DEAL_PROTECTION_DAYS"
    )

    # --- Mattermost price list and reseller discount ---------------------------
    # List price per seat per year, in US cents, by SKU (JSON). A posted order's unit price
    # must be this list price, less the partner's agreed discount on an approved deal
    # registration; a SKU not listed is refused.
    mattermost_price_list: dict[str, int] = Field(
        default_factory=lambda: {"MM-ENT-1Y": 12000}, alias="PARTNERFLOW_MATTERMOST_PRICE_LIST"
    )
    # The bounds of the reseller discount a reviewer may agree at a VAR approval.
    mattermost_discount_min_percent: int = Field(
        default=10, ge=0, le=100, alias="PARTNERFLOW_MATTERMOST_DISCOUNT_MIN_PERCENT"
    )
    mattermost_discount_max_percent: int = Field(
        default=30, ge=0, le=100, alias="PARTNERFLOW_MATTERMOST_DISCOUNT_MAX_PERCENT"
    )

    # --- Rocket.Chat: community server and partner website checks ------------
    rocketchat_backend: Literal["local", "rest"] = Field(
        default="local", alias="ROCKETCHAT_BACKEND"
    )
    rocketchat_server_url: str = Field(
        default="https://open.rocket.chat", alias="ROCKETCHAT_SERVER_URL"
    )
    rocketchat_user_id: str | None = Field(default=None, alias="ROCKETCHAT_USER_ID")
    rocketchat_auth_token: SecretStr | None = Field(default=None, alias="ROCKETCHAT_AUTH_TOKEN")
    rocketchat_workgroup_private: bool = Field(default=True, alias="ROCKETCHAT_WORKGROUP_PRIVATE")
    # The program summary: the shared folder of program documents (each partner's folder is
    # `{base}/{partner_id}`; empty: no link) and the opportunities portal's sign-in address.
    rc_documents_base_url: str = Field(
        default="", pattern=_LOGO, alias="PARTNERFLOW_RC_DOCUMENTS_BASE_URL"
    )
    rc_opportunities_portal_url: str = Field(
        default="https://partners.rocket.chat/opportunities",
        pattern=_LOGO,
        alias="PARTNERFLOW_RC_OPPORTUNITIES_PORTAL_URL",
    )
    web_check_timeout_seconds: float = Field(default=10.0, alias="WEB_CHECK_TIMEOUT_SECONDS")
    web_check_max_bytes: int = Field(default=2_000_000, alias="WEB_CHECK_MAX_BYTES")
    web_check_max_redirects: int = Field(default=5, alias="WEB_CHECK_MAX_REDIRECTS")
    # Fetch sites that resolve to private, loopback or link-local addresses: never in
    # production (a partner's URL must not reach the internal network); tests' local sites.
    web_check_private_networks: bool = Field(default=False, alias="WEB_CHECK_PRIVATE_NETWORKS")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'partnerflow.db'}"

    @property
    def resolved_license_key_path(self) -> Path:
        return self.license_signing_key_path or self.data_dir / "license-signing-key.pem"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def licenses_dir(self) -> Path:
        return self.data_dir / "licenses"

    @field_validator("mattermost_price_list")
    @classmethod
    def _prices(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [sku for sku, cents in value.items() if not sku.strip() or cents <= 0]
        if bad:
            raise ValueError(
                f"PARTNERFLOW_MATTERMOST_PRICE_LIST: {', '.join(map(repr, bad))} need a SKU "
                "and a list price in cents above 0"
            )
        return {sku.strip().upper(): cents for sku, cents in value.items()}

    @model_validator(mode="after")
    def _discount_bounds(self) -> Settings:
        if self.mattermost_discount_min_percent > self.mattermost_discount_max_percent:
            raise ValueError(
                "PARTNERFLOW_MATTERMOST_DISCOUNT_MIN_PERCENT is above "
                "PARTNERFLOW_MATTERMOST_DISCOUNT_MAX_PERCENT"
            )
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    problem = f"{part.strip()!r} is not an address or network"
                    raise ValueError(f"PARTNERFLOW_TRUSTED_PROXIES: {problem}") from None
        return value

    def check_proxy_trust(self) -> None:
        """proxy-header mode believes a header; without a trusted proxy anyone could send it."""
        if self.auth_mode == "proxy-header" and not (self.trusted_proxies or self.proxy_secret):
            raise ValueError(
                "PARTNERFLOW_AUTH_MODE=proxy-header: set PARTNERFLOW_TRUSTED_PROXIES (the proxy's "
                "addresses) or PARTNERFLOW_PROXY_SECRET (sent by the proxy in "
                "X-Partnerflow-Proxy-Secret); otherwise any client could name itself an operator"
            )

    def accepts_v1_signatures(self, now: float) -> bool:
        """Is `now` (unix seconds) within the v1 transition (`PARTNERFLOW_WEBHOOK_V1_UNTIL`)?"""
        until = self.webhook_v1_until
        return until is not None and datetime.fromtimestamp(now, UTC).date() <= until

    def trusted_hosts(self) -> list[str] | None:
        """The Host headers a public service answers (None: a local service, any host)."""
        host = (urlsplit(self.public_base_url).hostname or "").lower()
        if host == "localhost" or _is_loopback(host):
            return None
        extra = [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]
        return [host, "localhost", "127.0.0.1", *extra]

    def missing_production_secrets(self) -> list[str]:
        """The signing secrets that are unset while the service is public (its
        `PUBLIC_BASE_URL` is not a loopback address). Unset, each would be a dev value made
        up on this host: other replicas would not accept its links and sessions, and it
        would live in a file beside the data. Empty for a local stack."""
        if self.trusted_hosts() is None:
            return []
        names = {
            "webhook_secret": "PARTNERFLOW_WEBHOOK_SECRET",
            "link_secret": "PARTNERFLOW_LINK_SECRET",
            "session_secret": "PARTNERFLOW_SESSION_SECRET",
            "internal_secret": "PARTNERFLOW_INTERNAL_SECRET",
        }
        return [alias for name, alias in names.items() if getattr(self, name) is None]

    def require_production_secrets(self) -> None:
        """Refuse to start a public service on made-up secrets (`missing_production_secrets`)."""
        missing = self.missing_production_secrets()
        if missing:
            raise ValueError(
                f"PUBLIC_BASE_URL {self.public_base_url} is not a loopback address, so the "
                f"service is public: set {', '.join(missing)} (the same values on every "
                "replica); refusing to start with per-host dev secrets"
            )

    def secret(
        self,
        name: Literal[
            "webhook_secret", "link_secret", "session_secret", "internal_secret", "codec_secret"
        ],
    ) -> str:
        """The secret's value: from the environment, else the dev value kept in `.data/`."""
        value: SecretStr | None = getattr(self, name)
        if value is not None:
            return value.get_secret_value()
        return _dev_secret(self.data_dir, name)

    # --- payload encryption (the one place the key is resolved) ----------------------------

    @property
    def dev_payload_key_path(self) -> Path:
        return self.data_dir / "dev-payload-key"

    def resolved_payload_keys(self) -> list[bytes]:
        """Every payload key, the current one first: `PARTNERFLOW_PAYLOAD_KEY` (a
        comma-separated list while rotating keys), else the dev key in `.data/` if
        `partnerflow run` created one, else none (payloads stay plaintext)."""
        raw = self.payload_key.get_secret_value().strip() if self.payload_key is not None else ""
        if not raw and self.dev_payload_key_path.exists():
            raw = self.dev_payload_key_path.read_text().strip()
        return [decode_payload_key(part) for part in raw.split(",") if part.strip()]

    def resolved_payload_key(self) -> bytes | None:
        """The key new payloads are encrypted with, or None when encryption is off."""
        keys = self.resolved_payload_keys()
        return keys[0] if keys else None

    def ensure_dev_payload_key(self) -> bool:
        """Create the dev payload key in `.data/` unless a key is configured; True if created."""
        if self.resolved_payload_key() is not None:
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.dev_payload_key_path
        path.touch(mode=0o600)
        path.write_text(new_payload_key())
        return True


def new_payload_key() -> str:
    """A fresh payload key: base64 of 32 random bytes (AES-256)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def decode_payload_key(value: str) -> bytes:
    """The 32 bytes of a base64 (standard or URL-safe) payload key; never echoes the value."""
    value = value.strip()
    try:
        key = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except ValueError:
        raise ValueError(
            "PARTNERFLOW_PAYLOAD_KEY is not valid base64 (see `partnerflow codec keygen`)"
        ) from None
    if len(key) != 32:
        raise ValueError(f"PARTNERFLOW_PAYLOAD_KEY must be base64 of 32 bytes, not {len(key)}")
    return key


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _dev_secret(data_dir: Path, name: str) -> str:
    path = data_dir / f"dev-{name.replace('_', '-')}"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
