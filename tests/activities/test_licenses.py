"""Ed25519 license files: issue, verify offline, idempotency, the signing key."""

from __future__ import annotations

import base64
import json
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.exceptions import ApplicationError

from activities.licenses import (
    BEGIN,
    SIGNATURE,
    LicenseActivities,
    key_id,
    license_id_for,
    load_or_create_signing_key,
    load_public_key,
    public_key_path,
    verify_license,
)
from models.contracts import LicenseRequest
from models.settings import Settings

START = datetime(2026, 11, 24, tzinfo=UTC)
END = datetime(2027, 11, 24, tzinfo=UTC)
DURING = datetime(2027, 1, 15, 12, tzinfo=UTC)


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL, with the same results."""
    return db_settings


def request(key: str = "order-PO-1/issue-license", **changes: object) -> LicenseRequest:
    base = LicenseRequest(
        idempotency_key=key,
        workflow_id="order-PO-1",
        licensee="Reseller GmbH",
        customer="Customer AG",
        customer_email="it@customer.example",
        users=250,
        starts_at=START,
        expires_at=END,
    )
    return base.model_copy(update=changes)


@pytest.fixture
def licenses(settings: Settings) -> LicenseActivities:
    return LicenseActivities(settings)


def public_key(settings: Settings):  # type: ignore[no-untyped-def]
    return load_public_key(public_key_path(settings.resolved_license_key_path))


def tamper_payload(content: str) -> str:
    """Flip one byte of the decoded payload and re-encode it (armor stays valid)."""
    lines = content.splitlines()
    start, end = lines.index(BEGIN) + 1, lines.index(SIGNATURE)
    payload = bytearray(base64.b64decode("".join(lines[start:end])))
    index = payload.index(b'"users":250') + len('"users":')
    payload[index] = ord("9")  # 250 -> 950 users
    encoded = base64.b64encode(bytes(payload)).decode()
    return "\n".join([*lines[:start], encoded, *lines[end:]]) + "\n"


def test_issue_writes_a_file_that_verifies(licenses: LicenseActivities, settings: Settings) -> None:
    issued = licenses.issue_license(request())
    path = settings.licenses_dir / issued.filename
    assert issued.filename == f"{issued.license_id}.mattermost-license"
    assert path.read_text() == issued.content
    assert issued.license_id == license_id_for("order-PO-1/issue-license")
    assert len(issued.license_id) == 26
    result = verify_license(path.read_text(), public_key(settings), now=DURING)
    assert result.valid and result.status == "valid"
    assert (result.license_id, result.customer, result.users) == (
        issued.license_id,
        "Customer AG",
        250,
    )
    assert result.customer_email == "it@customer.example"
    assert result.licensee == "Reseller GmbH" and result.sku == "mattermost-enterprise"
    assert (result.starts_at, result.expires_at) == (START, END)
    assert result.issued_at == issued.issued_at
    assert result.key_id == key_id(public_key(settings))


def test_payload_is_canonical_json(licenses: LicenseActivities) -> None:
    content = licenses.issue_license(request()).content
    lines = content.splitlines()
    data = base64.b64decode("".join(lines[1 : lines.index(SIGNATURE)]))
    payload = json.loads(data)
    assert data == json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    assert payload["format"] == "mattermost-enterprise-license/1"
    assert payload["expires_at"] == "2027-11-24T00:00:00Z"
    assert all(len(line) <= 64 for line in lines[1:-1])


def test_tampered_payload_is_bad_signature(licenses: LicenseActivities, settings: Settings) -> None:
    content = licenses.issue_license(request()).content
    result = verify_license(tamper_payload(content), public_key(settings), now=DURING)
    assert not result.valid and result.status == "bad_signature"
    assert result.users is None  # nothing unverified is reported


def test_other_key_is_bad_signature(licenses: LicenseActivities) -> None:
    content = licenses.issue_license(request()).content
    other = Ed25519PrivateKey.generate().public_key()
    result = verify_license(content, other, now=DURING)
    assert result.status == "bad_signature" and key_id(other) in result.reason


@pytest.mark.parametrize(
    "content",
    ["", "hello", f"{BEGIN}\n!!!\n{SIGNATURE}\nAAAA\n-----END MATTERMOST ENTERPRISE LICENSE-----"],
)
def test_malformed(content: str) -> None:
    key = Ed25519PrivateKey.generate().public_key()
    assert verify_license(content, key, now=DURING).status == "malformed"


def test_validity_window(licenses: LicenseActivities, settings: Settings) -> None:
    content = licenses.issue_license(request()).content
    key = public_key(settings)
    early = verify_license(content, key, now=START - timedelta(seconds=1))
    assert not early.valid and early.status == "not_yet_valid" and early.users == 250
    assert verify_license(content, key, now=START).valid
    late = verify_license(content, key, now=END)
    assert not late.valid and late.status == "expired" and "2027-11-24" in late.reason
    with pytest.raises(ValueError):
        verify_license(content, key, now=datetime(2027, 1, 1))


def test_email_line_endings_tolerated(licenses: LicenseActivities, settings: Settings) -> None:
    content = licenses.issue_license(request()).content
    mangled = "Your license:\r\n\r\n" + content.replace("\n", "\r\n") + "\r\nThanks\r\n"
    assert verify_license(mangled, public_key(settings), now=DURING).valid


def test_issue_is_idempotent(licenses: LicenseActivities, settings: Settings) -> None:
    first = licenses.issue_license(request())
    (settings.licenses_dir / first.filename).unlink()
    again = LicenseActivities(settings).issue_license(request(users=999))
    assert again == first
    assert (settings.licenses_dir / first.filename).read_text() == first.content
    other = licenses.issue_license(request("order-PO-2/issue-license"))
    assert other.license_id != first.license_id
    assert sorted(p.name for p in settings.licenses_dir.iterdir()) == sorted(
        [first.filename, other.filename]
    )


def test_concurrent_issue_returns_one_license(licenses: LicenseActivities) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: licenses.issue_license(request()), range(6)))
    assert len({r.content for r in results}) == 1


def test_invalid_request_is_permanent(licenses: LicenseActivities) -> None:
    with pytest.raises(ApplicationError) as info:
        licenses.issue_license(request(expires_at=START))
    assert info.value.non_retryable and info.value.type == "InvalidLicenseRequest"


def test_signing_key_created_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "keys" / "license-signing-key.pem"
    key = load_or_create_signing_key(path)
    pem = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert public_key_path(path) == tmp_path / "keys" / "license-signing-key.pub"
    assert load_or_create_signing_key(path).private_bytes_raw() == key.private_bytes_raw()
    assert path.read_bytes() == pem
    assert key_id(load_public_key(public_key_path(path))) == key_id(key.public_key())
    assert key_id(load_public_key(path)) == key_id(key.public_key())  # private PEM works too
    assert [p.name for p in sorted(path.parent.iterdir())] == [
        "license-signing-key.pem",
        "license-signing-key.pub",
    ]


def test_load_public_key_rejects_other_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError):
        load_public_key(path)


def test_sha256_matches_file(licenses: LicenseActivities, settings: Settings) -> None:
    import hashlib

    issued = licenses.issue_license(request())
    data = (settings.licenses_dir / issued.filename).read_bytes()
    assert hashlib.sha256(data).hexdigest() == issued.sha256
    assert data.decode() == issued.content
