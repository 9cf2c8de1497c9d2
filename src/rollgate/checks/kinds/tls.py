"""``kind: tls``: the certificate a host serves is trusted and far enough from expiring.

Seed 003's pre-deploy checklist: "SSL certificates valid (>30 days remaining)". The
certificate is verified like a browser would (chain and host name, against the system's
CAs or ``ca_file``); a certificate that does not verify fails, naming the reason.
"""

from __future__ import annotations

import math
import socket
import ssl
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from rollgate.checks.base import CheckConfig, CheckResult
from rollgate.checks.context import CheckContext
from rollgate.checks.registry import check_kind
from rollgate.errors import UsageError
from rollgate.spec.durations import Duration


class TlsCheck(CheckConfig):
    """The TLS certificate of a host: trusted, and days left before it expires."""

    kind: Literal["tls"] = Field(description="selects this check")
    host: str | None = Field(
        None, description="host to connect to; default: the host of the service's public URL"
    )
    port: int = Field(443, ge=1, le=65535, description="port to connect to")
    server_name: str | None = Field(
        None, description="name the certificate must be valid for (sent as SNI); default: host"
    )
    warn_days: int = Field(
        30, ge=0, description="warn when the certificate expires in fewer days than this"
    )
    min_days: int = Field(7, ge=0, description="fail when it expires in fewer days than this")
    ca_file: str | None = Field(
        None,
        description="PEM file of the CA certificates to trust instead of the system's "
        "(relative to the spec)",
    )
    timeout: Duration = Field(10.0, gt=0, description="timeout of the connection and handshake")

    @model_validator(mode="after")
    def _min_below_warn(self) -> TlsCheck:
        if self.min_days > self.warn_days:
            raise PydanticCustomError(
                "min_days_above_warn_days", "min_days must not be above warn_days"
            )
        return self


@check_kind(TlsCheck)
def run_tls(check: TlsCheck, ctx: CheckContext) -> CheckResult:
    """Connect, verify the certificate and judge the days left."""
    host = check.host or (urlsplit(ctx.base_url).hostname if ctx.base_url else None)
    if not host:
        raise UsageError("no host to check: give the check a host")
    where = f"{host}:{check.port}"
    try:
        cert = _peer_certificate(host, check, _context(check, ctx))
    except ssl.SSLCertVerificationError as exc:
        return ctx.failed(f"{where}: certificate not trusted: {exc.verify_message}")
    except ssl.SSLError as exc:
        return ctx.failed(f"{where}: TLS handshake failed: {exc.reason or exc}")
    except TimeoutError:
        return ctx.failed(f"{where}: no answer within {check.timeout:g}s")
    except OSError as exc:
        return ctx.failed(f"{where}: cannot connect: {exc.strerror or exc}")
    expires = ssl.cert_time_to_seconds(str(cert["notAfter"]))
    days = math.floor((expires - time.time()) / 86400)
    on = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d")
    seen = f"{where}: certificate expires {on} ({days} days left"
    if days < check.min_days:
        return ctx.failed(f"{seen}, fewer than {check.min_days})")
    if days < check.warn_days:
        return ctx.warned(f"{seen}, fewer than {check.warn_days}: renew it)")
    return ctx.passed(f"{seen})")


def _context(check: TlsCheck, ctx: CheckContext) -> ssl.SSLContext:
    """A verifying client context trusting the system's CAs, or only ``ca_file``'s."""
    if check.ca_file is None:
        return ssl.create_default_context()
    path = Path(check.ca_file)
    path = path if path.is_absolute() else ctx.spec_dir / path
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"ca_file: cannot load {check.ca_file}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None


def _peer_certificate(host: str, check: TlsCheck, context: ssl.SSLContext) -> dict[str, object]:
    """The verified certificate the host presents."""
    with (
        socket.create_connection((host, check.port), timeout=check.timeout) as raw,
        context.wrap_socket(raw, server_hostname=check.server_name or host) as tls,
    ):
        cert = tls.getpeercert()
    if not cert:  # a verifying context always has one; never judge without it
        raise ssl.SSLError("the server sent no certificate")
    return dict(cert)
