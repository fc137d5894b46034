"""Security headers on every response, added by one ASGI middleware.

The pages load script and style only from /static (no inline script, no style attributes),
so the Content-Security-Policy can forbid everything else: injected markup in a candidate's
review can neither run script nor fetch a remote resource such as a tracking pixel. No page
may be framed (clickjacking of staff forms). Dynamic responses are `no-store`: candidate and
grading pages carry reviews, names and tokens that must not stay in a shared browser's cache.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import get_settings

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"
COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Invite links carry their token in the path: never send it on to another site.
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)


def security_headers(*, path: str, https: bool) -> list[tuple[bytes, bytes]]:
    """The headers a response to `path` gets (reached over https or not)."""
    headers = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()), *COMMON_HEADERS]
    if not path.startswith("/static/"):
        headers.append((b"cache-control", b"no-store"))
    if https:
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


def _merge(
    existing: Iterable[tuple[bytes, bytes]], added: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    # A route that sets one of these itself (a download's own Cache-Control) keeps its value.
    names = {name.lower() for name, _ in existing}
    return [*existing, *((n, v) for n, v in added if n not in names)]


class SecurityHeaders:
    """ASGI middleware adding `security_headers` to every HTTP response.

    HSTS is sent when the configured public address is https (behind a TLS proxy the request
    itself arrives as plain http) or when the request arrived as https.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = security_headers(
            path=scope["path"],
            https=get_settings().secure_cookies or scope.get("scheme") == "https",
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merge(message.get("headers", []), added)
            await send(message)

        await self.app(scope, receive, send_with_headers)
