"""Load the example patients into a FHIR server and fire their hooks at a running fhir-bonemet service.

::

    python -m fhir_bonemet.cli.examples_runner --fhir http://127.0.0.1:8090/fhir --service http://127.0.0.1:8080

For each scenario in ``examples/`` it POSTs ``bundle.json`` (a transaction of PUTs, so re-running is
harmless) to the FHIR server, then sends ``patient-view.json``, ``order-select.json`` and
``order-sign.json`` to the service's matching CDS services (found through discovery), with ``fhirServer``
set to the FHIR server so the service fetches what it needs, and prints each card's indicator, summary
and rule ids.  A service with authentication on gets a JWT signed for each call (``--jwt-key``, see
:class:`CallerKey`).  The example data are written as of ``anchorDate`` (``examples/scenarios.json``); every
clinical date is moved forward by the same number of days so that "pain score yesterday" stays yesterday.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fhir_bonemet.cds.prefetch_templates import OBSERVATION_GROUPS, group_of, observation_templates
from fhir_bonemet.cli.closed_output import output_closed
from fhir_bonemet.core.model.hooks import Hook
from fhir_bonemet.errors import ConfigurationError
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.project_dirs import EXAMPLES

__all__ = [
    "default_examples_dir",
    "load_manifest",
    "main",
    "prefetched_request",
    "register",
    "shift_dates",
]

# Clinical dates that move with the anchor; birthDate deliberately does not (ages stay as written).
DATE_KEYS = frozenset({
    "effectiveDateTime", "onsetDateTime", "recordedDate", "authoredOn", "performedDateTime", "dateAsserted",
    "issued", "start", "end", "dueDate", "abatementDateTime",
})  # fmt: skip
TIMEOUT = (5.0, 60.0)


def default_examples_dir() -> Path:
    """``examples/`` of the source tree (see :mod:`fhir_bonemet.project_dirs`)."""
    return EXAMPLES.default


def _shift(value: str, days: int) -> str:
    try:
        moved = date.fromisoformat(value[:10]) + timedelta(days=days)
    except ValueError:
        return value
    return moved.isoformat() + value[10:]


def shift_dates(node: Any, days: int) -> Any:
    """A copy of ``node`` with every clinical date (see :data:`DATE_KEYS`) moved by ``days``."""
    if isinstance(node, dict):
        return {
            k: _shift(v, days) if k in DATE_KEYS and isinstance(v, str) else shift_dates(v, days)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [shift_dates(v, days) for v in node]
    return node


def load_manifest(examples: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(
        (EXAMPLES.require(examples) / "scenarios.json").read_text(encoding="utf-8")
    )
    return manifest


def _read(path: Path, days: int) -> dict[str, Any]:
    data: dict[str, Any] = shift_dates(json.loads(path.read_text(encoding="utf-8")), days)
    return data


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


AuthFor = Callable[[str], dict[str, str]]
"""The Authorization header (or none) for a call to the service at this URL."""

# The JWS algorithm of each kind of signing key; the service accepts ES384 and RS384 by default.
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
TOKEN_LIFETIME_SECONDS = 300


class CallerKey:
    """Signs one JWT per call to the service, as a CDS client does: ``aud`` is the URL called and ``jti`` is
    new each time.  One token given once cannot serve a run: the service refuses a token whose ``aud``
    names another endpoint (discovery and each hook) and refuses any ``jti`` it has already accepted."""

    def __init__(self, key_file: Path, issuer: str, kid: str, tenant: str | None = None) -> None:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _EC_ALGORITHMS:
            self._algorithm = _EC_ALGORITHMS[key.curve.name]
        elif isinstance(key, rsa.RSAPrivateKey):
            self._algorithm = "RS384"
        else:
            raise ValueError(f"{key_file}: not an RSA or a P-256/P-384/P-521 EC private key")
        self._key = key
        self._issuer, self._kid, self._tenant = issuer, kid, tenant

    def __call__(self, url: str) -> dict[str, str]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": url,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        if self._tenant:
            claims["tenant"] = self._tenant
        token = jwt.encode(
            claims, self._key, algorithm=self._algorithm, headers={"kid": self._kid, "typ": "JWT"}
        )
        return {"Authorization": f"Bearer {token}"}


def load_bundle(session: requests.Session, fhir: str, bundle: dict[str, Any], token: str | None) -> int:
    """POST a transaction Bundle; the number of entries stored (raises on any failure)."""
    response = session.post(
        fhir.rstrip("/"),
        json=bundle,
        headers={"Content-Type": "application/fhir+json", **_auth(token)},
        timeout=TIMEOUT,
    )
    if response.status_code != 200:
        raise RuntimeError(f"loading the bundle answered HTTP {response.status_code}")
    entries = response.json().get("entry", [])
    failed = [e for e in entries if not str(e.get("response", {}).get("status", "")).startswith("2")]
    if failed:
        raise RuntimeError(f"{len(failed)} bundle entries were refused")
    return len(entries)


def discover(session: requests.Session, service: str, auth_for: AuthFor) -> dict[str, str]:
    """Hook name → id of the first service answering that hook."""
    url = f"{service.rstrip('/')}/cds-services"
    response = session.get(url, headers=auth_for(url), timeout=TIMEOUT)
    response.raise_for_status()
    found: dict[str, str] = {}
    for entry in response.json().get("services", []):
        found.setdefault(entry["hook"], entry["id"])
    return found


def _hook_request(path: Path, days: int, fhir: str, fhir_token: str | None) -> dict[str, Any]:
    request = _read(path, days)
    request["fhirServer"] = fhir.rstrip("/")
    if fhir_token:
        request["fhirAuthorization"] = {
            "access_token": fhir_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read user/CarePlan.write",
            "subject": "fhir-bonemet-examples",
            "patient": request["context"]["patientId"],
        }
    return request


# Which prefetch key of the shipped service definitions holds which resource type (cds_hooks/*.json);
# Observations go to the generated key of their group (fhir_bonemet.cds.prefetch_templates).
PREFETCH_KEYS = {
    "Condition": "conditions",
    "MedicationRequest": "medication-requests",
    "MedicationStatement": "medication-statements",
    "Procedure": "procedures",
}


def prefetched_request(
    scenario: str, hook: Hook = Hook.PATIENT_VIEW, *, today: date | None = None, examples: Path | None = None
) -> dict[str, Any]:
    """A scenario's hook request with every prefetch key filled from its bundle, as an EHR would send it.

    Needs no FHIR server: ``fhirServer`` and ``fhirAuthorization`` are left out.  Dates are moved so that
    the data look current on ``today`` (default: the anchor date, i.e. unchanged).
    """
    folder = (examples or default_examples_dir()) / scenario
    anchor = date.fromisoformat(load_manifest(folder.parent)["anchorDate"])
    days = ((today or anchor) - anchor).days
    resources = [entry["resource"] for entry in _read(folder / "bundle.json", days)["entry"]]
    request = _read(folder / f"{hook}.json", days)
    request.pop("fhirServer", None)
    request.pop("fhirAuthorization", None)
    request["prefetch"] = prefetch_of(resources)
    return request


def prefetch_of(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """Every prefetch key of the shipped service definitions filled from ``resources`` (one Patient among
    them), each Observation under the generated key of its group, as an EHR would send them."""
    prefetch: dict[str, Any] = {"patient": next(r for r in resources if r["resourceType"] == "Patient")}
    by_key: dict[str, list[dict[str, Any]]] = {key: [] for key in PREFETCH_KEYS.values()}
    # Every generated Observation key is sent (an empty searchset is "nothing more"), as an EHR would.
    terminology = _shipped_terminology()
    by_key |= {key: [] for key in observation_templates(terminology.search_codes)}
    for resource in resources:
        key = _prefetch_key(resource, terminology)
        if key is not None:
            by_key[key].append(resource)
    for key, found in by_key.items():
        prefetch[key] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in found],
        }
    return prefetch


@functools.cache
def _shipped_terminology() -> Terminology:
    """The project's own terminology (no ConceptMaps: the examples use the project's codes), loaded once."""
    return Terminology.load()


def _prefetch_key(resource: dict[str, Any], terminology: Terminology) -> str | None:
    kind = resource.get("resourceType")
    if kind != "Observation":
        return PREFETCH_KEYS.get(str(kind))
    concepts = terminology.concepts_for(resource.get("code"))
    return next(
        (key for concept in sorted(concepts) if (key := group_of(concept))), OBSERVATION_GROUPS[0].key
    )


def iso_day(text: str) -> str:
    """An argparse type: a calendar date the example data can be moved to (shifting them by millennia
    would leave the calendar)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text[:40]!r}") from None
    if not 1900 <= day.year <= 2200:
        raise argparse.ArgumentTypeError("a date between the years 1900 and 2200")
    return text


