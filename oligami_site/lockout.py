"""Brute-force protection: the per-username lockout (django-axes) and the per-address throttle.

Policy (settings.AXES_*, settings.OLIGAMI_ADDRESS_*, docs/security.md):

- **Per username** (django-axes). Every ``user_login_failed`` counts: a wrong password at the login page
  or the admin, a wrong password when signing (registration.services sends the signal with the request)
  and a wrong one-time code (two_factor). After AXES_FAILURE_LIMIT failures the username is locked, even
  for the right password, until a data manager unlocks it on the "Locked accounts" page or until the
  cool-off (AXES_COOLOFF_TIME, 30 minutes after the last counted failure) has passed: someone who can guess
  a colleague's username can keep them out for half an hour per five tries, no longer. A complete login
  (the password and, where the user needs one, the second factor) resets the count, so that occasional
  typos over months never add up to a lockout, while someone who knows the password cannot reset it by
  logging in again before guessing more one-time codes.
- **Per address, across usernames** (AddressThrottleMiddleware below). A hospital's staff share one NAT
  address, so an address is never *locked*; instead, once OLIGAMI_ADDRESS_FREE_FAILURES failed logins came
  from one address within OLIGAMI_ADDRESS_WINDOW, each further login from it must wait a delay that
  doubles with every failure (15 seconds, 30 seconds, 1, 2, 4, 8 minutes, at most 15 minutes) after the
  address's last failure. Spraying passwords over many usernames slows to about twenty tries in the first
  hour and four an hour after; a ward that mistyped a few times waits seconds, and any wait ends by itself
  within 15 minutes. Refused attempts are
  not authenticated, so they add no failure and no delay.
"""

import logging
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.dispatch import receiver
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import access
from .audit import address_of, record
from .models import AccessEvent, User

log = logging.getLogger(__name__)
USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length


def axes_username(request, credentials=None):
    """The username axes counts (AXES_USERNAME_CALLABLE), cut to the longest a user can have.

    The login form passes any length on to authentication, and axes stores the username in a 255-character
    column that PostgreSQL enforces: a 10,000-character username would otherwise be a server error. A
    username longer than User.username allows names no account, so cutting it locks no one.
    """
    field = get_user_model().USERNAME_FIELD
    value = credentials.get(field) if credentials else getattr(request, "data", request.POST).get(field)
    return None if value is None else str(value)[:USERNAME_MAX_LENGTH]


