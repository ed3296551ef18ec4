"""Generate the FHIR terminology of fhir-bonemet from the readable tables in ``profiles/source/``.

    python profiles/build.py          # (re)write CodeSystem, ValueSets, medication tables and README
    python profiles/build.py --check  # exit 1 if the committed files differ from what the tables produce

The JSON files are committed and are what the service loads at start-up; the TOML tables are where a
reviewer reads and edits the codes.  Standard library only, deterministic output (sorted, fixed version).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "source"
BASE = "http://fhir-bonemet.org/fhir"
LOCAL_SYSTEM = f"{BASE}/CodeSystem/bonemet"
EXT_VERIFICATION = f"{BASE}/StructureDefinition/verification-status"
EXT_PREFIX = f"{BASE}/StructureDefinition/match-prefix"
EXT_NOTE = f"{BASE}/StructureDefinition/verification-note"
EXT_ROUTE = f"{BASE}/StructureDefinition/requires-route"
VERSION = "0.1.0"
STATUSES = ("verified", "corroborated", "unverified")
# ICD-10-CM categories of primary malignant solid tumours (haematological C81-C96 and secondary C77-C80
# excluded); used to complete primary-solid-tumour without listing 77 rows in the table.
SOLID_FAMILIES = [f"C{n:02d}" for n in range(76)] + ["C7A"]

Json = dict[str, Any]


def _toml(name: str) -> dict[str, Any]:
    with (SOURCE / name).open("rb") as handle:
        return tomllib.load(handle)


def _code(
    system: str,
    code: str,
    display: str,
    status: str,
    *,
    prefix: bool = False,
    note: str = "",
    route: str = "",
) -> Json:
    if status not in STATUSES:
        raise SystemExit(f"{system}|{code}: verification {status!r} is not one of {STATUSES}")
    return {
        "system": system,
        "code": code,
        "display": display,
        "v": status,
        "prefix": prefix,
        "note": note,
        "route": route,
    }


def codesystem() -> Json:
    rows = _toml("codesystem.toml")
    nodes: dict[str, Json] = {}
    roots: list[Json] = []
    for code, row in rows.items():
        node: Json = {"code": code, "display": row["display"], "definition": row["definition"]}
        nodes[code] = node
        parent = row.get("parent")
        if parent is None:
            roots.append(node)
        else:
            nodes[parent].setdefault("concept", []).append(node)
    return {
        "resourceType": "CodeSystem",
        "id": "bonemet",
        "url": LOCAL_SYSTEM,
        "version": VERSION,
        "name": "BonemetLocalCodes",
        "title": "fhir-bonemet local codes",
        "status": "draft",
        "experimental": False,
        "publisher": "fhir-bonemet",
        "description": "Codes for which no standard code was found (SINS, Mirels, lesion type, red-flag "
        "symptoms, exercise domains, CarePlan categories), clinical-rules §5.4.",
        "caseSensitive": True,
        "hierarchyMeaning": "is-a",
        "content": "complete",
        "count": len(nodes),
        "concept": roots,
    }


def medication_codes(
    systems: dict[str, str], meds: dict[str, Any], products: list[Json]
) -> dict[str, list[Json]]:
    """Class concept id -> RxNorm ingredient, salt and product codes plus ATC codes of its ingredients."""
    out: dict[str, list[Json]] = {}
    rx, atc = systems["rxnorm"], systems["atc"]
    for name, ing in meds["ingredients"].items():
        plain = list(ing.get("classes", []))
        routed: dict[str, list[str]] = ing.get("route_classes", {})
        codes = []
        if "rxcui" in ing:
            codes.append(_code(rx, ing["rxcui"], f"{name} (ingredient)", ing["v"]))
        codes += [
            _code(rx, s["rxcui"], s["name"], s["v"], note=s.get("source", "")) for s in ing.get("salts", [])
        ]
        codes += [_code(atc, a["c"], name, a["v"]) for a in ing.get("atc", [])]
        for cls in plain:
            out.setdefault(cls, []).extend(codes)
        for cls, routes in routed.items():
            out.setdefault(cls, []).extend(
                {**c, "route": "|".join(routes)} for c in codes if c["system"] == rx
            )
    for product in products:
        for cls in product_classes(product, meds["ingredients"]):
            out.setdefault(cls, []).append(
                _code(rx, product["rxcui"], product["name"], product["v"], note=product.get("source", ""))
            )
    return out


def product_classes(product: Json, ingredients: dict[str, Any]) -> list[str]:
    classes: list[str] = []
    for ing_name, _value, _unit in product["strengths"]:
        ing = ingredients[ing_name]
        classes += ing.get("classes", [])
        classes += [c for c, routes in ing.get("route_classes", {}).items() if product["route"] in routes]
    return sorted(set(classes))


def valueset(concept_id: str, row: Json, codes: list[Json]) -> Json:
    groups: dict[str, list[Json]] = {}
    seen: set[tuple[str, str]] = set()
    for code in codes:
        key = (code["system"], code["code"])
        if key in seen:
            continue
        seen.add(key)
        extension = [{"url": EXT_VERIFICATION, "valueCode": code["v"]}]
        if code["prefix"]:
            extension.append({"url": EXT_PREFIX, "valueBoolean": True})
        if code["route"]:
            extension.append({"url": EXT_ROUTE, "valueCode": code["route"]})
        if code["note"]:
            extension.append({"url": EXT_NOTE, "valueString": code["note"]})
        groups.setdefault(code["system"], []).append(
            {"extension": extension, "code": code["code"], "display": code["display"]}
        )
    return {
        "resourceType": "ValueSet",
        "id": concept_id,
        "url": f"{BASE}/ValueSet/{concept_id}",
        "version": VERSION,
        "name": concept_id,
        "title": row["title"],
        "status": "draft",
        "experimental": False,
        "publisher": "fhir-bonemet",
        "description": row["description"],
        "compose": {"include": [{"system": s, "concept": c} for s, c in groups.items()]},
    }


def build() -> dict[Path, str]:
    """Every generated file and its exact text."""
    system_rows = _toml("systems.toml")
    systems = {key: row["canonical"] for key, row in system_rows.items()}
    meds = _toml("medications.toml")
    products = _toml("products.toml")["products"]
    med_codes = medication_codes(systems, meds, products)
    files: dict[Path, str] = {HERE / "CodeSystem-bonemet.json": _dump(codesystem())}
    readme_rows: list[tuple[str, Json]] = []
    for concept_id, row in _toml("concepts.toml").items():
        codes = [
            _code(
                systems[c["s"]], c["c"], c["d"], c["v"], prefix=c.get("prefix", False), note=c.get("note", "")
            )
            for c in row["codes"]
        ]
        if row.get("solid_icd10cm_families"):
            codes += [
                _code(
                    systems["icd10cm"],
                    fam,
                    f"Malignant neoplasm, ICD-10-CM category {fam}",
                    "unverified",
                    prefix=True,
                )
                for fam in SOLID_FAMILIES
            ]
        codes += med_codes.pop(concept_id, [])
        if not codes:
            raise SystemExit(f"concepts.toml: {concept_id} has no codes")
        files[HERE / "valuesets" / f"ValueSet-{concept_id}.json"] = _dump(valueset(concept_id, row, codes))
        readme_rows += [(concept_id, c) for c in codes]
    if med_codes:
        raise SystemExit(f"medications.toml names classes without a concept: {sorted(med_codes)}")
    files[HERE / "systems.json"] = _dump({"systems": [{"key": k, **v} for k, v in system_rows.items()]})
    files[HERE / "medications" / "ingredients.json"] = _dump(
        {"ingredients": [{"name": name, **ing} for name, ing in meds["ingredients"].items()]}
    )
    files[HERE / "medications" / "rxnorm-products.json"] = _dump(
        {
            "products": [
                {**p, "strengths": [{"ingredient": i, "value": v, "unit": u} for i, v, u in p["strengths"]]}
                for p in products
            ]
        }
    )
    files[HERE / "medications" / "lexicon.json"] = _dump(
        {
            "brands": meds["brands"],
            "atc_combinations": meds["atc_combinations"],
            "dose_forms": meds["dose_forms"],
            "route_words": meds["route_words"],
        }
    )
    files[HERE / "README.md"] = readme(readme_rows, products, systems)
    return files


def readme(rows: list[tuple[str, Json]], products: list[Json], systems: dict[str, str]) -> str:
    short = {v: k for k, v in systems.items()}
    lines = [(HERE / "source" / "README-head.md").read_text(encoding="utf-8").rstrip(), ""]
    lines += [
        "## Codes awaiting verification (UNVERIFIED or [M])",
        "",
        "Generated by `profiles/build.py`; every row is marked in its ValueSet with the "
        f"`{EXT_VERIFICATION}` extension (valueCode `unverified`).",
        "",
        "| Concept | System | Code | Display | Prefix | Note |",
        "|---|---|---|---|---|---|",
    ]
    seen: set[tuple[str, str, str]] = set()
    for concept_id, c in rows:
        key = (concept_id, c["system"], c["code"])
        if c["v"] != "unverified" or key in seen:
            continue
        seen.add(key)
        prefix = "yes" if c["prefix"] else ""
        lines.append(
            f"| {concept_id} | {short[c['system']]} | `{c['code']}` | {c['display']} "
            f"| {prefix} | {c['note']} |"
        )
    lines += [
        "",
        "## Code families matched by prefix",
        "",
        "| Concept | System | Prefix | Display |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {cid} | {short[c['system']]} | `{c['code']}` | {c['display']} |" for cid, c in rows if c["prefix"]
    ]
    lines += [
        "",
        "## RxNorm products (offline table `medications/rxnorm-products.json`)",
        "",
        "| RxCUI | TTY | Name | Verification | Source |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {p['rxcui']} | {p['tty']} | {p['name']} | {p['v']} | {p.get('source', '')} |" for p in products
    ]
    return "\n".join(lines) + "\n"


def _dump(resource: Json) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed files are out of date")
    args = parser.parse_args(argv)
    files = build()
    stale = [p for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    expected_vs = {p.name for p in files if p.parent.name == "valuesets"}
    orphans = [p for p in (HERE / "valuesets").glob("ValueSet-*.json") if p.name not in expected_vs]
    if args.check:
        for path in stale + orphans:
            print(f"out of date: {path.relative_to(HERE)}", file=sys.stderr)
        return 1 if stale or orphans else 0
    for path in orphans:
        path.unlink()
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path], encoding="utf-8")
    print(f"{len(files)} files, {len(stale)} written, {len(orphans)} removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
