"""Signed plan links: ``/plan/{token}``, where the token names one stored plan view of one patient.

A token is ``base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`` with the payload
``{"v": 1, "id": plan id, "pk": patient key, "exp": unix seconds}``.  The patient key is a keyed hash of the
patient reference, so the link carries no identifier; the stored row must carry the same key.  A token
that was altered, has expired or names a purged plan opens nothing.

The secret comes from ``BONEMET_PLAN_LINK_SECRET``; without it one is generated once and kept in the data
directory (mode 0600), so that every worker of the service signs and verifies with the same key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from fhir_bonemet.settings import Settings

__all__ = ["LinkClaims", "LinkSigner", "load_link_secret"]

SECRET_FILE = "plan-link.key"  # noqa: S105  (a file name, not a secret)
_VERSION = 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_link_secret(settings: Settings) -> bytes:
    """The configured secret, else the one kept in the data directory (created on first use)."""
    if settings.plan_link_secret is not None:
        return settings.plan_link_secret.get_secret_value().encode("utf-8")
    path: Path = settings.data_dir / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written to a private temporary file, then linked into place: os.link fails when the key already
        # exists, so when workers start together exactly one key wins and nobody reads a half-written file.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".plan-link-")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise OSError(f"{path} does not hold a plan-link key; delete it to have a new one made")
    return key.encode("ascii")


@dataclass(frozen=True, slots=True)
class LinkClaims:
    plan_id: str
    patient_key: str
    expires: int  # unix seconds


class LinkSigner:
    """Signs and verifies plan links, and derives plan ids and patient keys, all keyed by ``secret``."""

    __slots__ = ("_keyed",)

    def __init__(self, secret: bytes) -> None:
        # Keyed once, copied per message.  hmac.digest lets go of the GIL around every call, however short
        # the message: on the hook's path the request thread then waited for a background writer to hand
        # the GIL back, up to the 5 ms switch interval, three times per answer.  A copy and an update of a
        # short message keep it, and skip deriving the key again.
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)

    def _hmac(self, message: bytes) -> bytes:
        keyed = self._keyed.copy()
        keyed.update(message)
        return keyed.digest()

    def patient_key(self, patient_ref: str) -> str:
        return self._hmac(b"patient\n" + patient_ref.encode("utf-8")).hex()[:32]

    def plan_id(self, hook_instance: str, patient_ref: str, content_key: str = "") -> str:
        """One plan id per hook call, patient and plan content, so a retried call gets the same link (and
        card), and the same call with other data another."""
        message = b"plan-id\n" + hook_instance.encode("utf-8") + b"\n" + patient_ref.encode("utf-8")
        if content_key:
            message += b"\n" + content_key.encode("utf-8")
        return _b64(self._hmac(message)[:18])

    def _mac(self, payload: bytes) -> bytes:
        return self._hmac(b"plan-link\n" + payload)

    def sign(self, claims: LinkClaims) -> str:
        body = {"v": _VERSION, "id": claims.plan_id, "pk": claims.patient_key, "exp": claims.expires}
        payload = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)  # compact, sorted: as json.dumps gave
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str, now: datetime) -> LinkClaims | None:
        """The claims of a genuine, unexpired token; None for anything else (never an exception)."""
        if len(token) > 512 or token.count(".") != 1:
            return None
        head, mac = token.split(".")
        try:
            payload, given = _unb64(head), _unb64(mac)
        except (binascii.Error, ValueError):
            return None
        # One spelling per token: base64 decoding ignores the unused bits of the last character (and a
        # trailing "="), so "…U" and "…V" decoded alike and an altered link still opened.
        if _b64(payload) != head or _b64(given) != mac:
            return None
        if not hmac.compare_digest(given, self._mac(payload)):
            return None
        try:
            body = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(body, dict) or body.get("v") != _VERSION:
            return None
        plan_id, key, expires = body.get("id"), body.get("pk"), body.get("exp")
        if not (isinstance(plan_id, str) and isinstance(key, str) and isinstance(expires, int)):
            return None
        if expires <= int(now.timestamp()):
            return None
        return LinkClaims(plan_id, key, expires)
