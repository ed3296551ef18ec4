"""Conformance checks for FHIR JSON against the project's profiles: offline, never on the hook path.

:mod:`.definitions` loads the StructureDefinitions and ValueSets, :mod:`.bindings` checks required
bindings exactly against enumerated ValueSets, :mod:`.routing` chooses the profile a resource is checked
against, :mod:`.node` runs the independent profile validator (``tools/validator``, @medplum/core) and
:mod:`.check` puts them together.  The service itself never imports this package: answering a hook does
not validate what the EHR sent (that would cost more than the answer is allowed to take).
"""
