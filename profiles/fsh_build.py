"""Compile the FHIR Shorthand profiles in ``profiles/fsh/`` with SUSHI, offline, into ``profiles/generated/``.

    python profiles/fsh_build.py          # (re)write profiles/generated/*.json
    python profiles/fsh_build.py --check  # exit 1 on a SUSHI error or when the committed JSON differs

SUSHI (npm ``fsh-sushi``) and the FHIR packages it compiles against (R4 core, mCODE, terminology,
extensions) are pinned in ``tools/sushi/package.json`` and installed with ``npm ci --prefix tools/sushi``.
``tools/sushi/assemble-cache.mjs`` lays them out as a FHIR package cache under ``tools/sushi/.home``, and
SUSHI runs with ``HOME`` pointed there, so nothing outside the checkout is read or written and nothing is
looked up online.  The project CodeSystem and ValueSets (``profiles/build.py``) are handed to SUSHI as
predefined resources, so every local code used in a profile or example is checked against the CodeSystem.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FSH = HERE / "fsh"
GENERATED = HERE / "generated"
SUSHI_DIR = ROOT / "tools" / "sushi"
SUSHI_HOME = SUSHI_DIR / ".home"
SUSHI_APP = SUSHI_DIR / "node_modules" / "fsh-sushi" / "dist" / "app.js"
# SUSHI prints a summary table ending in a line such as "║  0 Errors   1 Warning  ║" (counts may be absent).
_ERRORS = re.compile(r"(\d+)\s+Errors?\b")
_WARNINGS = re.compile(r"(\d+)\s+Warnings?\b")


class BuildError(Exception):
    pass


def _stage(work: Path) -> Path:
    """A SUSHI project in ``work``: the FSH sources plus the project terminology as predefined resources."""
    project = work / "project"
    shutil.copytree(FSH, project)
    vocabulary = project / "input" / "vocabulary"
    vocabulary.mkdir(parents=True)
    shutil.copy(HERE / "CodeSystem-bonemet.json", vocabulary)
    for file in sorted((HERE / "valuesets").glob("ValueSet-*.json")):
        shutil.copy(file, vocabulary)
    return project


def _run_sushi(project: Path) -> tuple[int, int, str]:
    if not SUSHI_APP.is_file():
        raise BuildError(f"{SUSHI_APP} is missing: run `npm ci --prefix tools/sushi` (make node-deps)")
    subprocess.run(
        ["node", str(SUSHI_DIR / "assemble-cache.mjs"), str(SUSHI_HOME)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        "HOME": str(SUSHI_HOME),
        "NO_COLOR": "1",
        # Nothing is looked up online: the automatic hl7.fhir.uv.tools.r4#latest lookup goes to a closed
        # local port (a warning, not an error: no profile here uses the IG tooling extensions), and
        # SUSHI's "newer version" check runs npm offline.
        "FPL_REGISTRY": "http://127.0.0.1:9",
        "npm_config_offline": "true",
        "npm_config_update_notifier": "false",
    }
    proc = subprocess.run(
        ["node", str(SUSHI_APP), "build", str(project), "--snapshot"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    log = proc.stdout + proc.stderr
    errors = sum(int(n) for n in _ERRORS.findall(log.split("SUSHI RESULTS")[-1])) if "SUSHI RESULTS" in log else -1
    warnings = sum(int(n) for n in _WARNINGS.findall(log.split("SUSHI RESULTS")[-1])) if errors >= 0 else 0
    if errors < 0 or proc.returncode != 0:
        errors = max(errors, proc.returncode, 1)
    return errors, warnings, log


def build() -> dict[str, str]:
    """File name -> exact JSON text of every resource SUSHI generated (the ImplementationGuide left out)."""
    with tempfile.TemporaryDirectory(prefix="bonemet-sushi-") as tmp:
        project = _stage(Path(tmp))
        errors, warnings, log = _run_sushi(project)
        if errors:
            sys.stderr.write(log)
            raise BuildError(f"SUSHI reported {errors} error(s)")
        if warnings:
            sys.stderr.write("".join(line + "\n" for line in log.splitlines() if "warn" in line.lower()))
        out: dict[str, str] = {}
        for file in sorted((project / "fsh-generated" / "resources").glob("*.json")):
            if file.name.startswith("ImplementationGuide-"):
                continue
            resource = json.loads(file.read_text(encoding="utf-8"))
            out[file.name] = json.dumps(resource, indent=2, ensure_ascii=False) + "\n"
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when profiles/generated differs")
    args = parser.parse_args(argv)
    try:
        files = build()
    except BuildError as exc:
        print(f"fsh_build: {exc}", file=sys.stderr)
        return 1
    existing = {p.name for p in GENERATED.glob("*.json")} if GENERATED.is_dir() else set()
    if args.check:
        drift = sorted(
            name
            for name in set(files) | existing
            if name not in files
            or name not in existing
            or (GENERATED / name).read_text(encoding="utf-8") != files[name]
        )
        if drift:
            print("profiles/generated differs from profiles/fsh (run python profiles/fsh_build.py):", file=sys.stderr)
            for name in drift:
                print(f"  {name}", file=sys.stderr)
            return 1
        print(f"profiles/generated: {len(files)} files match profiles/fsh")
        return 0
    GENERATED.mkdir(exist_ok=True)
    for name in existing - set(files):
        (GENERATED / name).unlink()
    for name, text in files.items():
        (GENERATED / name).write_text(text, encoding="utf-8")
    print(f"profiles/generated: wrote {len(files)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
