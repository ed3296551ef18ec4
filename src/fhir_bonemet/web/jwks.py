"""Public keys of trusted CDS clients: configured JWK Sets, and allowlisted ``jku`` URLs fetched on demand.

A ``kid`` is looked up in the issuer's configured JWK Set first: a key found there verifies the token
whatever its ``jku`` header names (the set was agreed out of band; the CDS Hooks Sandbox sends its ``jku``
to a service configured with its key file).  Only for a ``kid`` not found there is a ``jku`` header
followed, and only when that exact URL is allowlisted for the token's issuer; any other URL is never
fetched (no server-side request forgery, no attacker-supplied keys).  A token without ``jku`` is then
checked against the issuer's allowlisted URLs.  Fetched sets are cached for
``jwks_cache_ttl_seconds``; an unknown ``kid`` triggers one refetch (key rotation) at most every
``jwks_min_refetch_seconds``; when a fetch fails, the last good set keeps serving and the URL is not tried
again for ``jwks_min_refetch_seconds`` (negative cache).

Downloads never queue behind each other: each URL has its own single flight (one download at a time;
a caller arriving meanwhile waits at most :data:`_INFLIGHT_WAIT_SECONDS` for it, then uses what is
cached), a download is cut off after ``jwks_download_timeout_seconds`` however slowly the server drips,
and a JWK Set larger than :data:`_MAX_JWKS_BYTES` is refused.  So an issuer whose ``jku`` hangs delays
only its own callers, by at most the download timeout, and never another issuer's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from fhir_bonemet.errors import AuthenticationError, ConfigurationError
from fhir_bonemet.settings import Settings, TrustedIssuer

__all__ = ["Jwk", "KeyDownloadNeeded", "KeyResolver"]

log = logging.getLogger("fhir_bonemet.auth")

# Curve each ECDSA algorithm must use (RFC 7518 §3.4).
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_KTY = {"ES": "EC", "RS": "RSA", "PS": "RSA", "Ed": "OKP"}

Jwk = dict[str, Any]


class KeyDownloadNeeded(Exception):
    """The key can be known only after downloading a JWK Set (asked with ``may_download`` false)."""


_INFLIGHT_WAIT_SECONDS = 0.25
_MAX_JWKS_BYTES = 256 * 1024


# Members that only private (or symmetric) keys have (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _keys_by_kid(jwks: Any, where: str) -> dict[str, Jwk]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError(f"{where}: a JWK Set is an object with a 'keys' array")
    keys: dict[str, Jwk] = {}
    for jwk in jwks["keys"]:
        # A set that holds a private or shared secret was published or copied by mistake: refuse all of it,
        # so the mistake is noticed (and a leaked signing key is never trusted as a verification key).
        if isinstance(jwk, dict) and (jwk.get("kty") == "oct" or _PRIVATE_MEMBERS & jwk.keys()):
            raise ValueError(
                f"{where}: holds private or symmetric key material (kid {jwk.get('kid')!r}); "
                "publish only public keys"
            )
        if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str) and jwk.get("use", "sig") == "sig":
            keys[jwk["kid"]] = jwk
    return keys


@dataclass
class _Fetched:
    keys: dict[str, Jwk]
    fetched_at: float


@dataclass
class _UrlState:
    """What is known about one jku URL; ``flight`` is held by the one thread downloading it."""

    flight: threading.Lock = field(default_factory=threading.Lock)
    fetched: _Fetched | None = None
    last_attempt: float | None = None
    failed: bool = False

    def key(self, kid: str) -> Jwk | None:
        return None if self.fetched is None else self.fetched.keys.get(kid)


class KeyResolver:
    def __init__(
        self,
        settings: Settings,
        session: requests.Session,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuers: Mapping[str, TrustedIssuer] = settings.trusted_issuers
        self._session = session
        self._download_timeout = settings.jwks_download_timeout_seconds
        self._ttl = settings.jwks_cache_ttl_seconds
        self._min_refetch = settings.jwks_min_refetch_seconds
        self._clock = clock
        self._states_lock = threading.Lock()  # guards the dict only, never held during a download
        self._states: dict[str, _UrlState] = {}
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

    def key_for(self, iss: str, kid: str, jku: str | None, alg: str, *, may_download: bool = True) -> Jwk:
        """The JWK that must have signed a token from ``iss`` with header ``kid``/``jku``/``alg``.

        With ``may_download`` false, :class:`KeyDownloadNeeded` is raised where the answer would wait for a
        download (the key set is not cached, has aged past its TTL, or lacks a new kid that may be
        fetched now): the caller runs this again where it may block."""
        jwk = self._static.get(iss, {}).get(kid)
        if jwk is None:
            allowed = self._issuers[iss].jku
            if jku is not None and jku not in allowed:
                raise AuthenticationError("jku is not allowlisted for this issuer")
            # Without a jku header, the issuer's allowlisted JWK Set URLs are its out-of-band key source.
            for url in (jku,) if jku is not None else allowed:
                jwk = self._from_jku(url, kid, may_download)
                if jwk is not None:
                    break
        if jwk is None:
            raise AuthenticationError("no key with this kid for this issuer")
        _check_key_matches(jwk, alg)
        return jwk

    def _from_jku(self, jku: str, kid: str, may_download: bool = True) -> Jwk | None:
        with self._states_lock:
            state = self._states.setdefault(jku, _UrlState())
        if not self._download_due(state, kid):
            return state.key(kid)
        if not may_download:
            raise KeyDownloadNeeded(jku)
        asked = self._clock()
        if not state.flight.acquire(timeout=_INFLIGHT_WAIT_SECONDS):
            return state.key(kid)  # another thread is downloading this URL; do not queue behind it
        try:
            # The download this caller waited for may have just brought the key (or just failed).
            if state.last_attempt is not None and state.last_attempt >= asked:
                return state.key(kid)
            if not self._download_due(state, kid):
                return state.key(kid)
            state.last_attempt = self._clock()
            try:
                state.fetched = _Fetched(self._download(jku), state.last_attempt)
                state.failed = False
            except (requests.RequestException, ValueError) as exc:
                # Keep serving the last good set: a JWKS outage must not lock every client out.
                state.failed = True
                log.warning("jwks fetch failed", extra={"jku": jku, "error_type": type(exc).__name__})
        finally:
            state.flight.release()
        return state.key(kid)

    def _download_due(self, state: _UrlState, kid: str) -> bool:
        now = self._clock()
        recent = state.last_attempt is not None and now - state.last_attempt < self._min_refetch
        if state.failed and recent:
            return False  # negative cache: a failing URL is not hammered
        fetched = state.fetched
        if fetched is None or now - fetched.fetched_at >= self._ttl:
            return True
        return kid not in fetched.keys and not recent  # key rotation, at most every min_refetch

    def _download(self, jku: str) -> dict[str, Jwk]:
        deadline = time.monotonic() + self._download_timeout
        timeout = min(self._download_timeout, 2.0)
        with self._session.get(jku, timeout=timeout, allow_redirects=False, stream=True) as response:
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_content(chunk_size=4096):
                body += chunk
                if len(body) > _MAX_JWKS_BYTES:
                    raise ValueError("JWK Set too large")
                if time.monotonic() > deadline:  # a server dripping bytes under the read timeout
                    raise requests.Timeout("JWK Set download exceeded its time budget")
        keys = _keys_by_kid(json.loads(bytes(body)), jku)
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
