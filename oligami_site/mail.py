"""The one e-mail renderer of the project (the kit; issue 14): every e-mail the site sends is built here.

A message is a template set in ``templates/``: ``<name>_subject.txt`` (one line: its whitespace is
collapsed), ``<name>.txt`` (the body) and, optionally, ``<name>.html`` (an HTML alternative). It is
rendered in the recipient's language: ``User.preferred_language`` (the profile the pages use too,
oligami_site/language.py), else ``settings.LANGUAGE_CODE``. Every message has the same headers: From
``settings.DEFAULT_FROM_EMAIL`` and a Message-ID on the site's own domain (the reminder digest records it
per recipient, so a delivery can be found in the mail server's log).

The context may be a function: it is then called inside the recipient's language, for values that
translate while they are computed (the digest's sections, labels looked up with ``gettext``).

Sending stays with the caller (``message.send()`` or a connection's ``send_messages``), because the
callers differ in what a failure means (the reminder outbox retries, an alert must not crash a refusal).
Nothing here may run while a trial-wide lock is held: callers send after commit (CONVENTIONS, issue 14).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from email.utils import make_msgid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import translation

Context = Mapping | Callable[[], Mapping]


def language_of(user) -> str:
    """The language a user's e-mails are written in: the profile's, else the site's default."""
    language = getattr(user, "preferred_language", "") or ""
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def _html_template(name: str):
    try:
        return get_template(f"{name}.html")
    except TemplateDoesNotExist:  # a plain-text message (the account e-mails)
        return None


def build(name: str, context: Context, *, to: list[str], language: str) -> EmailMultiAlternatives:
    """The message ``name`` rendered in ``language`` to the addresses ``to`` (not sent)."""
    with translation.override(language):
        values = dict(context() if callable(context) else context)
        subject = " ".join(render_to_string(f"{name}_subject.txt", values).split())
        text = render_to_string(f"{name}.txt", values)
        html_template = _html_template(name)
        html = html_template.render(values) if html_template else None
    domain = urlsplit(settings.SITE_URL).hostname or "oligami.invalid"
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to,
                                     headers={"Message-ID": make_msgid("oligami", domain=domain)})
    if html is not None:
        message.attach_alternative(html, "text/html")
    return message


def to_user(user, name: str, context: Context) -> EmailMultiAlternatives:
    """One message to one user, in the user's language."""
    return build(name, context, to=[user.email], language=language_of(user))


def to_users(users: Iterable, name: str, context: Context) -> list[EmailMultiAlternatives]:
    """One message per language of the users that have an address, each to that language's addresses
    (sorted): the same news to many people, rendered once per language."""
    by_language: dict[str, list[str]] = {}
    for user in users:
        if user.email:
            by_language.setdefault(language_of(user), []).append(user.email)
    return [build(name, context, to=sorted(emails), language=language) for language, emails in by_language.items()]
