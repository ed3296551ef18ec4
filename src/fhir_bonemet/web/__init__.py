"""The HTTP service (FastAPI): the app factory, the routes, JWT verification, middleware and logs.

* :func:`create_app` (:mod:`.app`) builds the app around a hook handler and a store it is given;
* :mod:`.routes`: discovery, ``POST /cds-services/{id}`` (validate → handler → audit) and feedback;
* :mod:`.auth` and :mod:`.jwks`: the caller's JWT; :mod:`.middleware` and :mod:`.logs`: body limit, error
  guard, request log, structured JSON logs without patient data or tokens.

It sees the clinical workflow only through :class:`fhir_bonemet.cds.HookHandler`.
"""

from fhir_bonemet.web.app import BackgroundWorker, create_app
from fhir_bonemet.web.auth import JwtVerifier
from fhir_bonemet.web.logs import configure_logging
from fhir_bonemet.web.routes import issued_cards

__all__ = ["BackgroundWorker", "JwtVerifier", "configure_logging", "create_app", "issued_cards"]
