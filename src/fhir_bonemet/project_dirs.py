"""Where the project's data directories are: service definitions, terminology profiles, example patients.

They are not Python package data: they sit at the top of the source tree, next to ``src/``, where an
editable install (the supported way to run the service) finds them.  A deployment that keeps them
elsewhere names them with ``BONEMET_SERVICES_DIR`` and ``BONEMET_PROFILES_DIR``.  A directory that is
missing stops the command with a :class:`~fhir_bonemet.errors.ConfigurationError` naming the setting to fix,
instead of a file-not-found deep inside a loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fhir_bonemet.errors import ConfigurationError, TerminologyError

__all__ = ["EXAMPLES", "PROFILES", "SERVICES", "SOURCE_TREE", "ProjectDir"]

# src layout: <source tree>/src/fhir_bonemet/project_dirs.py
SOURCE_TREE = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class ProjectDir:
    """One data directory of the source tree and the setting that may put it elsewhere."""

    name: str  # folder name at the top of the source tree
    holds: str  # what it holds, for messages
    setting: str | None  # environment variable that overrides the location; None: not configurable
    error: type[ConfigurationError] = ConfigurationError

    @property
    def default(self) -> Path:
        return SOURCE_TREE / self.name

    def require(self, configured: Path | None = None) -> Path:
        """``configured`` (or the source-tree default) when it is a directory; otherwise ``error``."""
        path = self.default if configured is None else configured
        if path.is_dir():
            return path
        fix = (
            f"set {self.setting} to the directory"
            if self.setting
            else "it ships with the source tree; install the package editable from a checkout"
        )
        raise self.error(
            f"{self.holds} directory not found: {path} does not exist or is not a directory ({fix})"
        )


SERVICES = ProjectDir("cds_hooks", "service definitions", "BONEMET_SERVICES_DIR")
# A missing profiles directory is a terminology error, like a malformed file in it.
PROFILES = ProjectDir("profiles", "terminology profiles", "BONEMET_PROFILES_DIR", TerminologyError)
EXAMPLES = ProjectDir("examples", "example patients", None)
