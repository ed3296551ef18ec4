"""fhir-bonemet: a CDS Hooks service for adults with bone metastases."""

__all__ = ["__version__"]

__version__ = "0.1.0"
