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

The counter is one row updated in autocommit after the commit, never inside the clinical transaction:
inside, it would serialize every write of the trial and could deadlock with the services' row locks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from simple_history.signals import post_create_historical_record

from .models import DataVersion

T = TypeVar("T")
ROW = 1


def current() -> int:
    """The counter (one indexed read)."""
    return DataVersion.objects.filter(pk=ROW).values_list("counter", flat=True).first() or 0


def bump() -> None:
    """Move the counter on (autocommit, after the writing transaction committed)."""
    if not DataVersion.objects.filter(pk=ROW).update(counter=F("counter") + 1):  # audit-ok: a cache counter
        DataVersion.objects.get_or_create(pk=ROW)
        bump()


def _after_audited_write(sender, using=None, **kwargs):
    connection = transaction.get_connection(using)
    # Once per transaction: its later historical records need no second bump. (A callback registered in
    # a savepoint that rolls back is dropped by Django, and the next record then registers it again.)
    if connection.in_atomic_block and any(entry[1] is bump for entry in connection.run_on_commit):
        return
    transaction.on_commit(bump, using=using, robust=True)


post_create_historical_record.connect(_after_audited_write, dispatch_uid="oligami_data_version")


def scope_key(site_ids: set[int] | None) -> str:
    """The `scope` of `cached` for a set of site ids (None: every site)."""
    return "all" if site_ids is None else ",".join(map(str, sorted(site_ids)))


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
