"""The ``fhir-bonemet`` command.

Subcommands register themselves: each lives in its own module as ``register(subparsers)``, which adds a
parser and sets ``func`` to a callable taking the parsed ``argparse.Namespace`` and returning the exit
code::

    def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        parser = subparsers.add_parser("map-check", help="...")
        parser.add_argument(...)
        parser.set_defaults(func=run)

    def run(args: argparse.Namespace) -> int: ...

and is wired in :func:`build_parser` with one import and one call.  Settings come from
:func:`load_settings` (the environment, plus command-line overrides).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from fhir_bonemet import __version__
from fhir_bonemet.cli import examples_runner
from fhir_bonemet.cli import feedback_report as reports
from fhir_bonemet.cli import outbox as writeback_cli
from fhir_bonemet.cli import rules as rules_doc
from fhir_bonemet.errors import ConfigurationError
from fhir_bonemet.mapcheck import check as mapcheck
from fhir_bonemet.settings import Settings

__all__ = ["build_parser", "load_settings", "main"]

log = logging.getLogger("fhir_bonemet.cli.main")

Subparsers = argparse._SubParsersAction  # the type register() functions receive

NO_AUTH_WARNING = (
    "JWT VERIFICATION IS DISABLED (--no-auth): any caller that reaches this port can call the CDS services "
    "and post feedback, and CORS allows any origin. Use only for local testing with synthetic data."
)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; ``overrides`` (command-line values) win.  None values are ignored."""
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


def _register_serve(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("serve", help="run the CDS Hooks service")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1, or BONEMET_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000, or BONEMET_PORT)")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="do not verify the caller's JWT (local testing only; logs a warning)",
    )
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from fhir_bonemet.web.app import create_app
    from fhir_bonemet.web.logs import configure_logging

    settings = load_settings(host=args.host, port=args.port, auth_required=False if args.no_auth else None)
    configure_logging(settings.log_level)
    if not settings.auth_required:
        log.warning(NO_AUTH_WARNING)
    app = create_app(settings)
    log.info(
        "starting",
        extra={"host": settings.host, "port": settings.port, "auth_required": settings.auth_required},
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fhir-bonemet",
        description="CDS Hooks service for adults with bone metastases: exercise safety, pain, red flags.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _register_serve(subparsers)
    mapcheck.register(subparsers)
    writeback_cli.register(subparsers)  # outbox
    reports.register(subparsers)  # feedback-report
    rules_doc.register(subparsers)  # rules
    examples_runner.register(subparsers)  # example-request
    # Further subcommands: one import at the top of this module and one register() call here.
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ValidationError as exc:
        # Without the input values: a setting such as a database URL can hold a password.
        lines = [
            f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_input=False)
        ]
        print("fhir-bonemet: invalid settings:\n" + "\n".join(lines), file=sys.stderr)
        return 2
    except ConfigurationError as exc:
        print(f"fhir-bonemet: configuration error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
