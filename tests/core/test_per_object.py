"""per_object: a table made from a long-lived object once per object, told apart by identity."""

from __future__ import annotations

from fhir_bonemet.core.model.per_object import per_object


def test_each_object_is_built_for_once_and_equal_objects_each_get_their_own() -> None:
    built: list[int] = []

    def build(obj: dict[str, int]) -> int:
        built.append(id(obj))
        return len(obj)

    table = per_object(build)
    first, twin = {"a": 1}, {"a": 1}  # equal, but two objects (and unhashable)
    assert table(first) == 1
    assert table(first) == 1
    assert table(twin) == 1
    assert built == [id(first), id(twin)]


def test_past_the_limit_it_forgets_and_builds_again() -> None:
    calls: list[object] = []

    def build(obj: object) -> int:
        calls.append(obj)
        return len(calls)

    table = per_object(build, limit=2)
    a, b, c = object(), object(), object()
    table(a)
    table(b)
    table(c)  # the third clears the memory
    table(a)
    assert calls == [a, b, c, a]
