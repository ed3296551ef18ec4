"""Public keys of trusted CDS clients: configured JWK Sets, and allowlisted ``jku`` URLs fetched on demand.

A ``jku`` header is followed only when that exact URL is allowlisted for the token's issuer; any other URL
is never fetched (no server-side request forgery, no attacker-supplied keys).  A token without ``jku`` is
checked against the issuer's configured JWK Set, then against its allowlisted URLs (the key set agreed
out of band).  Fetched sets are cached for
``jwks_cache_ttl_seconds``; an unknown ``kid`` triggers one refetch (key rotation) at most every
``jwks_min_refetch_seconds``; when a fetch fails, the last good set keeps serving.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from fhir_bonemet.errors import AuthenticationError, ConfigurationError
from fhir_bonemet.settings import Settings, TrustedIssuer

__all__ = ["KeyResolver"]

log = logging.getLogger("fhir_bonemet.auth")

# Curve each ECDSA algorithm must use (RFC 7518 §3.4).
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_KTY = {"ES": "EC", "RS": "RSA", "PS": "RSA", "Ed": "OKP"}

Jwk = dict[str, Any]


def _keys_by_kid(jwks: Any, where: str) -> dict[str, Jwk]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError(f"{where}: a JWK Set is an object with a 'keys' array")
    keys: dict[str, Jwk] = {}
    for jwk in jwks["keys"]:
        if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str) and jwk.get("use", "sig") == "sig":
            keys[jwk["kid"]] = jwk
    return keys


@dataclass
class _Fetched:
    keys: dict[str, Jwk]
    fetched_at: float


class KeyResolver:
    def __init__(
        self,
        settings: Settings,
        session: requests.Session,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuers: Mapping[str, TrustedIssuer] = settings.trusted_issuers
        self._session = session
        self._timeouts = settings.fhir_timeouts
        self._ttl = settings.jwks_cache_ttl_seconds
        self._min_refetch = settings.jwks_min_refetch_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._fetched: dict[str, _Fetched] = {}
        self._last_attempt: dict[str, float] = {}
        self._static: dict[str, dict[str, Jwk]] = {}
        for iss, issuer in self._issuers.items():
            keys: dict[str, Jwk] = {}
            try:
                if issuer.jwks_file is not None:
                    keys.update(
                        _keys_by_kid(json.loads(issuer.jwks_file.read_text("utf-8")), str(issuer.jwks_file))
                    )
                if issuer.jwks is not None:
                    keys.update(_keys_by_kid(issuer.jwks, f"trusted issuer {iss} jwks"))
            except (OSError, ValueError) as exc:
                raise ConfigurationError(f"trusted issuer {iss}: cannot load its JWK Set: {exc}") from exc
            self._static[iss] = keys

    def is_trusted(self, iss: str) -> bool:
        return iss in self._issuers

    def key_for(self, iss: str, kid: str, jku: str | None, alg: str) -> Jwk:
        """The JWK that must have signed a token from ``iss`` with header ``kid``/``jku``/``alg``."""
        jwk = self._static.get(iss, {}).get(kid)
        if jwk is None:
            allowed = self._issuers[iss].jku
            if jku is not None and jku not in allowed:
                raise AuthenticationError("jku is not allowlisted for this issuer")
            # Without a jku header, the issuer's allowlisted JWK Set URLs are its out-of-band key source.
            for url in (jku,) if jku is not None else allowed:
                jwk = self._from_jku(url, kid)
                if jwk is not None:
                    break
        if jwk is None:
            raise AuthenticationError("no key with this kid for this issuer")
        _check_key_matches(jwk, alg)
        return jwk

    def _from_jku(self, jku: str, kid: str) -> Jwk | None:
        with self._lock:
            now = self._clock()
            cached = self._fetched.get(jku)
            fresh = cached is not None and now - cached.fetched_at < self._ttl
            if cached is not None and fresh and kid in cached.keys:
                return cached.keys[kid]
            last = self._last_attempt.get(jku)
            if last is None or not fresh or now - last >= self._min_refetch:
                self._last_attempt[jku] = now
                try:
                    self._fetched[jku] = _Fetched(self._download(jku), now)
                except (requests.RequestException, ValueError) as exc:
                    # Keep serving the last good set: a JWKS outage must not lock every client out.
                    log.warning("jwks fetch failed", extra={"jku": jku, "error_type": type(exc).__name__})
            current = self._fetched.get(jku)
            return None if current is None else current.keys.get(kid)

    def _download(self, jku: str) -> dict[str, Jwk]:
        response = self._session.get(jku, timeout=self._timeouts, allow_redirects=False)
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        keys = _keys_by_kid(response.json(), jku)
        log.info("jwks fetched", extra={"jku": jku, "keys": len(keys)})
        return keys


def _check_key_matches(jwk: Jwk, alg: str) -> None:
    """Refuse a key whose type, curve or declared algorithm does not fit the token's ``alg``."""
    declared = jwk.get("alg")
    if declared is not None and declared != alg:
        raise AuthenticationError("key alg differs from token alg")
    if jwk.get("kty") != _KTY.get(alg[:2]):
        raise AuthenticationError("key type does not fit token alg")
    curve = _EC_CURVES.get(alg)
    if curve is not None and jwk.get("crv") != curve:
        raise AuthenticationError("key curve does not fit token alg")
