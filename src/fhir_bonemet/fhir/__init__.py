"""FHIR JSON in and out: :mod:`.intake` (the tolerant reader), :mod:`.terminology` (codes → concept ids)
and :mod:`.outbound` (the CarePlan and referrals the service builds).

It imports only the pure core (and errors): never CDS Hooks, cards, the store, the HTTP client or the web
layer (import-linter contracts in ``pyproject.toml``).
"""
