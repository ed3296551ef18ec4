"""CDS Hooks 2.0 prefetch tokens: what resolves, what does not, and what can never reach a URL."""

from __future__ import annotations

import pytest

from fhir_bonemet.client.tokens import UnresolvedTokenError, expected_resource_type, render_template
from fhir_bonemet.client.urls import redact_url

CONTEXT = {
    "userId": "Practitioner/prac-1",
    "patientId": "pat-1",
    "encounterId": "enc-1",
    "draftOrders": {"resourceType": "Bundle"},
}


@pytest.mark.parametrize(
    ("template", "url", "read_type"),
    [
        ("Patient/{{context.patientId}}", "Patient/pat-1", "Patient"),
        ("Encounter/{{context.encounterId}}", "Encounter/enc-1", "Encounter"),
        ("{{context.userId}}", "Practitioner/prac-1", "Practitioner"),
        ("Practitioner/{{userPractitionerId}}", "Practitioner/prac-1", "Practitioner"),
        (
            "Observation?patient={{ context.patientId }}&code=http://loinc.org|72514-3&_sort=-date",
            "Observation?patient=pat-1&code=http://loinc.org|72514-3&_sort=-date",
            None,
        ),
        (
            "Condition?patient={{context.patientId}}&encounter={{context.encounterId}}",
            "Condition?patient=pat-1&encounter=enc-1",
            None,
        ),
    ],
)
def test_tokens_render_into_relative_fhir_urls(template: str, url: str, read_type: str | None) -> None:
    rendered = render_template(template, CONTEXT)
    assert (rendered.url, rendered.read_type, rendered.is_read) == (url, read_type, read_type is not None)
    assert rendered.read_id == (url.split("/")[1] if read_type else None)


@pytest.mark.parametrize(
    ("token", "user_id"),
    [
        ("userPractitionerRoleId", "PractitionerRole/role-1"),
        ("userPatientId", "Patient/self-1"),
        ("userRelatedPersonId", "RelatedPerson/rp-1"),
    ],
)
def test_user_tokens_take_the_id_of_a_matching_user_id(token: str, user_id: str) -> None:
    rendered = render_template(f"Observation?performer={{{{{token}}}}}", {"userId": user_id})
    assert rendered.url == f"Observation?performer={user_id.split('/')[1]}"


@pytest.mark.parametrize(
    ("template", "context", "reason"),
    [
        ("Patient/{{context.patientId}}", {}, "absent"),
        ("Patient/{{context.patientId}}", {"patientId": None}, "absent"),
        ("Patient/{{context.patientId}}", {"patientId": 12}, "not a string"),
        ("Practitioner/{{userPractitionerId}}", {"userId": "PractitionerRole/r1"}, "not a Practitioner"),
        ("Practitioner/{{userPractitionerId}}", {}, "absent"),
        ("{{context.userId}}", {"userId": "prac-1"}, "Type/id"),
        ("MedicationRequest?_id={{context.draftOrders.id}}", CONTEXT, "not a CDS Hooks 2.0 prefetch token"),
        ("Observation?date=ge{{today() - 90 days}}", CONTEXT, "not a CDS Hooks 2.0 prefetch token"),
        ("Patient/{{context.draftOrders}}", CONTEXT, "not a string"),
        ("Patient/{{user}}", CONTEXT, "not a CDS Hooks 2.0 prefetch token"),
    ],
)
def test_unresolvable_tokens_are_named_with_a_reason(
    template: str, context: dict[str, object], reason: str
) -> None:
    with pytest.raises(UnresolvedTokenError, match=reason) as raised:
        render_template(template, context)
    assert "{{" in str(raised.value)


@pytest.mark.parametrize(
    "patient_id",
    [
        "pat-1&_count=10000",
        "../Practitioner/x",
        "pat 1",
        "pat-1?x=y",
        "pat%2F1",
        "a" * 65,
        "https://evil.example.com/p",
    ],
)
def test_context_values_that_would_change_the_url_are_refused_without_echoing_them(patient_id: str) -> None:
    with pytest.raises(UnresolvedTokenError, match="not a FHIR id") as raised:
        render_template("Observation?patient={{context.patientId}}", {"patientId": patient_id})
    assert patient_id not in str(raised.value)


def test_a_reference_value_is_accepted_where_an_id_is_expected() -> None:
    assert render_template("Observation?patient={{context.patientId}}", {"patientId": "Patient/p1"}).url == (
        "Observation?patient=Patient/p1"
    )


@pytest.mark.parametrize(
    "template", ["https://evil.example.com/Patient/{{context.patientId}}", "{{context.patientId}}}"]
)
def test_templates_that_are_not_relative_fhir_urls_are_refused(template: str) -> None:
    with pytest.raises(ValueError, match="prefetch template"):
        render_template(template, {"patientId": "p1"})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Patient/{{context.patientId}}", "Patient"),
        ("{{context.userId}}", None),
        ("Observation?patient={{context.patientId}}", "Bundle"),
        ("Observation", "Bundle"),
        ("Patient/{{context.patientId}}/Observation", "Bundle"),
    ],
)
def test_expected_resource_type_follows_the_template_shape(template: str, expected: str | None) -> None:
    assert expected_resource_type(template) == expected


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://h.example/r4/Patient/123", "Patient/{id}"),
        ("https://h.example/r4/Patient/Smith/_history/2", "Patient/{id}/_history/{id}"),
        ("https://h.example/r4/Patient/123/Observation?code=x", "Patient/{id}/Observation?code=*"),
        (
            "https://h.example/r4/Observation?patient=123&patient=456&_count=5",
            "Observation?patient=*&patient=*&_count=*",
        ),
        ("https://h.example/r4/metadata", "metadata"),
    ],
)
def test_urls_are_redacted_for_logs(url: str, redacted: str) -> None:
    assert redact_url(url, "https://h.example/r4") == redacted
