"""E-mail over SMTP: a plain-text message (the event's text, its fields, its time).

Security is ``starttls`` (upgrade a plain connection, port 587), ``tls`` (TLS from the
start, port 465) or ``none`` (a local relay). The login and password are read from the
environment when the message is sent. Every retry carries the same ``Message-ID``, derived
from the outbox's idempotency key, so a receiver (or a person's mail client) can drop a
duplicate left by an attempt whose answer was lost.

Connection problems, timeouts and 4xx replies are retried; 5xx replies, refused recipients
and a refused login are not (the address, the message or the credentials are wrong).
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from rollgate.notify.channels.base import Attempt, DeliveryFailed, secret
from rollgate.spec.notify import EmailChannel


def message_id(idempotency_key: str) -> str:
    """The Message-ID every attempt of one message carries."""
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@rollgate>"


def body_of(event: dict[str, Any]) -> str:
    """The plain-text body: the text, then ``Label: value`` lines, then the time."""
    parts = []
    text = str(event.get("text") or "").strip()
    if text:
        parts.append(text)
    fields = [f"{label}: {value}" for label, value in event.get("fields") or []]
    if fields:
        parts.append("\n".join(fields))
    parts.append(f"At: {event['at']} ({event['kind']})")
    return "\n\n".join(parts) + "\n"


def _reply(code: int, text: bytes | str) -> str:
    said = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(said.split())[:200]}".strip()


def _tls_context(config: EmailChannel) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not config.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Email:
    """The ``email`` channel type."""

    type = "email"

    def render(self, event: dict[str, Any], config: EmailChannel) -> dict[str, Any] | None:
        """The subject (one line) and the plain-text body."""
        return {"subject": " ".join(str(event["subject"]).split()), "text": body_of(event)}

    def send(self, payload: dict[str, Any], config: EmailChannel, attempt: Attempt) -> str:
        """Hand the message to the SMTP server once."""
        username = (secret(config.username, attempt, "username")
                    if config.username else None)
        password = (secret(config.password, attempt, "password")
                    if config.password else "")
        message = EmailMessage()
        try:
            message["Subject"] = payload["subject"]
            message["From"] = config.sender
            message["To"] = ", ".join(config.to)
        except ValueError as exc:  # a line break in an address: a header injection
            raise DeliveryFailed(f"cannot write the message: {exc}", retry=False) from None
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id(attempt.idempotency_key)
        message.set_content(payload["text"])
        try:
            refused = self._deliver(message, config, attempt, username, password)
        except DeliveryFailed:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            # The server's text may quote what was sent: only the code is kept.
            raise DeliveryFailed(f"the SMTP server refused the login ({exc.smtp_code}); "
                                 "check the channel's username and password",
                                 retry=False) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise _refused(exc.recipients, len(config.to)) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"SMTP {_reply(exc.smtp_code, exc.smtp_error)}",
                                 retry=400 <= exc.smtp_code < 500) from None
        except smtplib.SMTPServerDisconnected:
            raise DeliveryFailed("the SMTP server closed the connection") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryFailed(f"the SMTP server does not support it: {exc}",
                                 retry=False) from None
        except smtplib.SMTPException as exc:
            raise DeliveryFailed(f"SMTP: {exc}", retry=False) from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryFailed(f"the SMTP server's certificate is not trusted "
                                 f"({exc.verify_message}); fix it, or set verify_tls: false",
                                 retry=False) from None
        except TimeoutError:
            raise DeliveryFailed(f"no answer within {attempt.timeout:g}s") from None
        except OSError as exc:
            raise DeliveryFailed("cannot reach the SMTP server "
                                 f"({type(exc).__name__})") from None
        if refused:
            raise _refused(refused, len(config.to))
        return (f"SMTP accepted for {len(config.to)} recipient"
                f"{'s' if len(config.to) != 1 else ''} {message['Message-ID']}")

    @staticmethod
    def _deliver(message: EmailMessage, config: EmailChannel, attempt: Attempt,
                 username: str | None, password: str) -> dict[str, tuple[int, bytes]]:
        context = _tls_context(config)
        smtp: smtplib.SMTP
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=attempt.timeout,
                                    context=context)
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=attempt.timeout)
        with smtp:
            if config.security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryFailed("the SMTP server does not offer STARTTLS; use "
                                         "security: tls (port 465), or none for a local "
                                         "relay", retry=False)
                smtp.starttls(context=context)
            if username is not None:
                smtp.login(username, password)
            return smtp.send_message(message)


def _refused(recipients: dict[str, tuple[int, bytes]], total: int) -> DeliveryFailed:
    """Recipients the server refused: retried only when every refusal is temporary (4xx)."""
    said = "; ".join(f"{address}: {_reply(code, text)}"
                     for address, (code, text) in sorted(recipients.items()))
    accepted = total - len(recipients)
    return DeliveryFailed(f"the SMTP server refused {len(recipients)} of {total} "
                          f"recipients ({said})" + (f"; {accepted} accepted it" if accepted
                                                    else ""),
                          retry=all(400 <= code < 500 for code, _ in recipients.values()))