def lockout_response(request, original_response=None, credentials=None):
    """What a locked-out username gets instead of the page (AXES_LOCKOUT_CALLABLE): a clear page, never a 500.

    A lockout reached inside a session (wrong signature passwords or one-time codes) also ends that
    session: whoever holds it has just failed to prove they are its user, five times.
    """
    username = str((credentials or {}).get("username") or request.POST.get("username") or "")[:150]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.get_username() == username:
        logout(request)
    return render(request, "accounts/locked_out.html", {"username": username,
                                                        "failure_limit": settings.AXES_FAILURE_LIMIT,
                                                        "cool_off_minutes": int(get_cool_off().total_seconds() // 60)},
                  status=settings.AXES_HTTP_RESPONSE_CODE)


@receiver(user_locked_out, dispatch_uid="oligami_access_locked_out")
def _locked_out(sender, request, username, **kwargs):
    username = str(username or "")[:150]
    user = User.objects.filter(username=username).first() if username else None
    record(AccessEvent.Kind.LOCKED_OUT, request=request, user=user, username=username)
    log.warning("Username locked out after repeated failures: %s", username)


def reset_failures(username: str) -> int:
    """Forget the failures of a username after a complete login (see the module docstring)."""
    return AxesProxyHandler.reset_attempts(username=username)


@receiver(user_logged_in, dispatch_uid="oligami_reset_failures_after_login")
def _logged_in(sender, request, user, **kwargs):
    from .two_factor import needs_second_factor  # late: two_factor imports django-otp's models

    if not needs_second_factor(user):
        reset_failures(user.get_username())


def _counted_attempts():
    """The attempts axes still counts: those of the last cool-off (axes forgets older ones by itself)."""
    cool_off = get_cool_off()
    attempts = AccessAttempt.objects.all()
    return attempts if cool_off is None else attempts.filter(attempt_time__gte=timezone.now() - cool_off)


def locked_usernames():
    """[{username, failures, last_attempt, unlocks_at}] of every username locked now, newest first."""
    cool_off = get_cool_off()
    rows = (_counted_attempts().values("username").annotate(failures=Sum("failures_since_start"),
                                                              last_attempt=Max("attempt_time"))
            .filter(failures__gte=settings.AXES_FAILURE_LIMIT).order_by("-last_attempt"))
    return [{**row, "unlocks_at": row["last_attempt"] + cool_off if cool_off else None}
            for row in rows if row["username"]]


def is_locked(username: str) -> bool:
    total = _counted_attempts().filter(username=username).aggregate(n=Sum("failures_since_start"))["n"] or 0
    return total >= settings.AXES_FAILURE_LIMIT


# --- per address, across usernames --------------------------------------------------------------------------


def address_delay(failures: int) -> timedelta:
    """How long an address waits after its last failure, given its failures in the window (see the docstring)."""
    free = settings.OLIGAMI_ADDRESS_FREE_FAILURES
    if failures < free:
        return timedelta(0)
    first, longest = settings.OLIGAMI_ADDRESS_FIRST_DELAY, settings.OLIGAMI_ADDRESS_MAX_DELAY
    return min(first * 2 ** min(failures - free, 20), longest)


def address_wait(address: str | None, *, now=None) -> timedelta:
    """How long logins from `address` must still wait (zero: go ahead).

    Counted from the access events (one row per failed login, with its address and time; the index on the
    time bounds the scan to the window). Wrong one-time codes are failed logins too; wrong signature
    passwords are not counted here: they come from a signed-in session, and the signer's own lockout
    bounds them.
    """
    if not address:
        return timedelta(0)
    now = now or timezone.now()
    found = AccessEvent.objects.filter(kind=AccessEvent.Kind.LOGIN_FAILED, address=address,
                                       at__gte=now - settings.OLIGAMI_ADDRESS_WINDOW
                                       ).aggregate(failures=Count("pk"), last=Max("at"))
    if not found["failures"]:
        return timedelta(0)
    return max(found["last"] + address_delay(found["failures"]) - now, timedelta(0))


class AddressThrottleMiddleware:
    """A login (the login page, the admin's) from an address that must wait: 429, a page that says until
    when, and nothing authenticated (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path_info in (reverse("login"), reverse("admin:login")):
            wait = address_wait(address_of(request))
            if wait > timedelta(0):
                return throttled_response(request, wait)
        return self.get_response(request)


def throttled_response(request, wait: timedelta):
    seconds = max(1, int(wait.total_seconds() + 0.999))
    log.warning("Login refused: too many failed logins from %s (wait %s s)", address_of(request), seconds)
    response = render(request, "accounts/address_throttled.html",
                      {"retry_at": timezone.now() + timedelta(seconds=seconds), "seconds": seconds}, status=429)
    response["Retry-After"] = str(seconds)
    return response


@transaction.atomic
def unlock(*, username: str, by, request=None) -> int:
    """Unlock a username (forget its failures) and record who did it: an UNLOCKED access event whose
    `username` is the account unlocked and whose `user` is the data manager who unlocked it."""
    if not access.is_data_manager(by):
        raise PermissionDenied
    count = reset_failures(username)
    record(AccessEvent.Kind.UNLOCKED, request=request, user=by, username=username)
    log.warning("Username unlocked by %s: %s", by.get_username(), username)
    return count


@login_required
@require_http_methods(["GET", "POST"])
def locked_accounts(request):
    """Data managers: the usernames locked out, and a button to unlock each one (audited)."""
    if not access.is_data_manager(request.user):
        raise PermissionDenied
    if request.method == "POST":
        # No NUL reaches the query (PostgreSQL cannot hold one): RejectNulMiddleware answers 400 first, and
        # a username with one names no account anyway.
        username = str(request.POST.get("username", "")).replace("\x00", "").strip()[:150]
        if username and is_locked(username):
            unlock(username=username, by=request.user, request=request)
            messages.success(request, _("%(username)s is unlocked and can log in again.") % {"username": username})
        else:
            messages.error(request, _("This username is not locked."))
        return redirect("locked_accounts")
    return render(request, "oligami_site/locked_accounts.html", {
        "locked": locked_usernames(), "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cool_off_minutes": int(get_cool_off().total_seconds() // 60),
        "recent": AccessEvent.objects.filter(kind__in=[AccessEvent.Kind.LOCKED_OUT, AccessEvent.Kind.UNLOCKED])
        .select_related("user")[:20],
    })
