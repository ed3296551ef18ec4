"""examples/README.md shows what the service answers for each example patient, and it stays true.

The block between the ``answers`` markers is the runner's own description (indicator, summary, rule ids,
suggestion labels) of every example answered through the HTTP app.  When cards change on purpose,
regenerate it with ``BONEMET_WRITE_EXAMPLES_README=1 pytest tests/cards/test_examples_readme.py``.
"""

from __future__ import annotations

import os
import re

from hook_answers import ROOT, example_cases, fire

from fhir_bonemet.cli.examples_runner import describe

README = ROOT / "examples" / "README.md"
BLOCK = re.compile(r"(<!-- answers:start -->\n)(.*?)(<!-- answers:end -->)", re.DOTALL)


def rendered() -> str:
    out: list[str] = []
    scenario = None
    for case in example_cases():
        if case.name != scenario:
            scenario = case.name
            out += ["", f"`{scenario.split(':', 1)[1]}`", ""]
        out += ["```", f"{case.hook}:", *describe({"cards": fire(case)}), "```"]
    return "\n".join(out[1:]) + "\n"


def test_examples_readme_shows_what_the_service_answers() -> None:
    text = README.read_text(encoding="utf-8")
    match = BLOCK.search(text)
    assert match is not None, "examples/README.md lost its answers block"
    expected = rendered()
    if os.environ.get("BONEMET_WRITE_EXAMPLES_README") == "1":
        README.write_text(BLOCK.sub(lambda m: m.group(1) + expected + m.group(3), text), encoding="utf-8")
        return
    assert match.group(2) == expected
