"""CDS Hooks cards from an Assessment (:func:`build_cards`): one card per concern (:mod:`.concerns`), its
Markdown detail (:mod:`.detail`) and its suggestions (:mod:`.suggestions`), each traceable to the rule ids
that produced it.  Cards are CDS Hooks, not FHIR: they are built on :mod:`fhir_bonemet.cds` response models.
"""

from fhir_bonemet.cards.build import SKELETAL_RISK_EXTENSION, CardContext, build_cards

__all__ = ["SKELETAL_RISK_EXTENSION", "CardContext", "build_cards"]
