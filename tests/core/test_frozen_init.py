"""``fast_init``: the faster constructor builds exactly what the dataclass's own ``__init__`` builds, with the
same signature, and the instance stays frozen."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

import fhir_bonemet.core
from fhir_bonemet.core.model.frozen_init import fast_init


def _shapes(decorate: bool) -> type[Any]:
    """One class with every field shape fast_init covers; the same class without it to compare with."""

    def twin(cls: type[Any]) -> type[Any]:
        return fast_init(cls) if decorate else cls

    @twin
    @dataclass(frozen=True, slots=True)
    class Shapes:
        plain: str
        number: int = 3
        items: tuple[str, ...] = ()
        made: list[int] = field(default_factory=list)
        hidden: int = field(default=7, init=False)
        hidden_made: dict[str, int] = field(default_factory=dict, init=False)
        flag: bool = field(default=False, kw_only=True)
        required_kw: str = field(kw_only=True, default="k")
        derived: str = field(default="", init=False)

        def __post_init__(self) -> None:
            object.__setattr__(self, "derived", f"{self.plain}:{self.number}")

    return Shapes


FAST, ORIGINAL = _shapes(True), _shapes(False)

CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("a",), {}),
    (("a", 5), {}),
    (("a", 5, ("x", "y")), {}),
    (("a",), {"made": [1, 2], "flag": True}),
    ((), {"plain": "b", "number": 0, "items": ("z",), "required_kw": "q"}),
    (("a", 1, (), [9]), {"flag": True, "required_kw": "r"}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_every_field_is_what_the_dataclass_init_makes(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    fast, original = FAST(*args, **kwargs), ORIGINAL(*args, **kwargs)
    assert dataclasses.asdict(fast) == dataclasses.asdict(original)
    assert repr(fast).split("(", 1)[1] == repr(original).split("(", 1)[1]


def test_default_factories_make_a_new_value_per_instance() -> None:
    first, second = FAST("a"), FAST("b")
    assert first.made == []
    assert first.made is not second.made
    assert first.hidden_made == {}
    assert first.hidden_made is not second.hidden_made


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        (("a", 1, (), [], 2), {}),
        (("a",), {"unknown": 1}),
        (("a",), {"plain": "b"}),
        (("a",), {"hidden": 1}),
    ],
)
def test_wrong_arguments_are_refused_as_by_the_dataclass(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(TypeError):
        ORIGINAL(*args, **kwargs)
    with pytest.raises(TypeError):
        FAST(*args, **kwargs)


def test_the_instance_stays_frozen_and_equal() -> None:
    fast = FAST("a", 1, ("x",), flag=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.plain = "changed"  # type: ignore[misc]
    same = FAST("a", 1, ("x",), flag=True)
    assert fast == same
    assert fast is not same
    assert _signature(FAST) == _signature(ORIGINAL)


def test_classes_it_does_not_cover_are_refused() -> None:
    @dataclass(slots=True)
    class Mutable:
        value: int

    @dataclass(frozen=True)
    class NoSlots:
        value: int

    for cls in (Mutable, NoSlots):
        with pytest.raises(TypeError, match="frozen=True, slots=True"):
            fast_init(cls)

    @fast_init
    @dataclass(frozen=True, slots=True)
    class WithClassVar:  # a ClassVar is no field and no parameter: covered
        LIMIT: ClassVar[int] = 3
        value: int

    assert WithClassVar(2).value == 2
    with pytest.raises(TypeError, match="InitVar"):

        @fast_init
        @dataclass(frozen=True, slots=True)
        class WithInitVar:
            value: int
            seed: dataclasses.InitVar[int] = 0


def _signature(cls: type[Any]) -> list[tuple[str, Any, Any, Any]]:
    """Each parameter's name, kind, annotation and default; a default factory's marker (the dataclass's
    and fast_init's are different objects) read as "a factory"."""
    factory_fields = {f.name for f in dataclasses.fields(cls) if f.default_factory is not dataclasses.MISSING}
    return [
        (p.name, p.kind, p.annotation, "factory" if p.name in factory_fields else p.default)
        for p in inspect.signature(cls).parameters.values()
    ]


def _project_classes() -> list[type[Any]]:
    """Every class of the pure core given fast_init (its __init__ is then the generated one)."""
    found = []
    for info in pkgutil.walk_packages(fhir_bonemet.core.__path__, "fhir_bonemet.core."):
        for value in vars(importlib.import_module(info.name)).values():
            init = getattr(value, "__init__", None)
            if (
                isinstance(value, type)
                and value.__module__ == info.name
                and getattr(init, "__code__", None) is not None
                and init.__code__.co_filename == "<string>"
                and init.__globals__.get("_FACTORY") is not None
            ):
                found.append(value)
    return found


def test_the_project_classes_keep_the_signature_of_their_dataclass() -> None:
    classes = _project_classes()
    assert len(classes) >= 20, "the facts and findings of the core use fast_init"
    for cls in classes:
        plain = dataclass(frozen=True, slots=True)(
            type(cls.__name__, (), {"__annotations__": dict(cls.__annotations__), **_defaults(cls)})
        )
        assert _signature(cls) == _signature(plain), cls.__qualname__


def _defaults(cls: type[Any]) -> dict[str, Any]:
    """The class's fields as dataclass field() specifications, to rebuild it without fast_init."""
    specs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        specs[f.name] = field(
            default=f.default,
            default_factory=f.default_factory,
            init=f.init,
            kw_only=f.kw_only,
        )
    return specs
