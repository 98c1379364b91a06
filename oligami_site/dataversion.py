"""A data version for caches of computed pages: it changes after every committed audited write.

The reports page and the "not randomized" list classify every screened patient of their scope
(oversight.reports), which costs seconds at 10,000 patients and would be repeated on every request
although nothing changed. `cached` keeps the last result per scope and reuses it while the data
version and the day (statuses move with the date) are the ones it was computed at.

Why it is exact:
- every clinical and configuration write goes through a service and save(), so simple-history creates a
  historical record (a test forbids the writes that bypass it); each historical record registers `bump`
  to run after its transaction commits, so a committed change always moves the counter;
- `cached` reads the version *before* computing: a result stored under version v was computed from a
  state at least as new as v's, and any commit after the read moves the counter past v, so no reader
  that sees v again can miss a change.
What it cannot see: a change made without simple-history (raw SQL, a restored backup) or a process
killed between its commit and the bump. `OLIGAMI_REPORTS_CACHE_SECONDS` bounds how long such a
result can live (10 minutes by default; 0 turns the cache off, as the test suite does except in the
tests of this module, which commit for real).

The counter is one row updated after the commit, never inside the clinical transaction: inside, it
would serialize every write of the trial and could deadlock with the services' row locks.

**What changed, for caches patched instead of recomputed (`kept`, `changes`).** At 100,000 patients
recomputing the reports after any write took 7-10 s. So the bump also logs what its transaction wrote:
one `DataChange` row per record (model, object id, and the record's `patient_id` when it has one),
inserted in the bump's own small transaction, after the counter's UPDATE and with the version that
UPDATE produced. Both commit together, and the UPDATE's row lock makes bumps take versions in commit
order, so once a reader sees counter = v, every version up to v is committed *with its rows*.
A reader holding a result for version u then asks `changes(u, v)`: the rows of the versions in (u, v].
Every version logged by this code has at least one row, so the reader checks that it got rows of
exactly v - u distinct versions; anything less (old rows pruned, a bump with nothing logged, e.g. by a
process still running older code, or `bump()` called by hand) answers None: recompute in full. The
check needs no lock and no marker: a prune deletes whole versions in one transaction, and a statement
sees a version's rows all or none.
A transaction that wrote more than `MAX_RECORDS` records logs one row "*" (everything changed).
Every `PRUNE_EVERY` versions the bump deletes versions older than `KEEP_VERSIONS`.

`kept(name, scope, today, build, update, read)` keeps a *process-local* state per (name, scope):
`build()` makes it from scratch; on a later version of the same day `update(state, changes)` patches it
(or answers False before touching it: recompute); `read(state)` derives what the caller returns, under
the entry's lock (the state is shared by the threads of a process). Kept in a module dict, not Django's
cache: the reports' state holds a tuple per patient, and pickling 100,000 of them on every get and set
would cost more than the patch it saves; each process checks the database's version anyway, so every
worker is exact on its own. A state is rebuilt from scratch when the day changes and after
`OLIGAMI_REPORTS_REBASE_SECONDS` (1 hour by default), which bounds what a change invisible to the
data version leaves stale. At most `KEPT_ENTRIES` states per process (least recently used dropped).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from simple_history.signals import post_create_historical_record

from .models import DataChange, DataVersion

T = TypeVar("T")
S = TypeVar("S")
ROW = 1
EVERYTHING = "*"  # DataChange.model of a transaction too large to list: every record may have changed
MAX_RECORDS = 1_000  # records listed per transaction, beyond that one EVERYTHING row
KEEP_VERSIONS = 20_000  # versions whose changes are kept for the readers that patch
PRUNE_EVERY = 500  # the bump of every PRUNE_EVERY-th version deletes the versions older than KEEP_VERSIONS
MAX_VERSIONS_READ = 2_000  # a reader further behind recomputes instead of reading the changes
KEPT_ENTRIES = 64


@dataclass(frozen=True, slots=True)
class Change:
    """What a committed transaction wrote: a record of `model` (app_label.modelname, or EVERYTHING)."""

    model: str
    object_id: int | None
    patient_id: int | None


def current() -> int:
    """The counter (one indexed read)."""
    return DataVersion.objects.filter(pk=ROW).values_list("counter", flat=True).first() or 0


def bump(changes: Iterable[tuple[str, int | None, int | None]] = ()) -> int:
    """Move the counter on and log `changes` with the new version, in one transaction (called after the
    writing transaction committed). Returns the new version."""
    with transaction.atomic():
        if not DataVersion.objects.filter(pk=ROW).update(counter=F("counter") + 1):  # audit-ok: a cache counter
            DataVersion.objects.get_or_create(pk=ROW)
            DataVersion.objects.filter(pk=ROW).update(counter=F("counter") + 1)  # audit-ok: a cache counter
        # The row is locked by this transaction's UPDATE until it commits: this is the version it produced.
        version = DataVersion.objects.filter(pk=ROW).values_list("counter", flat=True).get()
        DataChange.objects.bulk_create(  # audit-ok: the cache counter's log
            DataChange(version=version, model=model, object_id=object_id, patient_id=patient_id)
            for model, object_id, patient_id in changes)
        if version % PRUNE_EVERY == 0 and version > KEEP_VERSIONS:
            DataChange.objects.filter(version__lte=version - KEEP_VERSIONS).delete()  # audit-ok: the log, pruned
    return version


class Bump:
    """The records one transaction wrote, registered once with `transaction.on_commit`: called, it bumps."""

    def __init__(self):
        self.records: set[tuple[str, int | None, int | None]] = set()
        self.everything = False

    def add(self, instance) -> None:
        if self.everything:
            return
        pk, patient_id = instance.pk, getattr(instance, "patient_id", None)
        self.records.add((instance._meta.label_lower, pk if isinstance(pk, int) else None,
                          patient_id if isinstance(patient_id, int) else None))
        if len(self.records) > MAX_RECORDS:
            self.everything, self.records = True, {(EVERYTHING, None, None)}

    def __call__(self) -> None:
        bump(self.records)


def _after_audited_write(sender, instance, using=None, **kwargs):
    connection = transaction.get_connection(using)
    # One Bump per transaction: its later historical records are added to it. (A callback registered in a
    # savepoint that rolls back is dropped by Django with the savepoint's records, and the next record then
    # registers a new one; records of a savepoint rolled back after the Bump was registered stay in it: a
    # reader then re-reads a patient that did not change, which costs a little and is still exact.)
    if connection.in_atomic_block:
        pending = next((entry[1] for entry in connection.run_on_commit if isinstance(entry[1], Bump)), None)
        if pending is not None:
            pending.add(instance)
            return
    pending = Bump()
    pending.add(instance)
    transaction.on_commit(pending, using=using, robust=True)  # outside a transaction: runs at once


post_create_historical_record.connect(_after_audited_write, dispatch_uid="oligami_data_version")


def changes(after: int, through: int) -> set[Change] | None:
    """What the versions after `after` up to `through` changed, or None when the log cannot tell all of it
    (pruned, further back than MAX_VERSIONS_READ, or a version logged without rows): recompute then."""
    if through <= after:
        return set() if through == after else None
    if through - after > MAX_VERSIONS_READ:
        return None
    rows = DataChange.objects.filter(version__gt=after, version__lte=through).values_list(
        "version", "model", "object_id", "patient_id")
    versions, found = set(), set()
    for version, model, object_id, patient_id in rows:
        versions.add(version)
        found.add(Change(model, object_id, patient_id))
    return found if len(versions) == through - after else None


def patients_changed(logged: Iterable[Change], *, patient: str, per_patient: frozenset[str],
                     trial_wide: frozenset[str]) -> set[int] | None:
    """The patients whose computed values the logged changes may have moved, for a computation that reads
    the patient model `patient` (its records are patients: object id), the models `per_patient` (records
    carrying their patient's `patient_id`) and the models `trial_wide`, and no other table (labels:
    app_label.modelname). None: possibly every patient (a trial-wide record, a record without its patient,
    a transaction too large to list)."""
    ids = set()
    for change in logged:
        if change.model == patient:
            patient_id = change.object_id
        elif change.model in per_patient:
            patient_id = change.patient_id
        elif change.model in trial_wide or change.model == EVERYTHING:
            return None
        else:
            continue  # a table the computation does not read
        if patient_id is None:
            return None
        ids.add(patient_id)
    return ids


def scope_key(site_ids: set[int] | None) -> str:
    """The `scope` of `cached` for a set of site ids (None: every site)."""
    return "all" if site_ids is None else ",".join(map(str, sorted(site_ids)))


def enabled() -> bool:
    return bool(settings.OLIGAMI_REPORTS_CACHE_SECONDS)


def cached(name: str, scope: str, today: dt.date, compute: Callable[[], T]) -> T:
    """compute(), or the value computed at the same data version and day for the same name and scope.

    One entry per (name, scope): a new version replaces the old value instead of adding one, so memory
    stays one result per scope. The cache is Django's default (per process unless CACHES says otherwise;
    correct either way, since the key check reads the database).
    """
    seconds = settings.OLIGAMI_REPORTS_CACHE_SECONDS
    if not seconds:
        return compute()
    stamp = (current(), today.isoformat())
    key = f"oligami:{name}:{scope}"
    entry = cache.get(key)
    if entry is not None and entry[0] == stamp:
        return entry[1]
    value = compute()
    cache.set(key, (stamp, value), seconds)
    return value


# --------------------------------------------------------------------------------------------------
# Process-local states patched with the changes (see the module's docstring)
# --------------------------------------------------------------------------------------------------


class _Entry:
    __slots__ = ("lock", "state", "version", "day", "built_at")

    def __init__(self):
        self.lock = threading.Lock()
        self.state: Any = None
        self.version = 0
        self.day: dt.date | None = None
        self.built_at = 0.0


_entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
_entries_lock = threading.Lock()


def _entry(key: tuple[str, str]) -> _Entry:
    with _entries_lock:
        entry = _entries.get(key)
        if entry is None:
            entry = _entries[key] = _Entry()
            while len(_entries) > KEPT_ENTRIES:
                _entries.popitem(last=False)
        else:
            _entries.move_to_end(key)
        return entry


def forget() -> None:
    """Drop every kept state (tests: a flushed database starts its counter again)."""
    with _entries_lock:
        _entries.clear()


def kept(name: str, scope: str, today: dt.date, *, build: Callable[[], S],
         update: Callable[[S, set[Change]], bool], read: Callable[[S], T]) -> T:
    """read(state) of the (name, scope) state, brought to the current version: reused as it is, patched with
    `update(state, changes)` (which answers False, before changing anything, to have it rebuilt), or built.

    The version is read first, as in `cached`: a state stored under v reflects at least every commit up
    to v. Patched with the changes of (u, v], it then reflects every commit up to v for the records those
    changes name, and for the others nothing up to v changed since u. Off (read(build())) when
    OLIGAMI_REPORTS_CACHE_SECONDS is 0.
    """
    if not enabled():
        return read(build())
    version = current()
    entry = _entry((name, scope))
    with entry.lock:
        state = entry.state
        usable = (state is not None and entry.day == today
                  and time.monotonic() - entry.built_at < settings.OLIGAMI_REPORTS_REBASE_SECONDS)
        if usable and entry.version == version:
            return read(state)
        entry.state = None  # until patched or rebuilt: an update or a build that fails leaves nothing behind
        if usable and entry.version < version:
            logged = changes(entry.version, version)
            if logged is not None and update(state, logged):
                entry.state, entry.version = state, version
                return read(state)
        state = build()
        entry.state, entry.version, entry.day, entry.built_at = state, version, today, time.monotonic()
        return read(state)
