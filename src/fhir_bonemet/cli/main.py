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
import os
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from fhir_bonemet import __version__
from fhir_bonemet.cli import examples_runner, map_check
from fhir_bonemet.cli import feedback_report as reports
from fhir_bonemet.cli import outbox as writeback_cli
from fhir_bonemet.cli import rules as rules_doc
from fhir_bonemet.cli import validate as validate_cli
from fhir_bonemet.cli.closed_output import output_closed
from fhir_bonemet.errors import BonemetError, ConfigurationError
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
    parser.add_argument(
        "--workers",
        type=_positive,
        default=os.cpu_count() or 1,
        help="worker processes sharing the port (default: the number of CPUs)",
    )
    parser.set_defaults(func=_serve)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _serve(args: argparse.Namespace) -> int:
    from fhir_bonemet.main import build_app
    from fhir_bonemet.web.logs import configure_logging
    from fhir_bonemet.web.workers import serve

    settings = load_settings(host=args.host, port=args.port, auth_required=False if args.no_auth else None)
    configure_logging(settings.log_level)
    if not settings.auth_required:
        log.warning(NO_AUTH_WARNING)
    log.info(
        "starting",
        extra={
            "host": settings.host,
            "port": settings.port,
            "auth_required": settings.auth_required,
            "workers": args.workers,
        },
    )
    return serve(settings, args.workers, build_app)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fhir-bonemet",
        description="CDS Hooks service for adults with bone metastases: exercise safety, pain, red flags.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _register_serve(subparsers)
    map_check.register(subparsers)  # map-check
    writeback_cli.register(subparsers)  # outbox
    reports.register(subparsers)  # feedback-report
    rules_doc.register(subparsers)  # rules
    examples_runner.register(subparsers)  # example-request
    validate_cli.register(subparsers)  # validate
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
    except SettingsError as exc:  # a setting given as JSON that is not JSON; the message names the field
        print(f"fhir-bonemet: invalid settings: {exc}", file=sys.stderr)
        return 2
    except BonemetError as exc:  # the store cannot be opened or read, and the like: said, not a traceback
        print(f"fhir-bonemet: {exc}", file=sys.stderr)
        return 1
    except RecursionError:
        print("fhir-bonemet: the input nests too deeply to be read", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader of the output went away (| head): not an error to report
        return output_closed()
    except OSError as exc:  # a port in use, a host that does not resolve, a file that cannot be read
        print(f"fhir-bonemet: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
