"""The ``fhir-bonemet`` command (:mod:`.main`) and one module per sub-command: ``serve`` (in :mod:`.main`,
through the composition root :mod:`fhir_bonemet.main`), ``map-check`` (:mod:`.map_check`), ``outbox``
(:mod:`.outbox`), ``feedback-report`` (:mod:`.feedback_report`), ``rules`` (:mod:`.rules`) and
``example-request`` (:mod:`.examples_runner`, also runnable as
``python -m fhir_bonemet.cli.examples_runner``).

Nothing imports this package: it sits on top of everything else.
"""
