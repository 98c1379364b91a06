"""Electronic signatures, one service for every app (DESIGN.md "Audit and signatures"; docs/architecture.md, the kit).

The signer re-enters the password; the signature row records the printed name, the time (UTC, shown in
Asia/Tokyo), what is signed (`subject`), its kind and its meaning. Registration, randomization (through the
secondary registration's signature), safety reports and the data lock all sign here.

    from oligami_site import signatures

    signatures.check_password(user, password)            # early, before the caller's checks (optional)
    signature = signatures.sign(user=user, kind=KIND, meaning=MEANING, subject="OLG-0007 / S-01-003")
    # or both at once, inside the caller's transaction:
    signature = signatures.sign(user=user, password=password, kind=KIND, meaning=MEANING, subject=...)

    # around the caller's atomic service: a wrong password is counted after the refused transaction rolled
    # back (the failure row must survive the rollback of everything else)
    signatures.counting_failures(_register, kind=KIND, user=user, patient=patient_id, request=request, ...)

Kinds and meanings are codes that each app declares at start-up (`register`, from its AppConfig.ready), so
the core names no trial app: `Signature.kind`'s choices are whatever was registered (a callable, so a new
kind needs no migration), and `sign` refuses a code nobody declared. The meaning is stored as its code and
shown in the reader's language by `meaning_text` (gettext at display, not at signing); a meaning stored as
text before codes existed, that no migration could match to a code, is shown as stored.
"""

import logging
from datetime import timedelta

from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import auditing
from .exceptions import DomainError
from .models import Signature, SignatureFailure

log = logging.getLogger(__name__)

# Too many wrong signature passwords in a short time: refuse further attempts for a while (as a login
# throttle would), without checking the password at all.
FAILURE_LIMIT = 5
FAILURE_PERIOD = timedelta(minutes=15)

_KINDS: dict[str, object] = {}  # code -> label (lazy, translated at display)
_MEANINGS: dict[str, object] = {}  # code -> text (lazy, translated at display)


class SignatureRefused(DomainError):
    """The re-entered password was wrong (counted like a failed login), or too many recent failures."""


# --- what apps sign -----------------------------------------------------------------------------------


def register(*, kinds: dict[str, object] | None = None, meanings: dict[str, object] | None = None) -> None:
    """Declare an app's signature kinds ({code: label}) and meanings ({code: text}); from AppConfig.ready.

    Registering the same code again with the same text is harmless; with another text it is a mistake."""
    for table, given in ((_KINDS, kinds or {}), (_MEANINGS, meanings or {})):
        for code, text in given.items():
            if code in table and str(table[code]) != str(text):
                raise ImproperlyConfigured(f"Signature code {code!r} is declared twice with different texts.")
            table[code] = text


def kind_choices() -> list[tuple[str, object]]:
    """The `kind` choices of Signature and SignatureFailure (oligami_site.models.signature_kinds)."""
    return sorted(_KINDS.items())


def kind_label(code: str) -> str:
    return str(_KINDS.get(code, code))


def meaning_text(stored: str) -> str:
    """The meaning in the active language: a declared code translated now, anything else (a text stored
    before meanings were codes) as stored."""
    text = _MEANINGS.get(stored)
    return str(text) if text is not None else stored


# --- signing ------------------------------------------------------------------------------------------


def check_password(user, password: str) -> None:
    """Refuse an inactive user, a user with too many recent failures (without checking the password), or a
    wrong password (code "wrong_password": `counting_failures` counts it)."""
    if not (user and user.is_authenticated and user.is_active):
        raise SignatureRefused(_("Only an active signed-in user can sign."), code="inactive_user")
    since = timezone.now() - FAILURE_PERIOD
    if SignatureFailure.objects.filter(user=user, attempted_at__gte=since).count() >= FAILURE_LIMIT:
        raise SignatureRefused(
            _("Too many wrong signature passwords in the last %(minutes)s minutes. Wait and try again, or ask "
              "the data centre.") % {"minutes": int(FAILURE_PERIOD.total_seconds() // 60)},
            code="signature_locked")
    if not password or not user.check_password(password):
        raise SignatureRefused(_("The password is not correct: nothing was signed or saved."),
                               code="wrong_password")


def sign(*, user, kind: str, meaning: str, subject: str, password: str | None = None) -> Signature:
    """Write the signature row (in the caller's transaction), after checking `password` when one is given
    (a caller that checked it earlier with `check_password` passes none)."""
    if kind not in _KINDS or meaning not in _MEANINGS:
        raise ImproperlyConfigured(f"Undeclared signature kind {kind!r} or meaning {meaning!r}: "
                                   "declare them with oligami_site.signatures.register.")
    if password is not None:
        check_password(user, password)
    signature = Signature(user=user, printed_name=user.printed_name, signed_at=timezone.now(),
                          meaning=meaning, kind=kind, subject=subject)
    # The reason names the meaning's code; oligami_site.reasons shows it in the reader's language.
    auditing.save(signature, user=user, reason=f"Signed: {meaning}")
    return signature


def count_failure(*, user, kind: str, patient=None, request=None) -> None:
    """Count a wrong signature password like a failed login, in its own transaction: call it after the
    refused transaction rolled back (or use `counting_failures`). `patient`: a Patient, its id or None."""
    # "purpose": recorded as a failed *signature* access event (oligami_site.audit), not a failed login, so
    # it stays out of the per-address login delay; axes counts it for the signer's lockout all the same.
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username(), "purpose": "signature"},
                           request=request)
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    patient_id = getattr(patient, "pk", patient)
    with transaction.atomic():
        failure = SignatureFailure(user=user, attempted_at=timezone.now(), kind=kind, patient_id=patient_id,
                                   ip_address=ip or None)
        auditing.save(failure, user=user, reason="Wrong signature password")
    log.warning("Signature refused (wrong password): user=%s kind=%s patient=%s ip=%s",
                user.get_username(), kind, patient_id, ip)


def counting_failures(func, *, kind: str, user, patient=None, request=None, **kwargs):
    """Run ``func(user=user, **kwargs)`` (an atomic service that signs; ``patient=patient`` too when one is
    given); when it is refused for a wrong password, count the failure after its transaction rolled back (the
    failure row must outlive the rollback of everything the refused service wrote), then re-raise."""
    if patient is not None:
        kwargs["patient"] = patient
    try:
        return func(user=user, **kwargs)
    except SignatureRefused as exc:
        if exc.code == "wrong_password":
            count_failure(user=user, kind=kind, patient=patient, request=request)
        raise
