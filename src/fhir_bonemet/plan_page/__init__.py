"""The full plan, one click away from a card: a clinician page with a body diagram and a patient handout.

At hook time :mod:`~fhir_bonemet.plan_page.publish` turns what the core computed into a plain JSON *plan
view* (:mod:`~fhir_bonemet.plan_page.view`), stores it with an expiry and signs a short-lived link
(:mod:`~fhir_bonemet.plan_page.links`).  The web layer (``web/plan_routes.py``) renders that stored view
as the clinician page (:mod:`~fhir_bonemet.plan_page.page`, with :mod:`~fhir_bonemet.plan_page.body_map`),
the handout (:mod:`~fhir_bonemet.plan_page.handout`) and its PDF (:mod:`~fhir_bonemet.plan_page.pdf`).
Nothing here decides anything clinical: every line comes from a finding or the exercise plan.
"""
