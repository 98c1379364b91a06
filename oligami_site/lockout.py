"""Brute-force protection (django-axes): the locked-out page, LOCKED_OUT / UNLOCKED access events, unlocking.

Policy (settings.AXES_*, docs/security.md): failures are counted per USERNAME only, never per address
(hospital staff share one NAT address, so locking an address would lock a whole hospital out). Every
``user_login_failed`` counts: a wrong password at the login page or the admin, a wrong password when signing
(registration.services sends the signal with the request) and a wrong one-time code (two_factor). After
AXES_FAILURE_LIMIT failures the username is locked, even for the right password, until a data manager
unlocks it on the "Locked accounts" page; there is no automatic unlock. A complete login (the password
and, where the user needs one, the second factor) resets the count, so that occasional typos over months
never add up to a lockout, while someone who knows the password cannot reset it by logging in again
before guessing more one-time codes.
"""

import logging

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max, Sum
from django.dispatch import receiver
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import access
from .audit import record
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
                                                        "failure_limit": settings.AXES_FAILURE_LIMIT},
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


def locked_usernames():
    """[{username, failures, last_attempt}] of every username at or over the failure limit, newest first."""
    rows = (AccessAttempt.objects.values("username").annotate(failures=Sum("failures_since_start"),
                                                                last_attempt=Max("attempt_time"))
            .filter(failures__gte=settings.AXES_FAILURE_LIMIT).order_by("-last_attempt"))
    return [row for row in rows if row["username"]]


def is_locked(username: str) -> bool:
    total = AccessAttempt.objects.filter(username=username).aggregate(n=Sum("failures_since_start"))["n"] or 0
    return total >= settings.AXES_FAILURE_LIMIT


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
        "recent": AccessEvent.objects.filter(kind__in=[AccessEvent.Kind.LOCKED_OUT, AccessEvent.Kind.UNLOCKED])
        .select_related("user")[:20],
    })
