"""What an EHR does with the service's discovery document: read a service's prefetch templates, run
each against its own FHIR server and send the results as the hook's prefetch."""

from __future__ import annotations

from typing import Any

import requests
from fastapi.testclient import TestClient


def discovery_templates(client: TestClient, service: str) -> dict[str, str]:
    services = client.get("/cds-services").json()["services"]
    prefetch: dict[str, str] = next(s for s in services if s["id"] == service)["prefetch"]
    return prefetch


def ehr_prefetch(fhir: Any, templates: dict[str, str], patient_id: str) -> dict[str, Any]:
    """Each discovery template rendered and run against the FHIR server, as written: every search answers
    in one page (an EHR's prefetch is what the template returns)."""
    prefetch: dict[str, Any] = {}
    with requests.Session() as http:
        http.trust_env = False
        for key, template in templates.items():
            url = f"{fhir.base_url}/{template.replace('{{context.patientId}}', patient_id)}"
            response = http.get(url, headers={"Accept": "application/fhir+json"}, timeout=30)
            assert response.status_code == 200, (key, response.text)
            body = response.json()
            assert not any(link["relation"] == "next" for link in body.get("link", [])), key
            prefetch[key] = body
    return prefetch
