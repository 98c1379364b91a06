"""The e-signature of expedited reports, through the one signature service there is (registration's).

A small adapter so that safety does not copy the password check, the failure count and the Signature row:
``sign`` inside the caller's transaction, ``counting_failures`` around it (a wrong password is counted
like a failed login after the refused transaction rolled back, exactly as for registrations). When the
signature moves into the core kit (docs/architecture.md, "Still to be gathered"), only this module changes.
"""

from registration import services as registration_services
from registration.exceptions import SignatureRefused
from registration.models import Signature

KIND = Signature.Kind.SAFETY_REPORT
Refused = SignatureRefused


def sign(*, user, password: str, meaning, subject: str) -> Signature:
    """Check the re-entered password (and the recent-failures lock), then write the Signature row."""
    registration_services._check_signature_password(user, password)
    return registration_services._sign(user=user, kind=KIND, meaning=meaning, subject=subject)


def counting_failures(func, *, user, patient, request=None, **kwargs):
    """Run ``func(user=..., **kwargs)`` (an atomic service); a wrong password is counted after its rollback."""
    return registration_services._signing(KIND, func, user=user, patient=patient, request=request, **kwargs)
