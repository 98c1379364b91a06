"""The first trial-wide report after a write (issue 21), in process, against a bench database.

Usage: BENCH_DB=<copy> .venv/bin/python bench/bench_incremental.py [--writes 3]
Writes to the database (a data query, patients taken off study): run it on a copy, never on a shared one.
Prints, in seconds: the full classification (the first request of the day), then after each audited write
the first report_numbers + not_randomized_boxes (patched) and the first reports and "not randomized"
pages (Django's test client, as the data manager), and checks the patched numbers against a full
computation.
"""

import argparse
import time

from common import setup_django

setup_django()

import bench_pages  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from oligami_site import dataversion  # noqa: E402
from oligami_site.models import User  # noqa: E402
from oversight import queries, reports  # noqa: E402
from registration import services as registration_services  # noqa: E402
from screening.models import Patient  # noqa: E402


def timed(func):
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def both(today):
    return reports.report_numbers(None, today), reports.not_randomized_boxes(None, today)


def afresh(today):
    previous = settings.OLIGAMI_REPORTS_CACHE_SECONDS
    settings.OLIGAMI_REPORTS_CACHE_SECONDS = 0
    try:
        return both(today)
    finally:
        settings.OLIGAMI_REPORTS_CACHE_SECONDS = previous


def plain(result):
    (consort, accrual), listed = result
    return dict(consort.boxes), {b: dict(c) for b, c in consort.reasons.items()}, dict(accrual), listed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=3)
    args = parser.parse_args()
    setup_test_environment()
    today = timezone.localdate()
    subject = bench_pages.subjects()
    client = bench_pages.client_login(subject["dm"])
    dm = User.objects.get(username=subject["dm"])
    print(f"patients {Patient.objects.count()}, version {dataversion.current()}")
    seconds, _ = timed(lambda: both(today))
    print(f"full classification (first request of the day): {seconds:.2f}")
    seconds, _ = timed(lambda: both(today))
    print(f"again, nothing changed: {seconds:.3f}")
    for path in ("oversight:reports", "oversight:not_randomized"):
        client.get(reverse(path))
    registered = list(Patient.objects.filter(stage=Patient.Stage.REGISTERED).order_by("pk")[:args.writes + 2])

    def off_study(patient):
        coordinator = bench_pages.Membership.objects.filter(site_id=patient.site_id, role="coordinator").first().user
        registration_services.take_off_study(patient=patient, user=coordinator, date=today, reason="death")

    writes = [("a data query opened", lambda: queries.open_query(user=dm, patient=registered[0], text="?"))]
    writes += [(f"patient {p.pk} taken off study", lambda p=p: off_study(p)) for p in registered[:args.writes]]
    for what, write in writes:
        write_seconds, _ = timed(write)
        seconds, patched = timed(lambda: both(today))
        check_seconds, fresh = timed(lambda: afresh(today))
        same = plain(patched) == plain(fresh)
        print(f"{what} (write {write_seconds:.2f}): report_numbers + not_randomized_boxes {seconds:.3f}; "
              f"full computation {check_seconds:.2f}; equal: {same}")
        if not same:
            raise SystemExit("the patched numbers differ from a full computation")
    # The pages: the first request after a write (a patient taken off study), as the data manager.
    for path, patient in (("oversight:reports", registered[-2]), ("oversight:not_randomized", registered[-1])):
        off_study(patient)
        seconds, response = timed(lambda path=path: client.get(reverse(path)))
        assert response.status_code == 200, response.status_code
        again, _ = timed(lambda path=path: client.get(reverse(path)))
        print(f"{path}: first request after a write {seconds:.3f}, again {again:.3f}")


if __name__ == "__main__":
    main()
