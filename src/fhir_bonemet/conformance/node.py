"""The independent profile validator: ``tools/validator/validate.mjs`` (@medplum/core on Node.js).

One Node process per call checks a whole batch (start-up, indexing the definitions, costs about 3 s; each
resource a few milliseconds), so callers hand over everything they have at once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from fhir_bonemet.conformance.definitions import validator_dir
from fhir_bonemet.conformance.issues import Issue
from fhir_bonemet.errors import ConfigurationError

__all__ = ["ProfileTask", "validate_profiles"]

ProfileTask = tuple[dict[str, Any], str | None]  # (resource, profile URL or None for the base definition)
_TIMEOUT_S = 600


def validate_profiles(tasks: Sequence[ProfileTask]) -> list[list[Issue]]:
    """For each (resource, profile), the validator's issues; locations start at the resource type."""
    if not tasks:
        return []
    node = shutil.which("node")
    if node is None:
        raise ConfigurationError("node (Node.js 20 or later) is needed to validate against the profiles")
    script = validator_dir() / "validate.mjs"
    payload = [
        {"key": i, "resource": resource, "profile": profile} for i, (resource, profile) in enumerate(tasks)
    ]
    # A fixed argv (Node and the project's script), no shell; the resources travel on stdin.
    proc = subprocess.run(  # noqa: S603
        [node, str(script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ConfigurationError(f"{script} failed (exit {proc.returncode}): {last[0][:500]}")
    results = json.loads(proc.stdout)
    out: list[list[Issue]] = []
    for (_resource, profile), result in zip(tasks, results, strict=True):
        out.append(
            [
                Issue(i["severity"], i["expression"], i["message"], "profile", profile)
                for i in result["issues"]
            ]
        )
    return out
