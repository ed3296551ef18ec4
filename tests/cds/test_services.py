"""Service definitions: the shipped ones are valid; malformed ones stop the service at start-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_bonemet.cds.prefetch_templates import observation_templates
from fhir_bonemet.cds.services import REQUIRED_PREFETCH_EXTENSION, load_services, template_tokens
from fhir_bonemet.errors import ConfigurationError
from fhir_bonemet.fhir.terminology.lookup import Terminology
from fhir_bonemet.project_dirs import SERVICES

LOCAL_SYSTEM = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet"
V2_TOKENS = {"context.userId", "context.patientId", "context.encounterId"} | {
    "userPractitionerId",
    "userPractitionerRoleId",
    "userPatientId",
    "userRelatedPersonId",
}


def shipped(hook: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SERVICES.default / f"{hook}.json").read_text(encoding="utf-8"))
    return data


def write(directory: Path, name: str, data: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


class TestShippedDefinitions:
    def test_one_service_per_served_hook(self) -> None:
        catalogue = load_services(SERVICES.default)
        assert {(s.id, s.hook) for s in catalogue.services} == {
            ("bonemet-patient-view", "patient-view"),
            ("bonemet-order-select", "order-select"),
            ("bonemet-order-sign", "order-sign"),
        }

    def test_discovery_entries_have_the_spec_fields_and_nothing_empty(self) -> None:
        for entry in load_services(SERVICES.default).discovery()["services"]:
            assert set(entry) == {
                "id",
                "hook",
                "title",
                "description",
                "prefetch",
                "usageRequirements",
                "extension",
            }
            for value in entry.values():
                assert value not in (None, "", [], {})

    @pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
    def test_prefetch_uses_only_cds_hooks_2_tokens(self, hook: str) -> None:
        tokens = {
            token for template in shipped(hook)["prefetch"].values() for token in template_tokens(template)
        }
        assert tokens == {"context.patientId"}
        assert tokens <= V2_TOKENS

    @pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
    def test_prefetch_reads_the_data_the_rules_use(self, hook: str) -> None:
        prefetch = shipped(hook)["prefetch"]
        assert prefetch["patient"] == "Patient/{{context.patientId}}"
        # Every Condition, whatever its status: resolved fractures and falls still count, and the reader
        # drops refuted and entered-in-error records itself.
        assert prefetch["conditions"] == "Condition?patient={{context.patientId}}"
        # Observation searches are generated from the terminology at start-up, not written in the files.
        assert not [key for key in prefetch if key.startswith("observations")]
        generated = observation_templates(Terminology.load().search_codes)
        catalogue = load_services(SERVICES.default, generated)
        prefetch = dict(catalogue.services[0].prefetch or {})
        for code in ("72514-3", "17861-6", "1751-7", "2160-0", "777-3"):
            assert f"http://loinc.org|{code}" in prefetch["observations-labs"] + prefetch["observations-pain"]
        for code in ("89247-1", "29463-7"):
            assert f"http://loinc.org|{code}" in prefetch["observations-scores"]
        for code in ("sins-total", "mirels-total", "lesion-type"):
            assert f"{LOCAL_SYSTEM}|{code}" in prefetch["observations-scores"]
        assert f"{LOCAL_SYSTEM}|rf-limb-weakness" in prefetch["observations-flags"]
        assert (
            prefetch["medication-requests"] == "MedicationRequest?patient={{context.patientId}}&status=active"
        )
        assert prefetch["medication-statements"].startswith(
            "MedicationStatement?patient={{context.patientId}}"
        )
        assert prefetch["procedures"].startswith("Procedure?patient={{context.patientId}}")

    def test_required_prefetch_is_published_as_an_extension(self) -> None:
        for service in load_services(SERVICES.default).services:
            assert service.required_prefetch == ("patient", "conditions")
            assert service.discovery_entry()["extension"] == {
                REQUIRED_PREFETCH_EXTENSION: ["patient", "conditions"]
            }

    def test_usage_requirements_state_the_population_and_degradation(self) -> None:
        for service in load_services(SERVICES.default).services:
            text = service.usageRequirements or ""
            assert "18" in text
            assert "bone metastasis" in text
            assert "degraded without access to a FHIR" in text
            assert "412" in text


class TestStartupChecks:
    def base(self, **changes: Any) -> dict[str, Any]:
        data = shipped("patient-view")
        if "prefetch" in changes:
            del data["extension"]  # its required keys name the shipped prefetch keys
        data.update(changes)
        return {key: value for key, value in data.items() if value is not None}

    @pytest.mark.parametrize(
        "template",
        [
            "Observation?patient={{context.patientId}}&date=ge{{today() - 90 days}}",
            "MedicationRequest?_id={{context.draftOrders.entry.resource.id}}",
            "Patient/{{context.selections}}",
            "Practitioner/{{user}}",
            "Patient/{{patientId}}",
        ],
    )
    def test_tokens_outside_the_2_0_set_are_rejected(self, tmp_path: Path, template: str) -> None:
        write(tmp_path, "svc.json", self.base(prefetch={"k": template}))
        with pytest.raises(ConfigurationError, match=r"not a CDS Hooks 2\.0 prefetch token"):
            load_services(tmp_path)

    def test_user_tokens_are_accepted(self, tmp_path: Path) -> None:
        write(
            tmp_path,
            "svc.json",
            self.base(prefetch={"user": "PractitionerRole?_id={{userPractitionerRoleId}}"}),
        )
        assert load_services(tmp_path).services[0].prefetch == {
            "user": "PractitionerRole?_id={{userPractitionerRoleId}}"
        }

    @pytest.mark.parametrize(
        ("template", "message"),
        [
            ("https://ehr.example.org/Patient/{{context.patientId}}", "relative FHIR read"),
            ("Patient/{{context.patientId}", "unbalanced"),
            ("Observation?patient={{context.patientId}}&_include=Observation:subject", "_include"),
            ("Observation?patient={{context.patientId}}&code:text=pain", ":text"),
            ("Observation?patient={{context.patientId}}&sort:desc=date", ":desc"),
        ],
    )
    def test_templates_outside_the_recommended_subset_are_rejected(
        self, tmp_path: Path, template: str, message: str
    ) -> None:
        write(tmp_path, "svc.json", self.base(prefetch={"k": template}))
        with pytest.raises(ConfigurationError, match=message):
            load_services(tmp_path)

    def test_code_in_modifier_is_allowed(self, tmp_path: Path) -> None:
        template = "Condition?patient={{context.patientId}}&code:in=http://example.org/ValueSet/bone-mets"
        write(tmp_path, "svc.json", self.base(prefetch={"k": template}, extension=None))
        assert load_services(tmp_path).services[0].required_prefetch == ()

    def test_malformed_json_names_the_file(self, tmp_path: Path) -> None:
        path = write(tmp_path, "broken.json", "{not json")
        with pytest.raises(ConfigurationError, match=str(path)):
            load_services(tmp_path)

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"hook": "encounter-start"}, "served hooks"),
            ({"description": ""}, "description"),
            ({"id": "has space"}, "id"),
            ({"prefetch": {}}, "omitted rather than empty"),
            ({"extension": {REQUIRED_PREFETCH_EXTENSION: ["labs"]}}, "unknown prefetch keys"),
            ({"extension": {REQUIRED_PREFETCH_EXTENSION: "patient"}}, "array of prefetch keys"),
            ({"prefetchh": {}}, "prefetchh"),
        ],
    )
    def test_invalid_definitions_stop_start_up(
        self, tmp_path: Path, change: dict[str, Any], message: str
    ) -> None:
        data = self.base(**change)
        write(tmp_path, "svc.json", data)
        with pytest.raises(ConfigurationError, match=message):
            load_services(tmp_path)

    def test_missing_required_fields(self, tmp_path: Path) -> None:
        data = self.base()
        del data["description"]
        write(tmp_path, "svc.json", data)
        with pytest.raises(ConfigurationError, match="description"):
            load_services(tmp_path)

    def test_the_same_id_may_serve_two_hooks_but_not_one_hook_twice(self, tmp_path: Path) -> None:
        write(tmp_path, "a.json", self.base(id="shared"))
        write(tmp_path, "b.json", {**shipped("order-sign"), "id": "shared"})
        catalogue = load_services(tmp_path)
        assert catalogue.hooks_of("shared") == ("order-sign", "patient-view")
        write(tmp_path, "c.json", self.base(id="shared", title="again"))
        with pytest.raises(ConfigurationError, match="defined twice"):
            load_services(tmp_path)

    def test_empty_or_missing_directory(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="holds no service definitions"):
            load_services(tmp_path)
        with pytest.raises(ConfigurationError, match="does not exist"):
            load_services(tmp_path / "nowhere")

    def test_examples_in_subfolders_are_not_services(self) -> None:
        assert (SERVICES.default / "examples" / "patient-view.request.json").is_file()
        assert len(load_services(SERVICES.default).services) == 3