def _print_request(args: argparse.Namespace) -> int:
    today = date.fromisoformat(args.today) if args.today else date.today()
    print(json.dumps(prefetched_request(args.scenario, args.hook, today=today), indent=1))
    return 0


def register(subparsers: Any) -> None:
    """``fhir-bonemet example-request SCENARIO``: a ready-to-POST hook request for an example patient."""
    try:
        names: list[str] | None = [s["id"] for s in load_manifest(default_examples_dir())["scenarios"]]
    except ConfigurationError:
        names = None  # not a source checkout: the other commands must still work; this one says why
    parser = subparsers.add_parser(
        "example-request", help="print an example patient's hook request with all data prefetched"
    )
    parser.add_argument("scenario", choices=names)
    parser.add_argument("--hook", type=Hook, choices=list(Hook), default=Hook.PATIENT_VIEW)
    parser.add_argument(
        "--today", type=iso_day, default=None, help="date the data should look current on (default today)"
    )
    parser.set_defaults(func=_print_request)


def describe(response: dict[str, Any]) -> list[str]:
    """One line per card: indicator, summary, rule ids, suggestion labels."""
    lines = []
    for card in response.get("cards", []):
        rules = ", ".join((card.get("extension") or {}).get("org.fhir-bonemet.rules", []))
        lines.append(f"  [{card['indicator']:>8}] {card['summary']}  ({rules})")
        for suggestion in card.get("suggestions", []):
            lines.append(f"             -> {suggestion['label']}")
    return lines or ["  (no cards)"]


