"""FhirClient against the real FHIR test server, and the test server's own promises (R4, loopback only,
search semantics the prefetch templates rely on)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fhir_fixtures import ids_of_type, patient_bundle

from fhir_bonemet.client import FhirClient, ServerPolicy
from fhir_bonemet.errors import FhirClientError

pytestmark = pytest.mark.integration

CAREPLAN = {
    "resourceType": "CarePlan",
    "status": "active",
    "intent": "plan",
    "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:0b6f2f0e-3b7a-4c55-8a3e-6f0e6e8c1a11"}],
    "subject": {"reference": "Patient/p1"},
}
IF_NONE_EXIST = "identifier=urn:ietf:rfc:3986|urn:uuid:0b6f2f0e-3b7a-4c55-8a3e-6f0e6e8c1a11"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.trust_env = False
        yield http


def client(fresh_fhir: Any, session: requests.Session, token: str | None = None) -> FhirClient:
    return FhirClient(
        session, fresh_fhir.base_url, policy=ServerPolicy([fresh_fhir.base_url]), access_token=token
    )


def test_conditional_create_is_idempotent(fresh_fhir: Any, session: requests.Session) -> None:
    fhir_client = client(fresh_fhir, session)
    first = fhir_client.conditional_create(CAREPLAN, IF_NONE_EXIST)
    second = fhir_client.conditional_create(CAREPLAN, f"CarePlan?{IF_NONE_EXIST}")
    assert (first.status, second.status) == (201, 200)
    assert first.resource_id is not None
    assert first.resource_id == second.resource_id
    assert first.location is not None
    assert first.location.startswith(f"{fresh_fhir.base_url}/CarePlan/{first.resource_id}/_history/")
    found = fhir_client.search(f"CarePlan?{IF_NONE_EXIST}").bundle
    assert [entry["resource"]["id"] for entry in found["entry"]] == [first.resource_id]
    assert [request["ifNoneExist"] for request in fresh_fhir.requests_seen()][:2] == [IF_NONE_EXIST] * 2


def test_create_then_read_returns_what_was_stored(fresh_fhir: Any, session: requests.Session) -> None:
    fhir_client = client(fresh_fhir, session)
    created = fhir_client.create(CAREPLAN)
    assert created.status == 201
    assert created.resource_id is not None
    stored = fhir_client.read("CarePlan", created.resource_id)
    assert stored["identifier"] == CAREPLAN["identifier"]
    assert stored["meta"]["versionId"]


def test_a_protected_server_refuses_a_client_without_the_token(
    fresh_fhir: Any, session: requests.Session
) -> None:
    fresh_fhir.set_token("server-token")
    with pytest.raises(FhirClientError) as raised:
        client(fresh_fhir, session).read("Patient", "p1")
    assert raised.value.status == 401
    with pytest.raises(FhirClientError) as wrong:
        client(fresh_fhir, session, token="wrong-token").create(CAREPLAN)
    assert wrong.value.status == 401
    assert "wrong-token" not in str(wrong.value)
    assert client(fresh_fhir, session, token="server-token").create(CAREPLAN).status == 201


def test_search_semantics_the_templates_rely_on(fresh_fhir: Any, session: requests.Session) -> None:
    created = fresh_fhir.created_ids(fresh_fhir.load(patient_bundle(pain_scores=12)))
    patient_id = ids_of_type(created, "Patient")[0]
    fhir_client = client(fresh_fhir, session)

    def dates(query: str) -> list[str]:
        bundle = fhir_client.search(query).bundle
        return [entry["resource"]["effectiveDateTime"] for entry in bundle.get("entry", [])]

    base = f"Observation?patient={patient_id}&code=http://loinc.org|72514-3"
    assert len(dates(base)) == 12  # bare id reference + system|code token
    assert dates(f"{base}&_sort=-date&_count=3")[:3] == ["2024-01-12", "2024-01-11", "2024-01-10"]
    assert dates(f"{base}&date=ge2024-01-10&_sort=date") == ["2024-01-10", "2024-01-11", "2024-01-12"]
    assert dates(f"{base}&date=lt2024-01-03&_sort=date") == ["2024-01-01", "2024-01-02"]
    assert dates(f"Observation?patient=Patient/{patient_id}&code=http://loinc.org|0000-0") == []
    conditions = fhir_client.search(f"Condition?subject=Patient/{patient_id}&clinical-status=active").bundle
    assert conditions["total"] == 1
    assert (
        conditions["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"
    )  # urn:uuid rewritten


def test_search_pages_carry_next_links_on_the_server_origin(
    fresh_fhir: Any, session: requests.Session
) -> None:
    created = fresh_fhir.created_ids(fresh_fhir.load(patient_bundle(pain_scores=21)))
    patient_id = ids_of_type(created, "Patient")[0]
    page = client(fresh_fhir, session).get(f"Observation?patient={patient_id}")
    links = {link["relation"]: link["url"] for link in page["link"]}
    assert len(page["entry"]) == 20
    assert page["total"] == 21
    assert links["next"].startswith(f"{fresh_fhir.base_url}/Observation?")
    assert page["entry"][0]["fullUrl"].startswith(f"{fresh_fhir.base_url}/Observation/")


def test_the_server_speaks_fhir_r4(fresh_fhir: Any, session: requests.Session) -> None:
    capability = client(fresh_fhir, session).get("metadata")
    assert capability["resourceType"] == "CapabilityStatement"
    assert capability["fhirVersion"] == "4.0.1"
    observation = next(item for item in capability["rest"][0]["resource"] if item["type"] == "Observation")
    assert {"patient", "code", "date"} <= {param["name"] for param in observation["searchParam"]}


def _listeners(port: int) -> list[tuple[str, str]]:
    """(file, local address hex) of sockets listening on ``port`` (Linux /proc)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.append((table, address))
    return found


def test_the_server_listens_on_ipv4_loopback_only(fhir_server: Any) -> None:
    assert fhir_server.base_url.startswith("http://127.0.0.1:")
    assert _listeners(fhir_server.port) == [("/proc/net/tcp", "0100007F")]  # 127.0.0.1, nothing else


def test_the_server_cannot_be_told_to_listen_elsewhere() -> None:
    server_dir = Path(__file__).parents[1] / "fhir_server"
    finished = subprocess.run(
        ["node", "server.mjs", "--host", "0.0.0.0", "--port", "0"],
        cwd=server_dir,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 2
    assert b"host" in finished.stderr
