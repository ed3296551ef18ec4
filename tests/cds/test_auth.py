"""JWT verification of CDS clients, with real ES384 and RS384 signatures."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cds_helpers import (
    EPIC_ISS,
    EPIC_JKU,
    PUBLIC_BASE,
    SANDBOX_ISS,
    SANDBOX_JKU,
    JwksAdapter,
    RecordingHandler,
    Signer,
    assert_outcome,
    ec_signer,
    preflight,
)
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from fhir_bonemet.errors import AuthenticationError, ConfigurationError
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings, TrustedIssuer
from fhir_bonemet.store.sqlite import SqliteStore
from fhir_bonemet.web.app import create_app
from fhir_bonemet.web.auth import JwtVerifier, ReplayCache
from fhir_bonemet.web.jwks import KeyDownloadNeeded, KeyResolver


@dataclass(frozen=True)
class FromNow:
    """A NumericDate ``seconds`` from when the token is signed, not from when the tests were collected: on a
    loaded machine a test ran over five minutes after collection, signed an ``exp`` already past, and was
    refused for that reason instead of the one it tests.  ``text`` writes it as a numeric string."""

    seconds: int
    text: bool = False

    def at(self, now: int) -> int | str:
        return str(now + self.seconds) if self.text else now + self.seconds


PV = "/cds-services/bonemet-patient-view"
PV_AUD = PUBLIC_BASE + PV

Logs = Callable[[], list[dict[str, Any]]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sandbox_token(signer: Signer, aud: str = PV_AUD, **kwargs: Any) -> str:
    headers = {"jku": SANDBOX_JKU, **kwargs.pop("headers", {})}
    return signer.token(aud, iss=SANDBOX_ISS, headers=headers, **kwargs)


def epic_token(signer: Signer, aud: str = PV_AUD, **kwargs: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "epic-client-id", "nbf": now - 300, "tenant": "hospital-a"}
    claims.update(kwargs.pop("claims", {}))
    headers = {"jku": EPIC_JKU, **kwargs.pop("headers", {})}
    return signer.token(aud, iss=EPIC_ISS, headers=headers, **claims, **kwargs)


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


def assert_rejected(response: Any) -> None:
    [issue] = assert_outcome(response, 401, "header.Authorization")
    assert response.headers["www-authenticate"] == "Bearer"
    assert issue["code"] == "login"
    assert issue["diagnostics"] == "Authentication required."


class TestAccepted:
    def test_sandbox_shaped_es384_token_on_every_endpoint(
        self,
        auth_client: TestClient,
        sandbox_signer: Signer,
        handler: RecordingHandler,
        jwks_adapter: JwksAdapter,
        patient_view_body: dict[str, Any],
    ) -> None:
        discovery = auth_client.get(
            "/cds-services", headers=bearer(sandbox_token(sandbox_signer, PUBLIC_BASE + "/cds-services"))
        )
        assert discovery.status_code == 200
        token = sandbox_token(sandbox_signer)
        assert auth_client.post(PV, json=patient_view_body, headers=bearer(token)).status_code == 200
        feedback = auth_client.post(
            PV + "/feedback",
            json={
                "feedback": [
                    {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z"}
                ]
            },
            headers=bearer(sandbox_token(sandbox_signer, PV_AUD + "/feedback")),
        )
        assert feedback.status_code == 200
        [(_, _, deps)] = handler.calls
        assert deps.client is not None
        assert (deps.client.issuer, deps.client.tenant) == (SANDBOX_ISS, None)
        assert deps.client.jti == jwt.decode(token, options={"verify_signature": False})["jti"]
        assert jwks_adapter.requested == []  # the configured JWK Set had the key: no fetch

    def test_epic_shaped_rs384_token_with_sub_nbf_and_jku(
        self,
        auth_client: TestClient,
        epic_signer: Signer,
        handler: RecordingHandler,
        jwks_adapter: JwksAdapter,
        patient_view_body: dict[str, Any],
    ) -> None:
        for _ in range(2):
            response = auth_client.post(PV, json=patient_view_body, headers=bearer(epic_token(epic_signer)))
            assert response.status_code == 200
        assert jwks_adapter.requested == [EPIC_JKU]  # fetched once, then cached
        assert handler.calls[0][2].client is not None
        assert handler.calls[0][2].client.tenant == "hospital-a"

    def test_without_jku_header_the_allowlisted_url_is_the_key_source(
        self,
        auth_client: TestClient,
        epic_signer: Signer,
        jwks_adapter: JwksAdapter,
        patient_view_body: dict[str, Any],
    ) -> None:
        token = epic_token(epic_signer, headers={"jku": None})
        assert auth_client.post(PV, json=patient_view_body, headers=bearer(token)).status_code == 200
        assert jwks_adapter.requested == [EPIC_JKU]

    def test_a_kid_in_the_configured_key_set_is_trusted_whatever_jku_the_token_names(
        self,
        auth_client: TestClient,
        sandbox_signer: Signer,
        jwks_adapter: JwksAdapter,
        patient_view_body: dict[str, Any],
    ) -> None:
        # The configured set was agreed out of band: the key verifies the token, the jku is not fetched.
        other = "https://elsewhere.example/jwks.json"
        token = sandbox_token(sandbox_signer, headers={"jku": other})
        assert auth_client.post(PV, json=patient_view_body, headers=bearer(token)).status_code == 200
        assert jwks_adapter.requested == []

    def test_audience_may_be_an_array(
        self, auth_client: TestClient, sandbox_signer: Signer, patient_view_body: dict[str, Any]
    ) -> None:
        token = sandbox_token(sandbox_signer, [PV_AUD])  # type: ignore[arg-type]
        assert auth_client.post(PV, json=patient_view_body, headers=bearer(token)).status_code == 200

    def test_health_and_preflight_need_no_token(self, auth_client: TestClient) -> None:
        assert auth_client.get("/health").status_code == 200
        answer = preflight(auth_client, PV)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "http://localhost:8080"


class TestRejected:
    @pytest.fixture
    def post(
        self, auth_client: TestClient, patient_view_body: dict[str, Any], handler: RecordingHandler
    ) -> Callable[[dict[str, str]], Any]:
        def send(headers: dict[str, str]) -> Any:
            response = auth_client.post(PV, json=patient_view_body, headers=headers)
            assert handler.calls == []
            return response

        return send

    def test_missing_or_non_bearer_authorization(self, post: Callable[[dict[str, str]], Any]) -> None:
        assert_rejected(post({}))
        assert_rejected(post({"Authorization": "Basic dXNlcjpwYXNz"}))
        assert_rejected(post({"Authorization": "Bearer "}))
        assert_rejected(post(bearer("not.a.jwt")))

    @pytest.mark.parametrize("valid_first", [True, False])
    def test_two_authorization_headers_are_refused_whichever_holds_the_valid_token(
        self,
        auth_client: TestClient,
        sandbox_signer: Signer,
        handler: RecordingHandler,
        patient_view_body: dict[str, Any],
        valid_first: bool,
    ) -> None:
        valid = ("Authorization", f"Bearer {sandbox_token(sandbox_signer)}")
        other = ("Authorization", "Bearer not.a.jwt")
        headers = [valid, other] if valid_first else [other, valid]
        assert_rejected(auth_client.post(PV, json=patient_view_body, headers=headers))
        assert handler.calls == []

    def test_alg_none_and_hmac_are_refused(
        self, post: Callable[[dict[str, str]], Any], sandbox_signer: Signer
    ) -> None:
        now = int(time.time())
        claims = {"iss": SANDBOX_ISS, "aud": PV_AUD, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        assert_rejected(
            post(bearer(unsigned({"alg": "none", "typ": "JWT", "kid": sandbox_signer.kid}, claims)))
        )
        hmac = jwt.encode(
            claims,
            "shared-secret-" + "0123456789abcdef" * 3,
            algorithm="HS384",
            headers={"kid": sandbox_signer.kid},
        )
        assert_rejected(post(bearer(hmac)))

    def test_algorithms_outside_the_allowlist_are_refused(
        self, post: Callable[[dict[str, str]], Any]
    ) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        now = int(time.time())
        claims = {"iss": SANDBOX_ISS, "aud": PV_AUD, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        assert_rejected(post(bearer(jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k"}))))

    @pytest.mark.parametrize(
        ("mutation", "reason"),
        [
            ({"headers": {"kid": None}}, "kid missing"),
            ({"headers": {"kid": "unknown-kid", "jku": None}}, "no key with this kid"),
            ({"headers": {"typ": "JWE"}}, "typ is not JWT"),
            # A malformed jku is a malformed header, not "no jku": the kid is in the issuer's JWK Set, so
            # it was once accepted.
            ({"headers": {"jku": 5}}, "jku must be a string"),
            ({"headers": {"jku": [SANDBOX_JKU]}}, "jku must be a string"),
            ({"iss": "https://untrusted.example"}, "issuer not trusted"),
            ({"aud": "http://testserver" + PV}, "InvalidAudienceError"),  # what the Host header would give
            ({"aud": PUBLIC_BASE + "/cds-services"}, "InvalidAudienceError"),  # discovery audience on a call
            ({"exp": FromNow(-120), "iat": FromNow(-420)}, "ExpiredSignatureError"),
            ({"iat": FromNow(600), "exp": FromNow(900)}, "ImmatureSignatureError"),
            ({"nbf": FromNow(600)}, "ImmatureSignatureError"),
            ({"exp": FromNow(7200)}, "lifetime exceeds the replay window"),
            ({"drop": ("jti",)}, "MissingRequiredClaimError"),
            ({"drop": ("exp",)}, "MissingRequiredClaimError"),
            ({"drop": ("iat",)}, "MissingRequiredClaimError"),
            ({"jti": ""}, "jti must be a non-empty string"),
            # NumericDate claims are JSON numbers; a numeric string once made the service answer 500.
            ({"exp": FromNow(300, text=True)}, "exp must be a JSON number"),
            ({"iat": FromNow(0, text=True)}, "iat must be a JSON number"),
            ({"nbf": FromNow(-10, text=True)}, "nbf must be a JSON number"),
            ({"iat": True}, "iat must be a JSON number"),
            ({"padding": "x" * 70_000}, "JWT larger than 16384 bytes"),
        ],
    )
    def test_claim_and_header_failures(
        self,
        post: Callable[[dict[str, str]], Any],
        sandbox_signer: Signer,
        json_logs: Logs,
        mutation: dict[str, Any],
        reason: str,
    ) -> None:
        now = int(time.time())
        mutation = {k: v.at(now) if isinstance(v, FromNow) else v for k, v in mutation.items()}
        headers = {"jku": SANDBOX_JKU, **mutation.pop("headers", {})}
        aud = mutation.pop("aud", PV_AUD)
        iss = mutation.pop("iss", SANDBOX_ISS)
        token = sandbox_signer.token(aud, iss=iss, headers=headers, **mutation)
        assert_rejected(post(bearer(token)))
        [line] = [line for line in json_logs() if line["event"] == "authentication failed"]
        assert reason in line["reason"]

    def test_replayed_token_is_refused(
        self, auth_client: TestClient, sandbox_signer: Signer, patient_view_body: dict[str, Any]
    ) -> None:
        token = sandbox_token(sandbox_signer)
        assert auth_client.post(PV, json=patient_view_body, headers=bearer(token)).status_code == 200
        assert_rejected(auth_client.post(PV, json=patient_view_body, headers=bearer(token)))

    def test_signature_by_another_key_with_the_same_kid(
        self, post: Callable[[dict[str, str]], Any], sandbox_signer: Signer
    ) -> None:
        impostor = ec_signer(sandbox_signer.kid)
        assert_rejected(post(bearer(sandbox_token(impostor))))

    def test_key_type_must_fit_the_algorithm(
        self, post: Callable[[dict[str, str]], Any], epic_signer: Signer, sandbox_signer: Signer
    ) -> None:
        # RS384 token naming the Sandbox's EC key id
        token = epic_signer.token(PV_AUD, iss=SANDBOX_ISS, headers={"kid": sandbox_signer.kid})
        assert_rejected(post(bearer(token)))

    @pytest.mark.parametrize("tenant", ["hospital-b", None])
    def test_tenant_must_be_allowlisted_when_the_issuer_has_tenants(
        self, post: Callable[[dict[str, str]], Any], epic_signer: Signer, tenant: str | None
    ) -> None:
        token = epic_token(epic_signer, claims={"tenant": tenant})
        assert_rejected(post(bearer(token)))

    def test_a_jku_that_is_not_allowlisted_is_never_fetched(
        self, post: Callable[[dict[str, str]], Any], epic_signer: Signer, jwks_adapter: JwksAdapter
    ) -> None:
        evil = "https://attacker.example/jwks.json"
        jwks_adapter.sets[evil] = {"keys": [epic_signer.public_jwk]}
        assert_rejected(post(bearer(epic_token(epic_signer, headers={"jku": evil}))))
        assert evil not in jwks_adapter.requested

    def test_a_token_for_an_unknown_service_is_checked_before_the_404(
        self, auth_client: TestClient, sandbox_signer: Signer, patient_view_body: dict[str, Any]
    ) -> None:
        assert_rejected(auth_client.post("/cds-services/unknown", json=patient_view_body))
        token = sandbox_token(sandbox_signer, PUBLIC_BASE + "/cds-services/unknown")
        assert (
            auth_client.post(
                "/cds-services/unknown", json=patient_view_body, headers=bearer(token)
            ).status_code
            == 404
        )

    def test_the_reason_is_logged_but_not_the_token(
        self, post: Callable[[dict[str, str]], Any], sandbox_signer: Signer, json_logs: Logs
    ) -> None:
        token = sandbox_token(sandbox_signer, aud="https://elsewhere.example/cds-services/x")
        assert_rejected(post(bearer(token)))
        [line] = [line for line in json_logs() if line["event"] == "authentication failed"]
        assert "InvalidAudienceError" in line["reason"]
        everything = json.dumps(json_logs())
        assert token not in everything
        assert token.split(".")[2] not in everything


def _epic_jku_settings(tmp_path: Path, **more: Any) -> Settings:
    """Settings trusting the Epic-shaped issuer through its allowlisted JWK Set URL only."""
    return Settings(
        data_dir=tmp_path,
        public_base_url=PUBLIC_BASE,
        trusted_issuers={EPIC_ISS: TrustedIssuer(jku=(EPIC_JKU,))},
        **more,
    )


class TestKeyRotation:
    def client_with(
        self, tmp_path: Path, session: requests.Session, store: SqliteStore, refetch: int
    ) -> TestClient:
        settings = _epic_jku_settings(tmp_path, jwks_min_refetch_seconds=refetch)
        return TestClient(create_app(settings, handler=RecordingHandler(), store=store, session=session))

    def test_a_new_kid_triggers_one_refetch(
        self,
        tmp_path: Path,
        jwks_session: requests.Session,
        jwks_adapter: JwksAdapter,
        store: SqliteStore,
        epic_signer: Signer,
        rotated_epic_signer: Signer,
        patient_view_body: dict[str, Any],
    ) -> None:
        client = self.client_with(tmp_path, jwks_session, store, refetch=0)
        assert (
            client.post(PV, json=patient_view_body, headers=bearer(epic_token(epic_signer))).status_code
            == 200
        )
        jwks_adapter.sets[EPIC_JKU] = {"keys": [epic_signer.public_jwk, rotated_epic_signer.public_jwk]}
        assert (
            client.post(
                PV, json=patient_view_body, headers=bearer(epic_token(rotated_epic_signer))
            ).status_code
            == 200
        )
        assert jwks_adapter.requested == [EPIC_JKU, EPIC_JKU]

    def test_unknown_kids_cannot_force_repeated_fetches(
        self,
        tmp_path: Path,
        jwks_session: requests.Session,
        jwks_adapter: JwksAdapter,
        store: SqliteStore,
        epic_signer: Signer,
        rotated_epic_signer: Signer,
        patient_view_body: dict[str, Any],
    ) -> None:
        client = self.client_with(tmp_path, jwks_session, store, refetch=60)
        assert (
            client.post(PV, json=patient_view_body, headers=bearer(epic_token(epic_signer))).status_code
            == 200
        )
        for _ in range(3):
            assert_rejected(
                client.post(PV, json=patient_view_body, headers=bearer(epic_token(rotated_epic_signer)))
            )
        assert jwks_adapter.requested == [EPIC_JKU]

    def test_a_failed_fetch_keeps_the_last_good_key_set(
        self, tmp_path: Path, jwks_session: requests.Session, jwks_adapter: JwksAdapter, epic_signer: Signer
    ) -> None:
        now = [1000.0]
        settings = _epic_jku_settings(tmp_path)
        resolver = KeyResolver(settings, jwks_session, clock=lambda: now[0])
        assert resolver.key_for(EPIC_ISS, epic_signer.kid, EPIC_JKU, "RS384")["kid"] == epic_signer.kid
        now[0] += settings.jwks_cache_ttl_seconds + 1
        jwks_adapter.fail = True
        assert resolver.key_for(EPIC_ISS, epic_signer.kid, EPIC_JKU, "RS384")["kid"] == epic_signer.kid
        assert jwks_adapter.requested == [EPIC_JKU, EPIC_JKU]

    def test_a_lookup_that_may_not_block_names_the_download_it_needs(
        self, tmp_path: Path, jwks_session: requests.Session, jwks_adapter: JwksAdapter, epic_signer: Signer
    ) -> None:
        now = [1000.0]
        settings = _epic_jku_settings(tmp_path)
        resolver = KeyResolver(settings, jwks_session, clock=lambda: now[0])
        with pytest.raises(KeyDownloadNeeded):
            resolver.key_for(EPIC_ISS, epic_signer.kid, EPIC_JKU, "RS384", may_download=False)
        assert jwks_adapter.requested == []  # asked, not fetched
        resolver.key_for(EPIC_ISS, epic_signer.kid, EPIC_JKU, "RS384")
        cached = resolver.key_for(EPIC_ISS, epic_signer.kid, EPIC_JKU, "RS384", may_download=False)
        assert cached["kid"] == epic_signer.kid
        now[0] += settings.jwks_cache_ttl_seconds + 1  # aged past its TTL: a download is due again
        with pytest.raises(KeyDownloadNeeded):
            resolver.key_for(EPIC_ISS, epic_signer.kid, EPIC_JKU, "RS384", may_download=False)
        assert jwks_adapter.requested == [EPIC_JKU]

    def test_a_check_deferred_for_a_download_records_nothing(
        self, tmp_path: Path, jwks_session: requests.Session, jwks_adapter: JwksAdapter, epic_signer: Signer
    ) -> None:
        # The deferred check runs again in a worker thread: had the first recorded the jti, the second
        # would refuse the caller's one genuine token as a replay.
        verifier = JwtVerifier(_epic_jku_settings(tmp_path), jwks_session)
        token = epic_token(epic_signer)
        with pytest.raises(KeyDownloadNeeded):
            verifier.verify(token, PV_AUD, may_download=False)
        assert verifier.verify(token, PV_AUD).issuer == EPIC_ISS
        with pytest.raises(AuthenticationError, match="replayed"):
            verifier.verify(token, PV_AUD, may_download=False)

    def test_no_key_set_at_all_is_a_rejection(
        self, tmp_path: Path, jwks_session: requests.Session, jwks_adapter: JwksAdapter
    ) -> None:
        jwks_adapter.fail = True
        settings = Settings(data_dir=tmp_path, trusted_issuers={EPIC_ISS: TrustedIssuer(jku=(EPIC_JKU,))})
        with pytest.raises(AuthenticationError, match="no key"):
            KeyResolver(settings, jwks_session).key_for(EPIC_ISS, "epic-key-1", EPIC_JKU, "RS384")


def test_replay_cache_forgets_expired_entries() -> None:
    now = [100.0]
    cache = ReplayCache(clock=lambda: now[0])
    assert cache.add("iss", "j1", until=200.0)
    assert not cache.add("iss", "j1", until=200.0)
    assert cache.add("other-iss", "j1", until=200.0)
    now[0] = 201.0
    assert cache.add("iss", "j1", until=300.0)


class TestConfiguration:
    def test_auth_needs_a_public_base_url(self, tmp_path: Path, sandbox_signer: Signer) -> None:
        settings = Settings(
            data_dir=tmp_path,
            trusted_issuers={SANDBOX_ISS: TrustedIssuer(jwks={"keys": [sandbox_signer.public_jwk]})},
        )
        with pytest.raises(ConfigurationError, match="BONEMET_PUBLIC_BASE_URL"):
            build_app(settings, handler=RecordingHandler())

    def test_auth_needs_a_trusted_issuer(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="trusted issuer"):
            build_app(Settings(data_dir=tmp_path, public_base_url=PUBLIC_BASE), handler=RecordingHandler())

    def test_a_malformed_jwks_file_stops_start_up(self, tmp_path: Path) -> None:
        path = tmp_path / "jwks.json"
        path.write_text('{"keys": "none"}')
        settings = Settings(
            data_dir=tmp_path,
            public_base_url=PUBLIC_BASE,
            trusted_issuers={SANDBOX_ISS: TrustedIssuer(jwks_file=path)},
        )
        with pytest.raises(ConfigurationError, match="JWK Set"):
            build_app(settings, handler=RecordingHandler())

    def test_jwks_file_is_used(
        self, tmp_path: Path, sandbox_signer: Signer, store: SqliteStore, patient_view_body: dict[str, Any]
    ) -> None:
        path = tmp_path / "jwks.json"
        path.write_text(json.dumps({"keys": [sandbox_signer.public_jwk]}))
        settings = Settings(
            data_dir=tmp_path,
            public_base_url=PUBLIC_BASE,
            trusted_issuers={SANDBOX_ISS: TrustedIssuer(jwks_file=path)},
        )
        client = TestClient(create_app(settings, handler=RecordingHandler(), store=store))
        assert (
            client.post(PV, json=patient_view_body, headers=bearer(sandbox_token(sandbox_signer))).status_code
            == 200
        )

    def test_without_configured_origins_no_cors_headers_are_sent(
        self, tmp_path: Path, sandbox_signer: Signer, store: SqliteStore
    ) -> None:
        settings = Settings(
            data_dir=tmp_path,
            public_base_url=PUBLIC_BASE,
            trusted_issuers={SANDBOX_ISS: TrustedIssuer(jwks={"keys": [sandbox_signer.public_jwk]})},
        )
        client = TestClient(create_app(settings, handler=RecordingHandler(), store=store))
        response = client.get("/health", headers={"Origin": "http://localhost:8080"})
        assert "access-control-allow-origin" not in response.headers

    def test_unlisted_origins_get_no_cors_grant(self, auth_client: TestClient) -> None:
        response = auth_client.options(
            PV, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert response.headers.get("access-control-allow-origin") != "https://evil.example"
        assert response.headers.get("access-control-allow-origin") != "*"
        # Refused like every other refusal: an OperationOutcome that names what was not allowed.
        [issue] = assert_outcome(response, 400, "$this")
        assert issue["diagnostics"] == "Cross-origin request refused: origin not allowed."
        assert issue["code"] == "forbidden"


class TestKeyMaterial:
    @pytest.mark.parametrize(
        "bad_key",
        [
            {"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "leaked", "crv": "P-384", "x": "AA", "y": "AA", "d": "AA"},
            {"kty": "RSA", "kid": "leaked", "n": "AA", "e": "AQAB", "p": "AA", "q": "AA"},
        ],
    )
    def test_a_jwks_file_with_private_or_symmetric_keys_stops_start_up_naming_the_file(
        self, tmp_path: Path, sandbox_signer: Signer, bad_key: dict[str, Any]
    ) -> None:
        path = tmp_path / "issuer-jwks.json"
        path.write_text(json.dumps({"keys": [sandbox_signer.public_jwk, bad_key]}))
        settings = Settings(
            data_dir=tmp_path,
            public_base_url=PUBLIC_BASE,
            trusted_issuers={SANDBOX_ISS: TrustedIssuer(jwks_file=path)},
        )
        with pytest.raises(ConfigurationError, match=r"issuer-jwks\.json.*private or symmetric") as info:
            build_app(settings, handler=RecordingHandler())
        assert bad_key.get("d", bad_key.get("k", bad_key.get("p"))) not in str(info.value)

    def test_a_downloaded_key_set_with_private_keys_is_not_used(
        self, tmp_path: Path, jwks_session: requests.Session, jwks_adapter: JwksAdapter, epic_signer: Signer
    ) -> None:
        jwks_adapter.sets[EPIC_JKU] = {"keys": [{**epic_signer.public_jwk, "d": "c2VjcmV0"}]}
        settings = Settings(data_dir=tmp_path, trusted_issuers={EPIC_ISS: TrustedIssuer(jku=(EPIC_JKU,))})
        with pytest.raises(AuthenticationError, match="no key"):
            KeyResolver(settings, jwks_session).key_for(EPIC_ISS, epic_signer.kid, EPIC_JKU, "RS384")
