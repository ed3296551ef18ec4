"""Settings: environment parsing, safe defaults, and the rule that only --no-auth disables JWT checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from fhir_bonemet.settings import Settings, TrustedIssuer

JWKS = {"keys": [{"kty": "EC", "crv": "P-384", "kid": "k1", "x": "AA", "y": "AA"}]}


def test_defaults_are_safe() -> None:
    settings = Settings()
    assert settings.auth_required is True
    assert settings.jwt_algorithms == ("ES384", "RS384")
    assert settings.effective_cors_origins == ()
    assert settings.allows_any_fhir_server is False
    assert settings.max_body_bytes == 5 * 1024 * 1024
    assert settings.writeback_mode == "suggest"
    assert settings.effective_database_url == "sqlite:///var/bonemet.sqlite3"


def test_environment_is_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BONEMET_PORT", "9090")
    monkeypatch.setenv("BONEMET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BONEMET_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv("BONEMET_CORS_ORIGINS", "https://ehr.example.org, https://sandbox.example.org")
    monkeypatch.setenv("BONEMET_FHIR_SERVER_ALLOWLIST", '["https://fhir.example.org/r4/"]')
    monkeypatch.setenv("BONEMET_CONCEPTMAP_DIRS", f"{tmp_path}/a,{tmp_path}/b")
    monkeypatch.setenv("BONEMET_WRITEBACK_MODE", "write")
    monkeypatch.setenv("BONEMET_PUBLIC_BASE_URL", "https://cds.example.org/")
    monkeypatch.setenv("BONEMET_TRUSTED_ISSUERS", json.dumps({"https://ehr.example.org": {"jwks": JWKS}}))
    settings = Settings()
    assert settings.port == 9090
    assert settings.data_dir == tmp_path
    assert settings.effective_database_url.startswith("postgresql://")
    assert settings.cors_origins == ("https://ehr.example.org", "https://sandbox.example.org")
    assert settings.fhir_server_allowlist == ("https://fhir.example.org/r4",)
    assert settings.conceptmap_dirs == (tmp_path / "a", tmp_path / "b")
    assert settings.writeback_mode == "write"
    assert settings.public_base_url == "https://cds.example.org"
    assert settings.trusted_issuers["https://ehr.example.org"].jwks == JWKS


@pytest.mark.parametrize("value", ["false", "0", "no"])
def test_the_environment_cannot_switch_auth_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("BONEMET_AUTH_REQUIRED", value)
    assert Settings().auth_required is True
    assert Settings(auth_required=False).auth_required is False  # what --no-auth does


@pytest.mark.parametrize("algorithms", [("none",), ("HS256",), ("ES384", "HS512"), ()])
def test_symmetric_and_unsigned_algorithms_can_never_be_configured(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError, match="jwt_algorithms"):
        Settings(jwt_algorithms=algorithms)


def test_cors_wildcard_only_without_auth() -> None:
    with pytest.raises(ValidationError, match="only with --no-auth"):
        Settings(cors_origins=("*",))
    assert Settings(auth_required=False).effective_cors_origins == ("*",)
    assert Settings(auth_required=False, cors_origins=("http://localhost:8080",)).effective_cors_origins == (
        "http://localhost:8080",
    )


def test_trusted_issuers_file_is_merged(tmp_path: Path) -> None:
    path = tmp_path / "issuers.json"
    path.write_text(
        json.dumps(
            {"https://a.example": {"jwks": JWKS}, "https://b.example": {"jku": ["https://b.example/jwks"]}}
        )
    )
    settings = Settings(
        trusted_issuers_file=path, trusted_issuers={"https://b.example": TrustedIssuer(jwks=JWKS)}
    )
    assert set(settings.trusted_issuers) == {"https://a.example", "https://b.example"}
    assert settings.trusted_issuers["https://b.example"].jwks == JWKS  # explicit settings win


def test_unreadable_issuers_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot be read"):
        Settings(trusted_issuers_file=tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("issuer", "message"),
    [
        ({}, "needs jwks, jwks_file or"),
        ({"jku": ["http://insecure.example/jwks"]}, "https"),
        ({"jwks": JWKS, "x": 1}, "x"),
    ],
)
def test_trusted_issuer_shape(issuer: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TrustedIssuer.model_validate(issuer)


@pytest.mark.parametrize(
    "url", ["cds.example.org", "https://cds.example.org/?x=1", "https://cds.example.org/#f"]
)
def test_public_base_url_must_be_a_plain_absolute_url(url: str) -> None:
    with pytest.raises(ValidationError, match="public_base_url"):
        Settings(public_base_url=url)


def test_body_limit_has_a_floor() -> None:
    with pytest.raises(ValidationError, match="max_body_bytes"):
        Settings(max_body_bytes=10)


def test_allow_any_fhir_server_is_refused_with_auth_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BONEMET_FHIR_SERVER_ALLOW_ANY", "true")
    with pytest.raises(ValidationError, match="only with --no-auth"):
        Settings()
    assert Settings(auth_required=False).allows_any_fhir_server


def test_writeback_tokens_go_only_to_their_own_server() -> None:
    settings = Settings(
        fhir_server_allowlist=("https://a.example/fhir", "https://b.example/r4"),
        writeback_tokens={"HTTPS://A.example:443/fhir/": "token-a"},
    )
    assert settings.writeback_token_for("https://a.example/fhir") == "token-a"
    assert settings.writeback_token_for("https://b.example/r4") is None
    assert settings.writeback_token_for("https://a.example/fhir-other") is None
    assert "token-a" not in repr(settings)


def test_the_single_writeback_token_needs_exactly_one_allowlisted_server() -> None:
    one = Settings(fhir_server_allowlist=("https://a.example/fhir",), writeback_token="legacy")
    assert one.writeback_token_for("https://a.example/fhir/") == "legacy"
    assert one.writeback_token_for("https://b.example/fhir") is None
    with pytest.raises(ValidationError, match="writeback_tokens"):
        Settings(
            fhir_server_allowlist=("https://a.example/fhir", "https://b.example/r4"), writeback_token="x"
        )
    with pytest.raises(ValidationError, match="writeback_tokens"):
        Settings(writeback_token="x")


def test_fhir_responses_are_capped_at_8_mib_by_default_and_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().fhir_max_response_bytes == 8 * 1024 * 1024
    monkeypatch.setenv("BONEMET_FHIR_MAX_RESPONSE_BYTES", "1048576")
    assert Settings().fhir_max_response_bytes == 1048576
