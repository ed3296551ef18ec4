"""FhirClient over a scripted transport: what goes on the wire, and what comes back as errors."""

from __future__ import annotations

import time

import pytest
import requests
from fake_fhir_transport import BASE, FakeFhir, Reply, bundle, outcome

from fhir_bonemet.client import (
    FhirClient,
    FhirServerNotAllowedError,
    FhirTimeoutError,
    ServerPolicy,
    Timeouts,
)
from fhir_bonemet.errors import ConfigurationError, FhirClientError

TOKEN = "secret-token-value-0123456789"
PATIENT = {"resourceType": "Patient", "id": "pat-7"}


def client(fake: FakeFhir, **kwargs: object) -> FhirClient:
    options: dict[str, object] = {"policy": ServerPolicy([BASE]), "access_token": TOKEN}
    options.update(kwargs)
    return FhirClient(fake.session(), BASE, **options)  # type: ignore[arg-type]


# -- server policy -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/r4",
        "ftp://fhir.example.org/r4",
        "file:///etc/passwd",
        "https://user:pw@fhir.example.org/r4",
        "https://fhir.example.org/r4?x=1",
        "https://fhir.example.org/r4#frag",
        "https://fhir.example.org/r4/other",
        "https:///r4",
        "",
    ],
)
def test_refuses_servers_not_on_the_allowlist_before_any_request(url: str) -> None:
    fake = FakeFhir()
    with pytest.raises(FhirServerNotAllowedError):
        FhirClient(fake.session(), url, policy=ServerPolicy([BASE]), access_token=TOKEN)
    assert fake.seen == []


@pytest.mark.parametrize("url", ["HTTPS://FHIR.example.org/r4/", "https://fhir.example.org:443/r4"])
def test_allowlist_matches_equivalent_spellings_of_a_base_url(url: str) -> None:
    assert ServerPolicy([BASE]).check(url) == BASE


def test_allow_any_still_demands_http_or_https() -> None:
    policy = ServerPolicy(allow_any=True)
    assert policy.check("http://127.0.0.1:8080/fhir/") == "http://127.0.0.1:8080/fhir"
    with pytest.raises(FhirServerNotAllowedError):
        policy.check("gopher://fhir.example.org/r4")


def test_empty_allowlist_without_the_flag_allows_nothing() -> None:
    with pytest.raises(FhirServerNotAllowedError, match="allowlist"):
        ServerPolicy().check(BASE)


def test_a_malformed_allowlist_entry_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="allowlist entry"):
        ServerPolicy(["not a url"])


# -- reads and the bearer token ------------------------------------------------------------------------


def test_read_sends_the_bearer_token_per_request_and_never_on_the_session() -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Patient/pat-7", Reply(json_body=PATIENT))
    session = fake.session()
    fhir = FhirClient(
        session,
        BASE,
        policy=ServerPolicy([BASE]),
        access_token=TOKEN,
        timeouts=Timeouts(connect=1.5, read=3.0),
    )
    assert fhir.read("Patient", "pat-7") == PATIENT
    (seen,) = fake.seen
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Accept"] == "application/fhir+json"
    assert seen.timeout == (1.5, 3.0)
    assert TOKEN not in repr(fhir)
    assert "Authorization" not in session.headers


def test_no_token_means_no_authorization_header() -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Patient/pat-7", Reply(json_body=PATIENT))
    client(fake, access_token=None).read("Patient", "pat-7")
    assert "Authorization" not in fake.seen[0].headers


@pytest.mark.parametrize(
    ("resource_type", "resource_id"), [("Patient", "a/b"), ("patient", "1"), ("Patient", "")]
)
def test_read_refuses_ids_that_are_not_fhir_ids(resource_type: str, resource_id: str) -> None:
    fake = FakeFhir()
    with pytest.raises(FhirClientError):
        client(fake).read(resource_type, resource_id)
    assert fake.seen == []


@pytest.mark.parametrize(
    "relative", ["https://evil.example.com/Patient/1", "//evil.example.com/x", "Patient/../x"]
)
def test_get_refuses_urls_that_leave_the_base(relative: str) -> None:
    fake = FakeFhir()
    with pytest.raises(FhirClientError, match="not a relative FHIR URL"):
        client(fake).get(relative)
    assert fake.seen == []


