"""FHIR JSON in and out: the tolerant reader, terminology, and the resources the service builds."""
