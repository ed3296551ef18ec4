"""Outbound FHIR REST calls over an injected :class:`requests.Session`.

One :class:`FhirClient` talks to one FHIR server on behalf of one caller (one access token).  The session is
shared and never carries the token itself: the token rides on each request through an auth object, so it
can never leak into another caller's request or onto another host.

Safety rules enforced here, before any byte leaves the process:

* the server base URL must be http(s), without credentials, query or fragment, and allowed by the
  :class:`ServerPolicy` (an allowlist; "allow any" only by an explicit flag, for local development);
* redirects are not followed, and ``link[relation=next]`` is only followed when it stays under the FHIR
  base (same origin and below the base path, no dot segments, plain or percent-encoded), so the bearer
  token is only ever sent to the FHIR API it was issued for, never to ``/admin`` on the same host;
* errors carry a redacted path (resource type and parameter names, no ids, values, host or token).
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import requests

from fhir_bonemet.client.bundles import JsonObject, next_link, outcome_failure, payload_problem, result_count
from fhir_bonemet.client.policy import FhirServerNotAllowedError, ServerPolicy
from fhir_bonemet.client.transport import FHIR_JSON, FhirTimeoutError, Timeouts, Transport
from fhir_bonemet.client.urls import origin_of, redact_url, relative_url_problem
from fhir_bonemet.errors import FhirClientError

__all__ = [
    "CreateResult",
    "FhirClient",
    "FhirServerNotAllowedError",
    "FhirTimeoutError",
    "SearchResult",
    "ServerPolicy",
    "Timeouts",
]

_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_RESOURCE_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A search with its pages merged into one searchset Bundle."""

    bundle: JsonObject
    pages: int
    truncated: bool = False  # more pages existed but were not read (``stop_reason`` says why)
    stop_reason: str | None = None
    # A page held results beside an OperationOutcome reporting an error: its results were kept, paging
    # stopped there, and what the search should have found beyond them is unknown (``stop_reason`` says).
    partial: bool = False


@dataclass(frozen=True, slots=True)
class CreateResult:
    status: int  # 201 created, 200 when a conditional create found an existing match
    resource_id: str | None
    location: str | None
    resource: JsonObject | None


