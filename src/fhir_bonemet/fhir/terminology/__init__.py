"""Incoming codes → the concept ids the rules reason on.

:class:`~.lookup.Terminology` is what the reader uses; it is built from the project ValueSets and code
systems (:mod:`.valuesets`), the answer codes coded values are read in (:mod:`.answers`), integrator
ConceptMaps (:mod:`.conceptmaps`, for question and answer codes alike) and the offline medication tables
(:mod:`.medications`, with the product-text parser :mod:`.medication_text`).
"""
