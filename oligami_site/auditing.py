"""Audited writes: the user and the reason on every history row (docs/audit.md), one way for every app.

django-simple-history reads `_history_user` and `_change_reason` from the instance when it writes the
history row of a save or a delete. Services set them here, never by hand, so that the reason is always
cut to the column and a forgotten user cannot slip through unnoticed in review.

    from oligami_site import auditing

    auditing.save(record, user=user, reason="Response evaluation recorded")
    auditing.save(patient, user=user, reason=reason, update_fields=["stage"])
    auditing.mark(entry, user=user, reason="Allocation list discarded"); entry.delete()

A reason typed by a user is checked first with `clean_reason` (too long: the caller's domain error).
"""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext

REASON_MAX_LENGTH = 100  # simple-history's history_change_reason column
# Fields the system moves as a consequence of other writes (a patient's stage), not data anyone entered: a
# save of only these is not an edit of the record (the write guards let it through).
BOOKKEEPING_FIELDS = frozenset({"stage"})


@cache
def _write_guards():
    """settings.OLIGAMI_WRITE_GUARDS: callables guard(obj) that raise a DomainError to refuse a change of an
    existing record (e.g. oversight.cutoffs: a record locked by a data cut-off). The core names no app."""
    return tuple(import_string(path) for path in getattr(settings, "OLIGAMI_WRITE_GUARDS", ()))


def mark(obj, *, user, reason, bookkeeping: bool = False) -> None:
    """Put the user and the reason on `obj` for the history row of its next save() or delete(). A change of
    an existing record first passes the write guards (which may refuse it with a DomainError)."""
    if not bookkeeping and not obj._state.adding:
        for guard in _write_guards():
            guard(obj)
    obj._history_user = user
    obj._change_reason = str(reason)[:REASON_MAX_LENGTH]


def save(obj, *, user, reason, **save_kwargs) -> None:
    """Save `obj` (save()'s keyword arguments pass through) with the user and the reason on its history row."""
    fields = save_kwargs.get("update_fields")
    mark(obj, user=user, reason=reason, bookkeeping=fields is not None and set(fields) <= BOOKKEEPING_FIELDS)
    obj.save(**save_kwargs)


def clean_reason(reason: str | None, *, error: type[Exception]) -> str:
    """The reason stripped; raises the caller's domain `error` (code "reason_too_long") when it is longer than
    the history column holds: a user's reason is refused, not cut."""
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise error(gettext("The reason is too long (at most %(max)s characters).") % {"max": REASON_MAX_LENGTH},
                    code="reason_too_long")
    return reason
