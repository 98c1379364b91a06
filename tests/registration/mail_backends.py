"""E-mail backends for the reminder tests: real backend classes (no mocks), set with settings.EMAIL_BACKEND."""

import smtplib

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend


class FlakyBackend(BaseEmailBackend):
    """Like the locmem backend (messages land in mail.outbox), but follows a script of outcomes first.

    ``FlakyBackend.script`` is a list consumed one entry per message: "fail" raises an SMTP error as a
    server that drops the connection does, anything else accepts the message. Empty: every send succeeds.
    ``FlakyBackend.attempts`` counts the messages offered to the backend.
    """

    script: list[str] = []
    attempts = 0

    def send_messages(self, messages):
        sent = 0
        for message in messages:
            FlakyBackend.attempts += 1
            if FlakyBackend.script and FlakyBackend.script.pop(0) == "fail":
                raise smtplib.SMTPServerDisconnected("test server: connection unexpectedly closed")
            message.message()  # serialize as a real backend would (catches header errors)
            mail.outbox.append(message)
            sent += 1
        return sent


class SlowBackend(BaseEmailBackend):
    """The locmem backend with a pause per message, so that concurrent senders overlap while sending."""

    delay = 0.05

    def send_messages(self, messages):
        import time

        for message in messages:
            time.sleep(self.delay)
            message.message()
            mail.outbox.append(message)
        return len(messages)
