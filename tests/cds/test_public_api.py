"""The public names other code builds on: a change to them is a deliberate API change, not an accident."""

from __future__ import annotations

import importlib
from importlib import metadata

import pytest

import fhir_bonemet
from fhir_bonemet.cds import models


def test_wire_models_export_exactly_the_cds_hooks_names() -> None:
    assert sorted(models.__all__) == [
        "AcceptedSuggestion",
        "Action",
        "CDSFeedback",
        "CDSRequest",
        "CDSResponse",
        "CONTEXT_MODELS",
        "Card",
        "Coding",
        "Feedback",
        "FeedbackCoding",
        "FhirAuthorization",
        "HookContext",
        "Link",
        "OrderSelectContext",
        "OrderSignContext",
        "OverrideReason",
        "PatientViewContext",
        "RULES_EXTENSION",
        "Source",
        "Suggestion",
        "parse_request",
        "rule_ids_of",
        "rules_extension",
        "with_rule_ids",
    ]
    assert models.RULES_EXTENSION == "org.fhir-bonemet.rules"


def test_the_package_exports_its_version_only() -> None:
    assert fhir_bonemet.__all__ == ["__version__"]
    # --version reports this; it must be the version the package was installed as.
    assert fhir_bonemet.__version__ == metadata.version("fhir-bonemet")


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            "fhir_bonemet.store",
            [
                "FeedbackItem",
                "IssuedCall",
                "IssuedCard",
                "OutboxItem",
                "OutboxStatus",
                "PlanViewToStore",
                "Store",
                "StoreError",
                "StoredFeedback",
                "StoredIssuedCard",
                "StoredPlanView",
                "open_store",
            ],
        ),
        ("fhir_bonemet.settings", ["Settings", "TrustedIssuer"]),
        (
            "fhir_bonemet.cds",
            [
                *models.__all__,
                "ClientIdentity",
                "HookDeps",
                "HookHandler",
                "ServiceCatalogue",
                "ServiceDefinition",
                "load_services",
                "operation_outcome",
            ],
        ),
        (
            "fhir_bonemet.web",
            ["BackgroundWorker", "JwtVerifier", "configure_logging", "create_app", "issued_cards"],
        ),
        ("fhir_bonemet.cards", ["SKELETAL_RISK_EXTENSION", "CardContext", "build_cards"]),
        ("fhir_bonemet.main", ["build_app"]),
        (
            "fhir_bonemet.client",
            [
                "CreateResult",
                "FhirClient",
                "FhirServerNotAllowedError",
                "FhirTimeoutError",
                "PrefetchLimits",
                "PrefetchRequest",
                "PrefetchResolver",
                "PrefetchResult",
                "SearchResult",
                "ServerPolicy",
                "Timeouts",
            ],
        ),
    ],
)
def test_package_exports(module: str, names: list[str]) -> None:
    imported = importlib.import_module(module)
    assert sorted(imported.__all__) == sorted(names)
    for name in names:
        assert hasattr(imported, name), name