def test_errors_carry_status_and_a_redacted_path_only() -> None:
    fake = FakeFhir()
    url = f"{BASE}/Observation?patient=pat-7&code=http://loinc.org%7C72514-3"  # as requests encodes it
    fake.add("GET", url, Reply(500, outcome("database down")))
    with pytest.raises(FhirClientError) as raised:
        client(fake).get("Observation?patient=pat-7&code=http://loinc.org|72514-3")
    error = raised.value
    assert error.status == 500
    assert error.url_path == "Observation?patient=*&code=*"
    for secret in (TOKEN, "pat-7", "fhir.example.org", "72514-3"):
        assert secret not in str(error)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(raw=b"<html>hello</html>"), "not JSON"),
        (Reply(raw=b'{"resourceType":"Patient","x":[[[['), "not JSON"),  # cut off: not "too deep"
        # Nested past the recursion limit of the reader behind the client: refused, never a RecursionError.
        (Reply(raw=b'{"resourceType":"Patient","x":' + b"[" * 5000 + b"]" * 5000 + b"}"), "nests deeper"),
        (Reply(raw=b'{"resourceType":"Patient","x":' + b"[" * 101 + b"]" * 101 + b"}"), "nests deeper"),
        (Reply(json_body=outcome()), "OperationOutcome"),
        (Reply(json_body=["a", "list"]), "JSON object"),
        (Reply(json_body={"id": "x"}), "no resourceType"),
        (Reply(json_body={"resourceType": "Observation", "id": "x"}), "expected a Patient"),
        (Reply(302, headers={"Location": "https://evil.example.com/x"}), "redirect"),
    ],
)
def test_unusable_answers_are_errors(reply: Reply, message: str) -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Patient/pat-7", reply)
    with pytest.raises(FhirClientError, match=message):
        client(fake).read("Patient", "pat-7")
    assert [seen.url for seen in fake.seen] == [f"{BASE}/Patient/pat-7"]  # redirect not followed


@pytest.mark.parametrize("digits", [4301, 5000])
def test_an_integer_beyond_a_double_costs_only_its_value_not_the_response(digits: int) -> None:
    """Past int()'s 4300 digits the whole response was "not JSON": every result of the search lost."""
    fake = FakeFhir()
    big = b"9" * digits
    fake.add(
        "GET",
        f"{BASE}/Patient/pat-7",
        Reply(raw=b'{"resourceType":"Patient","id":"pat-7","x":-' + big + b"}"),
    )
    assert client(fake).read("Patient", "pat-7") == {
        "resourceType": "Patient",
        "id": "pat-7",
        "x": "-" + "9" * digits,
    }


def test_read_timeout_and_connection_errors_are_client_errors_without_the_url() -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Patient/slow", requests.ReadTimeout(f"read timed out for {BASE}/Patient/slow"))
    fake.add("GET", f"{BASE}/Patient/down", requests.ConnectionError(f"refused {BASE}/Patient/down"))
    fhir = client(fake)
    with pytest.raises(FhirTimeoutError) as timeout:
        fhir.read("Patient", "slow")
    with pytest.raises(FhirClientError, match="ConnectionError") as refused:
        fhir.read("Patient", "down")
    for error in (timeout.value, refused.value):
        assert "fhir.example.org" not in str(error)
        assert error.__suppress_context__


def test_a_passed_deadline_stops_requests_before_they_start() -> None:
    fake = FakeFhir()
    with pytest.raises(FhirTimeoutError, match="deadline"):
        client(fake, deadline=time.monotonic() - 1).read("Patient", "pat-7")
    assert fake.seen == []


def test_read_timeout_is_clipped_to_the_time_left() -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Patient/pat-7", Reply(json_body=PATIENT))
    client(fake, timeouts=Timeouts(2.0, 30.0), deadline=time.monotonic() + 1.0).read("Patient", "pat-7")
    connect, read = fake.seen[0].timeout
    assert 0 < connect <= 1.0
    assert 0 < read <= 1.0


def test_transient_5xx_on_a_read_is_retried_once() -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Patient/pat-7", Reply(503, outcome()), Reply(json_body=PATIENT))
    assert client(fake).read("Patient", "pat-7") == PATIENT
    assert len(fake.seen) == 2


def test_persistent_5xx_fails_after_one_retry() -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Patient/pat-7", Reply(503, outcome()))
    with pytest.raises(FhirClientError) as raised:
        client(fake).read("Patient", "pat-7")
    assert raised.value.status == 503
    assert len(fake.seen) == 2


def test_oversized_responses_are_refused() -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Patient/pat-7", Reply(raw=b"{" + b" " * 5000 + b"}"))
    with pytest.raises(FhirClientError, match="larger than 1000 bytes"):
        client(fake, max_response_bytes=1000).read("Patient", "pat-7")


# -- search and paging ---------------------------------------------------------------------------------


def obs(n: int) -> dict[str, object]:
    return {"resourceType": "Observation", "id": f"o{n}"}


