"""The FHIR resources the service proposes or writes: the CarePlan with its Goals (:mod:`.careplan`, its
activities in :mod:`.careplan_parts`, its wording in :mod:`.careplan_text`), ServiceRequest referrals
(:mod:`.referrals`), and the codes and displays they use (:mod:`.codes`).  Nothing here is card-specific:
the cards (:mod:`fhir_bonemet.cards`) embed these resources in their suggestions.
"""
