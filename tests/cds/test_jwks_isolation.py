"""jku downloads under attack: an issuer whose JWK Set URL hangs delays nobody else, concurrent callers
share one download, and tokens that fail any check needing no key never cause a download."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from cds_helpers import EPIC_ISS, EPIC_JKU, PUBLIC_BASE, JwksAdapter, Signer, ec_signer

from fhir_bonemet.errors import AuthenticationError
from fhir_bonemet.settings import Settings, TrustedIssuer
from fhir_bonemet.web.auth import JwtVerifier

AUD = PUBLIC_BASE + "/cds-services/bonemet-patient-view"
SLOW_ISS = "https://slow-ehr.example"
SLOW_JKU = "https://slow-ehr.example/jwks.json"


class HangingJwks(JwksAdapter):
    """Serves JWK Sets, except that requests for ``hang_url`` block until released (at most 10 s)."""

    def __init__(self, hang_url: str) -> None:
        super().__init__()
        self.hang_url = hang_url
        self.release = threading.Event()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if request.url == self.hang_url:
            self.requested.append(self.hang_url)
            self.release.wait(10)
            raise requests.ConnectionError("gave up")
        return super().send(request, *args, **kwargs)


@pytest.fixture
def adapter(epic_signer: Signer) -> HangingJwks:
    adapter = HangingJwks(SLOW_JKU)
    adapter.sets[EPIC_JKU] = {"keys": [epic_signer.public_jwk]}
    return adapter


@pytest.fixture
def verifier(tmp_path: Path, adapter: HangingJwks) -> JwtVerifier:
    session = requests.Session()
    session.mount("https://", adapter)
    settings = Settings(
        data_dir=tmp_path,
        public_base_url=PUBLIC_BASE,
        trusted_issuers={
            SLOW_ISS: TrustedIssuer(jku=(SLOW_JKU,)),
            EPIC_ISS: TrustedIssuer(jku=(EPIC_JKU,)),
        },
    )
    return JwtVerifier(settings, session)


def refused(verifier: JwtVerifier, token: str) -> bool:
    try:
        verifier.verify(token, AUD)
    except AuthenticationError:
        return True
    return False


def test_a_hanging_jku_of_one_issuer_never_delays_another_issuer(
    verifier: JwtVerifier, adapter: HangingJwks, epic_signer: Signer
) -> None:
    forger = ec_signer("unknown-kid")  # well-formed tokens, signed by a key the issuer never published
    forged = [forger.token(AUD, iss=SLOW_ISS, headers={"jku": SLOW_JKU}) for _ in range(64)]
    outcomes: list[bool] = []
    threads = [threading.Thread(target=lambda t=t: outcomes.append(refused(verifier, t))) for t in forged]
    # The slow URL fails one second from now, so a regression shows as a slow call, not a hung test.
    timer = threading.Timer(1.0, adapter.release.set)
    timer.start()
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.3)  # the forged calls are all waiting on (or have given up on) the slow download
        started = time.monotonic()
        identity = verifier.verify(epic_signer.token(AUD, iss=EPIC_ISS, headers={"jku": EPIC_JKU}), AUD)
        elapsed = time.monotonic() - started
    finally:
        timer.join()
        for thread in threads:
            thread.join(15)
    assert identity.issuer == EPIC_ISS
    assert elapsed < 0.2, f"the other issuer's valid call took {elapsed:.2f} s"
    assert outcomes == [True] * 64
    assert adapter.requested.count(SLOW_JKU) == 1  # one download in flight for 64 callers


def test_a_failed_jku_is_not_retried_by_every_caller(verifier: JwtVerifier, adapter: HangingJwks) -> None:
    adapter.release.set()  # the slow URL now fails at once
    forger = ec_signer("unknown-kid")
    for _ in range(5):
        assert refused(verifier, forger.token(AUD, iss=SLOW_ISS, headers={"jku": SLOW_JKU}))
    assert adapter.requested.count(SLOW_JKU) == 1


@pytest.mark.parametrize(
    "mutation",
    [
        {"unsigned": True},
        {"signature": ""},
        {"signature": "AAAA"},
        {"signature": "not base64url!"},
        {"claims": {"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}},
        {"claims": {"exp": str(int(time.time()) + 300)}},
        {"claims": {"aud": "https://elsewhere.example/cds-services/x"}},
        {"claims": {"iss": "https://untrusted.example"}},
        {"claims": {"exp": int(time.time()) + 7200}},
        {"drop": ("jti",)},
    ],
)
def test_tokens_failing_a_cheap_check_never_trigger_a_download(
    verifier: JwtVerifier, adapter: HangingJwks, mutation: dict[str, Any]
) -> None:
    adapter.release.set()
    forger = ec_signer("unknown-kid")
    claims = dict(mutation.get("claims", {}))
    aud = claims.pop("aud", AUD)
    iss = claims.pop("iss", SLOW_ISS)
    token = forger.token(
        aud,
        iss=iss,
        headers={"jku": SLOW_JKU},
        drop=mutation.get("drop", ()),
        **claims,
    )
    if "signature" in mutation:
        token = token.rsplit(".", 1)[0] + "." + mutation["signature"]
    if mutation.get("unsigned"):
        header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": "k"}).encode()).rstrip(b"=")
        token = f"{header.decode()}.{token.split('.')[1]}."
    assert refused(verifier, token)
    assert adapter.requested == []