class FhirClient:
    """Read, search and create against one FHIR server.

    The HTTP exchange itself (token, timeouts under ``deadline``, retry, size cap) is :class:`Transport`.
    """

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        *,
        policy: ServerPolicy,
        access_token: str | None = None,
        timeouts: Timeouts = _DEFAULT_TIMEOUTS,
        max_pages: int = 10,
        max_response_bytes: int = 32 * 1024 * 1024,
        deadline: float | None = None,
        paging_deadline: float | None = None,
    ) -> None:
        self.base_url = policy.check(base_url)
        self.origin = origin_of(self.base_url)
        self.max_pages = max(1, max_pages)
        self.paging_deadline = paging_deadline
        self.deadline = deadline
        self.timeouts = timeouts
        transport = functools.partial(
            Transport,
            session,
            self.base_url,
            access_token=access_token,
            timeouts=timeouts,
            max_response_bytes=max_response_bytes,
        )
        self._transport = transport(deadline=deadline)
        # Next pages run on the paging budget (``paging_deadline``): no page starts after it and a page's
        # read timeout is clipped to it, so a slow page 3 cannot hold the answer back.
        page_deadline = (
            deadline if paging_deadline is None else min(paging_deadline, deadline or paging_deadline)
        )
        self._page_transport = transport(deadline=page_deadline)

    def __repr__(self) -> str:
        return f"FhirClient(origin={self.origin!r})"

    # -- reads --------------------------------------------------------------------------------------

    def read(self, resource_type: str, resource_id: str) -> JsonObject:
        if not _RESOURCE_TYPE.match(resource_type) or not _RESOURCE_ID.match(resource_id):
            raise FhirClientError("read needs a resource type and a FHIR id ([A-Za-z0-9-.]{1,64})")
        return self.get(f"{resource_type}/{resource_id}", expected_type=resource_type)

    def get(self, relative_url: str, *, expected_type: str | None = None) -> JsonObject:
        """GET a URL relative to the base and return the resource it answers with."""
        url = self._absolute(relative_url)
        return self._get_resource(url, expected_type)

    def search(self, relative_url: str) -> SearchResult:
        """Run a search and follow ``link[relation=next]`` up to ``max_pages`` pages."""
        first = self._get_resource(self._absolute(relative_url), "Bundle", failed_outcomes=False)
        return self.follow_pages(first)

    def follow_pages(self, first_page: Mapping[str, Any]) -> SearchResult:
        """Merge ``first_page`` with the pages its next links lead to (same origin, page cap, paging budget).

        Pages already read are never thrown away: when a later page fails, is unusable or would start
        after the paging budget, the result is the pages read so far, marked ``truncated`` with the reason.
        A page whose results come with an OperationOutcome reporting an error is kept too, and ends paging
        (the result is ``partial``); one with the error and no result is a failed page (the first: an error).
        """
        problem = payload_problem(first_page, expected_type="Bundle", failed_outcomes=False)
        failure = outcome_failure(first_page) if problem is None else None
        if problem is None and failure is not None and not result_count(first_page):
            problem = failure
        if problem:
            raise FhirClientError(f"search result unusable: {problem}")
        entries: list[Any] = list(first_page.get("entry") or [])
        pages, page, seen = 1, first_page, set[str]()
        truncated = False
        partial, reason = _partial(failure, pages) if failure is not None else (False, None)
        while not partial and (link := next_link(page)) is not None:
            url = urljoin(self.base_url + "/", link)
            if origin_of(url) != self.origin:
                truncated, reason = True, "the next link points to another server; it was not followed"
                break
            if not _under_base(link, url, self.base_url):
                truncated, reason = True, "the next link leaves the FHIR base path; it was not followed"
                break
            if url in seen:
                truncated, reason = True, "the next link repeats an earlier page; paging stopped"
                break
            if pages >= self.max_pages:
                truncated, reason = True, f"more than {self.max_pages} pages; the rest were not read"
                break
            if self.paging_deadline is not None and time.monotonic() >= self.paging_deadline:
                truncated, reason = (
                    True,
                    f"the fetch budget was spent after page {pages}; older pages not read",
                )
                break
            seen.add(url)
            used = "page 1 was" if pages == 1 else f"pages 1-{pages} were"
            try:
                page = self._get_resource(url, "Bundle", self._page_transport, failed_outcomes=False)
            except FhirClientError as exc:
                cause = (
                    "the fetch budget ran out"
                    if self.paging_deadline is not None and time.monotonic() >= self.paging_deadline
                    else str(exc)
                )
                truncated, reason = True, f"page {pages + 1} failed ({cause}); {used} used"
                break
            failure = outcome_failure(page)
            if failure is not None and not result_count(page):  # an error in place of the page
                truncated, reason = (
                    True,
                    f"page {pages + 1} failed (response unusable: {failure}); {used} used",
                )
                break
            pages += 1
            entries.extend(page.get("entry") or [])
            if failure is not None:
                partial, reason = _partial(failure, pages)
        merged: JsonObject = {key: value for key, value in first_page.items() if key not in ("entry", "link")}
        if entries:  # FHIR JSON has no empty arrays
            merged["entry"] = entries
        return SearchResult(
            bundle=merged, pages=pages, truncated=truncated, stop_reason=reason, partial=partial
        )

    # -- writes -------------------------------------------------------------------------------------

    def create(self, resource: Mapping[str, Any]) -> CreateResult:
        return self._create(resource, headers={})

    def conditional_create(self, resource: Mapping[str, Any], if_none_exist: str) -> CreateResult:
        """POST with ``If-None-Exist``: 201 when created, 200 when a match already existed."""
        criteria = if_none_exist.split("?", 1)[1] if "?" in if_none_exist else if_none_exist
        if not criteria or "\n" in criteria or "\r" in criteria:
            raise FhirClientError("If-None-Exist needs search criteria such as identifier=system|value")
        return self._create(resource, headers={"If-None-Exist": criteria})

    def _create(self, resource: Mapping[str, Any], headers: dict[str, str]) -> CreateResult:
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or not _RESOURCE_TYPE.match(resource_type):
            raise FhirClientError("a resource to create needs a valid resourceType")
        url = self._absolute(resource_type)
        body = json.dumps(resource, separators=(",", ":")).encode("utf-8")
        headers = {**headers, "Content-Type": f"{FHIR_JSON}; charset=utf-8"}
        status, payload, response_headers = self._transport.send(
            "POST", url, body=body, headers=headers, strict_json=False
        )
        if status not in (200, 201):
            raise FhirClientError(
                f"create answered {status}", status=status, url_path=redact_url(url, self.base_url)
            )
        created = payload if isinstance(payload, dict) else None
        location = response_headers.get("Location") or response_headers.get("Content-Location")
        resource_id = _id_from_location(location, resource_type)
        if resource_id is None and created is not None and isinstance(created.get("id"), str):
            resource_id = created["id"]
        return CreateResult(status=status, resource_id=resource_id, location=location, resource=created)

    # -- transport ----------------------------------------------------------------------------------

    def _absolute(self, relative_url: str) -> str:
        problem = relative_url_problem(relative_url)
        if problem:
            raise FhirClientError(f"not a relative FHIR URL: {problem}")
        return f"{self.base_url}/{relative_url.lstrip('/')}"

    def _get_resource(
        self,
        url: str,
        expected_type: str | None,
        transport: Transport | None = None,
        *,
        failed_outcomes: bool = True,
    ) -> JsonObject:
        status, payload, _ = (transport or self._transport).send("GET", url)
        path = redact_url(url, self.base_url)
        if status != 200:
            raise FhirClientError(f"FHIR server answered {status}", status=status, url_path=path)
        problem = payload_problem(payload, expected_type=expected_type, failed_outcomes=failed_outcomes)
        if problem or not isinstance(payload, dict):
            raise FhirClientError(f"response unusable: {problem}", status=status, url_path=path)
        return payload


