"""The FHIR-server allowlist as production applies it: ``server_policy(settings)``, used by the workflow
(prefetch and write-back) and by the outbox worker, decides before any request is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from fhir_bonemet.client.policy import FhirServerNotAllowedError, server_policy
from fhir_bonemet.errors import ConfigurationError
from fhir_bonemet.main import build_app
from fhir_bonemet.settings import Settings

BASE = "https://fhir.example.org/r4"


def _allowed(settings: Settings, url: str) -> bool:
    try:
        server_policy(settings).check(url)
    except FhirServerNotAllowedError:
        return False
    return True


def test_an_allowlisted_base_is_allowed_in_any_spelling_of_it() -> None:
    settings = Settings(fhir_server_allowlist=(BASE,))
    assert server_policy(settings).check(BASE) == BASE
    assert server_policy(settings).check(f"{BASE}/") == BASE
    assert server_policy(settings).check("HTTPS://FHIR.example.org:443/r4") == BASE


@pytest.mark.parametrize(
    "url",
    [
        "https://fhir.example.org/r4-evil",  # a prefix of the path is not the same server
        "https://fhir.example.org.evil.com/r4",  # nor is a prefix of the host
        "https://fhir.example.org/r4/other",  # nor a base below the allowlisted one
        "http://fhir.example.org/r4",  # nor the same path over plain http
        "https://user:secret@fhir.example.org/r4",
        "ftp://fhir.example.org/r4",
        "",
    ],
)
def test_anything_else_is_refused_before_a_request_is_made(url: str) -> None:
    assert not _allowed(Settings(fhir_server_allowlist=(BASE,)), url)


def test_any_fhir_server_only_without_auth_unless_explicit() -> None:
    local = "http://localhost:8081/fhir"
    assert _allowed(Settings(auth_required=False), local)
    assert not _allowed(Settings(), local)
    assert _allowed(Settings(auth_required=False, fhir_server_allow_any=True), local)
    assert not _allowed(Settings(auth_required=False, fhir_server_allow_any=False), local)
    # Even "any server" means any http(s) server.
    assert not _allowed(Settings(auth_required=False), "file:///etc/passwd")


def test_an_allowlist_entry_that_is_not_a_base_url_stops_start_up(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, fhir_server_allowlist=("https://fhir.example.org/r4?x=1",))
    with pytest.raises(ConfigurationError, match="not a base URL"):
        server_policy(settings)
    with pytest.raises(ConfigurationError, match="not a base URL"):
        build_app(settings.model_copy(update={"auth_required": False}))
