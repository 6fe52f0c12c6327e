"""Outgoing e-mail behind one small interface: SMTP as the settings say, or nothing when none is set."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from config import Settings


@dataclass(frozen=True)
class Mail:
    """One message to send; ``key`` is the caller's handle for it (a notification's id)."""

    key: int
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    """What sends mail for the vault (notification copies); the vault holds one, built from the settings."""

    @property
    def enabled(self) -> bool:
        """False when no mail server is configured: callers then leave their mail unsent."""
        ...

    def send(self, mails: Sequence[Mail]) -> list[int]:
        """Send the messages in order over one connection; returns the keys of those sent. A failure
        after some were sent raises with the keys sent so far in ``MailFailed.sent``."""
        ...


class MailFailed(Exception):
    """The mail server refused or went away; ``sent`` lists the keys delivered before that."""

    def __init__(self, cause: Exception, sent: list[int]) -> None:
        super().__init__(type(cause).__name__)
        self.sent = sent


class SmtpMailer:
    """Mail through the SMTP server of the settings (``smtp_*``); disabled while ``smtp_host`` is empty."""

    def __init__(self, settings: Settings) -> None:
        self._s = settings

    @property
    def enabled(self) -> bool:
        return bool(self._s.smtp_host)

    def send(self, mails: Sequence[Mail]) -> list[int]:
        s = self._s
        if not s.smtp_host or not mails:
            return []
        sent: list[int] = []
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=20) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password)
                for mail in mails:
                    msg = EmailMessage()
                    msg["From"] = s.smtp_from
                    msg["To"] = mail.to
                    msg["Subject"] = mail.subject
                    msg.set_content(mail.body or mail.subject)
                    smtp.send_message(msg)
                    sent.append(mail.key)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailFailed(exc, sent) from exc
        return sent
