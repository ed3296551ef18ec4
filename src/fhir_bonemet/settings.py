"""Service settings: the only module that reads the environment.

Every setting can be given as an environment variable with the prefix ``BONEMET_`` (``BONEMET_PORT=8080``,
``BONEMET_DATABASE_URL=postgresql://…``); list and mapping settings take JSON, and the list settings also
accept a comma-separated string.  The one exception is JWT verification: it is on by default and can only be
switched off by the ``--no-auth`` command-line flag (``Settings(auth_required=False)``), never by the
environment, so a stray variable in a deployment cannot open the service to anonymous callers.

Trusted JWT issuers (``BONEMET_TRUSTED_ISSUERS`` as JSON, or ``BONEMET_TRUSTED_ISSUERS_FILE`` pointing to a
JSON file with the same shape)::

    {"https://sandbox.cds-hooks.org": {
        "jwks_file": "keys/sandbox-jwks.json",          # or "jwks": {"keys": [...]} inline
        "jku": ["https://sandbox.cds-hooks.org/.well-known/jwks.json"],   # jku URLs that may be fetched
        "tenants": []}}                                  # empty: any tenant
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from fhir_bonemet.project_dirs import PROFILES, SERVICES

__all__ = ["Settings", "TrustedIssuer"]

# Signing algorithms that must never be accepted whatever the configuration says: "none" has no signature
# and HMAC needs a secret shared with every client (CDS Hooks 2.0 forbids both).
_FORBIDDEN_ALGORITHMS = frozenset({"none", "HS256", "HS384", "HS512"})


def _split_list(value: Any) -> Any:
    """Accept JSON arrays and plain comma-separated strings for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _is_absolute_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _canonical_base(url: str) -> str:
    """Scheme and host in lower case, without a default port or trailing slash: one spelling per server."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


class TrustedIssuer(BaseModel):
    """Where the keys of one trusted JWT issuer come from, and which tenants it may speak for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jwks: dict[str, Any] | None = None
    jwks_file: Path | None = None
    jku: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()

    @field_validator("jku")
    @classmethod
    def _jku_https(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if urlsplit(url).scheme != "https" or not urlsplit(url).netloc:
                raise ValueError("every allowlisted jku must be an absolute https URL")
        return value

    @model_validator(mode="after")
    def _has_key_source(self) -> TrustedIssuer:
        if self.jwks is None and self.jwks_file is None and not self.jku:
            raise ValueError("a trusted issuer needs jwks, jwks_file or at least one allowlisted jku")
        return self


class _EnvWithoutAuthSwitch(EnvSettingsSource):
    """The environment source, minus ``auth_required``: only ``--no-auth`` may turn verification off."""

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        data.pop("auth_required", None)
        return data


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BONEMET_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path("./var")
    database_url: str | None = None  # default: SQLite file in data_dir; postgresql://… selects PostgreSQL
    # Data directories of the source tree (see project_dirs); checked when they are loaded.
    services_dir: Path = SERVICES.default
    profiles_dir: Path = PROFILES.default
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # On SIGTERM, requests in flight get this long to finish before they are cut off (rolling deploys).
    shutdown_timeout_seconds: int = Field(default=10, ge=1, le=300)

    # --- JWT verification of the calling CDS client ----------------------------------------------------
    auth_required: bool = True
    public_base_url: str | None = None  # e.g. https://cds.example.org; JWT aud = this + endpoint path
    trusted_issuers: dict[str, TrustedIssuer] = Field(default_factory=dict)
    trusted_issuers_file: Path | None = None
    jwt_algorithms: Annotated[tuple[str, ...], NoDecode] = ("ES384", "RS384")
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # A JWT may live at most this long (exp - iat) and its jti is remembered this long, so a replay can
    # never outlive the replay cache.  CDS Hooks best practice: no more than an hour.
    jti_cache_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    jwks_cache_ttl_seconds: int = Field(default=3600, ge=60)
    jwks_min_refetch_seconds: int = Field(default=60, ge=0)
    # A jku download is abandoned after this long, however slowly the server sends its bytes.
    jwks_download_timeout_seconds: float = Field(default=3.0, gt=0, le=30)

    # --- HTTP surface -----------------------------------------------------------------------------------
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # The issued-card audit and the plan views behind the cards' links are written in the background, in
    # batches gathered for at most this long.
    audit_linger_seconds: float = Field(default=0.05, gt=0, le=60)

    # --- Outbound FHIR calls ----------------------------------------------------------------------------
    fhir_server_allowlist: Annotated[tuple[str, ...], NoDecode] = ()
    fhir_server_allow_any: bool | None = None  # None: allow any fhirServer only when auth is off
    fhir_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    fhir_read_timeout_seconds: float = Field(default=5.0, gt=0)
    prefetch_page_cap: int = Field(default=10, ge=1)
    # Per hook call: next pages of a paged search are only requested within this many milliseconds of the
    # start of the fetches, so that the whole answer stays well under CDS Hooks' 500 ms guidance.  Pages
    # already read are kept; the cards then say that older history may be incomplete.
    prefetch_page_budget_ms: int = Field(default=300, ge=0, le=60000)
    # Largest FHIR response read (streamed and cut off beyond it): parsed JSON takes many times its size in
    # memory, so this bounds what one hook call can make the process hold.
    fhir_max_response_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    # One budget per hook call for everything it sends out (prefetch pages, the CarePlan write): each
    # request gets the time left, and the call answers with what it has when the budget is spent.
    hook_deadline_seconds: float = Field(default=8.0, gt=0, le=60)

    # --- Output -----------------------------------------------------------------------------------------
    writeback_mode: Literal["suggest", "write"] = "suggest"
    # The service's own credentials for retrying queued CarePlan writes, per FHIR server base URL (a hook's
    # access token is transient and never stored, so the outbox cannot reuse it).  A server without an
    # entry gets retries without Authorization; no credential is ever sent to another server.
    writeback_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    # Older single credential: accepted only when exactly one FHIR server is allowlisted, and used only there.
    writeback_token: SecretStr | None = None
    outbox_retry_interval_seconds: float = Field(default=30.0, gt=0)
    # First retry delay of a failed write; it doubles per failed attempt, up to an hour.
    outbox_backoff_base_seconds: float = Field(default=30.0, gt=0, le=3600)
    outbox_keep_done_days: int = Field(default=7, ge=1)  # written items are pruned after this long
    conceptmap_dirs: Annotated[tuple[Path, ...], NoDecode] = ()
    # Observation searches by component code (observation-panels-*) beside the searches by code, so values
    # reported inside a panel are fetched.  Off by default: they double the Observation searches of every
    # hook call (prefetched by the EHR or fetched by the service) for a reporting style few EHRs use for these
    # values, and a FHIR server without the component-code parameter would fail them on every call.
    panel_searches: bool = False
    # Plan links (/plan/{token}): HMAC key (unset: one is generated and kept in data_dir) and lifetime.
    plan_link_secret: SecretStr | None = None
    plan_link_ttl_seconds: int = Field(default=4 * 3600, ge=60, le=7 * 86400)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No .env or secrets directory: what the process environment says is what runs.
        return (init_settings, _EnvWithoutAuthSwitch(settings_cls))

    @field_validator(
        "jwt_algorithms", "cors_origins", "fhir_server_allowlist", "conceptmap_dirs", mode="before"
    )
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("jwt_algorithms")
    @classmethod
    def _safe_algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one JWT algorithm is needed (default: ES384, RS384)")
        bad = sorted(alg for alg in value if alg in _FORBIDDEN_ALGORITHMS or alg.upper().startswith("HS"))
        if bad:
            raise ValueError(f"JWT algorithms {bad} are forbidden by CDS Hooks (no 'none', no HMAC)")
        return value

    @field_validator("plan_link_secret")
    @classmethod
    def _plan_link_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # The same floor as a generated key file: a short key can be guessed, and every link with it.
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("plan_link_secret must be at least 32 characters")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if not _is_absolute_http_url(value) or parts.query or parts.fragment:
            raise ValueError("public_base_url must be an absolute http(s) URL without query or fragment")
        return value.rstrip("/")

    @field_validator("fhir_server_allowlist")
    @classmethod
    def _allowlist_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not _is_absolute_http_url(url):
                raise ValueError("every fhir_server_allowlist entry must be an absolute http(s) URL")
        return tuple(url.rstrip("/") for url in value)

    @model_validator(mode="after")
    def _merge_issuers_file(self) -> Settings:
        if self.trusted_issuers_file is None:
            return self
        try:
            raw = json.loads(self.trusted_issuers_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"trusted_issuers_file {self.trusted_issuers_file} cannot be read: {exc}"
            ) from exc
        if not isinstance(raw, dict):
            raise ValueError(f"trusted_issuers_file {self.trusted_issuers_file} must hold a JSON object")
        merged = {iss: TrustedIssuer.model_validate(cfg) for iss, cfg in raw.items()}
        merged.update(self.trusted_issuers)  # explicit settings win over the file
        object.__setattr__(self, "trusted_issuers", merged)
        return self

    @field_validator("writeback_tokens")
    @classmethod
    def _writeback_token_bases(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for url in value:
            if not _is_absolute_http_url(url):
                raise ValueError("every writeback_tokens key must be an absolute http(s) FHIR base URL")
        return {_canonical_base(url): token for url, token in value.items()}

    @model_validator(mode="after")
    def _single_writeback_token_has_one_server(self) -> Settings:
        if self.writeback_token is not None and len(self.fhir_server_allowlist) != 1:
            raise ValueError(
                "writeback_token is sent only to the one allowlisted FHIR server; with "
                f"{len(self.fhir_server_allowlist)} allowlisted, set writeback_tokens "
                '{"<FHIR base URL>": "<token>"} instead'
            )
        return self

    @model_validator(mode="after")
    def _allow_any_only_without_auth(self) -> Settings:
        # With auth on, hook tokens belong to the EHRs that sent them; "any server" would let a caller
        # name a fhirServer of its choosing and receive them.
        if self.auth_required and self.fhir_server_allow_any:
            raise ValueError(
                "fhir_server_allow_any is allowed only with --no-auth; list the EHRs' FHIR base URLs in "
                "fhir_server_allowlist instead"
            )
        return self

    @model_validator(mode="after")
    def _cors_wildcard_only_without_auth(self) -> Settings:
        if self.auth_required and "*" in self.cors_origins:
            raise ValueError("cors_origins '*' is allowed only with --no-auth; list the EHR origins instead")
        return self

    # --- Derived values -----------------------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'bonemet.sqlite3').as_posix()}"

    @property
    def effective_cors_origins(self) -> tuple[str, ...]:
        """Configured origins; with auth off and none configured, any origin (the Sandbox runs anywhere)."""
        if self.cors_origins:
            return self.cors_origins
        return () if self.auth_required else ("*",)

    @property
    def allows_any_fhir_server(self) -> bool:
        """Whether any http(s) FHIR server may be called; the policy itself is
        :func:`fhir_bonemet.client.policy.server_policy`."""
        if self.fhir_server_allow_any is not None:
            return self.fhir_server_allow_any
        return not self.auth_required

    def writeback_token_for(self, base_url: str) -> str | None:
        """The service's own credential for the FHIR server at ``base_url``, if one is configured there."""
        base = _canonical_base(base_url)
        token = self.writeback_tokens.get(base)
        if token is None and self.writeback_token is not None:
            (only,) = self.fhir_server_allowlist
            token = self.writeback_token if _canonical_base(only) == base else None
        return (token.get_secret_value() or None) if token is not None else None

    @property
    def fhir_timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts for ``requests``."""
        return (self.fhir_connect_timeout_seconds, self.fhir_read_timeout_seconds)