def test_search_follows_next_links_and_merges_pages() -> None:
    fake = FakeFhir()
    fake.add(
        "GET",
        f"{BASE}/Observation?patient=p",
        Reply(json_body=bundle(obs(1), obs(2), next_url=f"{BASE}/Observation?page=2", total=5)),
    )
    fake.add(
        "GET",
        f"{BASE}/Observation?page=2",
        Reply(json_body=bundle(obs(3), obs(4), next_url="Observation?page=3")),
    )
    fake.add("GET", f"{BASE}/Observation?page=3", Reply(json_body=bundle(obs(5))))
    result = client(fake).search("Observation?patient=p")
    assert [entry["resource"]["id"] for entry in result.bundle["entry"]] == ["o1", "o2", "o3", "o4", "o5"]
    assert result.pages == 3
    assert not result.truncated
    assert "link" not in result.bundle
    assert result.bundle["total"] == 5
    assert all(seen.headers["Authorization"] == f"Bearer {TOKEN}" for seen in fake.seen)


def test_search_stops_at_the_page_cap_and_says_so() -> None:
    fake = FakeFhir()
    for page in range(1, 6):
        fake.add(
            "GET",
            f"{BASE}/Observation?page={page}",
            Reply(json_body=bundle(obs(page), next_url=f"{BASE}/Observation?page={page + 1}")),
        )
    result = client(fake, max_pages=3).search("Observation?page=1")
    assert [entry["resource"]["id"] for entry in result.bundle["entry"]] == ["o1", "o2", "o3"]
    assert result.truncated
    assert "more than 3 pages" in (result.stop_reason or "")
    assert len(fake.seen) == 3


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example.com/r4/Observation?page=2",
        "http://fhir.example.org/r4/Observation?page=2",
        "https://fhir.example.org:8443/r4/Observation?page=2",
    ],
)
def test_next_links_to_another_origin_are_never_followed(next_url: str) -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Observation?patient=p", Reply(json_body=bundle(obs(1), next_url=next_url)))
    result = client(fake).search("Observation?patient=p")
    assert len(fake.seen) == 1
    assert result.truncated
    assert "another server" in (result.stop_reason or "")
    assert len(result.bundle["entry"]) == 1


@pytest.mark.parametrize(
    "next_url",
    [
        "https://fhir.example.org/admin/steal",
        "/admin/steal",
        "../admin",
        "https://fhir.example.org/r4/../admin",
        "https://fhir.example.org/r4/%2e%2e/admin",
        "https://fhir.example.org/r4/%2E%2E/admin",
        "https://fhir.example.org/r4/.%2e/admin",
        "Observation/%2e%2e/%2e%2e/admin",
        "https://fhir.example.org/r4%2f..%2fadmin",
        "https://fhir.example.org/r4-admin/Observation?page=2",
        "https://fhir.example.org/r4/./Observation?page=2",
    ],
)
def test_next_links_outside_the_fhir_base_are_never_followed(next_url: str) -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Observation?patient=p", Reply(json_body=bundle(obs(1), next_url=next_url)))
    result = client(fake).search("Observation?patient=p")
    assert [seen.url for seen in fake.seen] == [f"{BASE}/Observation?patient=p"]
    assert result.truncated
    assert "leaves the FHIR base path" in (result.stop_reason or "")
    assert len(result.bundle["entry"]) == 1


def test_a_next_link_on_the_base_itself_is_followed() -> None:
    # HAPI pages with "<base>?_getpages=…": the base path itself, with a query.
    fake = FakeFhir()
    fake.add(
        "GET",
        f"{BASE}/Observation?patient=p",
        Reply(json_body=bundle(obs(1), next_url=f"{BASE}?_getpages=x")),
    )
    fake.add("GET", f"{BASE}?_getpages=x", Reply(json_body=bundle(obs(2))))
    result = client(fake).search("Observation?patient=p")
    assert not result.truncated
    assert result.pages == 2


def test_a_next_link_that_loops_stops_paging() -> None:
    fake = FakeFhir()
    fake.add(
        "GET",
        f"{BASE}/Observation?page=1",
        Reply(json_body=bundle(obs(1), next_url=f"{BASE}/Observation?page=2")),
    )
    fake.add(
        "GET",
        f"{BASE}/Observation?page=2",
        Reply(json_body=bundle(obs(2), next_url=f"{BASE}/Observation?page=2")),
    )
    result = client(fake).search("Observation?page=1")
    assert result.truncated
    assert "repeats" in (result.stop_reason or "")
    assert len(fake.seen) == 2


