"""Which of an EHR's codes the service understands, maps or cannot use: :func:`~.check.run_check` reads
the files (:mod:`.inputs`), checks every coding against the terminology and the places the rules read
(:mod:`.places`), and :mod:`.report` renders the result.  The command line is
:mod:`fhir_bonemet.cli.map_check`.
"""