def _partial(failure: str, page: int) -> tuple[bool, str]:
    where = "page 1" if page == 1 else f"page {page}"
    return True, (
        f"{failure} beside the results of {where}; they were used, paging stopped there, and what the "
        "search would have found beyond them is unknown"
    )


def _under_base(link: str, url: str, base_url: str) -> bool:
    """True when the next link ``link`` (resolved to ``url``) names a path at or below the base path.

    Dot segments are refused outright, in the link as written and percent-decoded, rather than resolved:
    servers and proxies disagree on decoding ``%2e%2e``, and a FHIR server has no reason to send them.
    An encoded slash or backslash is refused for the same reason.
    """
    raw_path = urlsplit(link).path
    decoded = unquote(raw_path).replace("\\", "/")
    if re.search(r"%2f|%5c", raw_path, re.IGNORECASE):
        return False
    if any(segment in (".", "..") for segment in (*raw_path.split("/"), *decoded.split("/"))):
        return False
    path = urlsplit(url).path
    base_path = urlsplit(base_url).path.rstrip("/")
    return path == base_path or path.startswith(base_path + "/")


def _id_from_location(location: str | None, resource_type: str) -> str | None:
    if not location:
        return None
    parts = urlsplit(location).path.split("/")
    for index in range(len(parts) - 1):
        if parts[index] == resource_type and _RESOURCE_ID.match(parts[index + 1]):
            return parts[index + 1]
    return None
