"""Invitation emails over SMTP, when the platform is told of a mail server.

Configured by environment variables (nothing is sent without ``OPENMAKER_SMTP_HOST``):

- ``OPENMAKER_SMTP_HOST``: the server; ``OPENMAKER_SMTP_PORT`` (default 25);
- ``OPENMAKER_SMTP_FROM`` (default ``openmaker@localhost``);
- ``OPENMAKER_SMTP_USER`` / ``OPENMAKER_SMTP_PASSWORD``: sign in when the user is set;
- ``OPENMAKER_SMTP_STARTTLS=1``: upgrade the connection with STARTTLS before signing in.

:func:`send_invitation` returns False when no server is configured, True once the server accepted
the message, and raises :class:`LabelingError` with one line naming the problem when the server
cannot be reached or refuses.
"""

from __future__ import annotations

import os
import smtplib
import socket
from email.message import EmailMessage

from openmaker.labeling.errors import LabelingError

SUBJECT = "You are invited to review on openmaker"
DEFAULT_PORT = 25
DEFAULT_FROM = "openmaker@localhost"
TIMEOUT = 30.0


def configured() -> bool:
    return bool(os.environ.get("OPENMAKER_SMTP_HOST", "").strip())


def invitation_message(email: str, url: str, team: str | None, sender: str = DEFAULT_FROM) -> EmailMessage:
    """The plain-text invitation: who invites, to what, and the one-time link."""
    where = f" as a member of team '{team}'" if team else ""
    body = (
        "Hello,\n\n"
        f"You are invited to review labels on openmaker{where}.\n\n"
        "Open this link to choose your password (it works once and expires in 7 days):\n\n"
        f"{url}\n\n"
        "If you did not expect this invitation, you can ignore this email.\n"
    )
    message = EmailMessage()
    message["Subject"] = SUBJECT
    message["From"] = sender
    message["To"] = email
    # 7bit keeps the link on one line (quoted-printable would fold a long URL with '=' breaks).
    message.set_content(body, cte="7bit" if body.isascii() else "quoted-printable")
    return message


def _port() -> int:
    text = os.environ.get("OPENMAKER_SMTP_PORT", "").strip()
    if not text:
        return DEFAULT_PORT
    try:
        port = int(text)
    except ValueError:
        raise LabelingError(f"OPENMAKER_SMTP_PORT must be a port number, not {text!r}") from None
    if not 0 < port < 65536:
        raise LabelingError(f"OPENMAKER_SMTP_PORT must be within 1..65535, not {port}")
    return port


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = []
        for recipient, (code, text) in exc.recipients.items():
            detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            parts.append(f"{recipient}: {code} {detail}".strip())
        return "recipient refused (" + "; ".join(parts) + ")"
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"the server answered {exc.smtp_code} {' '.join(detail.split())}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({exc})" if str(exc) else "the server closed the connection"
    if isinstance(exc, socket.timeout):
        return f"no answer within {TIMEOUT:g} s"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def send_invitation(email: str, url: str, team: str | None) -> bool:
    """Email ``url`` (a one-time invitation link) to ``email``; False when SMTP is not configured."""
    host = os.environ.get("OPENMAKER_SMTP_HOST", "").strip()
    if not host:
        return False
    port = _port()
    sender = os.environ.get("OPENMAKER_SMTP_FROM", "").strip() or DEFAULT_FROM
    user = os.environ.get("OPENMAKER_SMTP_USER", "").strip()
    password = os.environ.get("OPENMAKER_SMTP_PASSWORD", "")
    starttls = os.environ.get("OPENMAKER_SMTP_STARTTLS", "").strip().lower() in ("1", "true", "yes", "on")
    message = invitation_message(email, url, team, sender)
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
            smtp.ehlo_or_helo_if_needed()
            if starttls:
                import ssl

                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if user:
                smtp.login(user, password)
            smtp.send_message(message, from_addr=sender, to_addrs=[email])
    except smtplib.SMTPNotSupportedError as exc:
        raise LabelingError(f"cannot email the invitation to {email}: SMTP server {host}:{port} {exc}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise LabelingError(f"cannot email the invitation to {email} via SMTP server {host}:{port}: {_reason(exc)}") from None
    return True
