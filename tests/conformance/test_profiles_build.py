"""The committed profiles are what the FHIR Shorthand compiles to: SUSHI, offline, 0 errors, no drift.

The same check as ``python profiles/fsh_build.py --check`` (``make profiles-check``), run inside the test
suite so that a change to ``profiles/fsh/`` (or to the project terminology SUSHI checks local codes
against) without a rebuild fails ``pytest`` too.  One SUSHI build takes about 20 s.
"""

from __future__ import annotations

import difflib
import importlib.util
from types import ModuleType

from fhir_bonemet.project_dirs import PROFILES


def _fsh_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("profiles_fsh_build", PROFILES.default / "fsh_build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sushi_compiles_the_fsh_to_exactly_the_committed_profiles() -> None:
    fsh_build = _fsh_build()
    built: dict[str, str] = fsh_build.build()  # raises BuildError (with SUSHI's log) on any SUSHI error
    generated = PROFILES.default / "generated"
    committed = {p.name: p.read_text(encoding="utf-8") for p in sorted(generated.glob("*.json"))}
    assert sorted(built) == sorted(committed), "run python profiles/fsh_build.py"
    for name, text in built.items():
        if committed[name] != text:
            diff = "".join(
                difflib.unified_diff(
                    committed[name].splitlines(True), text.splitlines(True), name, "SUSHI", n=1
                )
            )
            raise AssertionError(
                f"{name} differs from the FSH (run python profiles/fsh_build.py):\n{diff[:3000]}"
            )
