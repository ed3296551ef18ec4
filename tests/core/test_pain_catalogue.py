"""The pain rules as a catalogue: registration, thresholds, and invariants every finding must keep."""

from __future__ import annotations

import re
from pathlib import Path

from builders import TODAY, condition, dose, lesion, med, obs, patient, procedure, site, strength
from hypothesis import given, settings
from hypothesis import strategies as st
from pain_support import (
    TH,
    acetaminophen,
    ca_vit_d,
    crcl_labs,
    denosumab,
    docusate,
    ibuprofen,
    morphine,
    oxycodone,
    pain,
    plan,
    senna,
    zoledronic,
)

from fhir_bonemet.core.evidence.dose_arithmetic import MME_FACTOR_KEYS
from fhir_bonemet.core.model import concepts as c
from fhir_bonemet.core.model.catalogue import Family, validate_catalogue
from fhir_bonemet.core.model.facts import PatientFacts, SiteClass
from fhir_bonemet.core.pain.assess import assess_pain
from fhir_bonemet.core.rulebook import CATALOGUE, rules
from fhir_bonemet.knowledge import load_sources

# The rules declared in the pain package: the pain family and the medication red flags.
PAIN_IDS = {r.spec.id for r in rules() if r.module.startswith("fhir_bonemet.core.pain.")}
CORE = Path(__file__).resolve().parents[2] / "src" / "fhir_bonemet" / "core"


def test_the_pain_package_declares_the_whole_pain_family_and_only_red_flags_besides() -> None:
    assert {r.spec.id for r in rules(Family.PAIN)} <= PAIN_IDS
    assert {CATALOGUE[rid].family for rid in PAIN_IDS} == {Family.PAIN, Family.RED_FLAGS}


def test_catalogue_names_only_known_concepts_thresholds_and_sources() -> None:
    specs = {rid: CATALOGUE[rid] for rid in PAIN_IDS}
    assert validate_catalogue(c.ALL_CONCEPTS, TH, load_sources(), specs, all_rules=CATALOGUE) == []


def test_every_pain_threshold_has_a_unit_a_basis_and_is_read_somewhere() -> None:
    declared = {key for rid in PAIN_IDS for key in CATALOGUE[rid].thresholds}
    read_by_derived = {"pain.trend_window_days", "pain.trend_min_change", "pain.mechanism_lookback_days"}
    used = declared | set(MME_FACTOR_KEYS.values()) | read_by_derived
    pain_keys = {k for k in TH if k.startswith("pain.")}
    assert pain_keys - used == set()
    for key in pain_keys:
        assert TH[key].unit
        assert TH[key].basis in ("evidence", "service-default", "unverified")


def test_no_pain_threshold_key_in_code_is_missing_from_the_file() -> None:
    sources = [
        p.read_text(encoding="utf-8")
        for p in CORE.glob("*.py")
        if p.name.startswith(("pain", "bone_health", "derived", "medications"))
    ]
    keys = {m for text in sources for m in re.findall(r'"(pain\.[a-z0-9_]+)"', text)}
    assert keys - set(TH) == set()


# --- invariants over many generated patients ---------------------------------------------------------