def test_a_failing_later_page_keeps_the_pages_already_read() -> None:
    fake = FakeFhir()
    fake.add(
        "GET",
        f"{BASE}/Observation?page=1",
        Reply(json_body=bundle(obs(1), next_url=f"{BASE}/Observation?page=2")),
    )
    fake.add("GET", f"{BASE}/Observation?page=2", Reply(json_body=bundle(outcome())))
    result = client(fake).search("Observation?page=1")
    assert [e["resource"]["id"] for e in result.bundle["entry"]] == ["o1"]
    assert result.truncated
    assert result.pages == 1
    assert result.stop_reason is not None
    assert "page 2 failed" in result.stop_reason
    assert "OperationOutcome" in result.stop_reason


def test_an_empty_search_has_no_empty_entry_array() -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Observation?patient=p", Reply(json_body=bundle(total=0)))
    assert client(fake).search("Observation?patient=p").bundle == {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 0,
    }


# -- create --------------------------------------------------------------------------------------------


def test_conditional_create_sends_if_none_exist_and_reads_the_id_from_location() -> None:
    fake = FakeFhir()
    location = f"{BASE}/CarePlan/cp-1/_history/1"
    fake.add(
        "POST",
        f"{BASE}/CarePlan",
        Reply(201, {"resourceType": "CarePlan", "id": "cp-1"}, headers={"Location": location}),
    )
    result = client(fake).conditional_create({"resourceType": "CarePlan"}, "CarePlan?identifier=urn:x|1")
    assert (result.status, result.resource_id, result.location) == (201, "cp-1", location)
    seen = fake.seen[0]
    assert seen.headers["If-None-Exist"] == "identifier=urn:x|1"
    assert seen.headers["Content-Type"].startswith("application/fhir+json")
    assert seen.body == b'{"resourceType":"CarePlan"}'


def test_conditional_create_of_an_existing_match_is_200_with_its_id() -> None:
    fake = FakeFhir()
    fake.add("POST", f"{BASE}/CarePlan", Reply(200, {"resourceType": "CarePlan", "id": "cp-1"}))
    result = client(fake).conditional_create({"resourceType": "CarePlan"}, "identifier=urn:x|1")
    assert (result.status, result.resource_id, result.location) == (200, "cp-1", None)


def test_create_is_not_retried_and_multiple_matches_are_an_error() -> None:
    fake = FakeFhir()
    fake.add("POST", f"{BASE}/CarePlan", Reply(412, outcome("multiple matches")))
    with pytest.raises(FhirClientError) as raised:
        client(fake).conditional_create({"resourceType": "CarePlan"}, "identifier=urn:x|1")
    assert raised.value.status == 412
    assert raised.value.url_path == "CarePlan"
    assert len(fake.seen) == 1


@pytest.mark.parametrize("criteria", ["", "CarePlan?", "identifier=a\r\nX-Evil: 1"])
def test_conditional_create_refuses_empty_or_header_breaking_criteria(criteria: str) -> None:
    fake = FakeFhir()
    with pytest.raises(FhirClientError, match="If-None-Exist"):
        client(fake).conditional_create({"resourceType": "CarePlan"}, criteria)
    assert fake.seen == []


def test_create_needs_a_resource_type() -> None:
    with pytest.raises(FhirClientError, match="resourceType"):
        client(FakeFhir()).create({"id": "x"})


def test_a_page_with_results_beside_an_error_outcome_is_kept_and_ends_paging_as_partial() -> None:
    """The server says the query failed, yet sends results: they are kept (a page-2 metastasis is never
    dropped), the next link is not followed, and the result says what else is unknown."""
    fake = FakeFhir()
    fake.add(
        "GET",
        f"{BASE}/Observation?page=1",
        Reply(json_body=bundle(obs(1), next_url=f"{BASE}/Observation?page=2")),
    )
    fake.add(
        "GET",
        f"{BASE}/Observation?page=2",
        Reply(json_body=bundle(obs(2), outcome(), next_url=f"{BASE}/Observation?page=3")),
    )
    result = client(fake).search("Observation?page=1")
    assert [e["resource"]["id"] for e in result.bundle["entry"] if "id" in e["resource"]] == ["o1", "o2"]
    assert result.partial
    assert not result.truncated
    assert result.pages == 2
    assert result.stop_reason is not None
    assert "1 OperationOutcome entry reporting an error beside the results of page 2" in result.stop_reason
    assert [seen.url for seen in fake.seen][-1] == f"{BASE}/Observation?page=2"


def test_a_first_page_that_is_only_an_error_outcome_is_a_failed_search() -> None:
    fake = FakeFhir()
    fake.add("GET", f"{BASE}/Observation?patient=p", Reply(json_body=bundle(outcome())))
    with pytest.raises(FhirClientError, match="OperationOutcome entry reporting an error"):
        client(fake).search("Observation?patient=p")
