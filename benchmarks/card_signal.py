"""How much a clinician has to read: cards per answer and card detail length, over every example patient
(all three hooks) and every FHIR vignette in ``tests/data/vignettes``, through the HTTP app.

Targets: at most 3 cards per answer on average and 4 at most (the card budget); detail median at most
900 characters and 2,500 at most.  Prints one line per answer (indicator initial and detail length of each
card), then the figures; exits 1 when a target is missed.

    .venv/bin/python benchmarks/card_signal.py [--quiet]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "cards"))

from hook_answers import all_cases, fire

TARGETS = {"mean cards": 3.0, "max cards": 4, "median detail": 900, "max detail": 2500}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quiet", action="store_true", help="print only the figures, not a line per answer")
    quiet = parser.parse_args(argv).quiet
    counts: list[int] = []
    lengths: list[int] = []
    for case in all_cases():
        cards = fire(case)
        counts.append(len(cards))
        lengths += [len(c.get("detail", "")) for c in cards]
        if not quiet:
            shown = " ".join(f"{c['indicator'][0]}:{len(c.get('detail', ''))}" for c in cards)
            print(f"{case.name[:52]:52} {case.hook:13} {len(cards)} cards  {shown}")
    figures = {
        "mean cards": round(statistics.mean(counts), 2),
        "max cards": max(counts),
        "median detail": statistics.median(lengths) if lengths else 0,
        "max detail": max(lengths, default=0),
    }
    print(f"answers {len(counts)}, cards {len(lengths)}")
    missed = []
    for key, value in figures.items():
        ok = value <= TARGETS[key]
        missed += [] if ok else [key]
        print(f"{key:14} {value:>8}  (target ≤ {TARGETS[key]}){'' if ok else '  MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
