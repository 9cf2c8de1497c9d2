"""A real SMTP server on loopback (aiosmtpd) standing in for a mail relay: STARTTLS or TLS
from the start with a certificate made by the openssl CLI, AUTH that accepts one login, and
replies chosen by the test (451 try later, 550 refused, a refused recipient)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import warnings
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from rollgate.testing import free_port


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA vouches for, and its key."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl CLI is missing: these tests make real certificates")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "smtp.key",
                    "-out", "smtp.pem", "-days", "30", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   cwd=folder, check=True, capture_output=True)
    return folder / "smtp.pem", folder / "smtp.key"


@dataclass(frozen=True)
class Mail:
    """One message the server accepted, and how the client got it there."""

    sender: str
    recipients: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


@dataclass
class Mailbox:
    """The aiosmtpd handler: keeps what it accepts; ``reply`` answers DATA, ``refuse``
    answers RCPT for some addresses."""

    reply: str = "250 2.0.0 OK"
    refuse: dict[str, str] = field(default_factory=dict)
    mails: list[Mail] = field(default_factory=list)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.reply.startswith("250"):
            content = cast(bytes, envelope.original_content or envelope.content)
            message = message_from_bytes(content, policy=policy.default)
            login = (session.auth_data.login.decode()
                     if isinstance(session.auth_data, LoginPassword) else None)
            self.mails.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), message,
                                   session.ssl is not None, login))
        return self.reply


@dataclass
class Login:
    """An authenticator that accepts one user and password."""

    user: str
    password: str

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == self.user.encode()
              and auth_data.password == self.password.encode())
        # handled=False: the server answers (235 or 535) itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class _Controller(Controller):
    def factory(self) -> SMTP:
        # In ``tls`` mode AUTH does not wait for STARTTLS: the connection is TLS already.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            server: SMTP = super().factory()  # type: ignore[no-untyped-call]
        return server


class SmtpServer:
    """An SMTP server on ``127.0.0.1:port``. ``starttls``: plain, STARTTLS required before
    AUTH and MAIL; ``tls``: TLS from the first byte; ``none``: plain, no login (a relay)."""

    def __init__(self, cert: tuple[Path, Path], *, mode: Literal["starttls", "tls", "none"],
                 user: str = "", password: str = "") -> None:
        self.mode = mode
        self.port = free_port()
        self.mailbox = Mailbox()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*cert)
        options: dict[str, Any] = {}
        if mode == "starttls":
            options = {"tls_context": context, "require_starttls": True,
                       "auth_required": True, "auth_require_tls": True}
        elif mode == "tls":
            # aiosmtpd counts only STARTTLS as encryption; this connection is TLS throughout.
            options = {"ssl_context": context, "auth_required": True,
                       "auth_require_tls": False}
        if mode != "none":
            options["authenticator"] = Login(user, password)
        self._options = options
        self.controller = _Controller(self.mailbox, hostname="127.0.0.1", port=self.port,
                                      **options)

    def down(self) -> None:
        """Stop listening (a relay that is down); the mailbox is kept."""
        self.controller.stop()

    def up(self) -> None:
        """Listen again on the same port, with the same mailbox."""
        self.controller = _Controller(self.mailbox, hostname="127.0.0.1", port=self.port,
                                      **self._options)
        self.controller.start()

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def mails(self) -> list[Mail]:
        """Every message accepted, in order."""
        return self.mailbox.mails
