"""Gapless numbering (the kit; issue 14): the registration number, the screening number of each site and
the allocation sequence of the ledger all come from ``next_number``.

Gapless and unique under concurrency: one counter row per series is locked FOR UPDATE inside the caller's
transaction, so concurrent callers queue on it one at a time and each reads the number the previous one
committed; a transaction that rolls back rolls its increment back too, so no number is lost. (A database
sequence would leave a gap at every rollback, and max() + 1 without a lock races.) On SQLite
select_for_update is a no-op, but the settings open IMMEDIATE transactions, which take the database's
write lock at BEGIN and serialise the callers the same way.

Lock order: the counter row is the last lock a transaction takes (after the configuration, the site or
the patient rows of its service), and the caller commits soon after, so a series is held only for the
few inserts that follow.

``floor``: the highest number the series' own table already holds. The next number is above both the
counter and the floor, so rows written around the service (the bench's generator, imports, test
factories) are never numbered twice; without such rows the floor is below the counter and changes nothing.

django-sequences (which does the same with one table and an upsert) was considered: these twenty lines
need no new dependency, keep the counter in the core's own migrations (the registration counter's rows
moved in with a data migration) and give the floor; see docs/architecture.md.
"""

from django.db import transaction

from .models import Counter


def next_number(series: str, *, floor: int = 0) -> int:
    """The next number of ``series`` (1, 2, ...; above ``floor``), inside the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        # Outside a transaction the lock would end at once and a later rollback could not give it back.
        raise RuntimeError("next_number must be called inside the caller's transaction (transaction.atomic)")
    # Created on first use; a concurrent creator waits on the primary key and get_or_create then reads it.
    Counter.objects.get_or_create(series=series)
    counter = Counter.objects.select_for_update().get(series=series)
    counter.value = max(counter.value, floor) + 1
    counter.save(update_fields=["value"])  # audit-ok: a technical row; the number is audited where it is used
    return counter.value
