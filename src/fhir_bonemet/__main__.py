"""``python -m fhir_bonemet`` runs the ``fhir-bonemet`` command."""

from __future__ import annotations

import sys

from fhir_bonemet.cli.main import main

sys.exit(main())
