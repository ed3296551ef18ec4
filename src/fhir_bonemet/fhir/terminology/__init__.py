"""Incoming codes to concept ids: the project ValueSets, integrator ConceptMaps, the
offline medication tables.
"""
