"""Onboarding and password reset by e-mail (issue 13): no password and no TOTP secret ever passes through
another person's hands.

- **Activation.** The trial administrator creates an account without a password (an unusable one); the
  account's owner gets a one-time link by e-mail, valid ACTIVATION_VALID_HOURS, to set the password and,
  for the roles that need a second factor (two_factor.required_for), to enrol the authenticator app right
  after. The same link serves an account that has a password but must enrol (a new data manager who never
  had a device, a lost phone): the page then asks for the password instead of setting one, so neither the
  mailbox alone nor the password alone opens the account.
- **Single use without a table.** The token is Django's password-reset token with its own key salt (an
  activation link is not a reset link, nor the reverse) and its own lifetime. Its hash covers the password
  hash, the last login and whether a confirmed device exists, so setting the password, the login that
  follows, or the enrolment each spend it.
- **Password reset** by Django's own views (urls.py) with StyledPasswordResetForm: the same answer for a
  known and an unknown address (no account enumeration), rate-limited per address given and per client
  address, the mail sent by this module in the user's language with a link on settings.SITE_URL (never the
  request's Host header). A reset does not log in, so the login that follows still asks for the code.
- **Rate limits** count in Django's cache (per process unless CACHES names a shared one: docs/security.md).
- E-mails carry the username and a link only: no patient data (docs/security.md, data minimisation).
"""

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import mail
from .exceptions import DomainError

log = logging.getLogger(__name__)

ACTIVATION_VALID_HOURS = 72
# Rate limits (a window of RATE_WINDOW_SECONDS): enough for a person who mistypes or waits for a slow mail
# server, too few to flood a mailbox or to probe addresses at any speed.
RATE_WINDOW_SECONDS = 60 * 60
RESETS_PER_EMAIL = 3  # reset e-mails asked for one address
RESETS_PER_CLIENT = 10  # reset requests from one client address (a hospital's NAT: several people)
ENROLMENT_LINKS_PER_HOUR = 3  # set-up links a password-only login may ask for one account


class AccountError(DomainError):
    """An activation link cannot be sent (no e-mail address, inactive account)."""


class ActivationTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token with its own salt and lifetime, and the enrolment state in its hash."""

    key_salt = "oligami_site.accounts.ActivationTokenGenerator"
    timeout = ACTIVATION_VALID_HOURS * 60 * 60

    def _make_hash_value(self, user, timestamp):
        # The password hash and the last login (Django's) spend the link when the password is set and at the
        # login that follows; a confirmed device spends a link that was sent only to enrol.
        enrolled = TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("pk").values_list(
            "pk", flat=True).first()
        return f"{super()._make_hash_value(user, timestamp)}|{user.is_active}|{enrolled or ''}"

    def check_token(self, user, token):
        """As Django's, with this generator's lifetime instead of settings.PASSWORD_RESET_TIMEOUT."""
        if not (user and token and isinstance(token, str)):
            return False
        try:
            ts_b36, _hash = token.split("-")
            timestamp = base36_to_int(ts_b36)
        except ValueError:
            return False
        if not any(constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token)
                   for secret in [self.secret, *self.secret_fallbacks]):
            return False
        return 0 <= self._num_seconds(self._now()) - timestamp <= self.timeout


activation_tokens = ActivationTokenGenerator()


def _link(name: str, user, token: str) -> str:
    path = reverse(name, kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": token})
    return settings.SITE_URL.rstrip("/") + path


def _mail(user, template: str, context: dict) -> None:
    """A plain-text e-mail to the user, in the user's language (templates/accounts/email/; the kit's renderer)."""
    mail.to_user(user, f"accounts/email/{template}",
                 {"user": user, "username": user.get_username(), **context}).send()


def send_activation(*, user) -> None:
    """E-mail the user a one-time link to set the password (or confirm it) and enrol where the role needs it."""
    from .two_factor import required_for  # late: two_factor's pages import this module

    if not user.is_active:
        raise AccountError(_("%(username)s is inactive: make the account active before sending a link.")
                           % {"username": user.get_username()}, code="inactive")
    if not user.email:
        raise AccountError(_("%(username)s has no e-mail address: add one first.")
                           % {"username": user.get_username()}, code="no_email")
    _mail(user, "activation", {
        "url": _link("activate", user, activation_tokens.make_token(user)),
        "hours": ACTIVATION_VALID_HOURS,
        "has_password": user.has_usable_password(),
        "two_factor": required_for(user),
        "valid_until": timezone.localtime() + timedelta(hours=ACTIVATION_VALID_HOURS),
    })
    log.info("Activation link e-mailed to user %s", user.pk)


def send_activation_after_commit(*, user) -> None:
    """For the admin's add view: the mail goes once the account (and its groups) are committed."""
    user_id = user.pk

    def send():
        from .models import User

        try:
            send_activation(user=User.objects.get(pk=user_id))
        except AccountError as error:
            log.warning("No activation link for user %s: %s", user_id, error)

    transaction.on_commit(send, robust=True)


def prepare_new_account(user) -> None:
    """A new account has no usable password until its owner sets one through the activation link."""
    user.set_unusable_password()


# --- rate limits --------------------------------------------------------------------------------------


def _hit(key: str, limit: int) -> bool:
    """Count one more request under `key` in the current window; whether it is within `limit`."""
    key = "oligami-rate:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    cache.add(key, 0, RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, RATE_WINDOW_SECONDS)
        count = 1
    return count <= limit


def may_send_reset(*, email: str, client_address: str | None) -> bool:
    # Both counters move on every request, so a flood from one address also fills that address's window.
    per_client = _hit(f"reset-client:{client_address or '-'}", RESETS_PER_CLIENT)
    per_email = _hit(f"reset-email:{email.strip().casefold()}", RESETS_PER_EMAIL)
    return per_client and per_email


def send_enrolment_link(*, user) -> bool:
    """At a password-only login of a user who must enrol: the link goes to the account's own mailbox (never
    the secret to the screen). Whether a mail went out; the caller shows the same page either way."""
    if not _hit(f"enrolment:{user.pk}", ENROLMENT_LINKS_PER_HOUR):
        log.warning("Enrolment link for user %s not sent: rate limit", user.pk)
        return False
    try:
        send_activation(user=user)
    except AccountError as error:
        log.warning("No enrolment link for user %s: %s", user.pk, error)
        return False
    return True


def send_password_reset(*, user) -> None:
    _mail(user, "password_reset", {
        "url": _link("password_reset_confirm", user, default_token_generator.make_token(user)),
        "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    })
    log.info("Password reset link e-mailed to user %s", user.pk)
