"""Tolerant reading of FHIR JSON into :class:`~fhir_bonemet.core.model.facts.PatientFacts`.

:mod:`.read` turns whatever the EHR sent into resources plus what could not be read;
:func:`~.patient_facts.extract_facts` turns those into facts, one extractor per resource type
(:mod:`.conditions`, :mod:`.observations`, :mod:`.medications` with :mod:`.dosage`), helped by
:mod:`.values`, :mod:`.units` and :mod:`.sites`.  A malformed element is skipped and reported, never raised.
"""
