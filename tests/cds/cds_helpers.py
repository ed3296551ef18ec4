"""Helpers for the HTTP-layer tests: spec example bodies, a recording hook handler, JWT signers and a
``requests`` transport that serves JWK Sets."""

from __future__ import annotations

import copy
import io
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from fhir_bonemet.cds.models import CDSRequest, CDSResponse
from fhir_bonemet.cds.protocol import HookDeps
from fhir_bonemet.cds.services import ServiceDefinition
from fhir_bonemet.project_dirs import SERVICES

EXAMPLES = SERVICES.default / "examples"
PUBLIC_BASE = "https://cds.example.org"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
EPIC_ISS = "https://fhir.hospital.example/interconnect-fhir-oauth/api/FHIR/R4"
EPIC_JKU = (
    "https://fhir.hospital.example/interconnect-fhir-oauth/api/epic/2019/Security/Open/PublicKeys/530013"
)


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


@dataclass
class RecordingHandler:
    """A hook handler for HTTP tests: records each call and answers with a fixed response (or raises)."""

    response: CDSResponse = field(default_factory=lambda: CDSResponse(cards=[]))
    error: Exception | None = None
    calls: list[tuple[ServiceDefinition, CDSRequest, HookDeps]] = field(default_factory=list)

    def __call__(self, service: ServiceDefinition, request: CDSRequest, deps: HookDeps, /) -> CDSResponse:
        self.calls.append((service, request, deps))
        if self.error is not None:
            raise self.error
        return self.response


@dataclass
class Signer:
    """A CDS client's signing key and the JWT it would send."""

    alg: str
    kid: str
    private_key: Any
    public_jwk: dict[str, Any]

    def token(
        self,
        aud: str | list[str],
        *,
        iss: str,
        lifetime: int = 300,
        headers: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": iss,
            "aud": aud,
            "iat": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
        }
        payload.update(claims)
        for name in drop:
            payload.pop(name, None)
        merged = {"kid": self.kid, "typ": "JWT", **(headers or {})}
        header = {name: value for name, value in merged.items() if value is not None}  # None: leave out
        return jwt.encode(payload, self.private_key, algorithm=self.alg, headers=header)


def ec_signer(kid: str) -> Signer:
    key = ec.generate_private_key(ec.SECP384R1())
    public = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    return Signer("ES384", kid, key, {**public, "kid": kid, "use": "sig", "alg": "ES384"})


def rsa_signer(kid: str) -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return Signer("RS384", kid, key, {**public, "kid": kid, "use": "sig", "alg": "RS384"})


class JwksAdapter(requests.adapters.BaseAdapter):
    """A ``requests`` transport serving JWK Sets by URL, counting requests (no network)."""

    def __init__(self) -> None:
        super().__init__()
        self.sets: dict[str, dict[str, Any]] = {}
        self.fail = False
        self.requested: list[str] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = str(request.url)
        self.requested.append(url)
        response = requests.Response()
        response.url = url
        response.request = request
        if self.fail or url not in self.sets:
            response.status_code = 503 if self.fail else 404
            body = b"{}"
        else:
            response.status_code = 200
            body = json.dumps(self.sets[url]).encode()
        response.raw = io.BytesIO(body)
        response.headers["Content-Type"] = "application/json"
        return response

    def close(self) -> None:
        return None


def preflight(client: Any, path: str, origin: str = "http://localhost:8080") -> Any:
    """The CORS preflight a browser-based CDS client (the Sandbox) sends before its POST."""
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def deep(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)


def assert_outcome(response: Any, status: int, *locations: str) -> list[dict[str, Any]]:
    """The response is an OperationOutcome whose issues each say what and where."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issues: list[dict[str, Any]] = body["issue"]
    assert issues
    for issue in issues:
        assert issue["severity"] == "error"
        assert issue["code"]
        assert issue["diagnostics"]
        assert issue["location"] == issue["expression"]
        assert len(issue["location"]) == 1
        assert issue["location"][0]
    if locations:
        assert [issue["location"][0] for issue in issues] == list(locations)
    return issues
