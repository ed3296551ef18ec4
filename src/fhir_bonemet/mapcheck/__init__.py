"""``fhir-bonemet map-check``: which of an EHR's codes the service understands, maps or cannot use."""
