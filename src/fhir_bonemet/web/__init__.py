"""The HTTP service: app factory, routes, JWT verification, middleware and structured logs."""
