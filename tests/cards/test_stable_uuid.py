"""Card and suggestion uuids are the standard name-based (SHA-1, version 5) uuids of RFC 4122."""

from __future__ import annotations

import uuid

import pytest

from fhir_bonemet.cards.suggestions import UUID_NAMESPACE, stable_uuid

NAMES = [
    "",
    "a",
    "3f02e141-7f20-570a-8aa1-a7938f1bf38e\nreferral:spine-surgery",
    "hook-instance\nP16,P17,R09\nmedication-safety:P16+P17",
    "ünïcödé ✓ 10⁹/L",
    *(f"name-{i}" * (i % 7) for i in range(300)),
]


@pytest.mark.parametrize("name", NAMES)
def test_stable_uuid_is_uuid5_in_the_card_namespace(name: str) -> None:
    assert stable_uuid(name) == str(uuid.uuid5(UUID_NAMESPACE, name))