def run(args: argparse.Namespace, session: requests.Session, auth_for: AuthFor) -> list[dict[str, Any]]:
    examples = Path(args.examples)
    manifest = load_manifest(examples)
    days = (date.fromisoformat(args.today) - date.fromisoformat(manifest["anchorDate"])).days
    services = discover(session, args.service, auth_for)
    results: list[dict[str, Any]] = []
    for scenario in manifest["scenarios"]:
        if args.scenario and scenario["id"] not in args.scenario:
            continue
        folder = examples / scenario["id"]
        stored = load_bundle(session, args.fhir, _read(folder / "bundle.json", days), args.fhir_token)
        if not args.json:
            print(f"\n== {scenario['id']}: {scenario['title']} ({stored} resources loaded)")
        for hook in Hook:
            if hook not in services:
                continue
            request = _hook_request(folder / f"{hook}.json", days, args.fhir, args.fhir_token)
            url = f"{args.service.rstrip('/')}/cds-services/{services[hook]}"
            response = session.post(url, json=request, headers=auth_for(url), timeout=TIMEOUT)
            body = (
                response.json() if response.headers.get("Content-Type", "").startswith("application/") else {}
            )
            results.append(
                {"scenario": scenario["id"], "hook": hook, "status": response.status_code, "body": body}
            )
            if not args.json:
                print(f"-- {hook}: HTTP {response.status_code}")
                print("\n".join(describe(body) if response.status_code == 200 else [f"  {body}"]))
    return results


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m fhir_bonemet.cli.examples_runner", description=__doc__.split("\n")[0]
    )
    p.add_argument("--fhir", required=True, help="FHIR server base URL to load the patients into")
    p.add_argument("--service", required=True, help="base URL of the running fhir-bonemet service")
    p.add_argument("--examples", default=str(default_examples_dir()), help="examples directory")
    p.add_argument("--scenario", action="append", help="only this scenario id (repeatable)")
    p.add_argument(
        "--today", type=iso_day, default=date.today().isoformat(), help="date the data should look current on"
    )
    p.add_argument(
        "--fhir-token", default=None, help="bearer token for the FHIR server (also sent to the service)"
    )
    p.add_argument(
        "--jwt-key",
        type=Path,
        default=None,
        metavar="PEM",
        help="when the service runs with authentication: the EHR's private key (PEM, EC or RSA) to sign a "
        "JWT for each call with (aud the URL called, a new jti); needs --jwt-issuer and --jwt-kid",
    )
    p.add_argument("--jwt-issuer", default=None, help="iss of the signed JWTs: an issuer the service trusts")
    p.add_argument("--jwt-kid", default=None, help="kid of the signing key in that issuer's JWK Set")
    p.add_argument(
        "--jwt-tenant", default=None, help="tenant claim of the signed JWTs, if the issuer has tenants"
    )
    p.add_argument(
        "--bearer",
        default=None,
        help="one JWT sent on every call; the service refuses it after the first (use --jwt-key instead)",
    )
    p.add_argument("--json", action="store_true", help="print the raw responses as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    # Checked before any request: a mistyped --scenario would otherwise fire nothing and exit 0, and a
    # wrong --examples directory would end in a traceback.
    try:
        known = [scenario["id"] for scenario in load_manifest(Path(args.examples))["scenarios"]]
    except ConfigurationError as exc:
        cli.error(str(exc))
    unknown = sorted(set(args.scenario or ()) - set(known))
    if unknown:
        cli.error(f"unknown --scenario {', '.join(unknown)}; the scenarios are: {', '.join(known)}")
    auth_for: AuthFor = lambda _url: _auth(args.bearer)  # noqa: E731 (replaced by a CallerKey below)
    if args.jwt_key is not None:
        if args.bearer or not (args.jwt_issuer and args.jwt_kid):
            cli.error("--jwt-key needs --jwt-issuer and --jwt-kid, and replaces --bearer")
        try:
            auth_for = CallerKey(args.jwt_key, args.jwt_issuer, args.jwt_kid, args.jwt_tenant)
        except (OSError, ValueError, TypeError) as exc:
            cli.error(f"--jwt-key: {exc}")
    with requests.Session() as session:
        try:
            results = run(args, session, auth_for)
        except (requests.RequestException, RuntimeError, KeyError, ValueError) as exc:
            print(f"examples runner failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    if args.json:
        try:
            print(json.dumps(results, indent=2), flush=True)
        except BrokenPipeError:  # the reader of the output went away (| head)
            return output_closed()
    return 0 if all(r["status"] == 200 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