MEDS = [
    oxycodone(start_days_ago=30),
    morphine(start_days_ago=5),
    ibuprofen(),
    acetaminophen(tabs=2, per_day=4, start_days_ago=30),
    med(
        c.OPIOID,
        c.ACETAMINOPHEN,
        ingredients=["hydrocodone", "acetaminophen"],
        doses=[dose(1, "{tablet}", per_day=6)],
        strengths=[strength("hydrocodone", 5), strength("acetaminophen", 325)],
    ),
    med(c.OPIOID, ingredients=["fentanyl"], doses=[dose(25, "ug/h", route="transdermal")]),
    med(c.OPIOID, c.TRAMADOL, ingredients=["tramadol"], doses=[dose(50, "mg", prn=True)]),
    med(c.BENZODIAZEPINE, ingredients=["lorazepam"]),
    med(c.GABAPENTINOID, ingredients=["gabapentin"]),
    med(c.SNRI_TCA, ingredients=["amitriptyline"]),
    med(c.SSRI, ingredients=["sertraline"]),
    med(c.ANTICOAGULANT, ingredients=["warfarin"]),
    med(c.CORTICOSTEROID, ingredients=["dexamethasone"]),
    med(c.CHEMOTHERAPY, ingredients=["docetaxel"]),
    zoledronic(4.0),
    zoledronic(3.5, draft=True),
    denosumab(draft=True, selected=True),
    ibuprofen(draft=True),
    morphine(draft=True, selected=True),
    med(c.BENZODIAZEPINE, ingredients=["diazepam"], draft=True),
    senna(),
    docusate(),
    ca_vit_d(),
    med(c.NALOXONE, ingredients=["naloxone"]),
]
OBS = [
    pain(8),
    pain(5, days_ago=3),
    pain(2, days_ago=1, where=site(SiteClass.FEMUR)),
    *crcl_labs(25),
    obs(c.LAB_EGFR, 55, "mL/min/{1.73_m2}", days_ago=4),
    obs(c.LAB_PLATELETS, 40, "10*9/L", days_ago=2),
    obs(c.LAB_CALCIUM, 8.0, "mg/dL", days_ago=1),
    obs(c.LAB_ALBUMIN, 2.5, "g/dL", days_ago=1),
    obs(c.LAB_CALCIUM_IONISED, 0.95, "mmol/L", days_ago=1),
    obs(c.LAB_ALT, 400, "U/L", days_ago=5),
    obs(c.MORSE_FALL_SCALE, 60),
    obs(c.RF_RADICULAR_PAIN, flag=True),
    obs(c.RF_ONJ_SYMPTOM, flag=True),
    obs(c.PAIN_MECHANISM, code="pain-neuropathic"),
]
CONDITIONS = [
    condition(c.NEUROPATHIC_PAIN),
    condition(c.LIVER_DISEASE),
    condition(c.ONJ),
    condition(c.GI_BLEED_ULCER),
    condition(c.FALLS_HISTORY),
    condition(c.COPD),
    condition(c.THROMBOCYTOPENIA),
]
LESIONS = [
    lesion(SiteClass.SPINE_THORACIC, text="T9", primary=c.PRIMARY_BREAST),
    lesion(SiteClass.FEMUR),
    lesion(SiteClass.PELVIS),
]


def _patients() -> st.SearchStrategy[PatientFacts]:
    return st.builds(
        lambda age, meds, observations, conds, lesions, rt: patient(
            age=age,
            medications=meds,
            observations=observations,
            conditions=conds,
            lesions=lesions,
            procedures=[procedure(c.RADIOTHERAPY, days_ago=5, where=site(SiteClass.FEMUR))] if rt else [],
        ),
        st.one_of(st.none(), st.integers(18, 95)),
        st.lists(st.sampled_from(MEDS), unique=True, max_size=8),
        st.lists(st.sampled_from(OBS), unique=True, max_size=8),
        st.lists(st.sampled_from(CONDITIONS), unique=True, max_size=3),
        st.lists(st.sampled_from(LESIONS), unique=True, min_size=1, max_size=3),
        st.booleans(),
    )


@settings(max_examples=150, deadline=None)
@given(
    facts=_patients(),
    hook=st.sampled_from(["patient-view", "order-select", "order-sign"]),
    exercise=st.booleans(),
)
def test_every_finding_is_traceable_and_well_formed(facts: PatientFacts, hook: str, exercise: bool) -> None:
    findings = assess_pain(facts, TODAY, TH, hook=hook, exercise=plan() if exercise else None)
    sources = set(load_sources())
    known_refs = {m.ref for m in facts.medications} | {o.ref for o in facts.observations}
    known_refs |= (
        {x.ref for x in facts.conditions} | {x.ref for x in facts.lesions} | {p.ref for p in facts.procedures}
    )
    drafts = {m.ref for m in facts.medications if m.is_draft}
    assert findings == assess_pain(facts, TODAY, TH, hook=hook, exercise=plan() if exercise else None)
    assert [f.rule_id for f in findings] == sorted(
        (f.rule_id for f in findings), key=lambda r: CATALOGUE[r].order
    )
    for f in findings:
        spec = CATALOGUE[f.rule_id]
        assert len(f.summary) < 140, f.summary
        assert not f.summary.endswith("…"), f.summary
        assert f.rationale
        assert f.title == spec.title
        assert f.unverified == spec.unverified
        assert set(f.evidence) <= sources
        assert all(u.ref in known_refs for u in f.used if u.ref)
        assert set(f.defaults_used) <= {k for k in TH if TH[k].is_default}
        for action in f.order_actions:
            assert action.order_ref in drafts
            assert action.action in ("delete", "update")
        if hook == "patient-view":
            assert not f.order_actions
            assert not any(u.ref in drafts for u in f.used)
