"""The HTML shell of the plan pages: one stylesheet served by the service, no script, no third party."""

from __future__ import annotations

from html import escape

__all__ = ["ASSET_PATH", "ICON_PATH", "document", "e", "error_document"]

ASSET_PATH = "/plan-assets/plan.css"
ICON_PATH = "/plan-assets/icon.svg"  # so the browser asks for no /favicon.ico


def e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute: patient data never becomes markup."""
    return escape("" if value is None else str(value), quote=True)


def document(title: str, body: str, *, body_class: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="robots" content="noindex, nofollow">'
        f"<title>{e(title)}</title>"
        f'<link rel="icon" href="{ICON_PATH}" type="image/svg+xml">'
        f'<link rel="stylesheet" href="{ASSET_PATH}"></head>'
        f'<body class="{e(body_class)}">{body}</body></html>'
    )


def error_document(status: int, message: str) -> str:
    """The page for an expired, altered or unknown link: says what to do, shows no patient data."""
    body = (
        f'<main class="error"><h1>{e(message)}</h1>'
        "<p>This plan link is not valid. Links to a plan work for a limited time only. "
        "Open the plan again from the patient's record to get a new link.</p>"
        f'<p class="muted">HTTP {status}</p></main>'
    )
    return document(message, body, body_class="error-page")
