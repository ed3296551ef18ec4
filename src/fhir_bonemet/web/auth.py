"""Verification of the CDS client's JWT (``Authorization: Bearer <JWT>``), per CDS Hooks 2.0.

The checks.  First everything that needs no key, so a forged or stale token never makes the service
fetch a JWK Set: a bearer token is present and at most :data:`MAX_TOKEN_BYTES`; header ``alg`` is in the
configured allowlist (``none`` and HMAC can never be configured); ``typ`` is ``JWT`` when given; ``kid`` is
present; ``jku`` is a string when given; the signature has the size ``alg`` implies; ``aud`` equals the URL
of the endpoint called, built from the configured public base URL (never from the ``Host`` header);
``exp``, ``iat`` and ``jti`` are present, the dates are JSON numbers and hold with a small leeway, and the
token lives no longer than the replay cache remembers; ``iss`` is a trusted issuer; ``tenant`` is
allowlisted when the issuer has a tenant list.  Then the key, from the issuer's configured JWK Set or an
allowlisted ``jku``; the signature, over the very header and claims checked before; last, ``jti`` was not
seen before from that issuer.

The check runs in the event loop when the key is at hand; one that must first download a JWK Set is
deferred (:class:`~fhir_bonemet.web.jwks.KeyDownloadNeeded`, before anything is recorded) and run again
in a worker thread (:func:`fhir_bonemet.web.deps.authenticated_client`).

The replay cache lives in the store (:class:`StoreReplayCache`), so every process and host sharing one
database refuses a token any of them accepted, and a restart forgets nothing.

Any failure raises :class:`AuthenticationError` whose message is for the log only; the caller gets a bare
401.  The token itself is never logged.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt
import orjson
import requests

from fhir_bonemet.cds.protocol import ClientIdentity
from fhir_bonemet.errors import AuthenticationError
from fhir_bonemet.settings import Settings
from fhir_bonemet.store.base import Store
from fhir_bonemet.web.jwks import Jwk, KeyDownloadNeeded, KeyResolver

__all__ = [
    "MAX_TOKEN_BYTES",
    "ClientIdentity",
    "JwtVerifier",
    "KeyDownloadNeeded",
    "ReplayCache",
    "Replays",
    "StoreReplayCache",
]

_REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]
_NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")
# A CDS client's JWT is a few hundred bytes to ~2 KiB; anything far larger is refused unparsed, so a
# validly signed but huge token cannot make the service spend memory and CPU on it.
MAX_TOKEN_BYTES = 16 * 1024
_PURGE_EVERY = 256
# Raw signature sizes (RFC 7518 §3.4: ECDSA signatures are R || S, each the curve's coordinate size).
_SIGNATURE_BYTES = {"ES256": 64, "ES384": 96, "ES512": 132, "EdDSA": 64}
_MIN_RSA_SIGNATURE_BYTES = 256  # 2048-bit keys, the smallest RFC 7518 allows
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
# Validated without a key: the claims are those of the signed payload, whose signature is checked next.
_UNSIGNED_CHECKS: Any = {  # PyJWT's Options TypedDict
    "require": _REQUIRED_CLAIMS,
    "strict_aud": False,
    "verify_signature": False,
    "verify_aud": True,
    "verify_exp": True,
    "verify_iat": True,
    "verify_nbf": True,
}
_MAX_PREPARED_KEYS = 64


def _check_signature_size(token: str, alg: str) -> None:
    """Refuse a signature that cannot be a signature of ``alg`` (an empty one above all) unverified."""
    encoded = token.rsplit(".", 1)[-1]
    if not _BASE64URL.fullmatch(encoded):
        raise AuthenticationError("signature missing or not base64url")
    size = len(encoded) * 3 // 4
    expected = _SIGNATURE_BYTES.get(alg)
    if (expected is not None and size != expected) or (expected is None and size < _MIN_RSA_SIGNATURE_BYTES):
        raise AuthenticationError("signature size does not fit alg")


class Replays(Protocol):
    def add(self, iss: str, jti: str, until: float) -> bool:
        """Record (iss, jti) until the epoch second ``until``; False when already recorded (a replay)."""


class ReplayCache:
    """Remembers (iss, jti) pairs until their token expires; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._adds = 0

    def add(self, iss: str, jti: str, until: float) -> bool:
        """Record the pair; False when it was already recorded and has not expired (a replay)."""
        now = self._clock()
        with self._lock:
            expiry = self._seen.get((iss, jti))
            if expiry is not None and expiry > now:
                return False
            self._seen[(iss, jti)] = until
            self._adds += 1
            if self._adds % 256 == 0:
                self._seen = {key: exp for key, exp in self._seen.items() if exp > now}
            return True

    def __len__(self) -> int:
        return len(self._seen)


