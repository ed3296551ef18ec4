"""Tolerant reading of FHIR JSON into the facts the reasoning core takes."""
