"""Security headers on every response, and an API docs page that needs no inline script.

Every response gets a strict ``Content-Security-Policy`` (only this origin; no inline
script or style; no framing), ``X-Frame-Options: DENY``, ``X-Content-Type-Options:
nosniff`` and ``Referrer-Policy: no-referrer``; ``Strict-Transport-Security`` only when the
request came over TLS. uvicorn sets the scheme from ``X-Forwarded-Proto`` only when the
connection comes from a trusted proxy (``ROLLGATE_TRUSTED_PROXIES``, loopback by default),
so a client cannot switch HSTS on or off by sending the header itself.

The headers are added outside every other layer, so they are on 500s too. A response that
sets one of them itself keeps its own value: the docs page does, with a policy that allows
exactly the two Swagger UI files it loads (pinned version, Subresource Integrity) and
nothing else. FastAPI's own ``/docs`` page needs an inline script, and ``/redoc`` inline
styles and Google Fonts; ``create_app`` turns both off and this module serves ``/docs``
with its start-up script from this origin instead.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATH = "/docs"
DOCS_SCRIPT_PATH = "/docs/swagger-init.js"
SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0"
SWAGGER_JS = f"{SWAGGER_UI}/swagger-ui-bundle.js"
SWAGGER_CSS = f"{SWAGGER_UI}/swagger-ui.css"
# sha384 of the files in the npm package swagger-ui-dist 5.35.0 (the CDN serves them as is).
SWAGGER_JS_SRI = "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9"
SWAGGER_CSS_SRI = "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I"

HSTS = "max-age=31536000; includeSubDomains"

_BASE_POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "connect-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def policy(**changes: str) -> str:
    """The strict policy as a header value, with some directives replaced (``img_src=...``)."""
    directives = {**_BASE_POLICY, **{k.replace("_", "-"): v for k, v in changes.items()}}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


CSP = policy()
DOCS_CSP = policy(script_src=f"'self' {SWAGGER_JS}", style_src=f"'self' {SWAGGER_CSS}",
                  img_src="'self' data:")  # swagger-ui.css draws its icons as data: SVGs

_FIXED_HEADERS = (
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


def security_headers(scope: Scope) -> list[tuple[str, str]]:
    """The headers a response to this request gets (HSTS only over TLS)."""
    headers = [("Content-Security-Policy", CSP), *_FIXED_HEADERS]
    if scope.get("scheme") == "https":
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


class SecurityHeaders:
    """ASGI middleware: add the security headers to every HTTP response it sees start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers.setdefault(name, value)
                await send(message)
            else:
                await send(message)

        await self.app(scope, receive, send_with_headers)


def _outermost(build: Callable[[], ASGIApp]) -> Callable[[], ASGIApp]:
    """Wrap the app's middleware stack, error handling included (500s get the headers too)."""

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build())

    return build_with_headers


DOCS_SCRIPT = """\
"use strict";
// Starts Swagger UI; served from this origin so the docs page needs no inline script.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
"""


def docs_html(title: str, openapi_url: str, script_url: str) -> str:
    """The docs page: Swagger UI's two pinned files, then the start-up script from here."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{SWAGGER_CSS}" integrity="{SWAGGER_CSS_SRI}" crossorigin="anonymous">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{SWAGGER_JS}" integrity="{SWAGGER_JS_SRI}" crossorigin="anonymous"></script>
<script src="{escape(script_url)}"></script>
</body>
</html>
"""


def _install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI under its own CSP) and its start-up script."""
    title = f"{app.title} - API docs"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return HTMLResponse(docs_html(title, root + (app.openapi_url or "/openapi.json"),
                                      root + DOCS_SCRIPT_PATH),
                            headers={"Content-Security-Policy": DOCS_CSP})

    @app.get(DOCS_SCRIPT_PATH, include_in_schema=False)
    async def docs_script() -> Response:
        return Response(DOCS_SCRIPT, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=3600"})


def install_security(app: FastAPI) -> None:
    """Add the security headers to every response of ``app`` and serve its ``/docs``.

    Create the app with ``docs_url=None, redoc_url=None``: FastAPI's pages need inline
    script (and ``/redoc`` inline styles), which the policy refuses.
    """
    if app.docs_url or app.redoc_url:
        raise ValueError("create the app with docs_url=None and redoc_url=None; "
                         "install_security serves /docs itself")
    # Starlette builds the stack lazily (error handling outermost); wrap what it builds.
    app.build_middleware_stack = _outermost(app.build_middleware_stack)  # type: ignore[method-assign]
    _install_docs(app)