class StoreReplayCache:
    """Remembers (iss, jti) pairs in the store: shared by every process on the database, kept across
    restarts.  Expired pairs are purged every few hundred additions."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._adds = 0

    def add(self, iss: str, jti: str, until: float) -> bool:
        try:
            expires_at = datetime.fromtimestamp(until, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise AuthenticationError("exp is out of range") from exc
        if not self._store.remember_token(iss, jti, expires_at):
            return False
        with self._lock:
            self._adds += 1
            purge = self._adds % _PURGE_EVERY == 0
        if purge:
            self._store.purge_expired_tokens(datetime.now(UTC))
        return True


class JwtVerifier:
    def __init__(
        self, settings: Settings, session: requests.Session, replay_cache: Replays | None = None
    ) -> None:
        self._settings = settings
        self._algorithms = frozenset(settings.jwt_algorithms)
        self._keys = KeyResolver(settings, session)
        self._replays: Replays = replay_cache or ReplayCache()
        self._prepared_lock = threading.Lock()
        self._prepared: dict[tuple[bytes, str], jwt.PyJWK] = {}

    def verify(self, token: str, audience: str, *, may_download: bool = True) -> ClientIdentity:
        """The caller's identity, or :class:`AuthenticationError`.  With ``may_download`` false, a key that
        would have to be downloaded first raises :class:`KeyDownloadNeeded` instead (nothing is recorded
        then): the caller can run the check again where blocking is fine."""
        if len(token) > MAX_TOKEN_BYTES:
            raise AuthenticationError(f"JWT larger than {MAX_TOKEN_BYTES} bytes")
        # The token is parsed once, its claims validated once, unsigned (aud, exp, iat, nbf and the
        # required claims, by PyJWT); the signature is then checked over those very bytes with the
        # issuer's key.  (Decoding it again with the key cost twice the parsing, and PyJWT checks every
        # character of every segment in Python: most of a verification's time besides the cryptography.)
        try:
            decoded = jwt.api_jwt.decode_complete(
                token,
                audience=audience,
                leeway=self._settings.jwt_leeway_seconds,
                options=_UNSIGNED_CHECKS,
            )
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
            raise AuthenticationError(f"JWT rejected ({type(exc).__name__})") from exc
        header, claims = decoded["header"], decoded["payload"]
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise AuthenticationError("alg not allowed")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
            raise AuthenticationError("typ is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("kid missing")
        jku = header.get("jku")
        if jku is not None and not isinstance(jku, str):
            # A malformed header is refused, not read as "no jku" (the issuer's keys would then decide).
            raise AuthenticationError("jku must be a string")
        _check_signature_size(token, alg)
        # Everything that needs no key is checked before a key is looked up, so a forged or stale token
        # can never make the service download an issuer's JWK Set.
        iss = claims.get("iss")
        if not isinstance(iss, str) or not self._keys.is_trusted(iss):
            raise AuthenticationError("issuer not trusted")
        self._check_claims(claims, iss)
        jwk = self._keys.key_for(iss, kid, jku, alg, may_download=may_download)
        signing_input, _, _ = token.rpartition(".")
        self._check_signature(signing_input.encode("ascii"), decoded["signature"], jwk, alg)
        return self._accept(claims, iss)

    def _check_signature(self, signing_input: bytes, signature: bytes, jwk: Jwk, alg: str) -> None:
        """The signature is ``jwk``'s over ``signing_input`` under ``alg`` (the header's, allowlisted)."""
        try:
            key = self._prepared_key(jwk, alg)
            valid = key.Algorithm.verify(signing_input, key.key, signature)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise AuthenticationError(f"JWT rejected ({type(exc).__name__})") from exc
        if not valid:
            raise AuthenticationError("JWT rejected (InvalidSignatureError)")

    def _prepared_key(self, jwk: Jwk, alg: str) -> jwt.PyJWK:
        # A key object made from a JWK is kept: making it (an EC point from its coordinates) cost as much
        # as checking a signature with it.  Keyed by the JWK's content, so a rotated key is a new entry.
        cache_key = (orjson.dumps(jwk, option=orjson.OPT_SORT_KEYS), alg)
        with self._prepared_lock:
            key = self._prepared.get(cache_key)
        if key is None:
            key = jwt.PyJWK(dict(jwk), algorithm=alg)
            with self._prepared_lock:
                if len(self._prepared) >= _MAX_PREPARED_KEYS:
                    self._prepared.clear()
                self._prepared[cache_key] = key
        return key

    def _check_claims(self, claims: dict[str, Any], iss: str) -> None:
        for name in _NUMERIC_DATE_CLAIMS:
            # RFC 7519 NumericDate is a JSON number; PyJWT would also take "1700000000" (a string).
            value = claims.get(name)
            if name in claims and (
                isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            ):
                raise AuthenticationError(f"{name} must be a JSON number")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthenticationError("jti must be a non-empty string")
        if claims["exp"] - claims["iat"] > self._settings.jti_cache_ttl_seconds:
            raise AuthenticationError("JWT lifetime exceeds the replay window")
        tenant = claims.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise AuthenticationError("tenant must be a string")
        allowed_tenants = self._settings.trusted_issuers[iss].tenants
        if allowed_tenants and tenant not in allowed_tenants:
            raise AuthenticationError("tenant not allowed for this issuer")

    def _accept(self, claims: dict[str, Any], iss: str) -> ClientIdentity:
        exp, jti, tenant = claims["exp"], claims["jti"], claims.get("tenant")
        if not self._replays.add(iss, jti, until=float(exp) + self._settings.jwt_leeway_seconds):
            raise AuthenticationError("jti replayed")
        return ClientIdentity(issuer=iss, tenant=tenant, jti=jti)
