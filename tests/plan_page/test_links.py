"""Signed plan links: tampering, expiry, another key, and one shared key for every worker."""

from __future__ import annotations

import hashlib
import hmac
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from fhir_bonemet.plan_page.links import SECRET_FILE, LinkClaims, LinkSigner, load_link_secret
from fhir_bonemet.settings import Settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SIGNER = LinkSigner(b"k" * 64)
CLAIMS = LinkClaims("plan-1", SIGNER.patient_key("Patient/123"), int((NOW + timedelta(hours=1)).timestamp()))


def test_a_genuine_token_verifies_until_it_expires() -> None:
    token = SIGNER.sign(CLAIMS)
    assert SIGNER.verify(token, NOW) == CLAIMS
    assert SIGNER.verify(token, NOW + timedelta(minutes=59)) == CLAIMS
    assert SIGNER.verify(token, NOW + timedelta(hours=1)) is None


def test_every_altered_character_is_refused() -> None:
    token = SIGNER.sign(CLAIMS)
    for i, char in enumerate(token):
        if char == ".":
            continue
        other = "A" if char != "A" else "B"
        altered = token[:i] + other + token[i + 1 :]
        # Every altered character is refused, even where base64 would decode two spellings alike.
        assert SIGNER.verify(altered, NOW) is None
    assert SIGNER.verify(token + "=", NOW) is None


@pytest.mark.parametrize("token", ["", ".", "a.b.c", "x" * 600, "eyJ9.e30", "!!.??"])
def test_garbage_is_refused_without_an_exception(token: str) -> None:
    assert SIGNER.verify(token, NOW) is None


def test_another_key_cannot_verify_and_patient_keys_differ() -> None:
    other = LinkSigner(b"o" * 64)
    assert other.verify(SIGNER.sign(CLAIMS), NOW) is None
    assert other.patient_key("Patient/123") != SIGNER.patient_key("Patient/123")
    assert SIGNER.patient_key("Patient/123") != SIGNER.patient_key("Patient/124")
    assert "123" not in SIGNER.sign(CLAIMS)


def test_without_a_configured_secret_one_is_made_once_and_shared(tmp_path: Path) -> None:
    settings = Settings(auth_required=False, data_dir=tmp_path)
    first = load_link_secret(settings)
    second = load_link_secret(Settings(auth_required=False, data_dir=tmp_path))  # another worker
    assert first == second
    assert len(first) >= 32
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600


def test_a_configured_secret_wins(tmp_path: Path) -> None:
    settings = Settings(auth_required=False, data_dir=tmp_path, plan_link_secret=SecretStr("s" * 40))
    assert load_link_secret(settings) == b"s" * 40
    assert not (tmp_path / SECRET_FILE).exists()


def test_links_already_issued_keep_their_meaning() -> None:
    """The token, plan id and patient key of a fixed input, as issued links carry them: a change in how
    they are computed would break every link (and every retried call's identical link) already out."""
    signer = LinkSigner(b"k" * 40)
    assert signer.patient_key("Patient/ä1") == "d089bfee7d905b382df9a7eaac6da99d"
    assert signer.plan_id("hi-1", "Patient/ä1") == "1DXIN83iQYMMRyrkWOaxwHme"
    token = (
        "eyJleHAiOjEyMzQ1Njc4OTAsImlkIjoiYWJjIiwicGsiOiJkZWYiLCJ2IjoxfQ"
        ".qBJxymNZsAYDhlGTc2rJKc4t2JPLgfiMwnSMPQiG_LA"
    )
    assert signer.sign(LinkClaims("abc", "def", 1234567890)) == token
    assert signer.verify(token, datetime(2009, 2, 13, tzinfo=UTC)) == LinkClaims("abc", "def", 1234567890)


@pytest.mark.parametrize("length", [32, 64, 65, 200])
def test_every_key_length_gives_the_standard_hmac(length: int) -> None:
    """The signer keys its HMAC once and copies it per message: keys longer than SHA-256's block (64
    bytes) are hashed first, and the result must still be plain HMAC-SHA256 of the secret."""
    secret = bytes(range(256))[:length]
    signer = LinkSigner(secret)
    expected = hmac.digest(secret, b"patient\nPatient/1", hashlib.sha256).hex()[:32]
    assert signer.patient_key("Patient/1") == expected
    assert signer.patient_key("Patient/1") == expected  # the keyed state is copied, never consumed


def test_the_signer_does_not_show_its_secret() -> None:
    secret = b"s3cret-" * 8
    assert "s3cret" not in repr(LinkSigner(secret))
    assert "s3cret" not in str(LinkSigner(secret))


def test_a_configured_secret_shorter_than_a_generated_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        Settings(auth_required=False, data_dir=tmp_path, plan_link_secret=SecretStr("short"))
