"""Cut-off and data lock: the writes (data managers only; one transaction; audited) and what blocks a lock.

1. `declare_cutoff`: the data centre names the cut-off date (on or before today) and its purpose.
2. `blockers`: what must be resolved before the lock (data queries not closed on data up to the cut-off).
3. `lock_cutoff`: signed with the data manager's password re-entered (oligami_site.signatures: a wrong one
   saves nothing and counts like a failed signature; the Signature row is the lock's), the analysis data
   set as of the cut-off is generated, stored, and its SHA-256 kept:
   `verify_snapshot` shows later that the stored data set is the one locked.
4. `unlock_cutoff`: a data manager unlocks with a reason (the history keeps the lock, its signature and
   its SHA-256; the data set is kept until the next lock replaces it).
5. While a cut-off is locked, a patient's clinical records that existed at the lock (the record types a data
   query may point at: oversight/records.py) cannot be changed: `refuse_edits_of_locked_records` is a write
   guard of oligami_site.auditing (settings.OLIGAMI_WRITE_GUARDS). New records (follow-up goes on after a
   lock) and the system's bookkeeping (a patient's stage) are not refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from followup import selectors as followup_selectors
from oligami_site import access, auditing, signatures
from oligami_site.exceptions import DomainError
from safety import deadlines as safety_deadlines
from safety.models import AdverseEvent
from screening.models import Patient

from . import exports, monitoring, records
from .models import Cutoff, DataQuery

# What the data lock signs (declared to the core's e-signatures in apps.py), stored as codes and shown in the
# reader's language. "data_lock" is also the code the locks before issue 14 stored in Cutoff.signature_meaning.
LOCK_KIND = "data_lock"
LOCK_MEANING = "data_lock"
SIGNATURE_KINDS = {LOCK_KIND: _("Data lock")}
SIGNATURE_MEANINGS = {LOCK_MEANING: _("I lock the trial data as of this cut-off date")}


class CutoffRefused(DomainError):
    pass


def _audit(obj, user, reason: str) -> None:
    auditing.mark(obj, user=user, reason=reason)


def _data_manager(user) -> None:
    if not access.is_data_manager(user):
        raise CutoffRefused(_("Only a data manager declares, locks or unlocks a cut-off."), code="not_allowed")


@transaction.atomic
def declare_cutoff(*, user, cutoff_date: date, purpose: str) -> Cutoff:
    _data_manager(user)
    purpose = (purpose or "").strip()
    if not isinstance(cutoff_date, date):
        raise CutoffRefused(_("Enter the cut-off date."), code="date_required")
    if cutoff_date > timezone.localdate():
        raise CutoffRefused(_("The cut-off date %(date)s is in the future.") % {"date": cutoff_date.isoformat()},
                            code="future_date")
    if not purpose or len(purpose) > 200:
        raise CutoffRefused(_("Say what the cut-off is for (at most 200 characters)."), code="purpose")
    cutoff = Cutoff(date=cutoff_date, purpose=purpose, declared_by=user)
    _audit(cutoff, user, "Cut-off declared")
    try:
        with transaction.atomic():
            cutoff.save()
    except IntegrityError:
        raise CutoffRefused(_("A cut-off on %(date)s exists already.") % {"date": cutoff_date.isoformat()},
                            code="duplicate") from None
    return cutoff


@dataclass(frozen=True)
class Blocker:
    code: str
    label: object
    count: int


def blockers(cutoff: Cutoff) -> list[Blocker]:
    """What must be resolved before the lock (empty: the lock may proceed). One query per kind."""
    found = []
    open_queries = DataQuery.objects.exclude(status=DataQuery.Status.CLOSED).filter(
        opened_at__lt=monitoring.end_of_day(cutoff.date)).count()
    if open_queries:
        found.append(Blocker("open_queries", _("Data queries not closed"), open_queries))
    # Expedited reports still to sign for events the sites knew of by the end of the cut-off day.
    unsigned = len(safety_deadlines.open_deadlines(
        AdverseEvent.objects.filter(awareness__lt=monitoring.end_of_day(cutoff.date)), timezone.now()))
    if unsigned:
        found.append(Blocker("unsigned_reports", _("Expedited safety reports not signed"), unsigned))
    unknown = sum(1 for row in followup_selectors.status_as_of(Patient.objects.all(), cutoff.date)
                  if not row.known)
    if unknown:
        found.append(Blocker("missing_followup", _("Randomized patients whose status at the cut-off is not known"),
                             unknown))
    return found


class DataLocked(DomainError):
    pass


LOCKED_MODELS = frozenset(record_type.model for record_type in records.RECORD_TYPES)


def refuse_edits_of_locked_records(obj) -> None:
    """Write guard: a change of a clinical record that existed when the latest locked cut-off was locked is
    refused until a data manager unlocks it (two small queries, only for changes of such records)."""
    model = type(obj)
    if model not in LOCKED_MODELS or obj.pk is None:
        return
    lock = (Cutoff.objects.filter(locked_at__isnull=False).order_by("-locked_at")
            .values_list("date", "locked_at").first())
    if lock is None:
        return
    created = (model.history.filter(id=obj.pk).order_by("history_date")
               .values_list("history_date", flat=True).first())
    if created is not None and created < lock[1]:
        raise DataLocked(_("The data are locked as of the cut-off %(date)s: this record cannot be changed until a "
                           "data manager unlocks the cut-off (with a reason).") % {"date": lock[0].isoformat()},
                         code="data_locked")


def _snapshot(cutoff_date: date) -> tuple[bytes, int]:
    """The analysis data set as of the cut-off: the same rows and columns as the analysis export."""
    rows = list(exports.analysis_rows(today=cutoff_date))
    text = "".join(exports.csv_lines(exports.analysis_header(), rows))
    return text.encode("utf-8"), len(rows)


def lock_cutoff(*, user, cutoff: Cutoff, password: str, request=None) -> Cutoff:
    """Sign and lock (the password re-entered): a wrong one locks nothing and is counted like a failed
    signature (oligami_site.signatures, as for registrations and safety reports)."""
    _data_manager(user)
    return signatures.counting_failures(_lock, kind=LOCK_KIND, user=user, request=request, cutoff=cutoff,
                                        password=password)


def _lock(*, user, cutoff: Cutoff, password: str) -> Cutoff:
    # The password first, before the data set is generated (seconds on a large trial): a wrong one costs nothing.
    signatures.check_password(user, password)
    with transaction.atomic():
        cutoff = Cutoff.objects.select_for_update().get(pk=cutoff.pk)
        if cutoff.locked:
            raise CutoffRefused(_("This cut-off is locked already."), code="locked")
        found = blockers(cutoff)
        if found:
            raise CutoffRefused(_("Resolve what blocks the lock first: %(list)s.") % {
                "list": ", ".join(f"{b.label} ({b.count})" for b in found)}, code="blocked")
        data, count = _snapshot(cutoff.date)
        cutoff.signature = signatures.sign(user=user, kind=LOCK_KIND, meaning=LOCK_MEANING,
                                           subject=f"Cut-off {cutoff.date.isoformat()}")
        cutoff.locked_by, cutoff.locked_at = user, cutoff.signature.signed_at
        cutoff.snapshot, cutoff.snapshot_sha256, cutoff.snapshot_rows = data, hashlib.sha256(data).hexdigest(), count
        _audit(cutoff, user, "Data locked")
        cutoff.save()
    return cutoff


@transaction.atomic
def unlock_cutoff(*, user, cutoff: Cutoff, reason: str) -> Cutoff:
    _data_manager(user)
    reason = (reason or "").strip()
    if not reason:
        raise CutoffRefused(_("Give the reason for unlocking."), code="reason_required")
    cutoff = Cutoff.objects.select_for_update().get(pk=cutoff.pk)
    if not cutoff.locked:
        raise CutoffRefused(_("This cut-off is not locked."), code="not_locked")
    cutoff.locked_by, cutoff.locked_at = None, None
    _audit(cutoff, user, f"Data unlocked: {reason}")
    cutoff.save()
    return cutoff


def verify_snapshot(cutoff: Cutoff) -> bool:
    """The stored data set still has the SHA-256 recorded at the lock."""
    return bool(cutoff.snapshot_sha256) and hashlib.sha256(bytes(cutoff.snapshot or b"")).hexdigest() == \
        cutoff.snapshot_sha256
