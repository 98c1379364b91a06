"""Access events: logins, logouts, failed logins and failed signatures, with user, time and address.

Recorded from Django's auth signals, so every login path (pages, admin, API) is covered. A failed
electronic signature is reported by the signing service through `record_signature_failure`, and also
sends `user_login_failed` so that brute-force protection counts it like a failed login.
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .models import AccessEvent


def address_of(request):
    """The client's address as every access record and the per-address throttle see it."""
    return (request.META.get("REMOTE_ADDR") or None) if request is not None else None


def _agent(request):
    return (request.META.get("HTTP_USER_AGENT") or "")[:300] if request is not None else ""


def record(kind, *, request=None, user=None, username=""):
    return AccessEvent.objects.create(
        kind=kind, user=user if (user is not None and user.pk) else None,
        username=(username or getattr(user, "username", "") or "")[:150],
        address=address_of(request), user_agent=_agent(request),
    )


@receiver(user_logged_in, dispatch_uid="oligami_access_login")
def _logged_in(sender, request, user, **kwargs):
    record(AccessEvent.Kind.LOGIN, request=request, user=user)


@receiver(user_logged_out, dispatch_uid="oligami_access_logout")
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record(AccessEvent.Kind.LOGOUT, request=request, user=user)


@receiver(user_login_failed, dispatch_uid="oligami_access_login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    kind = AccessEvent.Kind.SIGNATURE_FAILED if credentials.get("purpose") == "signature" else \
        AccessEvent.Kind.LOGIN_FAILED
    record(kind, request=request, username=str(credentials.get("username", ""))[:150])


def record_signature_failure(*, request, user):
    """A wrong password at an electronic signature: recorded, and counted like a failed login."""
    user_login_failed.send(sender=__name__, credentials={"username": user.username, "purpose": "signature"},
                           request=request)
