"""The daily reminder scan on the bench database: wall time and query count.

Usage: .venv/bin/python bench/bench_scan.py [--repeat 3]

Runs registration.reminders.scan(today=...) (what the daily Celery task runs first) on the patients
in the bench database: the first scan of the day (the outbox of notices emptied before, so every due
notice is inserted) and a repeat scan of the same day (nothing new: the idempotent path). Each is run
`--repeat` times (the outbox emptied before each first scan); the median wall time is reported with the
query count. Prints a note and exits 0 when the project has no reminder scan.
"""

from __future__ import annotations

import argparse
import time

from common import emit, median, ms, setup_django, table

setup_django()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from screening.models import Patient  # noqa: E402


def empty_outbox():
    from registration.models import Digest, Notice

    # The outbox is technical rows of the bench database (not clinical data, not audited).
    Notice.objects.all().delete()
    Digest.objects.all().delete()


def timed_scan(reminders, today):
    with CaptureQueriesContext(connection) as ctx:
        started = time.perf_counter()
        result = reminders.scan(today=today)
        elapsed = time.perf_counter() - started
    return elapsed, len(ctx.captured_queries), result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        from registration import reminders
    except ImportError:
        emit({"benchmark": "reminder_scan", "skipped": "registration.reminders does not exist"})
        print("no reminder scan in this project: skipped")
        return
    today = timezone.localdate()
    patients = Patient.objects.count()
    scanned = Patient.objects.filter(stage__in=reminders.REMINDER_STAGES).count()
    first, repeat = [], []
    for _ in range(args.repeat):
        empty_outbox()
        first.append(timed_scan(reminders, today))
        repeat.append(timed_scan(reminders, today))
    empty_outbox()
    rows = []
    result = {"benchmark": "reminder_scan", "patients": patients, "patients_scanned": scanned}
    for label, runs in (("first", first), ("repeat", repeat)):
        wall = median([r[0] for r in runs])
        queries = sorted({r[1] for r in runs})
        result[label] = {"wall_ms": ms(wall), "queries": queries[0] if len(queries) == 1 else queries,
                         "due": runs[0][2].due, "created": runs[0][2].created,
                         "us_per_patient_scanned": round(wall / max(scanned, 1) * 1e6, 1)}
        rows.append({"scan": label, "patients": patients, "scanned": scanned, **result[label]})
    emit(result)
    print(table(rows, [("scan", "scan"), ("patients", "patients"), ("scanned", "in reminder stages"),
                       ("wall_ms", "wall ms"), ("queries", "queries"), ("due", "due"), ("created", "created"),
                       ("us_per_patient_scanned", "µs/patient")]))


if __name__ == "__main__":
    main()
