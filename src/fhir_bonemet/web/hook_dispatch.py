"""Hook calls (``POST /cds-services/{id}``) answered from the middleware stack, past FastAPI's router.

A hook call is the one request an EHR waits on, many times a minute.  Routing it through FastAPI (its
exception and exit-stack middleware, the router's path matching over every route, the request handler's
parameter solving) cost 2.5% of a typical call's instructions; the call needs none of it: one path shape,
one method, its errors mapped by the application's own exception handlers.  :class:`HookCallDispatch` sits
innermost in the middleware stack (inside the request log, CORS, the error guard and the body limit, so a
hook call is logged, guarded and size-checked exactly as before) and hands such a request straight to
:func:`fhir_bonemet.web.routes.call_service`.

Everything else goes on to FastAPI, including other methods on a hook URL (the route stays registered
there, so they get 405 with ``Allow: POST``) and ``/cds-services/{id}/feedback``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fhir_bonemet.web.routes import call_service, release_held, run_after_sent

__all__ = ["ExceptionHandlers", "HookCallDispatch", "hook_service_id"]

ExceptionHandlers = Mapping[type[Exception], Callable[[Request, Exception], Awaitable[Response]]]

_PREFIX = "/cds-services/"


def hook_service_id(scope: Scope) -> str | None:
    """The service id when ``scope`` is a hook call (``POST /cds-services/{id}``), else None.

    The path is matched as the router would: without the application's ``root_path``, the id one
    non-empty segment (percent-decoded already, as ASGI servers give ``path``)."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    root: str = scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root) :]
    if not path.startswith(_PREFIX):
        return None
    service_id = path[len(_PREFIX) :]
    return service_id if service_id and "/" not in service_id else None


class HookCallDispatch:
    """Answer hook calls with :func:`call_service`, mapping its errors with ``handlers`` (the same ones the
    application registers); pass every other request on to ``app``."""

    def __init__(self, app: ASGIApp, handlers: ExceptionHandlers) -> None:
        self.app = app
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service_id = hook_service_id(scope)
        if service_id is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            try:
                response: Response = await call_service(service_id, request)
            except Exception as exc:
                handler = self._handler_for(exc)
                if handler is None:
                    raise  # to the error guard, as an exception no handler maps
                response = await handler(request, exc)
            await response(scope, receive, send)
        finally:
            # What the call left for after its answer (see HookDeps.after_sent), then the parsed request
            # is freed now that the answer is out, not before it (see hold_until_sent); and here, not when
            # the server drops the scope (a kept-alive connection keeps it until its next request, which
            # would then pay for it).
            run_after_sent(scope)
            release_held(scope)

    def _handler_for(self, exc: Exception) -> Callable[[Request, Exception], Awaitable[Response]] | None:
        # The most specific registered class wins, as in Starlette's own lookup.
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                return handler
        return None
